"""Score the probe set (tests/eval/probes.jsonl) by halves: tune on one, report both.

    python bench/probes.py [--data-dir DIR] [--half odd|even|all] [--verbose]

The probes are out-of-scope questions (kind "oos") and answerable ones, none of
them in tests/eval/questions.jsonl. A probe's half is the parity of the number
in its id ("vi-o03" is odd, "ja-a04" even): mechanisms are tuned on the odd half,
and the even half is the held-out check. Scored as bench/answers.py scores the
evaluation set: out-of-scope refused (found=false), answerable refused, and
every answer key in the answer.

Ids a16-a19 were added after the measure and office rules of kb/answer.py were
written, as guards: answerable questions that ask for a measure (budget, price,
population) or an office holder, which those rules must not refuse.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.answers import holds  # noqa: E402
from kb.config import Config  # noqa: E402
from kb.evaluate import load_jsonl  # noqa: E402
from kb.service import KnowledgeBase  # noqa: E402


def half(probe: dict) -> str:
    return "odd" if int(re.search(r"(\d+)$", probe["id"]).group(1)) % 2 else "even"


def score(kb: KnowledgeBase, probes: list[dict], verbose: bool = False) -> dict[str, dict[str, str]]:
    tallies: dict[str, dict[str, list[bool]]] = {}
    for probe in probes:
        answer = kb.ask(probe["question"])
        t = tallies.setdefault(half(probe), {"oos_refused": [], "answerable_refused": [], "key_in_answer": []})
        if probe["kind"] == "oos":
            ok = not answer.found
            t["oos_refused"].append(ok)
        else:
            ok = answer.found and holds(probe["answer_keys"], answer.answer)
            t["answerable_refused"].append(not answer.found)
            t["key_in_answer"].append(ok)
        if verbose or not ok:
            first = answer.answer.replace("\n", " ")[:160]
            print(f"{'ok ' if ok else 'BAD'} {probe['id']} found={answer.found} {probe['question'][:60]} -> {first}")
    return {h: {k: f"{sum(v)}/{len(v)}" for k, v in t.items()} for h, t in sorted(tallies.items())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, help="an index of documents/ (built by bench/answers.py)")
    parser.add_argument("--questions", type=Path, default=ROOT / "tests" / "eval" / "probes.jsonl")
    parser.add_argument("--half", choices=("odd", "even", "all"), default="all")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    probes = [p for p in load_jsonl(args.questions) if args.half == "all" or half(p) == args.half]
    kb = KnowledgeBase(Config.from_env(data_dir=args.data_dir))
    for h, r in score(kb, probes, args.verbose).items():
        print(h, r)
    return 0


if __name__ == "__main__":
    sys.exit(main())

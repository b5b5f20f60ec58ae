"""Retrieval benchmark: writes bench/retrieval.md from one command.

    python bench/retrieval.py [--sets own,xquad,jsquad,ntrex] [--jsquad-limit 1500]

Sets (the public ones are read from ../shared/eval when present; they are
CC BY-SA 4.0: XQuAD (google-deepmind/xquad), JSQuAD (yahoojapan/JGLUE),
NTREX-128 (MicrosoftTranslator/NTREX)):

* own: tests/eval/questions.jsonl against an index of documents/,
  split into same-language and cross-lingual questions;
* xquad: XQuAD-vi questions over the 240 Vietnamese passages;
* jsquad: JSQuAD validation questions over its 1,145 passages;
* ntrex: passage-to-passage retrieval, ja→vi and vi→ja, 549 passages each.

Derived files and throwaway indexes live in the cache dir
(KAKEHASHI_DATA_DIR/eval-cache by default), never in the repository.
Embedding the passages takes a while the first time (a few passages a
second); later runs reuse the indexes.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from kb import evaluate  # noqa: E402
from kb.config import Config  # noqa: E402
from kb.service import KnowledgeBase  # noqa: E402

SHARED = Path(os.environ.get("KAKEHASHI_SHARED_EVAL", ROOT.parent / "shared" / "eval"))

BASELINES = """Reference baselines measured on this machine before this work (from the issue):

| set | metric | dense only | BM25 whitespace | dense + BM25 (RRF) | target |
|---|---|---|---|---|---|
| XQuAD-vi (240 passages) | R@1 | 0.896 | 0.917 | 0.925 | ≥ 0.95 |
| JSQuAD valid (1145 passages) | R@1 | 0.804 | 0.231 (Sudachi tokens: 0.874) | 0.854 | ≥ 0.91 |
| NTREX ja→vi (549 passages) | R@1 | 0.973 | 0.155 | 0.911 | ≥ 0.98 |
| NTREX vi→ja (549 passages) | R@1 | 0.938 | 0.153 | 0.913 | ≥ 0.98 |
| own eval, cross-lingual | R@5 | – | – | – | ≥ 0.95 |
| own eval, same-language | R@5 | – | – | – | ≥ 0.98 |
"""


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def own_set(base: Config, cache: Path) -> list[tuple[str, Config, list[dict]]]:
    from ingest.pipeline import Ingestor

    config = dataclasses.replace(base, data_dir=cache / "own-documents")
    ingestor = Ingestor(config, progress=sys.stderr.isatty())
    ingestor.run([ROOT / "documents"], prune=True)
    ingestor.close()
    questions = evaluate.load_jsonl(ROOT / "tests" / "eval" / "questions.jsonl")
    return [
        ("own, same-language", config, [q for q in questions if q.get("kind") == "same"]),
        ("own, cross-lingual", config, [q for q in questions if q.get("kind") == "cross"]),
    ]


def xquad_set(base: Config, cache: Path) -> list[tuple[str, Config, list[dict]]]:
    contexts = [c for c in evaluate.load_jsonl(SHARED / "xquad_contexts.jsonl") if c["lang"] == "vi"]
    for c in contexts:
        c.pop("parallel_id", None)
    path = write_jsonl(cache / "derived" / "xquad_vi_contexts.jsonl", contexts)
    config = evaluate.context_index(path, base, cache, progress=sys.stderr.isatty())
    return [("XQuAD-vi", config, evaluate.load_jsonl(SHARED / "xquad_vi.jsonl"))]


def jsquad_set(base: Config, cache: Path, limit: int) -> list[tuple[str, Config, list[dict]]]:
    config = evaluate.context_index(SHARED / "jsquad_ja_valid_contexts.jsonl", base, cache, progress=sys.stderr.isatty())
    questions = evaluate.load_jsonl(SHARED / "jsquad_ja_valid.jsonl")[:limit]
    return [(f"JSQuAD (first {len(questions)})", config, questions)]


def ntrex_sets(base: Config, cache: Path) -> list[tuple[str, Config, list[dict]]]:
    passages = evaluate.load_jsonl(SHARED / "ntrex_vi_ja_en_passages.jsonl")
    out = []
    for source, target in (("ja", "vi"), ("vi", "ja")):
        contexts = [{"context_id": p["id"], "lang": target, "title": "", "context": p[target]} for p in passages]
        questions = [{"id": p["id"], "lang": source, "question": p[source], "context_id": p["id"]} for p in passages]
        path = write_jsonl(cache / "derived" / f"ntrex_{target}_contexts.jsonl", contexts)
        config = evaluate.context_index(path, base, cache, progress=sys.stderr.isatty())
        out.append((f"NTREX {source}→{target}", config, questions))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", default="own,xquad,jsquad,ntrex")
    parser.add_argument("--jsquad-limit", type=int, default=1500)
    parser.add_argument("--methods", default="dense,bm25,hybrid")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "retrieval.md")
    parser.add_argument("--k", type=int, default=10)
    args = parser.parse_args(argv)
    base = Config.from_env()
    cache = base.data_dir / "eval-cache"
    wanted = args.sets.split(",")
    groups: list[tuple[str, Config, list[dict]]] = []
    if "own" in wanted:
        groups += own_set(base, cache)
    if SHARED.is_dir():
        if "xquad" in wanted:
            groups += xquad_set(base, cache)
        if "jsquad" in wanted:
            groups += jsquad_set(base, cache, args.jsquad_limit)
        if "ntrex" in wanted:
            groups += ntrex_sets(base, cache)
    else:
        print(f"note: {SHARED} not found; public sets skipped", file=sys.stderr)
    rows = []
    for name, config, questions in groups:
        kb = KnowledgeBase(config)
        for method in args.methods.split(","):
            metrics = evaluate.score(lambda q, k, m: kb.retriever.search(q, k, method=m), questions, method, args.k)
            rows.append((name, method, metrics))
            print(f"{name:28s} {method:7s} R@1 {metrics['r@1']}  R@5 {metrics['r@5']}  MRR@10 {metrics['mrr@10']}  "
                  f"p50 {metrics['p50_ms']} ms  p95 {metrics['p95_ms']} ms", flush=True)
            write_report(args.out, rows, base)  # after every row: a long run stopped early still leaves its figures
    print(f"wrote {args.out}")
    return 0


def write_report(out: Path, rows: list, base: Config) -> None:
    table = evaluate.markdown_table(rows)
    out.write_text(
        "# Retrieval benchmark\n\n"
        f"Generated by `python bench/retrieval.py` on {time.strftime('%Y-%m-%d')} "
        f"(2 cores, embedder {base.embedder}). Latency includes the query embedding.\n\n"
        f"{table}\n\n{BASELINES}\n"
        "Public sets: XQuAD (CC BY-SA 4.0, google-deepmind/xquad), JSQuAD (CC BY-SA 4.0, yahoojapan/JGLUE), "
        "NTREX-128 (CC BY-SA 4.0, MicrosoftTranslator/NTREX).\n",
        encoding="utf-8",
    )


if __name__ == "__main__":
    sys.exit(main())

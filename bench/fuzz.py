"""Fuzz the loaders for longer than the test suite does, and print the numbers.

    python bench/fuzz.py                      # 60 s per format, seed 1
    python bench/fuzz.py --seconds 600 --seed 7 --formats .pdf .docx
    python bench/fuzz.py --json

Same checks as ``tests/test_fuzz.py`` (an input loads into well-formed units or is
refused with a clear LoadError; a crash or a last-resort error is a finding),
driven by a seeded random generator instead of hypothesis so a long run is
cheap and reproducible: every finding is printed with its seed and saved
under ``--out`` to be replayed (``python bench/fuzz.py --replay FILE``).
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from test_fuzz import ENCODINGS, JA, SAMPLES, VI, Finding, check, mutate  # noqa: E402

OPS = ["flip", "flip", "flip", "overwrite", "insert", "delete", "duplicate", "truncate"]


def random_ops(rng: random.Random) -> list[tuple[str, int, int, bytes]]:
    return [
        (rng.choice(OPS), rng.randrange(2**31), rng.randrange(2**16), rng.randbytes(rng.randint(1, 64)))
        for _ in range(rng.randint(1, 8))
    ]


def random_text(rng: random.Random) -> str:
    pool = VI + JA + " \n\t#*-|[]()<>&;:/\\\"'`~---\n"
    chars = [rng.choice(pool) if rng.random() < 0.8 else chr(rng.randrange(0x110000)) for _ in range(rng.randint(1, 600))]
    return "".join(c for c in chars if not 0xD800 <= ord(c) <= 0xDFFF)


def fuzz_format(suffix: str, seconds: float, rng: random.Random, out: Path | None) -> dict:
    """Mutated copies of the sample file (``.txt``: random text in random encodings)."""
    base = SAMPLES[suffix].read_bytes() if suffix in SAMPLES else b""
    counts = {"examples": 0, "ok": 0, "refused": 0, "findings": 0}
    findings: list[str] = []
    deadline = time.monotonic() + seconds
    started = time.monotonic()
    while time.monotonic() < deadline:
        seed = rng.randrange(2**63)
        local = random.Random(seed)
        if suffix == ".txt":
            data = random_text(local).encode(local.choice(ENCODINGS), errors="replace")
            name = "van-ban" + local.choice([".txt", ".md", ".html"])
        else:
            data = mutate(base, random_ops(local))
            name = f"hu-hong{suffix}"
        counts["examples"] += 1
        try:
            counts[check(name, data)] += 1
        except Finding as exc:
            counts["findings"] += 1
            findings.append(f"seed {seed}: {exc}"[:500])
            if out is not None:
                out.mkdir(parents=True, exist_ok=True)
                (out / f"{seed}{Path(name).suffix}").write_bytes(data)
    elapsed = time.monotonic() - started
    return {
        "format": suffix,
        **counts,
        "seconds": round(elapsed, 1),
        "examples_per_s": round(counts["examples"] / elapsed, 1) if elapsed else 0.0,
        "findings_list": findings[:20],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python bench/fuzz.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60, help="per format (default 60)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--formats", nargs="+", default=[*sorted(SAMPLES), ".txt"],
                        help="sample formats to mutate; .txt = random text in random encodings")
    parser.add_argument("--out", type=Path, default=None, help="save each finding's input here")
    parser.add_argument("--replay", type=Path, help="check one saved input and print the outcome")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.CRITICAL)
    if args.replay:
        try:
            print(check(args.replay.name, args.replay.read_bytes()))
            return 0
        except Finding as exc:
            print(f"FINDING {exc}")
            return 1
    rng = random.Random(args.seed)
    rows = [fuzz_format(suffix, args.seconds, rng, args.out) for suffix in args.formats]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
    else:
        print(f"{'format':8} {'examples':>9} {'ok':>6} {'refused':>8} {'findings':>9} {'ex/s':>7}")
        for row in rows:
            print(f"{row['format']:8} {row['examples']:9d} {row['ok']:6d} {row['refused']:8d} "
                  f"{row['findings']:9d} {row['examples_per_s']:7.1f}")
            for line in row["findings_list"]:
                print(f"    {line}")
    return 1 if any(row["findings"] for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())

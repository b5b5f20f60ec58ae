"""Ingestion and search benchmark on the sample corpus.

    python bench/ingest_bench.py [--corpus documents] [--repeat-queries 3]

Indexes the corpus into a fresh temporary data dir (so every chunk is really
embedded), then times hybrid searches with the evaluation questions. Prints:
embedded tokens per second, chunks per second, peak memory (max RSS), and
search latency p50/p95 (query embedding included).
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ingest.pipeline import Ingestor  # noqa: E402
from kb.config import Config  # noqa: E402
from kb.evaluate import load_jsonl  # noqa: E402
from kb.service import KnowledgeBase  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=ROOT / "documents")
    parser.add_argument("--repeat-queries", type=int, default=2)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="kakehashi-bench-") as tmp:
        config = Config.from_env(data_dir=Path(tmp))
        started = time.perf_counter()
        ingestor = Ingestor(config, progress=False)
        summary = ingestor.run([args.corpus])
        ingestor.close()
        seconds = time.perf_counter() - started
        kb = KnowledgeBase(config)
        questions = [q["question"] for q in load_jsonl(ROOT / "tests" / "eval" / "questions.jsonl")]
        kb.search(questions[0], 5)  # warm-up
        latencies = []
        for _ in range(args.repeat_queries):
            for question in questions:
                t0 = time.perf_counter()
                kb.search(question, 5)
                latencies.append((time.perf_counter() - t0) * 1000)
    report = {
        "files": summary.seen,
        "chunks": summary.chunks,
        "embedded_texts": summary.embedded,
        "embedded_tokens": summary.embedded_tokens,
        "ingest_seconds": round(seconds, 1),
        "tokens_per_second": round(summary.embedded_tokens / seconds, 1),
        "chunks_per_second": round(summary.chunks / seconds, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "search_p50_ms": round(statistics.median(latencies), 1),
        "search_p95_ms": round(sorted(latencies)[int(0.95 * (len(latencies) - 1))], 1),
        "searches": len(latencies),
        "failed": summary.failed,
    }
    print(json.dumps(report, ensure_ascii=False, indent=2) if args.json else
          "\n".join(f"{k}: {v}" for k, v in report.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())

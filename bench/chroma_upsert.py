"""What a Chroma upsert costs per chunk, by how many chunks each call carries.

    python bench/chroma_upsert.py [--chunks 1024] [--sizes 8,32,64,128,256,512]

Why: ingestion used to write each file's chunks in its own calls, and most files
are small; this shows the fixed cost of a call, which is why ``ingest/pipeline.py``
writes a batch's files together (``UPSERT_BATCH``). Real text from documents/, random
384-dimension vectors (the vector values do not change the cost), metadata shaped like
ingestion's, a fresh embedded (persistent) Chroma per size.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from pathlib import Path

import chromadb

ROOT = Path(__file__).resolve().parent.parent


def passages() -> list[str]:
    lines = []
    for path in sorted((ROOT / "corpus" / "src").rglob("*.md")):
        lines += [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if len(line.strip()) > 40]
    return lines


def measure(size: int, n: int, texts: list[str]) -> tuple[float, float]:
    """(ms per chunk, ms per call) for ``n`` chunks upserted ``size`` at a time."""
    rng = random.Random(0)
    docs = [(texts[i % len(texts)] * 6)[:1200] + f" #{i}" for i in range(n)]
    vectors = [[rng.random() for _ in range(384)] for _ in range(n)]
    metas = [{"path": f"/docs/{i // 8}", "doc_id": f"d{i // 8}", "lang": "vi", "title": "t", "visibility": "public"}
             for i in range(n)]
    with tempfile.TemporaryDirectory() as tmp:
        client = chromadb.PersistentClient(tmp, settings=chromadb.Settings(anonymized_telemetry=False))
        collection = client.create_collection("upsert-bench", metadata={"hnsw:space": "cosine"})
        started = time.perf_counter()
        for start in range(0, n, size):
            end = min(n, start + size)
            collection.upsert(ids=[f"c{i}" for i in range(start, end)], embeddings=vectors[start:end],
                              documents=docs[start:end], metadatas=metas[start:end])
        seconds = time.perf_counter() - started
    return seconds / n * 1000, seconds / -(-n // size) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=1024)
    parser.add_argument("--sizes", default="8,32,64,128,256,512")
    args = parser.parse_args()
    texts = passages()
    print("| chunks per call | ms per chunk | ms per call |\n|---:|---:|---:|")
    for size in (int(s) for s in args.sizes.split(",")):
        per_chunk, per_call = measure(size, args.chunks, texts)
        print(f"| {size} | {per_chunk:.2f} | {per_call:.1f} |")


if __name__ == "__main__":
    main()

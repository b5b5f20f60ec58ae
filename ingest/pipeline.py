"""Files in, chunks in the vector store out: incremental, idempotent, crash-safe.

For each file: read it, skip it if its content hash is already indexed, load
and chunk it, mark it ``indexing`` in the manifest, upsert the chunks the
store lacks (embedding only texts never embedded before), delete the file's
chunks that are no longer produced, and mark it ``ok``. Every step can be
repeated, so a run killed at any point and run again ends in the same index
as an uninterrupted run.

:meth:`Ingestor.run` pipelines this in three stages: a loader thread reads,
parses and chunks the next files; an embedder thread embeds the new chunk
texts of the files that are ready, together, in one length-sorted batch; and
meanwhile the calling thread writes the batch before: every file of it marked
``indexing``, their chunks upserted together, then each marked ``ok`` (see
``_pipelined`` and ``_write_batch``).
"""

from __future__ import annotations

import fnmatch
import hashlib
import logging
import re
import os
import queue
import threading
import time
import unicodedata
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from filelock import FileLock, Timeout
from langchain_core.documents import Document

from ingest.chunking import chunk_units
from ingest.errors import LoadError
from ingest.loaders import LOADERS, LoadOptions, load_file
from kb.manifest import Manifest, file_hash, iter_records
from kb.config import Config
from kb.embeddings import get_embeddings
from kb.keyword import KeywordIndex
from kb import facets, shadows
from kb.store import bump_generation, drop_collection, open_store
from kb.text import LANGS, detect_lang

log = logging.getLogger("kakehashi.ingest")

IGNORE_FILE = ".kakehashiignore"
PIPELINE_VERSION = 4  # 3: OCR re-reads guessed words (ingest/ocr.py); 4: mixed-language chunks (chunk_lang), place-name stems (kb/tokenize.py)
"""Bump when loading, normalising or chunking changes: every file is then re-processed
(cheaply: embeddings of unchanged chunk texts come from the cache)."""
VISIBILITY = re.compile(r"^(public|internal|group:[A-Za-z0-9_.-]{1,64})$")
UPSERT_BATCH = 256
"""Chunks per Chroma upsert. Each call costs about 40 ms whatever its size, so a batch of
small files is written together: 8 chunks a call cost 5.9 ms a chunk, 256 cost 0.8 ms."""
PREFETCH_FILES = 4
"""Files the loader thread may parse and chunk ahead of the embedder (bounded: a parsed
PDF can be large). 0 = no thread: each file is read, embedded and written in turn."""
EMBED_GROUP_TEXTS = 512
"""New chunk texts gathered across ready files before they are embedded together."""


@dataclass
class Summary:
    seen: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    removed: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)
    chunks: int = 0
    seconds: float = 0.0
    chunks_written: int = 0
    embedded: int = 0
    embedded_tokens: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)
    warnings: list[dict[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["seconds"] = round(self.seconds, 2)
        return out


class IngestBusy(RuntimeError):
    """Another ingestion holds the data directory's lock."""


LOCK_NAME = "ingest.lock"


@contextmanager
def ingest_lock(config: Config, timeout: float = 600) -> Iterator[FileLock]:
    """Hold the data directory's writer lock: one ingestion (or backup) at a time.

    Every writer of the index (ingestion, re-index, backup, restore) takes it,
    so two processes started at once over the same data directory serialise,
    or the later one refuses with :class:`IngestBusy` after ``timeout``
    seconds (0 = refuse at once). Each call opens its own lock, so a second
    holder in the same process (another thread) waits too; do not nest it in
    one thread (pass ``locked=True`` to :meth:`Ingestor.run` instead).
    """
    config.data_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(config.data_dir / LOCK_NAME))
    try:
        lock.acquire(timeout=max(timeout, 0))
    except Timeout:
        raise IngestBusy(
            f"another ingestion is running on {config.data_dir} (or a backup or restore; lock {lock.lock_file}); "
            "wait for it to finish and run this again"
        ) from None
    try:
        yield lock
    finally:
        lock.release()


ProgressFn = Callable[[int, int, str], None]


class Ingestor:
    """Indexes files into the configured store. One instance per data directory."""

    def __init__(self, config: Config, progress: bool = True, on_progress: ProgressFn | None = None) -> None:
        self.config = config
        self.embeddings = get_embeddings(config.embedder, config.embed_batch)
        self.store = open_store(config, self.embeddings)
        self.collection = self.store._collection
        self.manifest = Manifest(config.manifest_path)
        self.keyword = KeywordIndex(config.keyword_path)
        self.model = getattr(self.embeddings, "model_name", type(self.embeddings).__name__)
        self.progress = progress
        self.on_progress = on_progress
        self.prefetch = PREFETCH_FILES
        self._embedder: ThreadPoolExecutor | None = None  # only while run() is pipelining
        self._in_flight: _Batch | None = None
        self._sync_keyword_index()
        # Searches drop a visibility or language clause that excludes nothing only while every
        # value stored is declared (kb/facets.py); an index filled before that is scanned once here.
        self._declared = facets.ensure_complete(self.collection)
        # Each language's passages are mirrored in a shadow collection the dense lane asks without a
        # ``lang`` filter (kb/shadows.py); an index written before that is copied once here.
        shadows.ensure_complete(self.collection)

    def _sync_keyword_index(self) -> None:
        """Rebuild the keyword index from the vectors if the two disagree.

        They are written one after the other, so a crash (or a deleted
        keyword.sqlite) can leave them out of step; the vector store is the
        source of truth because it holds the texts.
        """
        if self.keyword.count() == self.collection.count():
            return
        log.warning("keyword index out of step with the vector store; rebuilding it")
        by_path: dict[str, list[tuple[str, str, dict]]] = {}
        offset = 0
        while True:
            page = self.collection.get(include=["documents", "metadatas"], limit=2000, offset=offset)
            if not page["ids"]:
                break
            for cid, text, meta in zip(page["ids"], page["documents"], page["metadatas"]):
                by_path.setdefault((meta or {}).get("path", ""), []).append((cid, text, meta or {}))
            offset += len(page["ids"])
        for path in self.keyword.paths() - set(by_path):
            self.keyword.remove_path(path)
        for path, chunks in by_path.items():
            self.keyword.replace_file(path, chunks)

    # ------------------------------------------------------------------ batch
    def run(
        self,
        paths: Iterable[Path],
        prune: bool = False,
        visibility: str | None = None,
        lock_timeout: float = 600,
        locked: bool = False,
    ) -> Summary:
        """Index ``paths``; ``locked=True`` when the caller already holds :func:`ingest_lock`."""
        started = time.monotonic()
        paths = [Path(p) for p in paths]
        if visibility is not None and not VISIBILITY.match(visibility):
            raise ValueError(f"visibility must be public, internal or group:NAME, not {visibility!r}")
        with nullcontext() if locked else ingest_lock(self.config, lock_timeout):
            summary = Summary()
            files, summary.skipped = discover(paths)
            summary.seen = len(files)
            bar = _progress_bar(len(files), self.progress)
            self._pipelined(files, summary, visibility, bar)
            bar.close()
            if self.on_progress:
                self.on_progress(len(files), len(files), "")
            if prune:
                summary.removed += self.prune(paths)
            summary.seconds = time.monotonic() - started
            return summary

    def _pipelined(self, files: list[Path], summary: Summary, visibility: str | None, bar) -> None:
        """Parse ahead in a loader thread; embed the ready files together in an embedder
        thread; write the previous batch meanwhile, one file at a time and in order.

        Why three stages: each alone leaves cores idle. Embedding one file at a
        time gives small batches, so the loader (``_Loader``) stays up to
        ``prefetch`` files ahead, and whenever the embedder is free (or
        ``EMBED_GROUP_TEXTS`` new texts are waiting) the waiting files' new
        chunk texts go to it as one batch (``_next_file``). The Chroma and keyword
        writes then overlap the next batch's embedding instead of following
        it: ONNX Runtime and Chroma's writer both release the GIL. Every write
        stays in this thread -- manifest ``begin``, upserts, stale deletes,
        keyword index, ``commit`` -- and embedding only fills the embedding
        cache, so a crash between a batch and its writes loses time, never
        consistency.
        """
        previous = {}
        for path in files:  # the loader thread must not touch this thread's SQLite connections
            if not hostile_name_reason(path):
                previous[str(path.resolve())] = self.manifest.get(str(path.resolve()))
        loader = _Loader(self, files, previous, visibility, self.prefetch)
        pending: list[_Prepared] = []
        self._embedder = ThreadPoolExecutor(1, thread_name_prefix="kakehashi-embed") if self.prefetch else None
        try:
            for index in range(len(files)):
                item = self._next_file(loader, pending, summary, bar)
                bar.set_description_str(_short(item.path))
                if self.on_progress:
                    self.on_progress(index, len(files), str(item.path))
                if item.crash is not None:
                    self._flush(pending, summary, bar, last=True)
                    raise item.crash
                if item.chunks is None:  # unchanged, or refused before chunking
                    self._ingest_one(item, summary, visibility)
                    bar.update(1)
                    continue
                pending.append(item)
                if not self.prefetch or sum(len(p.chunks or ()) for p in pending) >= EMBED_GROUP_TEXTS:
                    self._flush(pending, summary, bar)
            self._flush(pending, summary, bar, last=True)
        finally:
            loader.stop()
            if self._embedder is not None:
                self._embedder.shutdown(wait=True, cancel_futures=True)
            self._embedder, self._in_flight = None, None

    def _next_file(self, loader: "_Loader", pending: list[_Prepared], summary: Summary, bar) -> "_Prepared":
        """The next parsed file; while it is not ready, keep the embedder busy, in batches as large as it allows.

        Why wait rather than flush at once: the loader parses plain text far
        faster than the embedder embeds it, so sending whatever is ready gave
        batches of four or five files, and small batches embed about a tenth
        slower (bench/ingest.md). So files gather while the batch in flight is
        embedded, and go as soon as the embedder is free.
        """
        while True:
            item = loader.take(wait=False)
            if item is not None:
                return item
            if self._in_flight is None or self._in_flight.done():
                self._flush(pending, summary, bar)  # the embedder is free: send what is waiting
                return loader.take(wait=True)
            item = loader.take(wait=True, timeout=0.05)
            if item is not None:
                return item

    def _flush(self, pending: list[_Prepared], summary: Summary, bar, last: bool = False) -> None:
        """Start embedding ``pending``'s new chunk texts; write the batch embedded before meanwhile.

        ``last`` also writes the batch just started (the end of the run).
        """
        batch = None
        if pending:
            stored = set(self.collection.get(where=_paths_clause([p.key for p in pending]), include=[])["ids"])
            texts = [embedding_text(c) for item in pending for c in item.chunks or () if c.id not in stored]
            if len(texts) <= 4 * EMBED_GROUP_TEXTS:
                before = self._in_flight.embedding if self._in_flight else None
                in_flight = set(before.todo) if before else set()
                batch = _Batch(list(pending), self._start_embedding(texts, in_flight))
            else:
                # A huge single file: embedded upsert batch by upsert batch as it is written,
                # after the batch in flight (one embedding at a time).
                batch = _Batch(list(pending), None)
            pending.clear()
        previous, self._in_flight = self._in_flight, batch
        if previous is not None:
            self._write_batch(previous, summary, bar)
        if batch is not None and (last or batch.embedding is None):
            self._in_flight = None
            self._write_batch(batch, summary, bar)

    def _write_batch(self, batch: "_Batch", summary: Summary, bar) -> None:
        """Write a batch's files together: ``begin`` each, upsert all their chunks, ``commit`` each.

        Why together: a Chroma upsert costs about 40 ms however few chunks it
        carries, and a batch is often many small files. Crash safety is kept:
        every file of the batch is ``indexing`` before its first chunk is
        written and ``ok`` only after its last, so a run killed in between
        re-processes them all and drops their stale chunks.
        """
        if batch.embedding is None:  # a huge file: embedded upsert batch by upsert batch as it is written
            for item in batch.items:
                self._ingest_one(item, summary, item.visibility)
                bar.update(1)
            return
        vectors = dict(zip(batch.embedding.texts, self._finish_embedding(batch.embedding, summary)))
        begun: list[_Prepared] = []
        for item in batch.items:
            try:
                self._begin(item.key, item.meta, item.digest, item.size)
                begun.append(item)
            except LoadError as exc:
                self._reject(item.path, exc, summary)
                bar.update(1)
        self._replace_chunks({item.key: item.chunks for item in begun}, summary, vectors)
        for item in begun:
            self._commit(item.key, item.meta, item.fmt, item.pages, len(item.chunks), item.warnings)
            self._count(summary, item.path, item.status, len(item.chunks), item.warnings)
            item.chunks = None  # free the texts
            bar.update(1)

    def _ingest_one(self, item: "_Prepared", summary: Summary, visibility: str | None) -> None:
        path = item.path
        bad_name = hostile_name_reason(path)
        if bad_name:
            # Such a name cannot be stored or printed safely: it is reported, never recorded.
            log.warning("rejected %s: %s", printable_path(path), bad_name)
            summary.failed.append({"path": printable_path(path), "reason": bad_name})
            return
        try:
            if item.error is not None:
                raise item.error
            status, n_chunks, warnings = self._write_prepared(item, summary)
        except LoadError as exc:
            self._reject(path, exc, summary)
            return
        self._count(summary, path, status, n_chunks, warnings)

    def _reject(self, path: Path, exc: LoadError, summary: Summary) -> None:
        """Report a file that cannot be indexed, and keep none of its chunks."""
        key = str(path.resolve())
        log.warning("rejected %s: %s", path, exc.reason)
        summary.failed.append({"path": str(path), "reason": exc.reason})
        previous = self.manifest.get(key)
        if previous and previous.status == "indexing":
            # A run died while replacing this file: the store holds a mix of its old and
            # new chunks, which no version of the file matches. Drop them.
            self.remove_path(key)
        self.manifest.fail(key, exc.reason)

    @staticmethod
    def _count(summary: Summary, path: Path, status: str, n_chunks: int, warnings: list[str]) -> None:
        setattr(summary, status, getattr(summary, status) + 1)
        summary.chunks += n_chunks
        summary.warnings.extend({"path": str(path), "message": w} for w in warnings)

    # ------------------------------------------------------------------ one file
    def ingest_file(
        self, path: Path, visibility: str | None = None, summary: Summary | None = None
    ) -> tuple[str, int, list[str]]:
        """Index one file. Returns (added|updated|unchanged, chunk count, warnings)."""
        key = str(path.resolve())
        item = self._prepare(path, self.manifest.get(key), visibility)
        if item.error is not None:
            raise item.error
        return self._write_prepared(item, summary or Summary())

    def _prepare(self, path: Path, previous: Any, visibility: str | None) -> "_Prepared":
        """Read, parse and chunk one file; no writes, so the loader thread can run it.

        ``previous`` is the file's manifest record (read by the caller's thread).
        """
        key = str(path.resolve())
        item = _Prepared(path=path, key=key, previous=previous, visibility=visibility)
        try:
            self._prepare_into(item)
        except LoadError as exc:
            item.error, item.chunks = exc, None
        return item

    def _prepare_into(self, item: "_Prepared") -> None:
        path, key, previous, visibility = item.path, item.key, item.previous, item.visibility
        data = read_checked(path, self.config.max_file_mb)
        digest = file_hash(data)
        if (
            previous
            and previous.status == "ok"
            and previous.content_hash == digest
            and previous.meta.get("pipeline_version") == PIPELINE_VERSION
            and (visibility is None or previous.meta.get("visibility") == visibility)
        ):
            item.status, item.n_chunks = "unchanged", previous.chunks or 0
            return
        options = LoadOptions(
            self.config.max_pdf_pages, self.config.ocr_langs, folder_lang(path),
            max_pdf_seconds=self.config.max_pdf_seconds, max_unzipped_mb=self.config.max_unzipped_mb,
        )
        loaded = load_file(path, data, options)
        item.meta = self._document_meta(path, loaded.meta, loaded.units, digest, loaded.format, visibility)
        item.digest, item.size, item.fmt = digest, len(data), loaded.format
        item.pages, item.warnings = loaded.pages or len(loaded.units), loaded.warnings
        item.chunks = self._chunk(key, item.meta, loaded.units, loaded.warnings)
        item.status = "updated" if previous and previous.status in ("ok", "indexing") else "added"

    def _write_prepared(self, item: "_Prepared", summary: Summary) -> tuple[str, int, list[str]]:
        if item.chunks is None:
            return item.status, item.n_chunks, []
        n_chunks = self._write(
            item.key, item.meta, item.chunks, item.digest, item.size, item.fmt, item.pages, item.warnings, summary
        )
        return item.status, n_chunks, item.warnings

    def index_units(
        self,
        key: str,
        meta: dict[str, Any],
        units: list[Document],
        digest: str,
        size: int,
        fmt: str,
        pages: int,
        warnings: list[str] | None = None,
        summary: Summary | None = None,
    ) -> int:
        """Chunk, embed and store one document's units under ``key``; returns the chunk count.

        Also the entry point for text that does not come from a file (the
        evaluation command indexes benchmark passages through it).
        """
        warnings = warnings or []
        self._check_owner(key, meta)
        chunks = self._chunk(key, meta, units, warnings)
        return self._write(key, meta, chunks, digest, size, fmt, pages, warnings, summary or Summary())

    def _check_owner(self, key: str, meta: dict[str, Any]) -> None:
        owner = self.manifest.by_doc_id(meta["doc_id"])
        if owner and owner.path != key:
            raise LoadError(
                meta.get("source", key),
                f"its document id {meta['doc_id']!r} is already used by {owner.path}; "
                "give one of them a different id (front matter `id:`)",
            )

    def _chunk(self, key: str, meta: dict[str, Any], units: list[Document], warnings: list[str]) -> list[Document]:
        chunks = chunk_units(
            units, meta, self.embeddings.count_tokens, self.config.chunk_tokens, self.config.chunk_overlap
        )
        if not chunks:
            raise LoadError(meta.get("source", key), "no indexable text after extraction" + _warning_tail(warnings))
        return chunks

    def _write(
        self,
        key: str,
        meta: dict[str, Any],
        chunks: list[Document],
        digest: str,
        size: int,
        fmt: str,
        pages: int,
        warnings: list[str],
        summary: Summary,
    ) -> int:
        """Write-ahead for one file: ``begin``, replace the chunks, ``commit``."""
        self._begin(key, meta, digest, size)
        self._replace_chunks({key: chunks}, summary)
        self._commit(key, meta, fmt, pages, len(chunks), warnings)
        return len(chunks)

    def _begin(self, key: str, meta: dict[str, Any], digest: str, size: int) -> None:
        """Mark the file ``indexing`` before any of its chunks is written (the write-ahead step)."""
        self._check_owner(key, meta)
        self.manifest.begin(key, meta["doc_id"], digest, size)

    def _commit(self, key: str, meta: dict[str, Any], fmt: str, pages: int, n_chunks: int, warnings: list[str]) -> None:
        self.manifest.commit(key, meta=meta, fmt=fmt, pages=pages, chunks=n_chunks, warnings=warnings)

    def _document_meta(
        self, path: Path, found: dict[str, Any], units: list[Document], digest: str, fmt: str, visibility: str | None
    ) -> dict[str, Any]:
        sample = "\n".join(u.page_content for u in units)[:20000]
        lang = str(found.get("lang") or folder_lang(path) or detect_lang(sample)).lower()[:2]
        vis = visibility or found.get("visibility") or "public"
        if not VISIBILITY.match(vis):
            raise LoadError(path, f"visibility {vis!r} is not public, internal or group:NAME")
        meta: dict[str, Any] = {
            "doc_id": found.get("doc_id") or default_doc_id(path),
            "title": found.get("title") or path.stem,
            "lang": lang if lang in LANGS else "other",
            "doc_lang": lang if lang in LANGS else "other",
            "visibility": vis,
            "source": display_path(path),
            "path": str(path.resolve()),
            "file_name": path.name,
            "format": fmt,
            "doc_hash": digest[:16],
            "pipeline_version": PIPELINE_VERSION,
        }
        for optional in ("date", "translation_of", "source_ref", "tags"):
            if found.get(optional):
                meta[optional] = found[optional]
        if meta.get("date"):
            digits = re.sub(r"\D", "", str(meta["date"]))[:8].ljust(8, "0")
            meta["date_int"] = int(digits) if digits.strip("0") else 0
        return meta

    def _replace_chunks(
        self, files: dict[str, list[Document]], summary: Summary, vectors: dict[str, list[float]] | None = None
    ) -> None:
        """Make each file's (path: chunks) stored chunks exactly these, in the store, its shadows and keywords."""
        if not files:
            return
        where = _paths_clause(list(files))
        chunks = [c for file_chunks in files.values() for c in file_chunks]
        stored = self.collection.get(where=where, include=["metadatas"])
        existing = dict(zip(stored["ids"], stored["metadatas"]))
        wanted = {c.id for c in chunks}
        # A chunk id names its text, not its metadata: re-ingesting an unchanged file with another
        # visibility (or tags, or title) must rewrite the chunks whose metadata changed, or they
        # keep the old visibility in the vector store while the keyword index has the new one.
        metadatas = {c.id: chroma_metadata(c.metadata) for c in chunks}
        missing = [c for c in chunks if existing.get(c.id) != metadatas[c.id]]  # new, or metadata changed
        # Declared before the write (kb/facets.py).
        facets.declare(self.collection, facets.values_of(metadatas[c.id] for c in missing), self._declared)
        for start in range(0, len(missing), UPSERT_BATCH):
            batch = missing[start : start + UPSERT_BATCH]
            texts = [embedding_text(c) for c in batch]
            if vectors and all(t in vectors for t in texts):  # embedded with the other ready files
                batch_vectors = [vectors[t] for t in texts]
            else:
                batch_vectors = self._embed(texts, summary)
            shadows.write(  # the language shadows first, then the collection (kb/shadows.py)
                self.collection,
                ids=[c.id for c in batch],
                embeddings=batch_vectors,
                documents=[c.page_content for c in batch],
                metadatas=[metadatas[c.id] for c in batch],
            )
            summary.chunks_written += len(batch)
        # Stale: the files' chunks no longer produced, and shadow copies a crash left without their chunk.
        # Misplaced: copies left in another language's shadow by a chunk whose language changed.
        held = shadows.ids_by_lang(self.collection, where)
        stale = (set(existing).union(*held.values())) - wanted
        shadows.delete(self.collection, stale)
        shadows.forget(self.collection, {
            lang: [i for i in ids if i in wanted and metadatas[i].get("lang") != lang] for lang, ids in held.items()
        })
        self.keyword.replace_files(
            {key: [(c.id, c.page_content, c.metadata) for c in file_chunks] for key, file_chunks in files.items()}
        )
        bump_generation(self.collection)  # replicas sharing a Chroma server re-sync their keyword index

    def _embed(self, texts: list[str], summary: Summary) -> list[list[float]]:
        """Embed only what the cache lacks; identical texts are embedded once."""
        return self._finish_embedding(self._start_embedding(texts, run_now=True), summary)

    def _start_embedding(
        self, texts: list[str], in_flight: set[str] = frozenset(), run_now: bool = False
    ) -> "_Embedding":
        """Look ``texts`` up in the cache; hand what it lacks to the embedder thread (or embed it now).

        ``in_flight`` texts are being embedded for the batch before: they are
        left to it and read back from the cache when this batch is finished,
        so a text repeated across batches is still embedded once.
        """
        cached = self.manifest.cached_vectors(self.model, texts)
        todo = sorted({t for t in texts if t not in cached and t not in in_flight}, key=len)  # similar lengths batch well
        job = _Embedding(texts, cached, todo)
        if not todo:
            return job
        if run_now or self._embedder is None:
            job.future = Future()
            job.future.set_result(self._embed_fresh(todo))
        else:
            job.future = self._embedder.submit(self._embed_fresh, todo)
        return job

    def _embed_fresh(self, texts: list[str]) -> tuple[list[list[float]], int]:
        """(vectors, tokens): the engine's own work, safe to run in the embedder thread."""
        counted = getattr(self.embeddings, "embed_documents_counted", None)
        if counted is not None:  # the engine tokenises anyway: no second pass to count
            return counted(texts)
        return self.embeddings.embed_documents(texts), sum(self.embeddings.count_tokens(t) for t in texts)

    def _finish_embedding(self, job: "_Embedding", summary: Summary) -> list[list[float]]:
        """Wait for ``job``'s vectors, cache them, and return one per text, in order."""
        if job.future is not None:
            fresh, tokens = job.future.result()
            self.manifest.store_vectors(self.model, zip(job.todo, fresh))
            job.cached.update(zip(job.todo, fresh))
            summary.embedded += len(job.todo)
            summary.embedded_tokens += tokens
        late = [t for t in job.texts if t not in job.cached]  # embedded by the batch before
        if late:
            job.cached.update(self.manifest.cached_vectors(self.model, late))
        return [job.cached[t] for t in job.texts]

    # ------------------------------------------------------------------ removal
    def remove_path(self, key: str) -> int:
        """Drop one file's chunks and its manifest row; returns chunks removed."""
        ids = self.collection.get(where={"path": key}, include=[])["ids"]
        shadows.delete(self.collection, set(ids) | shadows.ids_where(self.collection, {"path": key}))
        self.keyword.remove_path(key)
        bump_generation(self.collection)
        self.manifest.remove(key)
        return len(ids)

    def prune(self, roots: Iterable[Path]) -> int:
        """Forget files under ``roots`` that no longer exist, and any orphaned chunks."""
        removed = 0
        for record in list(iter_records(self.manifest, roots)):
            if not Path(record.path).exists():
                self.remove_path(record.path)
                removed += 1
        known = {r.path for r in self.manifest.all() if r.status in ("ok", "indexing")}
        offset = 0
        while True:
            page = self.collection.get(include=["metadatas"], limit=5000, offset=offset)
            if not page["ids"]:
                break
            orphans = [i for i, m in zip(page["ids"], page["metadatas"]) if (m or {}).get("path") not in known]
            if orphans:
                shadows.delete(self.collection, orphans)
                bump_generation(self.collection)
            offset += len(page["ids"]) - len(orphans)
        for path in self.keyword.paths() - known:
            self.keyword.remove_path(path)
        shadows.prune(self.collection)  # copies a crash left behind without their chunk
        return removed

    def close(self) -> None:
        self.manifest.close()
        self.keyword.close()


@dataclass
class _Prepared:
    """One file between the loader thread and the writer: parsed and chunked, or why not."""

    path: Path
    key: str
    previous: Any = None
    visibility: str | None = None
    status: str = ""
    n_chunks: int = 0
    chunks: list[Document] | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    digest: str = ""
    size: int = 0
    fmt: str = ""
    pages: int = 0
    warnings: list[str] = field(default_factory=list)
    error: LoadError | None = None
    crash: BaseException | None = None


@dataclass
class _Embedding:
    """Texts to embed: those the cache held, those it lacked, and the future of the latter."""

    texts: list[str]
    cached: dict[str, list[float]]
    todo: list[str]
    future: Future | None = None


@dataclass
class _Batch:
    """Ready files whose new chunk texts are embedded together (``embedding`` None: as they are written)."""

    items: list[_Prepared]
    embedding: _Embedding | None

    def done(self) -> bool:
        """Whether the embedder has finished this batch (or has nothing to do for it)."""
        job = self.embedding
        return job is None or job.future is None or job.future.done()


class _Loader:
    """Runs :meth:`Ingestor._prepare` over the files, in order, up to ``prefetch`` ahead.

    With ``prefetch`` 0 there is no thread: :meth:`take` prepares the next file
    itself. The thread only reads files, parses and chunks (pure work); every
    SQLite and Chroma call stays in the caller's thread. An unexpected error is
    handed over as ``crash`` and re-raised there, in file order.
    """

    def __init__(self, ingestor: Ingestor, files: list[Path], previous: dict, visibility: str | None, prefetch: int):
        self._ingestor, self._files, self._previous, self._visibility = ingestor, files, previous, visibility
        self._next = 0
        self._stopped = threading.Event()
        self._queue: queue.Queue[_Prepared] = queue.Queue(maxsize=max(prefetch, 1))
        self._thread = None
        if prefetch > 0 and len(files) > 1:
            self._thread = threading.Thread(target=self._work, name="kakehashi-loader", daemon=True)
            self._thread.start()

    def _one(self, path: Path) -> _Prepared:
        if hostile_name_reason(path):
            return _Prepared(path=path, key="")
        try:
            return self._ingestor._prepare(path, self._previous.get(str(path.resolve())), self._visibility)
        except BaseException as exc:  # handed to the caller's thread, raised there
            return _Prepared(path=path, key=str(path), crash=exc)

    def _work(self) -> None:
        for path in self._files:
            item = self._one(path)
            while not self._stopped.is_set():
                try:
                    self._queue.put(item, timeout=0.2)
                    break
                except queue.Full:
                    continue
            if self._stopped.is_set() or item.crash is not None:
                return

    def take(self, wait: bool, timeout: float | None = None) -> _Prepared | None:
        """The next file's result; ``None`` if it is not ready (``wait`` False) or not within ``timeout``."""
        if self._thread is None:
            path = self._files[self._next]
            self._next += 1
            return self._one(path)
        try:
            return self._queue.get(block=wait, timeout=timeout)
        except queue.Empty:
            return None

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(timeout=30)


def reindex(config: Config) -> None:
    """Forget the whole index (after an embedding-model change); the cache survives."""
    drop_collection(config)
    for suffix in ("", "-wal", "-shm"):
        Path(str(config.keyword_path) + suffix).unlink(missing_ok=True)
    if config.manifest_path.exists():
        manifest = Manifest(config.manifest_path)
        for record in manifest.all():
            manifest.remove(record.path)
        manifest.close()


# ---------------------------------------------------------------------- helpers
_BIDI_CONTROLS = set("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
MAX_NAME_BYTES = 255


def hostile_name_reason(path: Path) -> str | None:
    """Why a file name cannot be indexed safely, or None.

    Names are shown to people (titles default to them) and written to SQLite
    and JSON: bytes that are not UTF-8 cannot be stored, control characters
    (a newline) forge extra report lines, and text-direction overrides
    (U+202E) make ``cod.exe\u202efdp`` display as something else.
    """
    name = path.name
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "the file name is not valid UTF-8; rename the file"
    for ch in name:
        if ch in _BIDI_CONTROLS:
            return f"the file name contains a text-direction control character (U+{ord(ch):04X}); rename the file"
        if unicodedata.category(ch) == "Cc":
            return f"the file name contains a control character (U+{ord(ch):04X}); rename the file"
    if len(os.fsencode(name)) > MAX_NAME_BYTES:
        return f"the file name is longer than {MAX_NAME_BYTES} bytes; rename the file"
    return None


def printable_path(path: Path | str) -> str:
    """A path safe to print and to put in JSON: invalid bytes, controls and
    direction overrides are shown as escapes (``\\n``, ``\\u202e``), never acted on."""
    text = os.fsencode(str(path)).decode("utf-8", "backslashreplace")
    return "".join(
        ch.encode("unicode_escape").decode("ascii")
        if ch in _BIDI_CONTROLS or unicodedata.category(ch) == "Cc"
        else ch
        for ch in text
    )


def read_checked(path: Path, max_mb: float) -> bytes:
    """Read a file, refusing what cannot be a document before parsing it."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise LoadError(path, f"cannot be read ({exc.strerror or exc})") from exc
    if size == 0:
        raise LoadError(path, "the file is empty (0 bytes)")
    if size > max_mb * 1024 * 1024:
        raise LoadError(
            path, f"the file is {size / 2**20:.1f} MB, over the {max_mb:g} MB limit (KAKEHASHI_MAX_FILE_MB)"
        )
    try:
        return path.read_bytes()
    except OSError as exc:
        raise LoadError(path, f"cannot be read ({exc.strerror or exc})") from exc


def discover(paths: list[Path]) -> tuple[list[Path], list[dict[str, str]]]:
    """Expand folders into supported files; list what was skipped and why."""
    files: list[Path] = []
    skipped: list[dict[str, str]] = []
    for root in paths:
        if root.is_file():
            files.append(root)
            continue
        patterns = _ignore_patterns(root)
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(root)
            if any(part.startswith(".") for part in rel.parts) or not path.is_file():
                continue
            if any(fnmatch.fnmatch(rel.as_posix(), p) or fnmatch.fnmatch(path.name, p) for p in patterns):
                continue
            if path.suffix.lower() not in LOADERS:
                skipped.append({"path": printable_path(path), "reason": f"unsupported file type {path.suffix or '(none)'}"})
                continue
            files.append(path)
    unique = list(dict.fromkeys(p.resolve() for p in files))
    return [Path(display_path(p)) for p in unique], skipped


def _ignore_patterns(root: Path) -> list[str]:
    ignore = root / IGNORE_FILE
    if not ignore.is_file():
        return []
    lines = ignore.read_text(encoding="utf-8", errors="replace").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def folder_lang(path: Path) -> str | None:
    """``documents/vi/x.pdf`` is Vietnamese: the nearest folder named vi/ja/en decides."""
    for part in reversed(path.resolve().parent.parts):
        if part.lower() in LANGS:
            return part.lower()
    return None


def default_doc_id(path: Path) -> str:
    """Readable and stable across edits: the file stem plus a hash of its location."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", path.stem).strip("-").lower()[:60] or "doc"
    return f"{slug}-{hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:8]}"


def display_path(path: Path) -> str:
    resolved = path.resolve()
    try:
        return str(resolved.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(resolved)


def _paths_clause(keys: list[str]) -> dict[str, Any]:
    """A Chroma ``where`` for the chunks of these files (one query for a whole batch)."""
    return {"path": keys[0]} if len(keys) == 1 else {"path": {"$in": keys}}


def embedding_text(chunk: Document) -> str:
    """What the model sees: the title and section give a short chunk its topic."""
    meta = chunk.metadata
    header = " — ".join(str(x) for x in (meta.get("title"), meta.get("section")) if x)
    return f"{header}\n{chunk.page_content}" if header else chunk.page_content


def chroma_metadata(meta: dict[str, Any]) -> dict[str, Any]:
    """Chroma accepts str/int/float/bool and non-empty lists of them; drop the rest."""
    out: dict[str, Any] = {}
    for key, value in meta.items():
        if value is None or value == "" or value == []:
            continue
        if isinstance(value, (list, tuple)):
            out[key] = [str(v) for v in value]
        elif isinstance(value, (str, int, float, bool)):
            out[key] = value
        else:
            out[key] = str(value)
    return out


def _warning_tail(warnings: list[str]) -> str:
    return f" ({'; '.join(warnings)})" if warnings else ""


def _short(path: Path, width: int = 40) -> str:
    name = path.name
    return name if len(name) <= width else "…" + name[-(width - 1):]


def _progress_bar(total: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, unit="file", disable=not enabled, dynamic_ncols=True, leave=False)

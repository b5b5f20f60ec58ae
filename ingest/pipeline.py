"""Files in, chunks in the vector store out: incremental, idempotent, crash-safe.

For each file: read it, skip it if its content hash is already indexed, load
and chunk it, mark it ``indexing`` in the manifest, upsert the chunks the
store lacks (embedding only texts never embedded before), delete the file's
chunks that are no longer produced, and mark it ``ok``. Every step can be
repeated, so a run killed at any point and run again ends in the same index
as an uninterrupted run.
"""

from __future__ import annotations

import fnmatch
import hashlib
import logging
import re
import os
import time
import unicodedata
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
from kb.store import bump_generation, drop_collection, open_store
from kb.text import LANGS, detect_lang

log = logging.getLogger("kakehashi.ingest")

IGNORE_FILE = ".kakehashiignore"
PIPELINE_VERSION = 2
"""Bump when loading, normalising or chunking changes: every file is then re-processed
(cheaply: embeddings of unchanged chunk texts come from the cache)."""
VISIBILITY = re.compile(r"^(public|internal|group:[A-Za-z0-9_.-]{1,64})$")
UPSERT_BATCH = 64


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
        self._sync_keyword_index()

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
            for index, path in enumerate(files):
                bar.set_description_str(_short(path))
                if self.on_progress:
                    self.on_progress(index, len(files), str(path))
                self._ingest_one(path, summary, visibility)
                bar.update(1)
            bar.close()
            if self.on_progress:
                self.on_progress(len(files), len(files), "")
            if prune:
                summary.removed += self.prune(paths)
            summary.seconds = time.monotonic() - started
            return summary

    def _ingest_one(self, path: Path, summary: Summary, visibility: str | None) -> None:
        bad_name = hostile_name_reason(path)
        if bad_name:
            # Such a name cannot be stored or printed safely: it is reported, never recorded.
            log.warning("rejected %s: %s", printable_path(path), bad_name)
            summary.failed.append({"path": printable_path(path), "reason": bad_name})
            return
        key = str(path.resolve())
        try:
            status, n_chunks, warnings = self.ingest_file(path, visibility=visibility, summary=summary)
        except LoadError as exc:
            log.warning("rejected %s: %s", path, exc.reason)
            summary.failed.append({"path": str(path), "reason": exc.reason})
            previous = self.manifest.get(key)
            if previous and previous.status == "indexing":
                # A run died while replacing this file: the store holds a mix of its old and
                # new chunks, which no version of the file matches. Drop them.
                self.remove_path(key)
            self.manifest.fail(key, exc.reason)
            return
        setattr(summary, status, getattr(summary, status) + 1)
        summary.chunks += n_chunks
        summary.warnings.extend({"path": str(path), "message": w} for w in warnings)

    # ------------------------------------------------------------------ one file
    def ingest_file(
        self, path: Path, visibility: str | None = None, summary: Summary | None = None
    ) -> tuple[str, int, list[str]]:
        """Index one file. Returns (added|updated|unchanged, chunk count, warnings)."""
        summary = summary or Summary()
        key = str(path.resolve())
        data = read_checked(path, self.config.max_file_mb)
        digest = file_hash(data)
        previous = self.manifest.get(key)
        if (
            previous
            and previous.status == "ok"
            and previous.content_hash == digest
            and previous.meta.get("pipeline_version") == PIPELINE_VERSION
            and (visibility is None or previous.meta.get("visibility") == visibility)
        ):
            return "unchanged", previous.chunks or 0, []
        options = LoadOptions(
            self.config.max_pdf_pages, self.config.ocr_langs, folder_lang(path),
            max_pdf_seconds=self.config.max_pdf_seconds, max_unzipped_mb=self.config.max_unzipped_mb,
        )
        loaded = load_file(path, data, options)
        meta = self._document_meta(path, loaded.meta, loaded.units, digest, loaded.format, visibility)
        n_chunks = self.index_units(
            key, meta, loaded.units, digest, len(data), fmt=loaded.format,
            pages=loaded.pages or len(loaded.units), warnings=loaded.warnings, summary=summary,
        )
        status = "updated" if previous and previous.status in ("ok", "indexing") else "added"
        return status, n_chunks, loaded.warnings

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
        owner = self.manifest.by_doc_id(meta["doc_id"])
        if owner and owner.path != key:
            raise LoadError(
                meta.get("source", key),
                f"its document id {meta['doc_id']!r} is already used by {owner.path}; "
                "give one of them a different id (front matter `id:`)",
            )
        chunks = chunk_units(
            units, meta, self.embeddings.count_tokens, self.config.chunk_tokens, self.config.chunk_overlap
        )
        if not chunks:
            raise LoadError(meta.get("source", key), "no indexable text after extraction" + _warning_tail(warnings))
        self.manifest.begin(key, meta["doc_id"], digest, size)
        self._replace_chunks(key, chunks, summary or Summary())
        self.manifest.commit(key, meta=meta, fmt=fmt, pages=pages, chunks=len(chunks), warnings=warnings)
        return len(chunks)

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

    def _replace_chunks(self, key: str, chunks: list[Document], summary: Summary) -> None:
        existing = set(self.collection.get(where={"path": key}, include=[])["ids"])
        wanted = {c.id for c in chunks}
        missing = [c for c in chunks if c.id not in existing]
        for start in range(0, len(missing), UPSERT_BATCH):
            batch = missing[start : start + UPSERT_BATCH]
            vectors = self._embed([embedding_text(c) for c in batch], summary)
            self.collection.upsert(
                ids=[c.id for c in batch],
                embeddings=vectors,
                documents=[c.page_content for c in batch],
                metadatas=[chroma_metadata(c.metadata) for c in batch],
            )
            summary.chunks_written += len(batch)
        stale = sorted(existing - wanted)
        if stale:
            self.collection.delete(ids=stale)
        self.keyword.replace_file(key, [(c.id, c.page_content, c.metadata) for c in chunks])
        bump_generation(self.collection)  # replicas sharing a Chroma server re-sync their keyword index

    def _embed(self, texts: list[str], summary: Summary) -> list[list[float]]:
        """Embed only what the cache lacks; identical texts are embedded once."""
        cached = self.manifest.cached_vectors(self.model, texts)
        todo = sorted({t for t in texts if t not in cached}, key=len)  # similar lengths batch well
        if todo:
            fresh = self.embeddings.embed_documents(todo)
            self.manifest.store_vectors(self.model, zip(todo, fresh))
            cached.update(zip(todo, fresh))
            summary.embedded += len(todo)
            summary.embedded_tokens += sum(self.embeddings.count_tokens(t) for t in todo)
        return [cached[t] for t in texts]

    # ------------------------------------------------------------------ removal
    def remove_path(self, key: str) -> int:
        """Drop one file's chunks and its manifest row; returns chunks removed."""
        ids = self.collection.get(where={"path": key}, include=[])["ids"]
        if ids:
            self.collection.delete(ids=ids)
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
                self.collection.delete(ids=orphans)
                bump_generation(self.collection)
            offset += len(page["ids"]) - len(orphans)
        for path in self.keyword.paths() - known:
            self.keyword.remove_path(path)
        return removed

    def close(self) -> None:
        self.manifest.close()
        self.keyword.close()


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

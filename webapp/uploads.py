"""Uploads, deletions and re-indexing from the browser, through ``ingest``.

An upload is untrusted twice over: its *name* may try to escape the uploads
folder (``../../x``, ``C:\\x``, NUL bytes, 10 kB names) and its *content* may
be anything. Names are reduced to a safe basename and the final path is
checked to lie inside ``<data dir>/uploads``; content goes through the same
ingestion pipeline as the CLI, one file at a time, so a bad file is reported
with its reason and the rest of the batch still goes in.

Every write holds the data directory's ingest lock (:func:`ingest.pipeline.ingest_lock`)
from before the :class:`Ingestor` is built -- its constructor may rebuild the
keyword index -- until it is closed, as ``python -m ingest`` does; a CLI run,
a backup or a restore holding it for longer than :data:`LOCK_TIMEOUT` seconds
makes uploads and re-indexing fail with the translated "busy" reason.
"""

from __future__ import annotations

import re
import shutil
import threading
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from ingest.loaders import LOADERS
from ingest.pipeline import IngestBusy, Ingestor, Summary, ingest_lock
from kb.config import Config

ALLOWED_SUFFIXES = tuple(sorted(LOADERS))
MAX_NAME_BYTES = 120
LOCK_TIMEOUT = 30
"""Seconds an app write waits for another writer (CLI ingestion, backup, restore) before giving up."""
_UNSAFE = re.compile(r'[<>:"/\\|?*#%\x00-\x1f\x7f]+')
"""Characters no filesystem or URL should see in a stored name (Unicode letters are kept)."""

Progress = Callable[[float, str], None]


@dataclass
class UploadResult:
    name: str
    """The sanitised file name (what the user sees in the table)."""
    status: str
    """added | updated | unchanged | failed"""
    chunks: int = 0
    reason: str = ""
    reason_key: str = ""
    """A label key when the app itself refused the file (localised in the UI)."""
    reason_values: dict | None = None

    @property
    def ok(self) -> bool:
        return self.status != "failed"


def safe_filename(name: str) -> str:
    """A basename that cannot leave its folder, hide itself or overflow the filesystem."""
    name = unicodedata.normalize("NFC", name or "")
    name = name.replace("\x00", "")
    name = re.split(r"[\\/]", name)[-1]  # Windows or POSIX path: keep the last part
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C")
    name = re.sub(r"\s+", " ", _UNSAFE.sub("_", name)).strip(" .")
    stem, dot, suffix = name.rpartition(".")
    if not dot:
        stem, suffix = name, ""
    suffix = suffix.lower()[:10]
    stem = stem.strip(" .") or "upload"
    limit = MAX_NAME_BYTES - len(suffix.encode()) - 1
    while len(stem.encode("utf-8")) > limit:
        stem = stem[:-1]
    return f"{stem}.{suffix}" if suffix else stem


class DocumentAdmin:
    """The write side of the Documents tab, confined to one data directory."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.uploads_dir = (config.data_dir / "uploads").resolve()
        self._lock = threading.Lock()  # one writer per app; the file lock covers other processes

    # ------------------------------------------------------------------ uploads
    def target_for(self, original_name: str, lang: str | None) -> Path:
        """Where an upload is stored: ``uploads/[vi|ja|en/]<safe name>``, never elsewhere."""
        folder = self.uploads_dir / lang if lang in ("vi", "ja", "en") else self.uploads_dir
        target = (folder / safe_filename(original_name)).resolve()
        if not target.is_relative_to(self.uploads_dir):
            raise ValueError(f"refusing to write outside {self.uploads_dir}: {original_name!r}")
        return target

    def ingest_uploads(
        self, files: list[tuple[str, Path]], lang: str | None = None, progress: Progress | None = None,
        visibility: str | None = None,
    ) -> list[UploadResult]:
        """Copy each ``(original name, temp path)`` into the uploads folder and index it.

        Files are checked (type, size) before they are copied, so a refused
        file never lands in the uploads folder. ``visibility`` (public,
        internal, group:NAME) overrides the file's own; None keeps the file's
        (default public).
        """
        results: list[UploadResult] = []
        total = max(len(files), 1)
        with self._lock:
            try:
                with ingest_lock(self.config, LOCK_TIMEOUT):
                    ingestor = Ingestor(self.config, progress=False)
                    try:
                        for index, (original, temp) in enumerate(files):
                            name = safe_filename(original)
                            if progress:
                                progress(index / total, name)
                            results.append(self._one_upload(ingestor, original, Path(temp), lang, visibility))
                    finally:
                        ingestor.close()
            except IngestBusy:  # only taking the lock raises it: nothing was copied or indexed yet
                results = [UploadResult(safe_filename(original), "failed", reason_key="busy") for original, _ in files]
        if progress:
            progress(1.0, "")
        return results

    def _one_upload(
        self, ingestor: Ingestor, original: str, temp: Path, lang: str | None, visibility: str | None = None
    ) -> UploadResult:
        name = safe_filename(original)
        suffix = Path(name).suffix.lower()
        if suffix not in LOADERS:
            return UploadResult(name, "failed", reason_key="bad_type", reason_values={"ext": suffix or "(?)"})
        size = temp.stat().st_size if temp.exists() else 0
        if size > self.config.max_file_mb * 1024 * 1024:
            return UploadResult(
                name, "failed", reason_key="too_big",
                reason_values={"size": size / 2**20, "mb": f"{self.config.max_file_mb:g}"},
            )
        target = self.target_for(original, lang)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(temp, target)
        try:
            summary = ingestor.run([target], visibility=visibility, locked=True)  # the caller holds ingest_lock
        except Exception as exc:  # an unexpected loader crash must not stop the batch
            ingestor.manifest.fail(str(target), f"unexpected error: {exc}")
            return UploadResult(name, "failed", reason=f"unexpected error: {exc}")
        return _result_from_summary(name, summary)

    # ------------------------------------------------------------------ maintenance
    def remove(self, path_key: str) -> int:
        """Forget one manifest entry (and delete the file if it is an upload)."""
        with self._lock, ingest_lock(self.config, LOCK_TIMEOUT):  # IngestBusy if another writer holds it
            ingestor = Ingestor(self.config, progress=False)
            try:
                removed = ingestor.remove_path(path_key)
            finally:
                ingestor.close()
        file = Path(path_key)
        if file.resolve().is_relative_to(self.uploads_dir) and file.is_file():
            file.unlink()
        return removed

    def is_upload(self, path_key: str) -> bool:
        return Path(path_key).resolve().is_relative_to(self.uploads_dir)

    def reindex(self, path_key: str) -> UploadResult:
        """Index one known file again from scratch (its vectors come from the cache).

        The visibility it had is kept: one chosen at upload lives only in the
        index, and re-indexing must never make an internal document public.
        """
        name = Path(path_key).name
        with self._lock:
            try:
                with ingest_lock(self.config, LOCK_TIMEOUT):
                    ingestor = Ingestor(self.config, progress=False)
                    try:
                        if not Path(path_key).is_file():
                            ingestor.remove_path(path_key)
                            return UploadResult(name, "failed", reason=f"the file is gone: {path_key}")
                        previous = ingestor.manifest.get(path_key)
                        visibility = previous.meta.get("visibility") if previous and previous.status == "ok" else None
                        ingestor.remove_path(path_key)
                        summary = ingestor.run([Path(path_key)], visibility=visibility, locked=True)
                    finally:
                        ingestor.close()
            except IngestBusy:
                return UploadResult(name, "failed", reason_key="busy")
        return _result_from_summary(name, summary)

    def update_all(self, progress: Progress | None = None) -> Summary:
        """Bring the index up to date with ``documents/`` and the uploads folder."""
        roots = [p for p in (self.config.documents_dir, self.uploads_dir) if p.is_dir()]

        def report(done: int, total: int, path: str) -> None:
            if progress:
                progress(done / max(total, 1), Path(path).name if path else "")

        with self._lock, ingest_lock(self.config, LOCK_TIMEOUT):  # IngestBusy if another writer holds it
            ingestor = Ingestor(self.config, progress=False, on_progress=report)
            try:
                return ingestor.run(roots, prune=True, locked=True)
            finally:
                ingestor.close()


def _result_from_summary(name: str, summary: Summary) -> UploadResult:
    if summary.failed:
        return UploadResult(name, "failed", reason=summary.failed[0]["reason"])
    for status in ("added", "updated", "unchanged"):
        if getattr(summary, status):
            return UploadResult(name, status, chunks=summary.chunks)
    return UploadResult(name, "failed", reason="nothing was indexed")


__all__ = ["ALLOWED_SUFFIXES", "DocumentAdmin", "UploadResult", "safe_filename"]

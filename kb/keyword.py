"""A persistent BM25 index in SQLite, updated incrementally by ingestion.

Chroma's local mode has no sparse or full-text ranking, so the keyword lane
keeps its own inverted index beside the vectors. SQLite gives us what a
keyword index needs and bm25s (a static matrix) does not: per-file
replacement in one transaction (so a crash never leaves half a file), and
filters in the same query as the ranking (language, document, tag, date,
visibility), which is where they must be enforced. BM25 is computed by
SQLite over the postings of the query's terms only; nothing is rebuilt per
query.
"""

from __future__ import annotations

import math
import sqlite3
import threading
from collections import Counter
from pathlib import Path
from typing import Any, Iterable

from kb.filters import Filters
from kb.tokenize import tokens

K1 = 1.2
B = 0.75

SCHEMA = """
CREATE TABLE IF NOT EXISTS chunks (
    id         INTEGER PRIMARY KEY,
    chunk_id   TEXT UNIQUE NOT NULL,
    path       TEXT NOT NULL,
    doc_id     TEXT NOT NULL,
    lang       TEXT,
    visibility TEXT,
    date_int   INTEGER,
    tags       TEXT,      -- ",tag1,tag2," for LIKE matching
    length     INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS chunks_path ON chunks(path);
CREATE TABLE IF NOT EXISTS terms (
    id   INTEGER PRIMARY KEY,
    term TEXT UNIQUE NOT NULL,
    df   INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS postings (
    term_id INTEGER NOT NULL,
    chunk   INTEGER NOT NULL,
    tf      INTEGER NOT NULL,
    PRIMARY KEY (term_id, chunk)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS postings_chunk ON postings(chunk);
CREATE TABLE IF NOT EXISTS stats (key TEXT PRIMARY KEY, value REAL NOT NULL);
"""


class KeywordIndex:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._db().executescript(SCHEMA)

    def _db(self) -> sqlite3.Connection:
        """One connection per thread: readers never wait for each other."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(str(self.path), timeout=60, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    # ------------------------------------------------------------------ writes
    def replace_file(self, path: str, chunks: Iterable[tuple[str, str, dict[str, Any]]]) -> None:
        """Make ``path``'s chunks exactly ``chunks`` (chunk_id, text, metadata), atomically."""
        rows = [(cid, Counter(tokens(text)), meta) for cid, text, meta in chunks]
        with self._write_lock:
            db = self._db()
            db.execute("BEGIN IMMEDIATE")
            try:
                self._delete_where(db, "path = ?", (path,))
                for chunk_id, counts, meta in rows:
                    self._insert(db, chunk_id, path, counts, meta)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def remove_path(self, path: str) -> None:
        self._remove("path = ?", (path,))

    def remove_chunks(self, chunk_ids: list[str]) -> None:
        for start in range(0, len(chunk_ids), 500):
            batch = chunk_ids[start : start + 500]
            self._remove(f"chunk_id IN ({','.join('?' * len(batch))})", tuple(batch))

    def _remove(self, where: str, params: tuple) -> None:
        with self._write_lock:
            db = self._db()
            db.execute("BEGIN IMMEDIATE")
            try:
                self._delete_where(db, where, params)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def _insert(self, db: sqlite3.Connection, chunk_id: str, path: str, counts: Counter, meta: dict[str, Any]) -> None:
        tags = meta.get("tags") or []
        cursor = db.execute(
            "INSERT INTO chunks(chunk_id, path, doc_id, lang, visibility, date_int, tags, length) VALUES (?,?,?,?,?,?,?,?)",
            (
                chunk_id, path, meta.get("doc_id", ""), meta.get("lang"), meta.get("visibility", "public"),
                meta.get("date_int"), "," + ",".join(tags) + "," if tags else None, sum(counts.values()),
            ),
        )
        chunk = cursor.lastrowid
        for term, tf in counts.items():
            db.execute("INSERT INTO terms(term, df) VALUES (?, 1) ON CONFLICT(term) DO UPDATE SET df = df + 1", (term,))
            db.execute(
                "INSERT INTO postings(term_id, chunk, tf) VALUES ((SELECT id FROM terms WHERE term = ?), ?, ?)",
                (term, chunk, tf),
            )
        _bump(db, "n_chunks", 1)
        _bump(db, "total_length", sum(counts.values()))

    def _delete_where(self, db: sqlite3.Connection, where: str, params: tuple) -> None:
        doomed = db.execute(f"SELECT id, length FROM chunks WHERE {where}", params).fetchall()
        for chunk, length in doomed:
            db.execute(
                "UPDATE terms SET df = df - 1 WHERE id IN (SELECT term_id FROM postings WHERE chunk = ?)", (chunk,)
            )
            db.execute("DELETE FROM postings WHERE chunk = ?", (chunk,))
            db.execute("DELETE FROM chunks WHERE id = ?", (chunk,))
            _bump(db, "n_chunks", -1)
            _bump(db, "total_length", -length)

    # ------------------------------------------------------------------ reads
    def count(self) -> int:
        return int(self._db().execute("SELECT COUNT(*) FROM chunks").fetchone()[0])

    def chunk_ids(self) -> set[str]:
        return {row[0] for row in self._db().execute("SELECT chunk_id FROM chunks")}

    def paths(self) -> set[str]:
        return {row[0] for row in self._db().execute("SELECT DISTINCT path FROM chunks")}

    def document_frequencies(self, terms: list[str]) -> tuple[dict[str, int], int]:
        """(df of each term, number of chunks): how rare each term is in the index."""
        db = self._db()
        n = int(dict(db.execute("SELECT key, value FROM stats")).get("n_chunks", 0))
        unique = list(dict.fromkeys(terms))
        if not unique:
            return {}, n
        found = dict(db.execute(f"SELECT term, df FROM terms WHERE term IN ({','.join('?' * len(unique))})", unique))
        return {t: int(found.get(t, 0)) for t in unique}, n

    def search(self, terms: list[str], k: int = 10, filters: Filters | None = None) -> list[tuple[str, float]]:
        """BM25 over ``terms`` (from :func:`kb.tokenize.tokens`); filters apply inside the query."""
        if not terms:
            return []
        db = self._db()
        stats = dict(db.execute("SELECT key, value FROM stats"))
        n = stats.get("n_chunks", 0.0)
        if n <= 0:
            return []
        avgdl = stats.get("total_length", 0.0) / n or 1.0
        query_tf = Counter(terms)
        marks = ",".join("?" * len(query_tf))
        known = db.execute(f"SELECT id, term, df FROM terms WHERE term IN ({marks}) AND df > 0", list(query_tf))
        weights = [(tid, math.log(1 + (n - df + 0.5) / (df + 0.5)) * query_tf[term]) for tid, term, df in known]
        if not weights:
            return []
        values = ",".join("(?, ?)" for _ in weights)
        where, params = sql_filters(filters or Filters())
        sql = f"""
            WITH q(term_id, weight) AS (VALUES {values})
            SELECT c.chunk_id,
                   SUM(q.weight * p.tf * {K1 + 1} / (p.tf + {K1} * (1 - {B} + {B} * c.length / ?))) AS score
            FROM q JOIN postings p ON p.term_id = q.term_id JOIN chunks c ON c.id = p.chunk
            {where}
            GROUP BY c.id ORDER BY score DESC LIMIT ?"""
        flat = [x for pair in weights for x in pair]
        return [(cid, float(score)) for cid, score in db.execute(sql, [*flat, avgdl, *params, k])]

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None


def sql_filters(filters: Filters) -> tuple[str, list[Any]]:
    """The same filters as :meth:`Filters.where`, for the keyword index's SQL."""
    clauses: list[str] = []
    params: list[Any] = []
    if filters.lang and filters.lang != "any":
        clauses.append("c.lang = ?")
        params.append(filters.lang)
    if filters.doc_ids:
        clauses.append(f"c.doc_id IN ({','.join('?' * len(filters.doc_ids))})")
        params.extend(filters.doc_ids)
    for tag in filters.tags:
        clauses.append("c.tags LIKE ?")
        params.append(f"%,{tag},%")
    low, high = filters.date_range()
    if low is not None:
        clauses.append("c.date_int >= ?")
        params.append(low)
    if high is not None:
        clauses.append("c.date_int <= ?")
        params.append(high)
    if filters.visibility:
        clauses.append(f"c.visibility IN ({','.join('?' * len(filters.visibility))})")
        params.extend(filters.visibility)
    return ("WHERE " + " AND ".join(clauses) if clauses else ""), params


def _bump(db: sqlite3.Connection, key: str, delta: float) -> None:
    db.execute(
        "INSERT INTO stats(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = value + excluded.value",
        (key, delta),
    )

"""A persistent BM25 index in SQLite, updated incrementally by ingestion.

Chroma's local mode has no sparse or full-text ranking, so the keyword lane
keeps its own inverted index beside the vectors. SQLite gives us what a
keyword index needs and bm25s (a static matrix) does not: per-file
replacement in one transaction (so a crash never leaves half a file), and
filters in the same query as the ranking (language, document, tag, date,
visibility), which is where they must be enforced. BM25 is computed by
SQLite over the postings of the query's terms only; nothing is rebuilt per
query.

Several app replicas can share one Chroma server (``KAKEHASHI_CHROMA_HOST``),
each with its own data dir. We chose *Chroma as the source of truth plus a
rebuild-on-change protocol* over moving the keyword index next to the
vectors: Chroma has no BM25 of its own, a second shared database would be
one more server to run, back up and keep consistent, and SQLite on a network
filesystem is not safe for concurrent writers. So every write through
ingestion bumps a generation stamp in the Chroma collection's metadata
(:func:`kb.store.bump_generation`); every replica's keyword index, when it
is read, checks that stamp at most every ``KAKEHASHI_KEYWORD_SYNC_SECONDS``
(default 2) and, when it changed, brings itself up to date incrementally
(:meth:`KeywordIndex.sync_from`): it diffs chunk ids, fetches the text and
metadata of new chunks only, and drops the ones that are gone. Chunk ids
hash the document id, position and text, so a changed passage is a new id
and an id diff finds every change. The cost is one small request every few
seconds per replica and, after a write, one listing of ids; a replica sees
another's upload within the sync interval.
"""

from __future__ import annotations

import math
import sqlite3
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from kb.filters import Filters
from kb.tokenize import tokens

K1 = 0.6
"""Term-frequency saturation. A question's terms each appear once or twice in the passage that
answers it, so a low k1 (repeats add little) ranks better. BM25 R@1 measured on all of JSQuAD
(first 1500 questions) and XQuAD-vi at (k1, b): (1.2, 0.75) 0.880 / 0.915, (0.9, 0.5) 0.893 /
0.913, (0.6, 0.5) 0.896 / 0.911; hybrid 0.894 / 0.948 -> 0.901 / 0.949 (even and odd halves
0.897 / 0.904 and 0.945 / 0.953). k1 2.0 lost on both sets."""
B = 0.5
"""Length normalisation: weaker than the usual 0.75, because a long passage is not padded, it
covers more (JSQuAD BM25 R@1 at k1 0.6: b 0.3 0.895, 0.5 0.896; at k1 1.2: b 0.9 0.874)."""

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


COMMON_TERM_RATIO = 0.01
"""Only query terms in more than this share of the chunks may be skipped (see _without_common_terms)."""
POSTINGS_BUDGET = 30000
"""Postings a query may read before its commonest terms are skipped; 0 = never skip."""
PRUNE_MIN_CHUNKS = 20000
SYNC_PAGE = 5000
FETCH_BATCH = 500

Source = Callable[[], tuple[str, Any]]
"""Returns (stamp, collection): the server's current generation stamp and the collection to read."""

_sources: dict[str, tuple[Source, float]] = {}
_sources_lock = threading.Lock()


def follow(path: Path, source: Source, every: float) -> None:
    """Make the keyword index at ``path`` follow ``source`` (registered by :func:`kb.store.open_store`).

    Opening the store of a data dir on a Chroma server is what says "this
    data dir's keyword index mirrors that collection", so the store
    registers the source and any :class:`KeywordIndex` on the path (in the
    app, the CLI or ingestion) syncs itself on read.
    """
    with _sources_lock:
        _sources[str(Path(path).resolve())] = (source, max(0.0, float(every)))


class KeywordIndex:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._key = str(path.resolve())
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._synced_stamp: str | None = None
        self._checked_at = float("-inf")
        self.common_ratio = COMMON_TERM_RATIO
        self.postings_budget = POSTINGS_BUDGET
        self.prune_min_chunks = PRUNE_MIN_CHUNKS
        self._db().executescript(SCHEMA)

    # ------------------------------------------------------------------ replicas
    def maybe_sync(self, force: bool = False) -> dict[str, int] | None:
        """Catch up with the shared Chroma collection if its generation changed.

        At most one check per sync interval; concurrent readers wait for a
        running sync instead of starting another. Returns what changed, or
        None when nothing was checked. A no-op for an embedded store, whose
        writers update this very file.
        """
        followed = _sources.get(self._key)
        if followed is None:
            return None
        source, every = followed
        if not force and time.monotonic() - self._checked_at < every:
            return None
        with self._sync_lock:
            if not force and time.monotonic() - self._checked_at < every:
                return None  # another thread just checked
            stamp, collection = source()  # read before diffing: a later write bumps it again
            result = {"added": 0, "removed": 0}
            if stamp != self._synced_stamp:
                result = self.sync_from(collection)
                self._synced_stamp = stamp
            self._checked_at = time.monotonic()
            return result

    def sync_from(self, collection: Any) -> dict[str, int]:
        """Make this index hold exactly the collection's chunks, fetching only new ones.

        Unchanged chunks are never re-read or re-tokenised: the chunk ids
        are listed (no documents, no vectors), and only the ids this index
        lacks are fetched with their text and metadata.
        """
        remote: set[str] = set()
        offset = 0
        while True:
            page = collection.get(include=[], limit=SYNC_PAGE, offset=offset)
            if not page["ids"]:
                break
            remote.update(page["ids"])
            offset += len(page["ids"])
        local = self.chunk_ids()
        new = sorted(remote - local)
        gone = sorted(local - remote)
        for start in range(0, len(new), FETCH_BATCH):
            got = collection.get(ids=new[start : start + FETCH_BATCH], include=["documents", "metadatas"])
            self.upsert_chunks(
                (cid, text or "", meta or {}) for cid, text, meta in zip(got["ids"], got["documents"], got["metadatas"])
            )
        if gone:
            self.remove_chunks(gone)
        return {"added": len(new), "removed": len(gone)}

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
        self.replace_files({path: chunks})

    def replace_files(self, files: Mapping[str, Iterable[tuple[str, str, dict[str, Any]]]]) -> None:
        """:meth:`replace_file` for several files in one transaction (ingestion writes a batch at once)."""
        rows = {path: [(cid, Counter(tokens(text)), meta) for cid, text, meta in chunks] for path, chunks in files.items()}
        with self._write_lock:
            db = self._db()
            db.execute("BEGIN IMMEDIATE")
            try:
                for path, file_rows in rows.items():
                    self._delete_where(db, "path = ?", (path,))
                    for chunk_id, counts, meta in file_rows:
                        self._insert(db, chunk_id, path, counts, meta)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise

    def upsert_chunks(self, chunks: Iterable[tuple[str, str, dict[str, Any]]]) -> None:
        """Add or replace single chunks (chunk_id, text, metadata with ``path``), atomically."""
        rows = [(cid, Counter(tokens(text)), meta) for cid, text, meta in chunks]
        if not rows:
            return
        with self._write_lock:
            db = self._db()
            db.execute("BEGIN IMMEDIATE")
            try:
                for start in range(0, len(rows), 500):
                    ids = [cid for cid, _, _ in rows[start : start + 500]]
                    self._delete_where(db, f"chunk_id IN ({','.join('?' * len(ids))})", tuple(ids))
                for chunk_id, counts, meta in rows:
                    self._insert(db, chunk_id, str(meta.get("path", "")), counts, meta)
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
        self.maybe_sync()
        return int(self._db().execute("SELECT COUNT(*) FROM chunks").fetchone()[0])

    def chunk_ids(self) -> set[str]:
        return {row[0] for row in self._db().execute("SELECT chunk_id FROM chunks")}

    def paths(self) -> set[str]:
        return {row[0] for row in self._db().execute("SELECT DISTINCT path FROM chunks")}

    def document_frequencies(self, terms: list[str]) -> tuple[dict[str, int], int]:
        """(df of each term, number of chunks): how rare each term is in the index."""
        self.maybe_sync()
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
        self.maybe_sync()
        db = self._db()
        stats = dict(db.execute("SELECT key, value FROM stats"))
        n = stats.get("n_chunks", 0.0)
        if n <= 0:
            return []
        avgdl = stats.get("total_length", 0.0) / n or 1.0
        query_tf = Counter(terms)
        marks = ",".join("?" * len(query_tf))
        known = db.execute(f"SELECT id, term, df FROM terms WHERE term IN ({marks}) AND df > 0", list(query_tf))
        known = self._without_common_terms(list(known), n)
        weights = [(tid, bm25_idf(df, n) * query_tf[term]) for tid, term, df in known]
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

    def _without_common_terms(self, known: list[tuple[int, str, int]], n: float) -> list[tuple[int, str, int]]:
        """At scale, skip the commonest query terms while the postings to read exceed a budget.

        SQLite's cost is the number of postings read: at 100k chunks a
        Vietnamese question's syllables and bigrams read 37k postings at the
        median and 100k at p95 (0.5 s per lane on the loaded 2-core machine).
        The terms dropped are the most frequent ones (df above
        ``common_ratio`` of the chunks, highest first) and only until the
        rest fit in ``postings_budget``; rare terms, which decide the
        ranking, are always kept, as is a query's last term. Below
        ``prune_min_chunks`` nothing is dropped, so small indexes rank
        exactly as before. Measured in bench/scale.md.
        """
        if n < self.prune_min_chunks or not self.postings_budget:
            return known
        kept = sorted(known, key=lambda row: row[2], reverse=True)
        total = sum(row[2] for row in kept)
        while len(kept) > 1 and total > self.postings_budget and kept[0][2] > self.common_ratio * n:
            total -= kept.pop(0)[2]
        return kept

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None


def bm25_idf(df: int, n: float) -> float:
    """BM25's inverse document frequency (the +1 keeps it positive for very common terms)."""
    return math.log(1 + (n - df + 0.5) / (df + 0.5))


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

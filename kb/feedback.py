"""Answer feedback (👍/👎 with a comment), kept in SQLite next to the index.

Feedback is how the team learns which questions the corpus answers badly, so
each row keeps what is needed to replay the case later: the question, the
answer as shown, the cited chunks, and the filters and languages in force.
It lives in its own file in the data directory (not in the manifest) so that
re-indexing or dropping the index never loses it.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at  TEXT NOT NULL,
    rating      INTEGER NOT NULL,     -- +1 helpful, -1 not helpful
    comment     TEXT NOT NULL DEFAULT '',
    question    TEXT NOT NULL,
    answer      TEXT NOT NULL,
    answer_lang TEXT,
    ui_lang     TEXT,
    mode        TEXT,                 -- extractive | llm | ...
    found       INTEGER,
    citations   TEXT NOT NULL,        -- JSON list of {n, doc_id, chunk_id, page}
    filters     TEXT NOT NULL         -- JSON of the filters in force
);
"""

MAX_COMMENT = 4000
MAX_TEXT = 20000


@dataclass
class FeedbackEntry:
    rating: int
    question: str
    answer: str
    comment: str = ""
    answer_lang: str | None = None
    ui_lang: str | None = None
    mode: str | None = None
    found: bool | None = None
    citations: list[dict[str, Any]] = field(default_factory=list)
    filters: dict[str, Any] = field(default_factory=dict)


class FeedbackStore:
    """Append-only feedback table; safe to share between the app's worker threads."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), timeout=30, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(SCHEMA)

    def add(self, entry: FeedbackEntry) -> int:
        """Store one rating; returns its row id. Texts are capped, never rejected."""
        if entry.rating not in (1, -1):
            raise ValueError(f"rating must be +1 or -1, not {entry.rating!r}")
        citations = [
            {k: c.get(k) for k in ("n", "doc_id", "chunk_id", "page", "section")} for c in entry.citations
        ]
        row = (
            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            entry.rating,
            (entry.comment or "").strip()[:MAX_COMMENT],
            entry.question[:MAX_TEXT],
            entry.answer[:MAX_TEXT],
            entry.answer_lang,
            entry.ui_lang,
            entry.mode,
            None if entry.found is None else int(entry.found),
            json.dumps(citations, ensure_ascii=False),
            json.dumps(entry.filters, ensure_ascii=False, default=str),
        )
        with self._lock:
            cursor = self._db.execute(
                """INSERT INTO feedback(created_at, rating, comment, question, answer, answer_lang, ui_lang,
                   mode, found, citations, filters) VALUES (?,?,?,?,?,?,?,?,?,?,?)""",
                row,
            )
            return int(cursor.lastrowid)

    def recent(self, limit: int = 50) -> list[dict[str, Any]]:
        with self._lock:
            cursor = self._db.execute("SELECT * FROM feedback ORDER BY id DESC LIMIT ?", (limit,))
            names = [d[0] for d in cursor.description]
            rows = cursor.fetchall()
        out = []
        for row in rows:
            item = dict(zip(names, row))
            item["citations"] = json.loads(item["citations"])
            item["filters"] = json.loads(item["filters"])
            out.append(item)
        return out

    def counts(self) -> dict[str, int]:
        with self._lock:
            up, down = self._db.execute(
                "SELECT COALESCE(SUM(rating > 0), 0), COALESCE(SUM(rating < 0), 0) FROM feedback"
            ).fetchone()
        return {"up": int(up), "down": int(down)}

    def close(self) -> None:
        with self._lock:
            self._db.close()


def feedback_path(data_dir: Path) -> Path:
    return data_dir / "feedback.sqlite"

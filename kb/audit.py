"""The audit log: who asked what, from where, and which documents came back.

Append-only SQLite (``data_dir/audit.sqlite``, WAL so readers never block the
writers answering questions). There is no update or delete API: an admin
reads it with ``python -m kb audit`` or in the app's settings tab. Texts are
cut to a bounded length so a pasted book cannot bloat the log.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable

SURFACES = ("cli", "app", "api", "lib")
MAX_TEXT = 2000
MAX_DOC_IDS = 100


@dataclass
class AuditRecord:
    user: str
    role: str
    surface: str
    action: str
    """search | ask | brief | file"""
    query: str
    doc_ids: list[str] = field(default_factory=list)
    time: str = ""
    id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "time": self.time, "user": self.user, "role": self.role, "surface": self.surface,
                "action": self.action, "query": self.query, "doc_ids": list(self.doc_ids)}


def audit_path(data_dir: Path) -> Path:
    return Path(data_dir) / "audit.sqlite"


class AuditLog:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS audit ("
            " id INTEGER PRIMARY KEY AUTOINCREMENT, time TEXT NOT NULL, user TEXT NOT NULL, role TEXT NOT NULL,"
            " surface TEXT NOT NULL, action TEXT NOT NULL, query TEXT NOT NULL, doc_ids TEXT NOT NULL)"
        )
        # Append-only inside the database too: a stray UPDATE/DELETE fails loudly.
        self._db.execute(
            "CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit "
            "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"
        )
        self._db.execute(
            "CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit "
            "BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END"
        )
        self._db.execute("CREATE INDEX IF NOT EXISTS audit_user ON audit(user, id)")
        self._db.commit()

    def close(self) -> None:
        self._db.close()

    def record(
        self, user: str, role: str, surface: str, action: str, query: str, doc_ids: Iterable[str] = ()
    ) -> AuditRecord:
        ids = list(dict.fromkeys(d for d in doc_ids if d))[:MAX_DOC_IDS]
        entry = AuditRecord(
            user=(user or "")[:128], role=(role or "")[:32], surface=surface if surface in SURFACES else "lib",
            action=(action or "")[:32], query=(query or "")[:MAX_TEXT], doc_ids=ids, time=_now(),
        )
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO audit(time, user, role, surface, action, query, doc_ids) VALUES (?,?,?,?,?,?,?)",
                (entry.time, entry.user, entry.role, entry.surface, entry.action, entry.query,
                 json.dumps(ids, ensure_ascii=False)),
            )
            self._db.commit()
        entry.id = cur.lastrowid
        return entry

    def recent(self, user: str | None = None, limit: int = 50) -> list[AuditRecord]:
        """Newest first; ``user=""`` selects the public (not logged-in) view's records."""
        limit = max(1, min(int(limit), 10_000))
        sql = "SELECT id, time, user, role, surface, action, query, doc_ids FROM audit"
        params: list[Any] = []
        if user is not None:
            sql += " WHERE user = ?"
            params.append(user)
        sql += " ORDER BY id DESC LIMIT ?"
        params.append(limit)
        with self._lock:
            rows = self._db.execute(sql, params).fetchall()
        return [
            AuditRecord(id=r[0], time=r[1], user=r[2], role=r[3], surface=r[4], action=r[5], query=r[6],
                        doc_ids=json.loads(r[7] or "[]"))
            for r in rows
        ]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")

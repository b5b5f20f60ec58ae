"""Users, roles and what each may see: the one place visibility is decided.

Documents carry a ``visibility`` (``public``, ``internal`` or ``group:NAME``).
A :class:`Principal` (a user, or the not-logged-in public view) turns into
the set of visibilities it may read, and :meth:`Principal.filters` folds that
set into :class:`kb.filters.Filters`, which compiles into the Chroma
``where`` clause and the BM25 query alike. Callers never filter results
afterwards: restricted text must not leave the store at all.

Passwords are hashed with Argon2id (argon2-cffi: salted, memory-hard,
maintained); the hash parameters travel inside the hash, so raising them
later re-hashes on the next successful login.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from kb.filters import Filters

ROLES = ("admin", "official", "organizer", "partner")
PUBLIC_ROLE = "public"

# The role table. ``None`` means no restriction (every document); otherwise
# the fixed visibilities the role sees, to which each user's own groups
# (``group:NAME``) are added. The README's "Users and visibility" section
# documents this table; change both together.
ROLE_VISIBILITY: dict[str, tuple[str, ...] | None] = {
    "admin": None,
    "official": ("public", "internal"),
    "organizer": ("public",),
    "partner": ("public",),
    PUBLIC_ROLE: ("public",),
}

MANAGER_ROLES = ("admin", "official")
"""Roles that may upload, delete and re-index documents in the app."""

_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
_GROUP = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
MIN_PASSWORD = 8


class UserError(ValueError):
    """A user-management request that cannot be done as asked (the message says why and what to do)."""


@dataclass(frozen=True)
class Principal:
    """Who is asking: a user's name, role and groups (or the public view)."""

    name: str
    role: str
    groups: tuple[str, ...] = field(default_factory=tuple)

    @property
    def is_public(self) -> bool:
        return self.role == PUBLIC_ROLE

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def can_manage(self) -> bool:
        """May upload, delete and re-index documents."""
        return self.role in MANAGER_ROLES

    def visibilities(self) -> tuple[str, ...] | None:
        """The visibilities this principal may read; None = everything (admin)."""
        base = ROLE_VISIBILITY.get(self.role, ("public",))  # an unknown role sees what the public sees
        if base is None:
            return None
        groups = () if self.is_public else tuple(f"group:{g}" for g in self.groups)
        return tuple(dict.fromkeys(base + groups))

    def can_see(self, visibility: str | None) -> bool:
        allowed = self.visibilities()
        return allowed is None or (visibility or "public") in allowed

    def filters(self, base: Filters | None = None) -> Filters:
        """``base`` with this principal's visibility applied (intersected with any it already had)."""
        base = base or Filters()
        allowed = self.visibilities()
        if allowed is None:
            return base
        if base.visibility:  # a caller may narrow further, never widen
            allowed = tuple(v for v in base.visibility if v in allowed) or ("\x00none",)
        return replace(base, visibility=allowed)

    def as_dict(self) -> dict:
        return {"name": self.name, "role": self.role, "groups": list(self.groups)}


PUBLIC = Principal(name="", role=PUBLIC_ROLE)
"""The not-logged-in view: public documents only."""


def users_path(data_dir: Path) -> Path:
    return Path(data_dir) / "users.sqlite"


class UserStore:
    """Users in SQLite beside the index: name, role, groups, Argon2id hash."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._hasher = PasswordHasher()
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS users ("
            " name TEXT PRIMARY KEY, role TEXT NOT NULL, groups TEXT NOT NULL DEFAULT '',"
            " password_hash TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)"
        )
        self._db.commit()

    def close(self) -> None:
        self._db.close()

    # ------------------------------------------------------------------ writes
    def add(self, name: str, password: str, role: str, groups: list[str] | tuple[str, ...] = ()) -> Principal:
        name, role, groups = _check_name(name), _check_role(role), _check_groups(groups)
        if len(password or "") < MIN_PASSWORD:
            raise UserError(f"the password must have at least {MIN_PASSWORD} characters")
        hashed = self._hasher.hash(password)
        now = _now()
        with self._lock:
            try:
                self._db.execute(
                    "INSERT INTO users(name, role, groups, password_hash, created_at, updated_at) VALUES (?,?,?,?,?,?)",
                    (name, role, ",".join(groups), hashed, now, now),
                )
                self._db.commit()
            except sqlite3.IntegrityError:
                raise UserError(f"user {name!r} already exists; use set-role to change it, or remove it first") from None
        return Principal(name, role, groups)

    def remove(self, name: str) -> None:
        with self._lock:
            cur = self._db.execute("DELETE FROM users WHERE name = ?", (name,))
            self._db.commit()
        if cur.rowcount == 0:
            raise UserError(f"no user {name!r} (see: python -m kb users list)")

    def set_role(self, name: str, role: str, groups: list[str] | tuple[str, ...] | None = None) -> Principal:
        role = _check_role(role)
        sets, params = ["role = ?", "updated_at = ?"], [role, _now()]
        if groups is not None:
            sets.append("groups = ?")
            params.append(",".join(_check_groups(groups)))
        with self._lock:
            cur = self._db.execute(f"UPDATE users SET {', '.join(sets)} WHERE name = ?", (*params, name))
            self._db.commit()
        if cur.rowcount == 0:
            raise UserError(f"no user {name!r} (see: python -m kb users list)")
        found = self.get(name)
        assert found is not None
        return found

    # ------------------------------------------------------------------ reads
    def get(self, name: str) -> Principal | None:
        with self._lock:
            row = self._db.execute("SELECT name, role, groups FROM users WHERE name = ?", (name or "",)).fetchone()
        return _principal(row) if row else None

    def list(self) -> list[dict]:
        with self._lock:
            rows = self._db.execute("SELECT name, role, groups, created_at, updated_at FROM users ORDER BY name").fetchall()
        return [_principal(r[:3]).as_dict() | {"created_at": r[3], "updated_at": r[4]} for r in rows]

    def count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM users").fetchone()[0])

    def groups(self) -> list[str]:
        """Every group some user belongs to (the upload form offers them as ``group:NAME``)."""
        return sorted({g for u in self.list() for g in u["groups"]})

    def verify(self, name: str, password: str) -> Principal | None:
        """The user when ``password`` is theirs, else None (same answer for an unknown name)."""
        with self._lock:
            row = self._db.execute(
                "SELECT name, role, groups, password_hash FROM users WHERE name = ?", (name or "",)
            ).fetchone()
        if row is None:
            try:  # spend the same time as a real check, so names cannot be probed by timing
                self._hasher.verify(_DUMMY_HASH, password or "")
            except (VerificationError, InvalidHashError):
                pass
            return None
        try:
            self._hasher.verify(row[3], password or "")
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if self._hasher.check_needs_rehash(row[3]):
            with self._lock:
                self._db.execute("UPDATE users SET password_hash = ? WHERE name = ?", (self._hasher.hash(password), name))
                self._db.commit()
        return _principal(row[:3])

    def principal(self, name: str | None) -> Principal:
        """The principal for a (logged-in) name; unknown or empty names get the public view."""
        if not name:
            return PUBLIC
        return self.get(name) or PUBLIC


_DUMMY_HASH = PasswordHasher().hash("kakehashi-timing-equaliser")


def _principal(row: tuple) -> Principal:
    name, role, groups = row
    return Principal(name, role, tuple(g for g in (groups or "").split(",") if g))


def _check_name(name: str) -> str:
    name = (name or "").strip()
    if not _NAME.match(name):
        raise UserError(f"user name {name!r}: use 1-64 letters, digits, '.', '_', '-' or '@'")
    return name


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise UserError(f"role {role!r} is not one of: {', '.join(ROLES)}")
    return role


def _check_groups(groups) -> tuple[str, ...]:
    out = []
    for g in groups or ():
        g = g.strip()
        if g.startswith("group:"):
            g = g[len("group:"):]
        if not _GROUP.match(g):
            raise UserError(f"group {g!r}: use 1-64 letters, digits, '.', '_' or '-'")
        out.append(g)
    return tuple(dict.fromkeys(out))


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")

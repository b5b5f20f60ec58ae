"""Users and roles: the store, the role table, and ``python -m kb users``."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from kb.filters import Filters
from kb.users import PUBLIC, Principal, UserError, UserStore

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture()
def store(tmp_path: Path):
    s = UserStore(tmp_path / "users.sqlite")
    yield s
    s.close()


def test_passwords_are_salted_argon2_and_verified(store, tmp_path):
    store.add("lan", "mật-khẩu-dài-1", "official")
    store.add("kenji", "mật-khẩu-dài-1", "partner")  # the same password ...
    db = sqlite3.connect(tmp_path / "users.sqlite")
    hashes = dict(db.execute("SELECT name, password_hash FROM users"))
    db.close()
    assert hashes["lan"] != hashes["kenji"]  # ... hashes differently (salt)
    assert all(h.startswith("$argon2id$") and "mật-khẩu" not in h for h in hashes.values())
    assert store.verify("lan", "mật-khẩu-dài-1") == Principal("lan", "official", ())
    assert store.verify("lan", "mật-khẩu-dài-2") is None
    assert store.verify("nobody", "mật-khẩu-dài-1") is None
    assert store.verify("lan", "") is None


def test_bad_input_is_refused_with_what_to_do(store):
    store.add("lan", "long-enough-1", "admin")
    with pytest.raises(UserError, match="already exists"):
        store.add("lan", "long-enough-1", "admin")
    with pytest.raises(UserError, match="not one of"):
        store.add("mai", "long-enough-1", "superuser")
    with pytest.raises(UserError, match="at least 8"):
        store.add("mai", "short", "partner")
    with pytest.raises(UserError, match="user name"):
        store.add("../mai", "long-enough-1", "partner")
    with pytest.raises(UserError, match="group"):
        store.add("mai", "long-enough-1", "partner", ["hà nội"])
    with pytest.raises(UserError, match="no user"):
        store.set_role("ghost", "admin")
    with pytest.raises(UserError, match="no user"):
        store.remove("ghost")


def test_role_table_decides_visibility():
    base = Filters(lang="vi")
    assert Principal("a", "admin").filters(base) == base  # no restriction
    assert Principal("o", "official", ("hanoi",)).filters(base).visibility == ("public", "internal", "group:hanoi")
    assert Principal("g", "organizer", ("ws",)).filters(base).visibility == ("public", "group:ws")
    assert Principal("p", "partner").filters(base).visibility == ("public",)
    assert PUBLIC.filters(base).visibility == ("public",)
    assert PUBLIC.filters(base).lang == "vi"  # other filters are kept
    # a caller may narrow the visibility but never widen it
    assert Principal("p", "partner").filters(Filters(visibility=("internal",))).visibility != ("internal",)
    assert Principal("o", "official").filters(Filters(visibility=("internal",))).visibility == ("internal",)
    where = Principal("p", "partner", ("hanoi",)).filters(base).where()
    assert {"visibility": {"$in": ["public", "group:hanoi"]}} in where["$and"]
    assert Principal("o", "official").can_manage and not Principal("p", "partner").can_manage
    assert not PUBLIC.can_see("internal") and Principal("o", "official").can_see("internal")


def test_set_role_and_groups_take_effect_and_remove_forgets(store):
    store.add("mai", "long-enough-1", "partner", ["hanoi", "group:danang"])
    assert store.get("mai").groups == ("hanoi", "danang")
    store.set_role("mai", "organizer")
    assert store.get("mai") == Principal("mai", "organizer", ("hanoi", "danang"))
    store.set_role("mai", "official", ["sakai"])
    assert store.get("mai").groups == ("sakai",) and store.groups() == ["sakai"]
    store.remove("mai")
    assert store.get("mai") is None and store.principal("mai") == PUBLIC and store.count() == 0


def kb_users(capsys, monkeypatch, data_dir: Path, *args: str, stdin: str = "") -> tuple[int, str, str]:
    """``python -m kb users ...`` in this process (a new interpreter costs seconds of imports)."""
    import io

    from kb.cli import main

    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    capsys.readouterr()
    code = main(["users", *args, "--data-dir", str(data_dir)])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_users_add_list_set_role_remove(tmp_path, capsys, monkeypatch):
    data = tmp_path / "data"
    secret = "Bí-mật-堺市-2025"
    # The real command once, with the password on stdin as a script would pipe it.
    added = subprocess.run(
        [sys.executable, "-m", "kb", "users", "add", "nguyen.lan", "--role", "official", "--group", "hanoi",
         "--password-stdin", "--json", "--data-dir", str(data)],
        cwd=ROOT, input=secret + "\n", capture_output=True, text=True, timeout=120,
    )
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout) == {"name": "nguyen.lan", "role": "official", "groups": ["hanoi"], "added": True}
    assert secret not in added.stdout + added.stderr  # never echoed
    assert secret.encode() not in (data / "users.sqlite").read_bytes()
    assert UserStore(data / "users.sqlite").verify("nguyen.lan", secret) is not None

    # no terminal and no --password-stdin: refused, never read from argv
    code, _, err = kb_users(capsys, monkeypatch, data, "add", "tanaka", "--role", "partner")
    assert code == 2 and "--password-stdin" in err
    code, _, err = kb_users(capsys, monkeypatch, data, "add", "tanaka", "--role", "partner", "--password-stdin")
    assert code == 2 and "no password" in err

    code, out, _ = kb_users(capsys, monkeypatch, data, "set-role", "nguyen.lan", "partner", "--json")
    assert code == 0 and json.loads(out)["role"] == "partner"
    code, out, _ = kb_users(capsys, monkeypatch, data, "list", "--json")
    listed = json.loads(out)
    assert [(u["name"], u["role"], u["groups"]) for u in listed] == [("nguyen.lan", "partner", ["hanoi"])]
    assert "password" not in out and "argon2" not in out

    assert kb_users(capsys, monkeypatch, data, "remove", "nguyen.lan")[0] == 0
    code, _, err = kb_users(capsys, monkeypatch, data, "remove", "nguyen.lan")
    assert code == 2 and "no user 'nguyen.lan'" in err
    assert json.loads(kb_users(capsys, monkeypatch, data, "list", "--json")[1]) == []
    with pytest.raises(SystemExit):
        kb_users(capsys, monkeypatch, data, "add", "--help")
    assert "--password-stdin" in capsys.readouterr().out

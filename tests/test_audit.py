"""The audit log: append-only, bounded, written by every query path, readable by admins only."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from kb.audit import MAX_TEXT, AuditLog
from kb.users import PUBLIC, Principal


def test_records_are_appended_bounded_and_never_changed(tmp_path: Path):
    log = AuditLog(tmp_path / "audit.sqlite")
    first = log.record("lan", "official", "app", "ask", "Nghị định 06/2022/NĐ-CP quy định gì?", ["vi-05", "vi-05", ""])
    log.record("", "public", "api", "search", "堺市" * 5000, [f"d{i}" for i in range(500)])
    log.record("kenji", "partner", "telnet", "search", "x")
    newest = log.recent(limit=10)
    assert [r.user for r in newest] == ["kenji", "", "lan"]  # newest first
    assert newest[0].surface == "lib"  # an unknown surface is not stored as given
    assert len(newest[1].query) == MAX_TEXT and len(newest[1].doc_ids) == 100
    assert newest[2].doc_ids == ["vi-05"] and newest[2].query.startswith("Nghị định")
    assert newest[2].time.endswith("Z") and first.id == newest[2].id
    assert [r.user for r in log.recent(user="lan")] == ["lan"]
    assert [r.user for r in log.recent(user="")] == [""]
    assert len(log.recent(limit=1)) == 1

    db = sqlite3.connect(tmp_path / "audit.sqlite")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    for statement in ("UPDATE audit SET user = 'x'", "DELETE FROM audit"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute(statement)
    db.close()
    log.close()
    assert len(AuditLog(tmp_path / "audit.sqlite").recent()) == 3  # persistent


def test_every_query_path_writes_who_what_where(corpus_kb):
    kb = corpus_kb
    lan = Principal("audit-lan", "official")
    hits = kb.search("Nghị định 06/2022/NĐ-CP", 3, principal=lan, surface="cli")
    answer = kb.ask("堺市が脱炭素先行地域に選ばれたのはいつですか？", principal=lan, surface="app")
    note = kb.brief("Hợp tác Sakai – Bà Rịa–Vũng Tàu", principal=lan, surface="api")
    assert kb.file_for_doc(hits[0].doc_id, principal=lan, surface="app") is not None
    records = kb.audit.recent(user="audit-lan", limit=10)
    by_action = {r.action: r for r in records}
    assert [r.action for r in reversed(records)] == ["search", "ask", "brief", "file"]
    assert by_action["search"].surface == "cli" and by_action["search"].doc_ids == list(dict.fromkeys(h.doc_id for h in hits))
    assert by_action["ask"].surface == "app" and by_action["ask"].query.startswith("堺市が脱炭素")
    assert by_action["ask"].doc_ids == list(dict.fromkeys(c.doc_id for c in answer.citations)) and answer.citations
    assert by_action["brief"].doc_ids == list(dict.fromkeys(s.doc_id for s in note.sources))
    assert by_action["file"].doc_ids == [hits[0].doc_id]
    assert all(r.role == "official" for r in records)
    # a stream abandoned after its first words (a closed browser tab) is still recorded
    stream = kb.ask_stream("Sakai là thành phố gì?", principal=lan, surface="app")
    assert isinstance(next(stream), str)
    stream.close()
    abandoned = kb.audit.recent(user="audit-lan", limit=1)[0]
    assert (abandoned.action, abandoned.query, abandoned.surface) == ("ask", "Sakai là thành phố gì?", "app")
    assert abandoned.doc_ids
    kb.search("Sakai", 1)  # the default is the public view, recorded as such
    newest = kb.audit.recent(limit=1)[0]
    assert (newest.user, newest.role, newest.surface) == ("", "public", "lib")


def test_cli_audit_filters_and_json(corpus_kb, capsys):
    from kb.cli import main

    corpus_kb.audit.record("audit-mai", "partner", "api", "search", "điện mặt trời áp mái", ["vi-07-procedures"])
    corpus_kb.audit.record("audit-mai", "partner", "app", "ask", "屋根置き太陽光", ["ja-07-procedures"])
    capsys.readouterr()
    data = ["--data-dir", str(corpus_kb.config.data_dir)]
    assert main(["audit", "--user", "audit-mai", "--limit", "1", "--json", *data]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 1 and rows[0]["query"] == "屋根置き太陽光" and rows[0]["surface"] == "app"
    assert set(rows[0]) >= {"time", "user", "role", "surface", "action", "query", "doc_ids"}
    assert main(["audit", "--user", "audit-mai", *data]) == 0
    text = capsys.readouterr().out
    assert "điện mặt trời áp mái" in text and "audit-mai/partner" in text


def test_the_app_shows_the_log_to_admins_only(corpus_kb):
    from webapp.about import audit_html

    corpus_kb.audit.record("audit-kenji", "partner", "app", "ask", "<script>alert(1)</script>", ["ja-04-jcm"])
    shown = audit_html(corpus_kb, "ja", Principal("root", "admin"))
    assert "audit-kenji" in shown and "&lt;script&gt;" in shown and "<script>" not in shown
    assert "日時" in shown  # headers in the interface language
    for nobody in (PUBLIC, Principal("o", "official"), Principal("p", "partner"), Principal("g", "organizer")):
        assert audit_html(corpus_kb, "vi", nobody) == ""

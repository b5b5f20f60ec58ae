"""The web app over HTTP: the real app on the sample corpus, driven by gradio_client.

The server runs in this process on a free loopback port with the session's
corpus index (never re-indexed here). Besides the named API endpoints and
the plain routes, this file holds the fast unit tests of the app's own
pieces: upload-name sanitising, escaping, labels, feedback storage.
"""

from __future__ import annotations

import http.client
import json
import sqlite3

import pytest

from kb.config import Config

pytestmark = pytest.mark.slow

VI_QUESTION = "Thành phố Sakai được Chính phủ Nhật Bản công nhận là Thành phố mô hình môi trường từ khi nào?"
JA_QUESTION = "堺市とダナン市がカーボンニュートラル都市プロジェクトの覚書を結んだのはいつで、事業期間はいつからいつまでですか？"


@pytest.fixture(scope="module")
def app(corpus_config: Config):
    from appserver import start_app

    server, kb = start_app(corpus_config)
    yield server, kb
    server.stop()


@pytest.fixture(scope="module")
def client(app):
    from gradio_client import Client

    server, _ = app
    return Client(server.url + "/", verbose=False, analytics_enabled=False, download_files=False)


def raw_get(server, path: str) -> tuple[int, dict[str, str], bytes]:
    """GET exactly ``path`` (no client-side normalisation of ``..``)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


# --------------------------------------------------------------------------- API
def test_api_lists_the_named_endpoints(client):
    endpoints = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    assert {"/ask", "/search", "/brief"} <= set(endpoints)
    # the UI's own events are not part of the public API
    assert not [name for name in endpoints if name not in ("/ask", "/search", "/brief")]


def test_ask_in_vietnamese_answers_with_citations(client, app):
    _, kb = app
    result = client.predict(VI_QUESTION, api_name="/ask")
    assert isinstance(result, dict)
    assert {"question", "lang", "answer", "found", "mode", "citations"} <= set(result)
    assert result["lang"] == "vi" and result["found"] is True
    assert "2009" in result["answer"]
    assert "[1]" in result["answer"]
    cited = {c["doc_id"] for c in result["citations"]}
    assert cited & {"vi-03-sakai-policy", "ja-03-sakai-policy"}
    known = {d["doc_id"] for d in kb.documents()}
    for c in result["citations"]:
        assert c["doc_id"] in known
        assert c["text"] and c["title"]
        for sentence in c["used"]:  # highlighted sentences really are in the passage
            assert " ".join(sentence.split()) in " ".join(c["text"].split())


def test_ask_in_japanese_answers_in_japanese(client):
    result = client.predict(JA_QUESTION, api_name="/ask")
    assert result["lang"] == "ja" and result["found"] is True
    assert "2028" in result["answer"]
    assert any(c["doc_id"] in ("ja-01-cooperation", "vi-01-cooperation") for c in result["citations"])


def test_ask_answer_language_override(client):
    result = client.predict(VI_QUESTION, "ja", api_name="/ask")
    assert result["lang"] == "ja"


def test_ask_rejects_an_empty_question(client):
    with pytest.raises(Exception):
        client.predict("   ", api_name="/ask")


def test_search_returns_hits_and_honours_language(client):
    hits = client.predict("JCM 二国間クレジット制度", 4, "ja", api_name="/search")
    assert isinstance(hits, list) and len(hits) == 4
    assert {h["lang"] for h in hits} == {"ja"}
    for hit in hits:
        assert {"doc_id", "chunk_id", "title", "source", "page", "lang", "score", "text"} <= set(hit)
    default = client.predict("Nghị định 06/2022/NĐ-CP", api_name="/search")
    assert len(default) == 5


def test_brief_returns_the_note_and_its_markdown(client):
    result = client.predict("Hợp tác giữa Sakai và Bà Rịa – Vũng Tàu", "vi", api_name="/brief")
    assert set(result) == {"brief", "markdown"}
    brief = result["brief"]
    assert brief["lang"] == "vi" and brief["found"] is True
    assert brief["sources"], "a brief cites its sources"
    assert result["markdown"].startswith("# ")
    assert "Sakai" in result["markdown"]


# --------------------------------------------------------------------------- routes
def test_healthz_reports_the_index(app):
    server, kb = app
    status, headers, body = raw_get(server, "/healthz")
    assert status == 200 and headers["content-type"].startswith("application/json")
    data = json.loads(body)
    assert data["status"] == "ok"
    assert data["documents"] == 22
    assert data["chunks"] == kb.stats()["chunks"] > 0


@pytest.mark.parametrize(
    "path",
    [
        "/files/../../etc/passwd",
        "/files/..%2F..%2F..%2Fetc%2Fpasswd",
        "/files/%2Fetc%2Fpasswd",
        "/files/..%5C..%5Cetc%5Cpasswd",
        "/files/not-a-document",
        "/files/vi-03-sakai-policy%00.pdf",
        "/files/",
    ],
)
def test_file_route_refuses_anything_not_in_the_manifest(app, path):
    server, _ = app
    status, _, body = raw_get(server, path)
    assert status == 404, (path, status)
    assert b"root:" not in body


def test_file_route_serves_a_cited_pdf(client, app):
    server, kb = app
    result = client.predict(VI_QUESTION, api_name="/ask")
    pdf = next(c for c in result["citations"] if c["source"].endswith(".pdf"))
    status, headers, body = raw_get(server, f"/files/{pdf['doc_id']}")
    assert status == 200
    assert headers["content-type"] == "application/pdf"
    assert headers["content-disposition"].startswith("inline")
    path, _ = kb.file_for_doc(pdf["doc_id"])
    assert body == path.read_bytes() and body.startswith(b"%PDF")


def test_file_route_shows_html_documents_as_inert_text(app):
    server, _ = app
    status, headers, body = raw_get(server, "/files/vi-06-ba-ria-vung-tau")
    assert status == 200
    assert headers["content-type"].startswith("text/plain")
    assert "sandbox" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert b"<html" in body.lower()


# --------------------------------------------------------------------------- units
def test_safe_filename_keeps_uploads_in_their_folder(tmp_path):
    from webapp.uploads import DocumentAdmin, safe_filename

    assert safe_filename("../../etc/passwd") == "passwd"
    assert safe_filename("..\\..\\Windows\\win.ini") == "win.ini"
    assert safe_filename("a\x00b.md") == "ab.md"
    assert safe_filename(".hidden.md") == "hidden.md"
    assert safe_filename("..") == "upload"
    assert safe_filename("Báo cáo 2025 <final>.PDF") == "Báo cáo 2025 _final_.pdf"
    assert safe_filename("資料（最終版）.docx") == "資料（最終版）.docx"
    long = safe_filename("ư" * 500 + ".md")
    assert long.endswith(".md") and len(long.encode()) <= 120
    admin = DocumentAdmin(Config.from_env(data_dir=tmp_path / "data"))
    for name in ("../../../x.md", "/etc/x.md", "vi/../../x.md", "x" * 300 + ".md", "\x00"):
        target = admin.target_for(name, "vi")
        assert target.is_relative_to(admin.uploads_dir / "vi"), target


def test_uploads_report_each_bad_file_and_index_the_rest(data_config, tmp_path):
    from webapp.uploads import DocumentAdmin

    config = Config.from_env(data_dir=data_config.data_dir, max_file_mb=0.01)
    sources = tmp_path / "incoming"
    sources.mkdir()
    good = sources / "good.md"
    good.write_text("---\ntitle: Ghi chú thử\nlang: vi\n---\n\nSakai và Bà Rịa – Vũng Tàu hợp tác về khử carbon.\n",
                    encoding="utf-8")
    corrupt = sources / "broken.pdf"
    corrupt.write_bytes(b"%PDF-1.7\nthis is not really a pdf\n")
    big = sources / "big.txt"
    big.write_text("x " * 20000, encoding="utf-8")
    exe = sources / "tool.exe"
    exe.write_bytes(b"MZ")
    admin = DocumentAdmin(config)
    files = [("../../" + good.name, good), (corrupt.name, corrupt), (big.name, big), (exe.name, exe)]
    results = {r.name: r for r in admin.ingest_uploads(files, lang="vi")}
    assert results["good.md"].status == "added" and results["good.md"].chunks >= 1
    assert results["broken.pdf"].status == "failed" and results["broken.pdf"].reason
    assert results["big.txt"].reason_key == "too_big"
    assert results["tool.exe"].reason_key == "bad_type"
    stored = sorted(p.relative_to(admin.uploads_dir).as_posix() for p in admin.uploads_dir.rglob("*") if p.is_file())
    assert stored == ["vi/broken.pdf", "vi/good.md"]  # refused-before-copy files never land
    assert not (data_config.data_dir.parent / "good.md").exists()
    key = str((admin.uploads_dir / "vi" / "good.md").resolve())
    again = admin.reindex(key)
    assert again.ok and again.chunks == results["good.md"].chunks
    assert admin.remove(key) >= 1
    assert not (admin.uploads_dir / "vi" / "good.md").exists()


def test_rendered_document_text_is_escaped():
    from webapp.render import answer_markdown, esc, sources_html

    evil = "<script>alert(1)</script><img src=x onerror=alert(2)> ${alert(3)} {{constructor}} `x`"
    answer = {
        "mode": "extractive",
        "citations": [{
            "n": 1, "doc_id": "x' onmouseover='alert(4)", "title": evil, "source": "a.pdf", "page": 2,
            "lang": "vi", "text": f"Trước. {evil} Sau.", "section": None, "used": [evil],
        }],
    }
    html = sources_html(answer, "vi")
    for bad in ("<script", "<img", "${", "{{", "`", "onmouseover='"):
        assert bad not in html, bad
    assert "&lt;script&gt;" in html and "<mark>" in html
    assert "/files/x%27%20onmouseover%3D%27alert%284%29#page=2" in html
    md = answer_markdown(f"{evil} [1]\n![img](http://example.com/x.png) **bold**")
    assert "<script" not in md and "<img" not in md and "](http" not in md
    assert "<sup class='kh-ref'>[1]</sup>" in md
    assert esc("{$`}") == "&#123;&#36;&#96;&#125;"


def test_every_label_exists_in_every_language():
    from webapp.labels import LABELS, UI_LANGS

    for key, entry in LABELS.items():
        for lang in UI_LANGS:
            assert entry.get(lang, "").strip(), f"label {key!r} has no {lang} text"
        assert entry["vi"] != entry["ja"], f"label {key!r} is not translated"


def test_registered_components_use_only_known_labels(corpus_kb, tmp_path):
    from kb.feedback import FeedbackStore
    from webapp.labels import LABELS
    from webapp.ui import build_ui
    from webapp.auth import AppAuth
    from webapp.uploads import DocumentAdmin

    store = FeedbackStore(tmp_path / "feedback.sqlite")
    _, loc = build_ui(corpus_kb, store, DocumentAdmin(corpus_kb.config), AppAuth(corpus_kb))
    assert loc.keys() <= set(LABELS)
    assert len(loc.components) > 40
    for lang in ("vi", "ja", "en"):
        assert len(loc.updates(lang)) == len(loc.components)


def test_first_open_language():
    from webapp.labels import pick_ui_lang

    assert pick_ui_lang("ja", "vi-VN,vi") == "ja"
    assert pick_ui_lang(None, "ja-JP,ja;q=0.9,en;q=0.8") == "ja"
    assert pick_ui_lang("xx", "fr-FR,fr") == "vi"
    assert pick_ui_lang(None, None) == "vi"


def test_feedback_store_keeps_ratings(tmp_path):
    from kb.feedback import FeedbackEntry, FeedbackStore, feedback_path

    store = FeedbackStore(feedback_path(tmp_path))
    store.add(FeedbackEntry(rating=1, question="q", answer="a [1]", comment="tốt",
                            citations=[{"n": 1, "doc_id": "d", "chunk_id": "c", "page": 3, "text": "long"}]))
    store.add(FeedbackEntry(rating=-1, question="q2", answer="a2", comment="x" * 10000))
    with pytest.raises(ValueError):
        store.add(FeedbackEntry(rating=5, question="q", answer="a"))
    assert store.counts() == {"up": 1, "down": 1}
    newest, oldest = store.recent()
    assert oldest["citations"] == [{"n": 1, "doc_id": "d", "chunk_id": "c", "page": 3, "section": None}]
    assert len(newest["comment"]) == 4000
    store.close()
    rows = sqlite3.connect(str(tmp_path / "feedback.sqlite")).execute("SELECT COUNT(*) FROM feedback").fetchone()
    assert rows == (2,)


def test_app_cli_reads_flags_then_environment(monkeypatch, tmp_path):
    import app as app_module

    config, args = app_module.parse_args([])
    assert (config.host, config.port, args.no_index) == ("127.0.0.1", 7860, False)
    monkeypatch.setenv("KAKEHASHI_HOST", "127.0.0.2")
    monkeypatch.setenv("KAKEHASHI_PORT", "7999")
    config, _ = app_module.parse_args([])
    assert (config.host, config.port) == ("127.0.0.2", 7999)
    config, args = app_module.parse_args(["--port", "8123", "--host", "127.0.0.3", "--data-dir", str(tmp_path),
                                          "--no-index"])
    assert (config.host, config.port, config.data_dir, args.no_index) == ("127.0.0.3", 8123, tmp_path, True)

"""Visibility end to end: an ``internal`` document stays out of a partner's reach everywhere.

A private copy of the corpus index gets two planted internal documents (one
Vietnamese, one Japanese), each holding a phrase found nowhere else, and a
``group:hanoi`` document. A ``partner`` searches for the phrases through the
CLI, the HTTP API and the UI in a real browser: no hit, no citation, no
file download. An ``official`` finds them the same three ways. The audit
log records every one of those calls with its surface.
"""

from __future__ import annotations

import base64
import http.client
import json
from pathlib import Path

import pytest

from kb.config import Config

pytestmark = pytest.mark.slow


VI_PHRASE = "mã kho lưu trữ QUILLZEPHYR"
VI_QUESTION = "Mã kho lưu trữ QUILLZEPHYR của dự án điện mặt trời áp mái là gì?"
JA_PHRASE = "暗号名ハルカゼ七号"
JA_QUESTION = "暗号名ハルカゼ七号の予算はいくらですか？"
GROUP_PHRASE = "MEKONGLANTERN"

VI_INTERNAL = f"""---
id: vi-internal-storage-code
title: Ghi chú nội bộ về kho lưu trữ
lang: vi
date: 2025-11-01
visibility: internal
tags: [internal]
---

# Ghi chú nội bộ

Dự án điện mặt trời áp mái dùng {VI_PHRASE} để truy cập hồ sơ thiết kế. Mã kho lưu trữ QUILLZEPHYR
được cấp cho cán bộ Sở Tài nguyên và Môi trường ngày 3/11/2025 và không được chia sẻ với đối tác.
"""

JA_INTERNAL = f"""---
id: ja-internal-codename
title: 内部メモ　ハルカゼ七号
lang: ja
date: 2025-11-02
visibility: internal
---

# 内部メモ

{JA_PHRASE}の予算は4億2千万円で、堺市の内部検討資料としてのみ扱う。{JA_PHRASE}は外部パートナーには開示しない。
"""

GROUP_DOC = f"""---
id: vi-hanoi-group-note
title: Ghi chú nhóm Hà Nội
lang: vi
date: 2025-11-03
---

# Nhóm Hà Nội

Mã nhóm {GROUP_PHRASE} dùng cho buổi làm việc của nhóm Hà Nội về tín chỉ carbon.
"""

INTERNAL_IDS = {"vi-internal-storage-code", "ja-internal-codename"}
PASSWORDS = {"pat": "partner-pass-1", "olga": "official-pass-1", "hana": "hanoi-partner-1"}


def plant(config: Config, folder: Path) -> None:
    """Index the two internal documents and the group document into ``config``; add the three users."""
    from ingest.pipeline import Ingestor
    from kb.users import UserStore, users_path

    (folder / "vi").mkdir(parents=True)
    (folder / "ja").mkdir(parents=True)
    (folder / "vi" / "internal-storage.md").write_text(VI_INTERNAL, encoding="utf-8")
    (folder / "ja" / "internal-codename.md").write_text(JA_INTERNAL, encoding="utf-8")
    (folder / "group").mkdir()
    (folder / "group" / "hanoi.md").write_text(GROUP_DOC, encoding="utf-8")
    ingestor = Ingestor(config, progress=False)
    try:
        assert ingestor.run([folder / "vi", folder / "ja"]).failed == []  # visibility from front matter
        assert ingestor.run([folder / "group"], visibility="group:hanoi").failed == []  # as `ingest --visibility`
    finally:
        ingestor.close()
    store = UserStore(users_path(config.data_dir))
    store.add("pat", PASSWORDS["pat"], "partner")
    store.add("olga", PASSWORDS["olga"], "official")
    store.add("hana", PASSWORDS["hana"], "partner", ["hanoi"])
    store.close()


@pytest.fixture(scope="module")
def vis_config(corpus_config: Config, tmp_path_factory: pytest.TempPathFactory) -> Config:
    """A private index copy with the planted documents and three users."""
    from appserver import copy_data_dir

    base = tmp_path_factory.mktemp("visibility")
    config = copy_data_dir(corpus_config, base / "data")
    plant(config, base / "planted")
    return config


DOC_ONLY = ("Ghi chú nội bộ về kho lưu trữ", "内部メモ", "4億2千万円", "hồ sơ thiết kế", "chia sẻ với đối tác", "内部検討資料")
"""Text only the internal documents hold (an answer or note repeats the question, so not the phrases)."""


def leaked(payload, phrases: bool = True) -> list[str]:
    """Every trace of the internal documents in a JSON payload: ids, titles, content (and the phrases)."""
    text = json.dumps(payload, ensure_ascii=False)
    markers = (*INTERNAL_IDS, *DOC_ONLY) + (("QUILLZEPHYR", JA_PHRASE) if phrases else ())
    return [s for s in markers if s in text]


# --------------------------------------------------------------------------- the kb itself
def test_every_kb_path_applies_the_principal(vis_config):
    """The paths the three surfaces below do not cover on their own."""
    from kb.service import KnowledgeBase

    kb = KnowledgeBase(vis_config)
    pat, olga, hana = kb.principal("pat"), kb.principal("olga"), kb.principal("hana")

    # a follow-up must not reach it (the rewritten query searches as the same principal)
    history = [{"role": "user", "content": VI_QUESTION}, {"role": "assistant", "content": "Không có thông tin."}]
    assert leaked(kb.ask("còn mã đó thì sao?", history=history, principal=pat).as_dict(), phrases=False) == []
    assert leaked([d.metadata for d in kb.as_langchain_retriever(10, principal=pat).invoke(VI_QUESTION)]) == []
    for who in (pat, kb.principal(None)):
        assert leaked(kb.documents(who)) == []
        assert all(kb.file_for_doc(doc_id, principal=who) is None for doc_id in INTERNAL_IDS)

    assert kb.search(JA_QUESTION, 3, principal=olga)[0].doc_id == "ja-internal-codename"
    assert INTERNAL_IDS <= {d["doc_id"] for d in kb.documents(olga)}
    # groups: only members see group:hanoi, and a group member still does not see internal
    assert kb.search(GROUP_PHRASE, 1, principal=hana)[0].doc_id == "vi-hanoi-group-note"
    assert all(h.doc_id != "vi-hanoi-group-note" for h in kb.search(GROUP_PHRASE, 10, principal=olga))
    assert leaked([h.as_dict() for h in kb.search(VI_QUESTION, 10, principal=hana)]) == []
    with pytest.raises(LookupError):
        kb.principal("nobody")

    # The settings tab counts only what the visitor may see; whole-index figures are for managers.
    from kb.feedback import FeedbackStore, feedback_path
    from kb.users import Principal
    from webapp.about import settings_html

    feedback = FeedbackStore(feedback_path(vis_config.data_dir))
    visible = len(kb.documents(pat))
    assert visible == len(kb.documents(Principal("root", "admin"))) - 3
    partner_view = settings_html(kb, feedback, "vi", pat)
    assert f"<td>{visible}</td>" in partner_view and str(vis_config.data_dir) not in partner_view
    assert str(vis_config.data_dir) in settings_html(kb, feedback, "vi", olga)


# --------------------------------------------------------------------------- CLI
def cli(capsys, config: Config, *args: str) -> tuple[int, str, str]:
    """``python -m kb`` in this process (the embedder is already loaded); (exit code, stdout, stderr)."""
    from kb.cli import main

    capsys.readouterr()
    code = main([*args, "--data-dir", str(config.data_dir)])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_partner_sees_nothing_official_finds_it(vis_config, capsys):
    # The CLI's entry point in this process: a new interpreter would spend ~10 s loading the model
    # per call (tests/test_kb_cli.py runs `python -m kb` as a real process).
    code, out, err = cli(capsys, vis_config, "search", VI_QUESTION, "--user", "pat", "--k", "10", "--json")
    assert code == 0, err
    hits = json.loads(out)
    assert len(hits) == 10 and leaked(hits) == []

    code, out, _ = cli(capsys, vis_config, "ask", JA_QUESTION, "--user", "pat", "--json")
    answer = json.loads(out)
    assert code == 0 and leaked(answer, phrases=False) == []
    assert all(c["doc_id"] not in INTERNAL_IDS for c in answer["citations"])

    code, out, _ = cli(capsys, vis_config, "search", JA_QUESTION, "--k", "10", "--json")  # no --user: public view
    assert code == 0 and leaked(json.loads(out)) == []

    code, out, _ = cli(capsys, vis_config, "brief", "QUILLZEPHYR", "--user", "pat", "--json")
    assert code == 0 and leaked(json.loads(out), phrases=False) == []

    code, out, err = cli(capsys, vis_config, "ask", VI_QUESTION, "--user", "olga", "--json")
    assert code == 0, err
    answer = json.loads(out)
    assert "vi-internal-storage-code" in {c["doc_id"] for c in answer["citations"]}
    assert "QUILLZEPHYR" in answer["answer"]

    code, out, err = cli(capsys, vis_config, "search", VI_QUESTION, "--user", "nobody")
    assert code == 2 and "no user 'nobody'" in err and out == ""


# --------------------------------------------------------------------------- HTTP API
@pytest.fixture(scope="module")
def vis_app(vis_config):
    from appserver import start_app

    server, kb = start_app(vis_config)
    yield server, kb
    server.stop()


def get(server, path: str, user: str | None = None, password: str | None = None) -> tuple[int, bytes]:
    headers = {}
    if user:
        token = base64.b64encode(f"{user}:{password or PASSWORDS[user]}".encode()).decode()
        headers["Authorization"] = f"Basic {token}"
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_api_partner_sees_nothing_official_finds_it(vis_app):
    from gradio_client import Client

    server, _ = vis_app

    def client(user: str | None) -> Client:
        auth = (user, PASSWORDS[user]) if user else None
        return Client(server.url + "/", auth=auth, verbose=False, analytics_enabled=False, download_files=False)

    pat = client("pat")
    assert leaked(pat.predict(VI_QUESTION, 10, "any", api_name="/search")) == []
    assert leaked(pat.predict(JA_QUESTION, "auto", api_name="/ask"), phrases=False) == []
    assert leaked(pat.predict("QUILLZEPHYR", "vi", api_name="/brief"), phrases=False) == []
    assert leaked(client(None).predict(JA_QUESTION, 10, "any", api_name="/search")) == []  # no credentials
    for who in ("pat", None):
        for doc_id in INTERNAL_IDS:
            assert get(server, f"/files/{doc_id}", who)[0] == 404

    olga = client("olga")
    hits = olga.predict(VI_QUESTION, 3, "any", api_name="/search")
    assert hits[0]["doc_id"] == "vi-internal-storage-code"
    answer = olga.predict(JA_QUESTION, "auto", api_name="/ask")
    assert "ja-internal-codename" in {c["doc_id"] for c in answer["citations"]}
    status, body = get(server, "/files/ja-internal-codename", "olga")
    assert status == 200 and JA_PHRASE in body.decode("utf-8")

    # HTTP Basic works for the API too, and wrong credentials are refused, not downgraded.
    basic = Client(server.url + "/", httpx_kwargs={"auth": ("olga", PASSWORDS["olga"])}, verbose=False,
                   analytics_enabled=False, download_files=False)
    assert basic.predict(JA_QUESTION, 3, "any", api_name="/search")[0]["doc_id"] == "ja-internal-codename"
    assert get(server, "/files/ja-internal-codename", "olga", "wrong-password")[0] == 401
    with pytest.raises(Exception):
        Client(server.url + "/", auth=("pat", "wrong-password"), verbose=False, analytics_enabled=False)


def queue_call(server, fn_name: str, data: list, auth: tuple[str, str]) -> list:
    """Call one of the UI's private events through Gradio's queue, as a script could."""
    import uuid

    import httpx

    blocks = server.server.config.app.state.blocks
    fn_index = next(i for i, f in blocks.fns.items() if getattr(f.fn, "__name__", "") == fn_name)
    session = uuid.uuid4().hex
    with httpx.Client(base_url=server.url, auth=auth, timeout=120) as http:
        joined = http.post("/gradio_api/queue/join", json={
            "data": data, "fn_index": fn_index, "session_hash": session, "event_data": None, "trigger_id": None})
        assert joined.status_code == 200, joined.text
        with http.stream("GET", "/gradio_api/queue/data", params={"session_hash": session}) as stream:
            for line in stream.iter_lines():
                if line.startswith("data:"):
                    message = json.loads(line[5:])
                    if message.get("msg") == "process_completed":
                        return message["output"]["data"]
    raise AssertionError("the event never completed")


def test_hidden_document_controls_are_refused_on_the_server(vis_app):
    from kb.users import Principal
    from webapp.labels import t

    server, kb = vis_app
    before = kb.documents(Principal("root", "admin"))
    # "Update all" takes no document choice, so only the role check stands between a partner and it
    # (for delete/re-index, Gradio also refuses a document the partner's picker never offered).
    status = queue_call(server, "on_reindex_all", ["ja"], ("pat", PASSWORDS["pat"]))[0]
    assert t("not_allowed", "ja") in status
    assert kb.documents(Principal("root", "admin")) == before  # nothing was re-checked or pruned


# --------------------------------------------------------------------------- UI, real browser


def login_page(browser, server, user: str):
    """A fresh browser context, signed in through the app's login form."""
    from webapp.labels import t

    context = browser.new_context(viewport={"width": 1360, "height": 940}, locale="vi-VN")
    context.set_default_timeout(60_000)
    page = context.new_page()
    page.goto(f"{server.url}/?lang=vi", wait_until="load")
    page.wait_for_selector("#kh-question textarea")
    page.get_by_text(t("login", "vi"), exact=True).first.click()
    page.locator("#kh-login-user input, #kh-login-user textarea").first.fill(user)
    page.locator("#kh-login-password input").fill(PASSWORDS[user])
    page.locator("#kh-login-button").click()
    page.wait_for_function(f"(document.querySelector('#kh-who') || {{}}).innerText?.includes({user!r})")
    return context, page


def ask_ui(page, question: str) -> tuple[str, str]:
    """(the sources panel's text, the answer's text) once the answer is complete."""
    page.evaluate("document.querySelectorAll('#kh-sources .kh-sources').forEach(e => e.dataset.stale = '1')")
    page.locator("#kh-question textarea").fill(question)
    page.locator("#kh-send").click()
    page.wait_for_selector("#kh-sources .kh-sources:not([data-stale])")
    page.wait_for_function("!document.querySelector('#kh-chatbot').innerText.includes('…')", timeout=60_000)
    answer = page.locator("#kh-chatbot").inner_text().split(question)[-1]
    return page.locator("#kh-sources").inner_text(), answer


def test_ui_partner_sees_nothing_official_finds_it(browser, vis_app):
    from webapp.labels import t

    server, _ = vis_app
    context, page = login_page(browser, server, "pat")
    try:
        assert t("role_partner", "vi") in page.locator("#kh-who").inner_text()
        sources, answer = ask_ui(page, VI_QUESTION)
        assert sources and "QUILLZEPHYR" not in sources + answer and "Ghi chú nội bộ" not in sources + answer
        sources, answer = ask_ui(page, JA_QUESTION)
        assert sources and not [m for m in (*DOC_ONLY, JA_PHRASE) if m in sources + answer]
        assert page.locator("#kh-sources a[href*='internal']").count() == 0
        for doc_id in INTERNAL_IDS:  # with the partner's session cookie
            assert page.request.get(f"{server.url}/files/{doc_id}").status == 404
        page.get_by_role("tab", name=t("tab_docs", "vi")).click()
        page.wait_for_selector("#kh-doc-table")
        table = page.locator("#kh-doc-table").inner_text()
        assert "Sakai" in table and "nội bộ" not in table and "内部メモ" not in table
        assert page.locator("#kh-upload").count() == 0 or not page.locator("#kh-upload").is_visible()
    finally:
        context.close()

    context, page = login_page(browser, server, "olga")
    try:
        sources, answer = ask_ui(page, JA_QUESTION)
        assert "4億2千万円" in answer and "内部メモ" in sources
        link = page.locator("#kh-sources a.kh-open[href*='ja-internal-codename']").first
        response = page.request.get(server.url + link.get_attribute("href").split("#")[0])
        assert response.status == 200 and JA_PHRASE in response.text()
    finally:
        context.close()


# --------------------------------------------------------------------------- the audit trail
def test_the_audit_log_records_every_surface(vis_app):
    """Runs after the CLI, API and UI tests above (pytest keeps file order)."""
    _, kb = vis_app
    records = [r.as_dict() for r in kb.audit.recent(user="pat", limit=1000)]
    assert {r["surface"] for r in records} >= {"cli", "api", "app"}
    assert all(r["role"] == "partner" for r in records)
    assert all(not set(r["doc_ids"]) & INTERNAL_IDS for r in records)
    assert any(r["query"] == VI_QUESTION and r["action"] == "search" and r["surface"] == "cli" for r in records)
    olga = kb.audit.recent(user="olga", limit=1000)
    assert any("ja-internal-codename" in r.doc_ids and r.surface == "app" for r in olga)
    assert any(r.action == "file" and r.surface == "app" and r.doc_ids == ["ja-internal-codename"] for r in olga)


# --------------------------------------------------------------------------- uploads
def test_an_upload_keeps_its_chosen_visibility_when_reindexed(vis_config, tmp_path):
    """The upload form's visibility lives only in the index; re-indexing must not make it public."""
    from kb.service import KnowledgeBase
    from kb.users import Principal
    from webapp.uploads import DocumentAdmin

    note = tmp_path / "bien-ban-noi-bo.md"
    note.write_text("# Biên bản\n\nBiên bản nội bộ UPLOADSECRET về ngân sách hợp tác năm 2026.\n", encoding="utf-8")
    admin = DocumentAdmin(vis_config)
    [result] = admin.ingest_uploads([(note.name, note)], "vi", visibility="internal")
    assert result.ok, result.reason
    kb = KnowledgeBase(vis_config)
    root = Principal("root", "admin")

    def uploaded() -> dict:
        return next(d for d in kb.documents(root) if d["path"].endswith(note.name))

    doc = uploaded()
    assert doc["visibility"] == "internal"
    assert kb.search("UPLOADSECRET", 3, principal=kb.principal("olga"))[0].doc_id == doc["doc_id"]
    assert all(h.doc_id != doc["doc_id"] for h in kb.search("UPLOADSECRET", 10, principal=kb.principal("pat")))
    assert admin.reindex(doc["path"]).ok
    assert uploaded()["visibility"] == "internal"
    assert all(h.doc_id != doc["doc_id"] for h in kb.search("UPLOADSECRET", 10, principal=kb.principal("pat")))


def test_visibility_is_enforced_in_both_stores(store_config: Config, tmp_path: Path):
    """The same planted documents in the embedded store and on a real Chroma server (``chroma run``):
    the where-filter and the keyword index keep internal and group text from a partner in both."""
    from kb.filters import Filters
    from kb.service import KnowledgeBase

    plant(store_config, tmp_path / "planted")
    kb = KnowledgeBase(store_config)
    partner, official, hanoi = (kb.principal(name) for name in ("pat", "olga", "hana"))
    for query in (VI_QUESTION, JA_QUESTION, GROUP_PHRASE):
        for method in ("dense", "bm25", "hybrid"):
            hits = kb.retriever.search(query, 5, partner.filters(Filters()), method=method)
            assert hits == [], (query, method, [h.doc_id for h in hits])
        assert kb.ask(query, principal=partner).citations == []
        assert kb.search(query, 5, principal=kb.principal(None)) == []  # the public view
    assert {h.doc_id for h in kb.search(VI_QUESTION, 5, principal=official)} >= {"vi-internal-storage-code"}
    assert "ja-internal-codename" in {c.doc_id for c in kb.ask(JA_QUESTION, principal=official).citations}
    assert "vi-hanoi-group-note" in {h.doc_id for h in kb.search(GROUP_PHRASE, 5, principal=hanoi)}
    assert "vi-hanoi-group-note" not in {h.doc_id for h in kb.search(GROUP_PHRASE, 5, principal=official)}

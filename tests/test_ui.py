"""The web UI in a real headless browser (Playwright + Debian's Chromium).

One app serves a private copy of the session's corpus index (uploads and
deletions here must not change what other tests see). Every request the
browser makes is recorded, and each test fails if any went anywhere but the
app's loopback address: no fonts, scripts or analytics from outside.
The screenshots the README shows are taken here, into docs/screenshots/.
Chat and briefing run as an anonymous visitor (the public view: the sample
corpus is all public); document management needs a signed-in administrator.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from kb.config import Config

pytestmark = pytest.mark.slow

SHOTS = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
VIEWPORT = {"width": 1360, "height": 940}
TIMEOUT_MS = 60_000

VI_QUESTION = "Thành phố Sakai được Chính phủ Nhật Bản công nhận là Thành phố mô hình môi trường từ khi nào?"
JA_EXAMPLE = "堺市が脱炭素先行地域に選ばれたのはいつですか？"

EVIL_MD = """---
title: "Kiểm thử XSSPROBE <img src=x onerror=window.__pwned=1>"
lang: vi
---

# Kiểm thử bảo mật XSSPROBE

Tài liệu XSSPROBE dùng để kiểm thử bảo mật giao diện <script>window.__pwned=2</script> và
<img src=x onerror="window.__pwned=3"> cùng ${window.__pwned=4} và {{constructor.constructor('window.__pwned=5')()}}.
Mã kiểm thử XSSPROBE được lưu trong hệ thống từ năm 2031.
"""

ADMIN = ("admin-ui", "admin-ui-password")

GOOD_MD = """---
title: Ghi chú thử nghiệm tải lên UPLOADPROBE
lang: vi
---

# Ghi chú UPLOADPROBE

Ghi chú UPLOADPROBE mô tả buổi họp thử nghiệm giữa hai thành phố về điện mặt trời áp mái.
"""


@pytest.fixture(scope="module")
def ui_app(corpus_config: Config, tmp_path_factory: pytest.TempPathFactory):
    from appserver import copy_data_dir, start_app

    from kb.users import UserStore, users_path

    config = copy_data_dir(corpus_config, tmp_path_factory.mktemp("ui-data") / "data")
    store = UserStore(users_path(config.data_dir))
    store.add(*ADMIN, role="admin")
    store.close()
    server, kb = start_app(config)
    yield server, kb
    server.stop()


@pytest.fixture()
def context(browser, ui_app):
    """A fresh browser context; asserts afterwards that every request stayed on the app's host."""
    server, _ = ui_app
    ctx = browser.new_context(viewport=VIEWPORT, locale="vi-VN", accept_downloads=True)
    ctx.set_default_timeout(TIMEOUT_MS)
    requests: list[str] = []
    ctx.on("request", lambda request: requests.append(request.url))
    ctx.requests = requests  # type: ignore[attr-defined]
    yield ctx
    ctx.close()
    allowed = f"127.0.0.1:{server.port}"
    # Network requests only: data:/blob: URLs and the browser's own PDF viewer
    # (chrome-extension://, chrome://) never touch the network.
    network = [u for u in requests if urlsplit(u).scheme in ("http", "https", "ws", "wss", "ftp")]
    outside = [u for u in network if urlsplit(u).netloc != allowed]
    assert requests, "the browser made no requests at all?"
    assert outside == [], f"requests left the loopback host: {outside[:5]}"


def open_app(context, ui_app, lang: str):
    server, _ = ui_app
    page = context.new_page()
    page.goto(f"{server.url}/?lang={lang}", wait_until="load")
    page.wait_for_selector("#kh-question textarea")
    page.wait_for_function(f"document.documentElement.lang === '{lang}'")
    return page


def login(page, lang: str, user: str = ADMIN[0], password: str = ADMIN[1]) -> None:
    """Sign in through the header's form (it posts to Gradio's /login and reloads the page)."""
    from webapp.labels import t

    page.get_by_text(t("login", lang), exact=True).first.click()
    page.locator("#kh-login-user input, #kh-login-user textarea").first.fill(user)
    page.locator("#kh-login-password input").fill(password)
    page.locator("#kh-login-button").click()
    page.wait_for_function(f"(document.querySelector('#kh-who') || {{}}).innerText?.includes({user!r})")
    page.wait_for_selector("#kh-question textarea")
    page.wait_for_function(f"document.documentElement.lang === '{lang}'")


def ask(page, question: str) -> str:
    """Type a question, send it, wait for the new answer's sources; returns the chat text.

    The sources panel is filled by the same update that writes the final
    answer, so a fresh panel (not the one marked stale here) means it is done.
    """
    page.evaluate("document.querySelectorAll('#kh-sources .kh-sources').forEach(e => e.dataset.stale = '1')")
    page.locator("#kh-question textarea").fill(question)
    page.locator("#kh-send").click()
    page.wait_for_selector("#kh-sources .kh-sources:not([data-stale]) .kh-source")
    return page.locator("#kh-chatbot").inner_text()


def tab(page, label: str):
    page.get_by_role("tab", name=label).click()


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.mouse.move(0, 0)  # no hover highlight in the picture
    page.wait_for_timeout(400)  # let transitions settle
    page.screenshot(path=str(SHOTS / name), full_page=True)


# --------------------------------------------------------------------------- chat
def test_chat_in_vietnamese_shows_answer_sources_and_opens_the_pdf(context, ui_app):
    from webapp.labels import t

    server, _ = ui_app
    page = open_app(context, ui_app, "vi")
    from webapp.chat import EXAMPLES

    for example in EXAMPLES:  # example questions in both languages on first open
        assert page.locator("#kh-chatbot").get_by_text(example).count() == 1
    chat = ask(page, VI_QUESTION)
    assert "2009" in chat and "[1]" in chat
    card = page.locator("#kh-sources .kh-source").first
    assert "Sakai" in card.locator(".kh-source-title").inner_text()
    assert t("page", "vi") in card.locator(".kh-source-meta").inner_text()
    assert card.locator("mark").count() >= 1, "the quoted sentence is highlighted"
    assert "2009" in card.locator("mark").first.inner_text()
    shot(page, "chat-vi.png")

    link = page.locator("#kh-sources a.kh-open[href*='#page=']").first
    assert link.inner_text().startswith(t("open_original", "vi"))
    href = link.get_attribute("href")
    assert re.fullmatch(r"/files/[\w-]+#page=\d+", href), href
    with context.expect_page() as popup:
        link.click()
    pdf_page = popup.value
    pdf_page.wait_for_load_state()
    assert pdf_page.url == server.url + href
    response = pdf_page.request.get(server.url + href.split("#")[0])
    assert response.status == 200 and response.headers["content-type"] == "application/pdf"
    assert response.body().startswith(b"%PDF")
    pdf_page.close()

    # Filters reach the search: only Japanese passages, and a bad date is refused.
    page.get_by_text(t("filters", "vi"), exact=True).first.click()
    page.locator("#kh-chat-filter-lang input").click()
    page.get_by_role("option", name=t("lang_ja", "vi"), exact=True).click()
    ask(page, VI_QUESTION)
    metas = page.locator("#kh-sources .kh-source-meta").all_inner_texts()
    assert metas and all(t("lang_ja", "vi") in m for m in metas), metas
    page.locator("#kh-chat-date-from textarea, #kh-chat-date-from input").first.fill("20x")
    page.locator("#kh-question textarea").fill(VI_QUESTION)
    page.locator("#kh-send").click()
    page.locator("#kh-chat-status .kh-msg-error").wait_for()
    assert page.locator("#kh-chat-status").inner_text() == t("bad_date", "vi", value="20x")


def test_chat_in_japanese_and_feedback_is_stored(context, ui_app):
    from webapp.labels import t

    _, kb = ui_app
    page = open_app(context, ui_app, "ja")
    page.locator("#kh-chatbot").get_by_text(JA_EXAMPLE).click()  # an example question on first open
    page.wait_for_selector("#kh-sources .kh-source")
    assert "2022年4月" in page.locator("#kh-chatbot").inner_text()
    meta = page.locator("#kh-sources .kh-source-meta").first.inner_text()
    assert "日本語" in meta or "ベトナム語" in meta
    assert page.locator("#kh-sources .kh-sources-title").inner_text() == t("sources", "ja")
    shot(page, "chat-ja.png")

    page.locator("#kh-comment textarea").fill("出典が分かりやすい")
    page.locator("#kh-up").click()
    page.wait_for_selector("#kh-feedback-status .kh-msg-ok")
    assert page.locator("#kh-feedback-status").inner_text() == t("feedback_saved", "ja")
    from kb.feedback import FeedbackStore, feedback_path

    store = FeedbackStore(feedback_path(kb.config.data_dir))
    newest = store.recent(1)[0]
    store.close()
    assert newest["rating"] == 1 and newest["comment"] == "出典が分かりやすい"
    assert newest["question"] == JA_EXAMPLE and newest["ui_lang"] == "ja" and newest["citations"]

    # Switching language keeps the conversation and re-labels its sources.
    page.locator("#kh-ui-lang input").click()
    page.get_by_role("option", name="Tiếng Việt").click()
    page.wait_for_function(f"document.querySelector('#kh-sources .kh-sources-title').innerText === {t('sources', 'vi')!r}")
    assert "2022年4月" in page.locator("#kh-chatbot").inner_text()
    assert t("lang_ja", "vi") in page.locator("#kh-sources .kh-source-meta").first.inner_text()


# --------------------------------------------------------------------------- language
VISIBLE_LABEL_TEXT = """() => {
    const copy = document.body.cloneNode(true);
    copy.querySelectorAll('style, script, #kh-chatbot, #kh-doc-table, #kh-doc-picker, '
        + '[id$="-filter-docs"], [id$="-filter-tags"]').forEach(e => e.remove());
    return copy.textContent;
}"""


def test_the_whole_interface_switches_language(context, ui_app):
    from webapp.labels import LABELS, t

    page = open_app(context, ui_app, "vi")
    # anonymous: the public view (filled in by the page-load event)
    page.wait_for_function(f"document.querySelector('#kh-who').innerText.includes({t('public_view', 'vi')!r})")
    login(page, "vi")  # an administrator sees every control, so every label is checked
    tabs = ("tab_chat", "tab_docs", "tab_brief", "tab_settings")
    assert [x.inner_text() for x in page.get_by_role("tab").all()] == [t(k, "vi") for k in tabs]
    assert page.locator("#kh-send").inner_text() == t("send", "vi")

    page.locator("#kh-ui-lang input").click()
    page.get_by_role("option", name="日本語").click()
    page.wait_for_function("document.documentElement.lang === 'ja'")
    page.wait_for_function(f"document.querySelector('#kh-send').innerText.trim() === {t('send', 'ja')!r}")
    assert [x.inner_text() for x in page.get_by_role("tab").all()] == [t(k, "ja") for k in tabs]
    assert t("question", "ja") in page.locator("#kh-question").inner_text()
    assert page.locator("#kh-question textarea").get_attribute("placeholder") == t("question_ph", "ja")

    # No Vietnamese label is left anywhere, in any tab (document content excluded).
    # Gradio renders a tab's children when it is first opened, so open each.
    texts = []
    for key in tabs:
        tab(page, t(key, "ja"))
        page.wait_for_timeout(300)
        texts.append(page.evaluate(VISIBLE_LABEL_TEXT))
    text = "\n".join(texts)
    leftovers = [
        key for key, entry in LABELS.items()
        if "{" not in entry["vi"] and entry["vi"] != entry["ja"] and len(entry["vi"]) > 3 and entry["vi"] in text
    ]
    assert leftovers == [], leftovers
    for key in ("tab_docs", "upload", "doc_table", "delete", "make_brief", "embedding_model", "send"):
        assert t(key, "ja") in text, key
    tab(page, t("tab_chat", "ja"))

    page.locator("#kh-ui-lang input").click()
    page.get_by_role("option", name="English").click()
    page.wait_for_function("document.documentElement.lang === 'en'")
    page.wait_for_function(f"document.querySelector('#kh-send').innerText.trim() === {t('send', 'en')!r}")
    assert [x.inner_text() for x in page.get_by_role("tab").all()] == [t(k, "en") for k in tabs]


# --------------------------------------------------------------------------- documents
def test_upload_good_corrupt_and_hostile_files(context, ui_app, tmp_path):
    from webapp.labels import t

    page = open_app(context, ui_app, "vi")
    tab(page, t("tab_docs", "vi"))
    assert not page.locator("#kh-upload").is_visible()  # anonymous visitors cannot change documents
    login(page, "vi")
    tab(page, t("tab_docs", "vi"))
    files = {
        "ghi-chu-thu.md": GOOD_MD.encode(),
        "hong.pdf": b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ngarbage, no xref\n",
        "kiem-thu-xss.md": EVIL_MD.encode(),
    }
    paths = []
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        paths.append(str(tmp_path / name))
    with page.expect_file_chooser() as chooser:
        page.locator("#kh-upload").click()
    chooser.value.set_files(paths)
    page.wait_for_selector("#kh-upload-results li", timeout=120_000)
    results = page.locator("#kh-upload-results li")
    assert results.count() == 3
    by_name = {results.nth(i).locator("b").inner_text(): results.nth(i) for i in range(3)}
    assert "kh-ok" in by_name["ghi-chu-thu.md"].get_attribute("class")
    bad = by_name["hong.pdf"]
    assert "kh-bad" in bad.get_attribute("class")
    reason = bad.inner_text().split(":", 1)[1]
    assert len(reason.strip()) > 10, "a rejected file shows its reason"
    table = page.locator("#kh-doc-table")
    page.wait_for_function("document.querySelector('#kh-doc-table').innerText.includes('UPLOADPROBE')")
    assert "hong.pdf" in table.inner_text()  # the failure is listed with its error
    assert table.locator("img").count() == 0, "a document title is shown as text, never as HTML"
    shot(page, "documents.png")

    # Document text containing HTML and template syntax is shown, never run.
    tab(page, t("tab_chat", "vi"))
    ask(page, "Mã kiểm thử XSSPROBE được lưu trong hệ thống từ năm nào?")
    sources = page.locator("#kh-sources")
    assert "XSSPROBE" in sources.inner_text()
    assert "<script>window.__pwned=2</script>" in sources.inner_text()
    assert page.evaluate("window.__pwned") is None
    assert page.locator("#kh-sources img, #kh-chatbot img[src='x']").count() == 0

    # Remove the uploaded note again.
    tab(page, t("tab_docs", "vi"))
    page.locator("#kh-doc-picker input").click()
    page.get_by_role("option", name=re.compile("UPLOADPROBE")).click()
    page.locator("#kh-delete").click()
    page.wait_for_selector("#kh-doc-status .kh-msg-ok")
    page.wait_for_function("!document.querySelector('#kh-doc-table').innerText.includes('UPLOADPROBE')")
    assert page.evaluate("window.__pwned") is None

    # The administrator reads the audit log in the settings tab: this session's question, escaped.
    tab(page, t("tab_settings", "vi"))
    page.wait_for_function("document.querySelector('#kh-audit').innerText.includes('XSSPROBE')")
    audit = page.locator("#kh-audit").inner_text()
    assert ADMIN[0] in audit and "app" in audit and t("audit_query", "vi") in audit
    assert page.evaluate("window.__pwned") is None


# --------------------------------------------------------------------------- brief
def test_briefing_note_preview_and_downloads(context, ui_app, tmp_path):
    from webapp.labels import t

    page = open_app(context, ui_app, "ja")
    tab(page, t("tab_brief", "ja"))
    page.locator("#kh-topic textarea").fill("堺市の脱炭素政策")
    page.locator("#kh-make-brief").click()
    note = page.locator("#kh-brief-preview .kh-brief")
    note.wait_for()
    assert "堺市の脱炭素政策" in note.locator("h1").inner_text()
    assert note.locator("h2").count() >= 3
    assert note.locator("a.kh-open").count() >= 1
    shot(page, "brief.png")

    with page.expect_download() as download:
        page.locator("#kh-dl-docx").click()
    docx_path = tmp_path / download.value.suggested_filename
    download.value.save_as(docx_path)
    assert docx_path.suffix == ".docx"
    with zipfile.ZipFile(docx_path) as archive:
        assert "堺市の脱炭素政策" in archive.read("word/document.xml").decode("utf-8")

    with page.expect_download() as download:
        page.locator("#kh-dl-md").click()
    md_path = tmp_path / download.value.suggested_filename
    download.value.save_as(md_path)
    markdown = md_path.read_text(encoding="utf-8")
    assert markdown.startswith("# ") and "堺市の脱炭素政策" in markdown

    tab(page, t("tab_settings", "ja"))
    page.wait_for_selector("#kh-settings .kh-facts")
    settings = page.locator("#kh-settings").inner_text()
    assert "multilingual-e5" in settings and t("llm_none", "ja") in settings
    shot(page, "settings.png")

"""XSS: hostile documents are opened in the real browser, and nothing executes.

Two documents, a Vietnamese Markdown note and a Japanese HTML page, carry
script payloads everywhere document text can reach the page: the title, the
body text (so they are quoted in answers and in the sources panel), the
``source`` field and the file name itself. Every payload would, if it ran,
set ``window.__pwned`` and/or open a dialog; some also try to load
``http://203.0.113.1/…`` (a request off the machine is a third witness).

They are indexed into a private copy of the corpus index, the real app is
served on it, and headless Chromium asks a question in each language that
cites them, reads the sources panel and its "open original" link, lists the
documents (titles and file names in the table and the document filter), and
opens ``/files/{doc_id}`` for both. The payloads must be *shown* (as text,
so the test knows they reached the page) and must never run.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

import pytest

from kb.config import Config

pytestmark = pytest.mark.slow

TIMEOUT_MS = 60_000
OUTSIDE = "203.0.113.1"  # TEST-NET-3: never routed

MD_NAME = """xss-'"><img src=x onerror=window.__pwned=21>-<svg onload=alert(22)>.md"""
HTML_NAME = "xss-<script>alert(23)<\u2044script>-<img src=x onerror=window.__pwned=24>.html"  # no "/" in a file name

EVIL_MD = """---
title: 'XSSMD <script>window.__pwned=31;alert(31)</script> <img src=x onerror="window.__pwned=32;alert(32)"> <svg onload=window.__pwned=33>'
lang: vi
source: '<a href="javascript:window.__pwned=34">nguồn</a><img src="http://203.0.113.1/t.gif">'
---

# Kiểm thử XSSMD <svg/onload=window.__pwned=35>

Mã kiểm thử XSSMD <img src=x onerror="window.__pwned=36;alert(36)"> được lưu trong hệ thống từ năm 2037.
Tài liệu XSSMD chứa <script>window.__pwned=37;alert(37)</script> và <svg onload="window.__pwned=38"></svg>
cùng liên kết <a href="javascript:window.__pwned=39">bấm</a>, [bấm vào đây](javascript:window.__pwned=40),
<javascript:alert(41)>, javascript:window.__pwned=42 và <iframe src="javascript:window.top.__pwned=43"></iframe>
và ![ảnh](http://203.0.113.1/pixel.png) và ${window.__pwned=44} và {{constructor.constructor('window.__pwned=45')()}}.
"""

EVIL_HTML = """<!doctype html>
<html lang="ja"><head><meta charset="utf-8">
<title>XSSHTML &lt;script&gt;window.__pwned=51;alert(51)&lt;/script&gt; &lt;img src=x onerror=window.__pwned=52&gt;</title>
<meta name="source" content="&lt;svg onload=window.__pwned=53&gt;&lt;/svg&gt;">
<script>window.__pwned = 50; alert(50)</script>
</head><body><main>
<h2>XSSHTML 検証 &lt;svg onload=window.__pwned=54&gt;</h2>
<p>検証コードXSSHTMLは2038年からシステムに保存されている &lt;img src=x onerror="window.__pwned=55;alert(55)"&gt;。</p>
<p>この文書XSSHTMLには &lt;script&gt;window.__pwned=56;alert(56)&lt;/script&gt; と
&lt;a href="javascript:window.__pwned=57"&gt;リンク&lt;/a&gt; と <a href="javascript:window.__pwned=58">本物のリンク</a> と
<img src=x onerror="window.__pwned=59;alert(59)"> と <svg onload="window.__pwned=60"></svg> と
&lt;iframe srcdoc="&lt;script&gt;parent.__pwned=61&lt;/script&gt;"&gt;&lt;/iframe&gt; が含まれる。</p>
</main></body></html>
"""

VI_QUESTION = "Mã kiểm thử XSSMD được lưu trong hệ thống từ năm nào?"
JA_QUESTION = "検証コードXSSHTMLは何年からシステムに保存されていますか？"

# Checked after every step: nothing ran, no handler attribute or script URL made it into the DOM.
NOTHING_RAN = """() => ({
    pwned: window.__pwned === undefined ? null : String(window.__pwned),
    handlers: [...document.querySelectorAll('#kh-sources *, #kh-chatbot *, #kh-doc-table *, .options *')]
        .filter(e => [...e.attributes].some(a => /^on/i.test(a.name))).map(e => e.outerHTML.slice(0, 120)),
    scriptLinks: [...document.querySelectorAll('a[href], iframe[src], img[src]')]
        .map(e => e.getAttribute('href') || e.getAttribute('src'))
        .filter(u => /^\\s*javascript:/i.test(u) || u.includes('203.0.113')),
    strayTags: [...document.querySelectorAll('#kh-sources img, #kh-sources svg, #kh-sources iframe, #kh-sources script, '
        + '#kh-chatbot iframe, #kh-chatbot script, #kh-chatbot img[src="x"], #kh-doc-table td img, #kh-doc-table td svg, '
        + '#kh-doc-table td script, #kh-doc-table td iframe')]
        .map(e => e.outerHTML.slice(0, 200)),
})"""


@pytest.fixture(scope="module")
def xss_app(corpus_config: Config, tmp_path_factory: pytest.TempPathFactory):
    from appserver import copy_data_dir, start_app
    from ingest.pipeline import Ingestor

    root = tmp_path_factory.mktemp("xss")
    docs = root / "docs"
    (docs / "vi").mkdir(parents=True)
    (docs / "ja").mkdir(parents=True)
    (docs / "vi" / MD_NAME).write_text(EVIL_MD, encoding="utf-8")
    (docs / "ja" / HTML_NAME).write_text(EVIL_HTML, encoding="utf-8")
    config = copy_data_dir(corpus_config, root / "data")
    ingestor = Ingestor(config, progress=False)
    summary = ingestor.run([docs])
    ingestor.close()
    assert summary.failed == [] and summary.added == 2, summary.failed
    server, kb = start_app(config)
    evil = {d["doc_id"]: d for d in kb.documents() if "XSS" in (d.get("title") or "")}
    assert len(evil) == 2, [d.get("title") for d in kb.documents()]
    yield server, kb, evil
    server.stop()


def check_nothing_ran(page, dialogs: list[str], where: str) -> None:
    state = page.evaluate(NOTHING_RAN)
    assert dialogs == [], f"{where}: a dialog opened: {dialogs}"
    assert state == {"pwned": None, "handlers": [], "scriptLinks": [], "strayTags": []}, (where, state)


def ask(page, question: str) -> None:
    page.evaluate("document.querySelectorAll('#kh-sources .kh-sources').forEach(e => e.dataset.stale = '1')")
    page.locator("#kh-question textarea").fill(question)
    page.locator("#kh-send").click()
    page.wait_for_selector("#kh-sources .kh-sources:not([data-stale]) .kh-source")


def test_hostile_documents_are_shown_and_never_run(browser, xss_app):
    from webapp.labels import t

    server, kb, evil = xss_app
    md_id = next(i for i, d in evil.items() if "XSSMD" in d["title"])
    html_id = next(i for i, d in evil.items() if "XSSHTML" in d["title"])

    context = browser.new_context(viewport={"width": 1360, "height": 940}, locale="vi-VN")
    context.set_default_timeout(TIMEOUT_MS)
    dialogs: list[str] = []
    requests: list[str] = []

    def on_dialog(dialog) -> None:
        dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    context.on("dialog", on_dialog)
    context.on("request", lambda request: requests.append(request.url))
    try:
        page = context.new_page()
        page.goto(f"{server.url}/?lang=vi", wait_until="load")
        page.wait_for_selector("#kh-question textarea")
        page.wait_for_function("document.documentElement.lang === 'vi'")

        # 1. A Vietnamese question answered from the Markdown note: title, body and file name in the panel.
        ask(page, VI_QUESTION)
        page.wait_for_timeout(300)  # give any payload its chance
        check_nothing_ran(page, dialogs, "Markdown note in the sources panel")
        sources = page.locator("#kh-sources")
        panel = sources.inner_text()
        chat = page.locator("#kh-chatbot").inner_text()
        assert "2037" in chat
        assert "<img src=x onerror=" in chat, "the quoted sentence shows its markup as text"
        assert "XSSMD <script>window.__pwned=31;alert(31)</script>" in panel  # the title, as text
        assert '<img src=x onerror="window.__pwned=36;alert(36)">' in panel  # the passage
        assert "<svg onload=alert(22)>" in panel  # the file name, in the card's meta line
        card = sources.locator(f".kh-source[data-doc='{md_id}']")
        assert card.count() >= 1
        href = card.first.locator("a.kh-open").get_attribute("href")
        assert href == f"/files/{quote(md_id, safe='')}", href

        # 2. A Japanese question answered from the HTML page (title from <title>, entity-encoded payloads).
        ask(page, JA_QUESTION)
        page.wait_for_timeout(300)
        check_nothing_ran(page, dialogs, "HTML page in the sources panel")
        panel = sources.inner_text()
        assert "2038" in page.locator("#kh-chatbot").inner_text()
        assert "XSSHTML <script>window.__pwned=51;alert(51)</script>" in panel
        assert "<script>window.__pwned=56;alert(56)</script>" in panel
        assert "<img src=x onerror=window.__pwned=24>" in panel  # the file name
        assert sources.locator(f".kh-source[data-doc='{html_id}']").count() >= 1

        # 3. The document filter lists both titles (rendered by Gradio's dropdown, not by us).
        page.get_by_text(t("filters", "vi"), exact=True).first.click()
        page.locator("#kh-chat-filter-docs input").click()
        options = page.locator(".options")
        options.first.wait_for()
        assert "XSSMD <script>" in options.first.inner_text()
        check_nothing_ran(page, dialogs, "document filter options")
        page.keyboard.press("Escape")

        # 4. The documents tab: titles and file names in the table.
        page.get_by_role("tab", name=t("tab_docs", "vi")).click()
        page.wait_for_function("document.querySelector('#kh-doc-table') "
                               "&& document.querySelector('#kh-doc-table').innerText.includes('XSSHTML')")
        table = page.locator("#kh-doc-table").inner_text()
        assert "XSSMD <script>" in table and "<svg onload=alert(22)>" in table
        check_nothing_ran(page, dialogs, "documents table")

        # 5. The originals, as the "open" links serve them: inert text, sandboxed, nothing runs.
        for doc_id, marker in ((md_id, "XSSMD"), (html_id, "XSSHTML")):
            original = context.new_page()
            response = original.goto(f"{server.url}/files/{quote(doc_id, safe='')}", wait_until="load")
            assert response.status == 200
            headers = response.headers
            assert headers["content-type"].startswith("text/plain"), headers["content-type"]
            assert headers["x-content-type-options"] == "nosniff"
            assert "sandbox" in headers["content-security-policy"]
            original.wait_for_timeout(300)  # give any payload its chance
            assert marker in original.locator("body").inner_text()
            assert "<script>" in original.locator("body").inner_text()  # shown as source text
            assert original.evaluate("window.__pwned === undefined")
            assert original.locator("body script, body img, body svg, body iframe").count() == 0
            original.close()
        assert dialogs == [], dialogs
        assert page.evaluate("window.__pwned === undefined")
    finally:
        context.close()
    network = [u for u in requests if urlsplit(u).scheme in ("http", "https", "ws", "wss")]
    outside = [u for u in network if urlsplit(u).netloc != f"127.0.0.1:{server.port}"]
    assert network and outside == [], outside[:5]
    assert not [u for u in requests if re.search(r"203\.0\.113", u)]

"""Every loader on a real file of its format, in Vietnamese and Japanese."""

from pathlib import Path

import pytest

from ingest.errors import LoadError
from ingest.loaders import load_file
from makefiles import (
    JA_PAGES,
    VI_PAGES,
    cp1258_bytes,
    docx_bytes,
    html_bytes,
    image_only_pdf,
    pdf_bytes,
)


def _texts(loaded) -> list[str]:
    return [u.page_content for u in loaded.units]


def test_vietnamese_pdf_extracts_exactly_page_by_page():
    loaded = load_file(Path("vi.pdf"), pdf_bytes(VI_PAGES, title="Nghị định", lang="vi"))
    assert _texts(loaded) == VI_PAGES
    assert [u.metadata["page"] for u in loaded.units] == [1, 2]
    assert loaded.meta["title"] == "Nghị định"


def test_japanese_pdf_extracts_exactly_with_width_folding():
    loaded = load_file(Path("ja.pdf"), pdf_bytes(JA_PAGES, lang="ja"))
    assert _texts(loaded) == [JA_PAGES[0], JA_PAGES[1].replace("（", "(").replace("）", ")")]


def test_scanned_pdf_is_read_by_ocr_or_reported(monkeypatch):
    from ingest import ocr

    from conftest import require

    require("vie" in ocr.available_languages(), "Tesseract with Vietnamese data is not installed")
    data = image_only_pdf("Nghị định 06/2022/NĐ-CP về khí nhà kính")
    if ocr.available_languages():
        loaded = load_file(Path("scan.pdf"), data)
        assert "06/2022/NĐ-CP" in loaded.units[0].page_content
        assert "OCR" in loaded.warnings[0]
    monkeypatch.setattr(ocr, "available_languages", lambda: frozenset())
    loaded = load_file(Path("scan.pdf"), data)
    assert loaded.units == []
    assert "needs OCR" in loaded.warnings[0]


def test_garbled_pdf_page_falls_back_to_pdfium(monkeypatch, caplog):
    import pypdf

    original = pypdf.PageObject.extract_text
    monkeypatch.setattr(pypdf.PageObject, "extract_text", lambda self, *a, **k: "\x00\x00\ufffd garbage")
    loaded = load_file(Path("vi.pdf"), pdf_bytes(VI_PAGES, lang="vi"))
    monkeypatch.setattr(pypdf.PageObject, "extract_text", original)
    assert _texts(loaded) == VI_PAGES
    assert "re-extracted with PDFium" in loaded.warnings[0]


def test_docx_keeps_headings_as_sections():
    data = docx_bytes("Thủ tục đầu tư", [("Giấy chứng nhận đăng ký đầu tư", "Cấp trong khoảng 15 ngày làm việc."),
                                         ("環境許可", "環境許可は7種類の許可を統合する。")])
    loaded = load_file(Path("x.docx"), data)
    assert loaded.meta["title"] == "Thủ tục đầu tư"
    sections = {u.metadata.get("section"): u.page_content for u in loaded.units}
    assert "Cấp trong khoảng 15 ngày làm việc." in sections["Giấy chứng nhận đăng ký đầu tư"]
    assert "環境許可は7種類の許可を統合する。" in sections["環境許可"]


def test_html_keeps_main_text_and_drops_chrome_script_and_style():
    body = "<h1>Bà Rịa – Vũng Tàu</h1><h2>Sáp nhập</h2><p>Từ ngày 1/7/2025 tỉnh thuộc TP. Hồ Chí Minh.</p>"
    loaded = load_file(Path("x.html"), html_bytes("Trang", body))
    text = "\n".join(_texts(loaded))
    assert "Từ ngày 1/7/2025 tỉnh thuộc TP. Hồ Chí Minh." in text
    assert "MUST-NOT-BE-INDEXED" not in text
    assert loaded.meta["lang"] == "vi"
    assert loaded.units[0].metadata["section"] == "Sáp nhập"


def test_markdown_front_matter_and_sections():
    source = """---
id: vi-test
title: Thử nghiệm
lang: vi
date: 2025-10-01
translation_of: ja-test
visibility: internal
tags: [jcm, test]
---
# Thử nghiệm

## Phần một
Nội dung **quan trọng** với [liên kết](http://example.invalid).
"""
    loaded = load_file(Path("x.md"), source.encode())
    assert loaded.meta == {
        "doc_id": "vi-test", "title": "Thử nghiệm", "lang": "vi", "date": "2025-10-01",
        "translation_of": "ja-test", "visibility": "internal", "tags": ["jcm", "test"],
    }
    assert loaded.units[0].page_content == "Phần một\nNội dung quan trọng với liên kết."


def test_shift_jis_and_windows_1258_text_files():
    ja = "二国間クレジット制度は2013年に始まった。"
    vi = "Quyết định 896/QĐ-TTg phê duyệt Chiến lược quốc gia về biến đổi khí hậu."
    assert _texts(load_file(Path("ja.txt"), ja.encode("shift_jis"))) == [ja]
    assert _texts(load_file(Path("vi.txt"), cp1258_bytes(vi))) == [vi]


def test_pptx_one_unit_per_slide_with_notes():
    import io

    from pptx import Presentation

    deck = Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[1])
    slide.shapes.title.text = "堺市の4C戦略"
    slide.placeholders[1].text = "Carbon neutral, Circular, Comfortable, Cooperation"
    slide.notes_slide.notes_text_frame.text = "発表者ノート：4つのCを説明する。"
    buffer = io.BytesIO()
    deck.save(buffer)
    loaded = load_file(Path("talk.pptx"), buffer.getvalue())
    assert loaded.units[0].metadata == {"page": 1, "section": "堺市の4C戦略"}
    assert "発表者ノート:4つのCを説明する。" in loaded.units[0].page_content  # full-width colon folded


@pytest.mark.parametrize(
    "name, data, reason",
    [
        ("broken.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage", "damaged"),
        ("fake.pdf", b"<html>not a pdf</html>", "not a PDF"),
        ("fake.docx", b"plain text pretending", "not a DOCX"),
        ("image.png", b"\x89PNG\r\n", "unsupported file type .png"),
        ("bad.md", b"---\ntitle: [unclosed\n---\nbody", "front matter is invalid"),
    ],
)
def test_bad_files_get_a_clear_reason(name, data, reason):
    with pytest.raises(LoadError, match=reason) as caught:
        load_file(Path(name), data)
    assert caught.value.path == name


def test_encrypted_pdf_is_refused_with_advice():
    with pytest.raises(LoadError, match="encrypted with a password"):
        load_file(Path("secret.pdf"), pdf_bytes(VI_PAGES, encrypt_password="secret"))

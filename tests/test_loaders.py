"""Every loader on a real file of its format, in Vietnamese and Japanese."""

import os
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


# --------------------------------------------------------------------------- hostile input
def _zip_package(members: dict[str, bytes]) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
        for name, payload in members.items():
            package.writestr(name, payload)
    return buffer.getvalue()


@pytest.mark.parametrize(
    "name, make, reason",
    [
        ("bao-cao.pdf", lambda: html_bytes("Báo cáo", "<p>Trang lỗi 404</p>"), "not a PDF file: its content is an HTML page"),
        ("報告書.pdf", lambda: docx_bytes("報告書", [("概要", "本文")]), "not a PDF file: its content is a Word document"),
        ("thu-tuc.docx", lambda: pdf_bytes(VI_PAGES), "not a DOCX file: its content is a PDF document"),
        ("手続き.docx", lambda: _zip_package({"ppt/presentation.xml": b"<p/>"}), "not a DOCX file: its content is a PowerPoint"),
        ("slides.pptx", lambda: _zip_package({"hello.txt": b"hi"}), "not a PPTX file: its content is a ZIP archive"),
        ("ghi-chu.md", lambda: b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "not a text file: its content is a PNG image"),
        ("メモ.md", lambda: pdf_bytes(JA_PAGES, lang="ja"), "not a text file: its content is a PDF document"),
        ("trang.html", lambda: b"\x7fELF\x02\x01\x01" + b"\x00" * 64, "not a text file: its content is a program"),
        ("notes.txt", lambda: b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 512, "legacy Office file"),
    ],
)
def test_content_is_checked_not_only_the_extension(name, make, reason):
    with pytest.raises(LoadError, match=reason) as caught:
        load_file(Path(name), make())
    assert caught.value.path == name


def test_text_that_mentions_binary_signatures_is_still_text():
    text = "MZ và %PDF-1.7 là chữ ký tệp; PK cũng vậy. ファイル署名の説明。\n"
    assert _texts(load_file(Path("chu-ky.md"), text.encode())) == [text.strip()]


def test_docx_zip_bomb_is_refused_by_unpacked_size():
    from ingest.loaders import LoadOptions

    real = docx_bytes("Thủ tục", [("IRC", "Giấy chứng nhận đăng ký đầu tư.")])
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(real)) as source, zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as bomb:
        for info in source.infolist():
            bomb.writestr(info, source.read(info))
        bomb.writestr("word/media/zeros.bin", b"\x00" * (12 * 2**20))  # 12 MB that packs to ~12 KB
    data = buffer.getvalue()
    assert len(data) < 200_000
    with pytest.raises(LoadError, match=r"unpacks to 13 MB .*zeros\.bin.*over the 5 MB limit .*ZIP bomb"):
        load_file(Path("bom.docx"), data, LoadOptions(max_unzipped_mb=5))
    assert load_file(Path("bom.docx"), data, LoadOptions(max_unzipped_mb=50)).units  # under the limit it loads


def test_slow_pdf_is_cut_off_by_the_time_budget(monkeypatch):
    import time as _time

    import pypdf

    from ingest.loaders import LoadOptions

    original = pypdf.PageObject.extract_text

    def slow(self, *args, **kwargs):  # a page built to be expensive to extract
        _time.sleep(0.4)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(pypdf.PageObject, "extract_text", slow)
    data = pdf_bytes(VI_PAGES * 5, lang="vi")  # 10 pages, ~4 s at this speed
    started = _time.monotonic()
    with pytest.raises(LoadError, match=r"longer than 1 s \(KAKEHASHI_MAX_PDF_SECONDS\), stopped before page \d+ of 10"):
        load_file(Path("cham.pdf"), data, LoadOptions(max_pdf_seconds=1))
    assert _time.monotonic() - started < 2.5
    monkeypatch.setattr(pypdf.PageObject, "extract_text", original)
    assert len(load_file(Path("cham.pdf"), data, LoadOptions(max_pdf_seconds=60)).units) == 10


def test_guessed_ocr_words_are_grouped_with_their_doubtful_neighbours():
    from ingest.ocr import _guessed_spans

    # "tại chỗ (5T %JÙ*—h£lh)ă 7 H + + 2 h); theo" as the Vietnamese model scored it
    conf = [96, 96, 46, 14, 71, 71, 46, 44, 80, 74, 96]
    assert _guessed_spans(conf) == [(2, 10)]
    assert _guessed_spans([96, 40, 96, 96, 30]) == [(1, 2), (4, 5)]
    assert _guessed_spans([96, 90, 88]) == []


def test_ocr_is_bounded_by_the_time_budget():
    from conftest import require
    from ingest import ocr
    from ingest.loaders import LoadOptions

    require("vie" in ocr.available_languages(), "Tesseract with Vietnamese data is not installed")
    # Several lines: single-threaded Tesseract reads one short line in about 0.3 s, the budget itself.
    data = image_only_pdf("\n".join(["Nghị định 06/2022/NĐ-CP về khí nhà kính"] * 6))
    with pytest.raises(LoadError, match="KAKEHASHI_MAX_PDF_SECONDS"):
        load_file(Path("scan.pdf"), data, LoadOptions(max_pdf_seconds=0.3, lang_hint="vi"))


def test_a_giant_page_is_rendered_for_ocr_within_a_pixel_cap(monkeypatch):
    """A page declared 5 m × 5 m would be 3.5 G pixels at 300 dpi; OCR gets at most MAX_PIXELS."""
    import pytesseract
    from fpdf import FPDF

    from ingest import ocr

    pdf = FPDF(format=(5000, 5000))  # millimetres
    pdf.add_page()
    pdf.set_fill_color(0, 0, 0)
    pdf.rect(100, 100, 50, 50, style="F")  # no text layer: it goes to OCR
    seen: list[tuple[int, int]] = []
    monkeypatch.setattr(ocr, "available_languages", lambda: frozenset({"vie", "eng"}))
    words = "Chữ trên trang lớn".split()
    one_line = {"text": words, "conf": [96] * 4, **{k: [1] * 4 for k in ("block_num", "par_num", "line_num")},
                **{k: [0] * 4 for k in ("left", "top", "width", "height")}}
    monkeypatch.setattr(pytesseract, "image_to_data", lambda image, **kw: seen.append(image.size) or one_line)
    loaded = load_file(Path("lon.pdf"), bytes(pdf.output()))
    assert loaded.units[0].page_content == "Chữ trên trang lớn"
    width, height = seen[0]
    assert width * height <= ocr.MAX_PIXELS * 1.01 and width > 1000


def test_japanese_quoted_in_a_vietnamese_scan_is_read_not_garbled(corpus_kb):
    """The scan quotes 堺エネルギー地産地消プロジェクト; the Vietnamese model alone made '%JÙ*—h£lh)ă' of it."""
    from conftest import require
    from ingest import ocr

    require({"vie", "jpn"} <= ocr.available_languages(), "Tesseract with Vietnamese and Japanese data is not installed")
    got = corpus_kb.retriever.collection.get(where={"doc_id": "vi-10-workshop-notice"}, include=["documents"])
    text = "\n".join(got["documents"])
    assert "堺エネルギー地産地消" in text
    assert "£" not in text and "%J" not in text


def test_tesseract_runs_single_threaded_unless_the_user_says_otherwise(monkeypatch):
    """Tesseract's spinning OpenMP threads took the embedder's cores (bench/ingest.md)."""
    import subprocess

    import pytesseract.pytesseract as runner

    from ingest import ocr

    monkeypatch.setattr(runner, "environ", runner.environ)  # restored after the test
    monkeypatch.delenv("OMP_THREAD_LIMIT", raising=False)
    ocr._limit_tesseract_threads()
    child = subprocess.run(["sh", "-c", 'echo "$OMP_THREAD_LIMIT $HOME"'], env=runner.environ,
                           capture_output=True, text=True).stdout.split()
    assert child[0] == "1" and child[1] == os.environ["HOME"]
    monkeypatch.setenv("OMP_THREAD_LIMIT", "4")
    assert runner.environ["OMP_THREAD_LIMIT"] == "4"

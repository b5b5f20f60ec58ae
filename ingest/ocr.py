"""OCR for scanned PDF pages, through Tesseract (Debian's ``tesseract-ocr``).

Tesseract is optional at run time: without it a scanned page is reported as
"needs OCR" instead of silently indexing nothing.
"""

from __future__ import annotations

import functools
import re
import shutil

from kb.text import normalize_text

_CJK_GAP = re.compile(r"(?<=[\u3000-\u30ff\u4e00-\u9fff\uff00-\uffef]) +(?=[\u3000-\u30ff\u4e00-\u9fff\uff00-\uffef])")
_LANG_CODES = {"vi": "vie", "ja": "jpn", "en": "eng"}


@functools.lru_cache(maxsize=1)
def available_languages() -> frozenset[str]:
    """Tesseract's installed language packs; empty when Tesseract is missing."""
    if not shutil.which("tesseract"):
        return frozenset()
    try:
        import pytesseract

        return frozenset(pytesseract.get_languages(config=""))
    except Exception:
        return frozenset()


def ocr_languages(lang_hint: str | None, configured: str) -> str:
    """Tesseract ``-l`` argument: the document's language when known, else the configured set."""
    wanted = [_LANG_CODES[lang_hint]] if lang_hint in _LANG_CODES else configured.split("+")
    have = available_languages()
    usable = [code for code in wanted if code in have]
    return "+".join(usable)


def ocr_pdf_page(data: bytes, page_index: int, langs: str, dpi: int = 300) -> str:
    """Render one page of a PDF (given as bytes) with PDFium and read it with Tesseract."""
    import pypdfium2
    import pytesseract

    pdf = pypdfium2.PdfDocument(data)
    try:
        image = pdf[page_index].render(scale=dpi / 72).to_pil().convert("L")
    finally:
        pdf.close()
    if "jpn" in langs and "vie" in langs:
        langs = _pick_script(image, langs)
    text = pytesseract.image_to_string(image, lang=langs)
    # Tesseract puts spaces between Japanese characters; Japanese has none.
    return _CJK_GAP.sub("", normalize_text(text))


def _pick_script(image, langs: str) -> str:  # image: PIL.Image
    """Japanese and Vietnamese models read each other's script badly together.

    Tesseract's script detector (OSD) decides which to use; when it cannot
    (too little text), both are tried and the more confident reading wins.
    """
    import pytesseract

    japanese, latin = "jpn+eng" if "eng" in langs else "jpn", "vie+eng" if "eng" in langs else "vie"
    try:
        script = pytesseract.image_to_osd(image, output_type=pytesseract.Output.DICT).get("script", "")
        if script in ("Japanese", "Han", "Hiragana", "Katakana"):
            return japanese
        if script == "Latin":
            return latin
    except Exception:
        pass
    return max((japanese, latin), key=lambda candidate: _confidence(image, candidate))


def _confidence(image, langs: str) -> float:
    import pytesseract

    data = pytesseract.image_to_data(image, lang=langs, output_type=pytesseract.Output.DICT)
    scores = [float(c) for c, t in zip(data["conf"], data["text"]) if t.strip() and float(c) >= 0]
    return sum(scores) / len(scores) if scores else 0.0

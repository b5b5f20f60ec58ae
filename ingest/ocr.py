"""OCR for scanned PDF pages, through Tesseract (Debian's ``tesseract-ocr``).

Tesseract is optional at run time: without it a scanned page is reported as
"needs OCR" instead of silently indexing nothing.
"""

from __future__ import annotations

import functools
import math
import re
import shutil
import time

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


MAX_PIXELS = 40_000_000
"""A page rendered for OCR has at most this many pixels (an A4 page at 300 dpi has 8.7 M):
a PDF declaring a 5 m × 5 m page must not allocate gigabytes."""


class OCRTimeout(RuntimeError):
    """Tesseract did not finish within the file's time budget."""


def ocr_pdf_page(data: bytes, page_index: int, langs: str, dpi: int = 300, timeout: float | None = None) -> str:
    """Render one page of a PDF (given as bytes) with PDFium and read it with Tesseract.

    ``timeout`` (seconds) bounds the whole page, every Tesseract call included;
    :class:`OCRTimeout` when it runs out.
    """
    import pypdfium2
    import pytesseract

    deadline = None if timeout is None else time.monotonic() + timeout
    pdf = pypdfium2.PdfDocument(data)
    try:
        page = pdf[page_index]
        width, height = page.get_size()
        scale = dpi / 72
        if width * height * scale * scale > MAX_PIXELS:
            scale = math.sqrt(MAX_PIXELS / max(width * height, 1.0))
        image = page.render(scale=scale).to_pil().convert("L")
    finally:
        pdf.close()
    try:
        if "jpn" in langs and "vie" in langs:
            langs = _pick_script(image, langs, deadline)
        text = pytesseract.image_to_string(image, lang=langs, timeout=_left(deadline))
    except RuntimeError as exc:
        if "timeout" in str(exc).lower():
            raise OCRTimeout(f"OCR did not finish within {timeout:g} s") from exc
        raise
    # Tesseract puts spaces between Japanese characters; Japanese has none.
    return _CJK_GAP.sub("", normalize_text(text))


def _left(deadline: float | None) -> float:
    """Seconds left for the next Tesseract call (pytesseract: 0 = no limit)."""
    if deadline is None:
        return 0
    left = deadline - time.monotonic()
    if left <= 0:
        raise OCRTimeout("OCR time budget used up")
    return max(left, 0.01)


def _pick_script(image, langs: str, deadline: float | None = None) -> str:  # image: PIL.Image
    """Japanese and Vietnamese models read each other's script badly together.

    Tesseract's script detector (OSD) decides which to use; when it cannot
    (too little text), both are tried and the more confident reading wins.
    """
    import pytesseract

    japanese, latin = "jpn+eng" if "eng" in langs else "jpn", "vie+eng" if "eng" in langs else "vie"
    try:
        script = pytesseract.image_to_osd(image, output_type=pytesseract.Output.DICT, timeout=_left(deadline)).get(
            "script", ""
        )
        if script in ("Japanese", "Han", "Hiragana", "Katakana"):
            return japanese
        if script == "Latin":
            return latin
    except OCRTimeout:
        raise
    except Exception:
        _left(deadline)  # an OSD time-out is the budget running out, not "no script found"
    return max((japanese, latin), key=lambda candidate: _confidence(image, candidate, deadline))


def _confidence(image, langs: str, deadline: float | None = None) -> float:
    import pytesseract

    try:
        data = pytesseract.image_to_data(
            image, lang=langs, output_type=pytesseract.Output.DICT, timeout=_left(deadline)
        )
    except RuntimeError as exc:
        if "timeout" in str(exc).lower():
            raise OCRTimeout("OCR did not finish in time") from exc
        raise
    scores = [float(c) for c, t in zip(data["conf"], data["text"]) if t.strip() and float(c) >= 0]
    return sum(scores) / len(scores) if scores else 0.0

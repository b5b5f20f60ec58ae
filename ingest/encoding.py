"""Decode text files whose encoding nobody wrote down.

Vietnamese and Japanese offices still send Windows-1258 and Shift_JIS files.
Several legacy encodings decode almost any byte string without an error, so
"the first codec that does not fail" is wrong: every candidate that decodes is
scored by how plausible its text is, and the best one wins.
"""

from __future__ import annotations

import codecs
import unicodedata

import ftfy


# Order breaks ties: UTF-8 first, since valid UTF-8 is almost never an accident.
CANDIDATES = ("utf-8", "cp932", "cp1258", "euc-jp", "cp1252")

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


class UndecodableText(ValueError):
    pass


def decode_bytes(data: bytes) -> tuple[str, str, list[str]]:
    """Return ``(text, encoding, warnings)`` or raise :class:`UndecodableText`."""
    warnings: list[str] = []
    for bom, name in _BOMS:
        if data.startswith(bom):
            try:
                return _finish(data.decode(name), name, warnings)
            except UnicodeDecodeError as exc:
                raise UndecodableText(f"has a {name} byte-order mark but is not valid {name}: {exc}") from exc
    if b"\x00" in data[:4096]:
        # UTF-16 without a BOM is the only text encoding full of NUL bytes.
        for name in ("utf-16-le", "utf-16-be"):
            try:
                text = data.decode(name)
            except UnicodeDecodeError:
                continue
            if plausibility(text) > 0.95:
                return _finish(text, name, warnings)
        raise UndecodableText("contains NUL bytes: it looks like a binary file, not text")
    best: tuple[float, str, str] | None = None
    for name in CANDIDATES:
        try:
            text = data.decode(name)
        except UnicodeDecodeError:
            continue
        score = plausibility(_repair(text))
        if name == "utf-8":
            score += 0.05  # strict UTF-8 that decodes is nearly always right
        if best is None or score > best[0]:
            best = (score, name, text)
    if best is None or best[0] < 0.9:
        raise UndecodableText(
            "the text encoding could not be recognised (tried UTF-8, UTF-16, Shift_JIS/CP932, "
            "Windows-1258, EUC-JP); save the file as UTF-8 and upload it again"
        )
    return _finish(best[2], best[1], warnings)


def plausibility(text: str) -> float:
    """Share of characters that a real vi/ja/en document would contain.

    Half-width katakana, C1 controls, stray combining marks and symbols from
    the Latin-1 supplement are what a wrong guess produces; real Vietnamese
    decoded from CP1258 composes into ordinary letters under NFC.
    """
    text = unicodedata.normalize("NFC", text)
    if not text:
        return 0.0
    good = 0
    for ch in text:
        code = ord(ch)
        if ch.isspace() or 0x20 <= code < 0x7F:
            good += 1
        elif 0xFF61 <= code <= 0xFF9F or 0x80 <= code < 0xA0 or code == 0xFFFD:
            continue  # half-width kana, C1 controls, replacement char
        elif unicodedata.category(ch) == "Mn":
            continue  # a combining mark that did not compose onto a letter
        elif ch.isalpha() and (0xC0 <= code < 0x250 or 0x1E00 <= code < 0x1F00):
            good += 1  # Latin letters with diacritics (Vietnamese lives here)
        elif 0x3000 <= code < 0xA000 or 0xFF00 <= code < 0xFF61:
            good += 1  # kana, kanji, CJK punctuation, full-width forms
        elif unicodedata.category(ch)[0] in "PN" or ch in "€–—‘’“”•…°±×÷²³µ·½¼¾₫":
            good += 1
    return good / len(text)


def _repair(text: str) -> str:
    """Undo mojibake (UTF-8 once read as Latin-1/CP1252 and saved again), if fixable."""
    if ftfy.is_bad(text):
        fixed = ftfy.fix_text(text, normalization="NFC")
        if not ftfy.is_bad(fixed) and "\ufffd" not in fixed:
            return fixed
    return text


def _finish(text: str, encoding: str, warnings: list[str]) -> tuple[str, str, list[str]]:
    text = text.lstrip("\ufeff")
    repaired = _repair(text)
    if repaired != text:
        warnings.append("repaired mojibake (the text had been decoded with the wrong encoding before it was saved)")
        text = repaired
    if ftfy.is_bad(text):
        raise UndecodableText(
            "the text is mojibake (it was mis-decoded before it was saved) and could not "
            "be repaired; re-export it from the original as UTF-8"
        )
    return text, encoding, warnings

"""Text primitives shared by ingestion and querying.

Documents and questions must be normalised the same way, or a query typed on
a Japanese IME (full-width digits) would never match a PDF that used ASCII.
This module is the one place that decides what "the same text" means.
"""

from __future__ import annotations

import re
import unicodedata

LANGS = ("vi", "ja", "en")

# Kana, CJK ideographs, CJK punctuation and full-width forms: the characters
# that are written without spaces between them.
CJK_CHARS = (
    "\u3000-\u303f"  # CJK symbols and punctuation (。、「」)
    "\u3040-\u309f"  # hiragana
    "\u30a0-\u30ff"  # katakana
    "\u31f0-\u31ff"  # katakana phonetic extensions
    "\u3400-\u4dbf"  # CJK extension A
    "\u4e00-\u9fff"  # CJK unified ideographs
    "\uf900-\ufaff"  # compatibility ideographs
    "\uff00-\uffef"  # full-width and half-width forms
)
CJK_CHAR = re.compile(f"[{CJK_CHARS}]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b]+")
_BLANK_LINES = re.compile(r"\n{3,}")

# Letters that only Vietnamese uses among the three languages: the base
# letters ă â đ ê ô ơ ư and any vowel carrying one of the five tone marks.
_VI_LETTERS = set("ăâđêôơưĂÂĐÊÔƠƯ")
_VI_TONES = {"\u0300", "\u0301", "\u0303", "\u0309", "\u0323"}
_VI_PLAIN_WORDS = set(
    "va cua la cac nhung cho trong voi duoc khong nam thanh pho tinh nghi dinh quyet "
    "thong tu bo so ngay thang luat du an hop tac phat thai carbon nang luong dien mat "
    "troi gio gi nao bao nhieu khi nhu the sao ai o dau chinh phu uy ban nhan dan".split()
)
_EN_WORDS = set(
    "the of and to in is are was for on with what which who when how does did by "
    "from that this as at be it an or".split()
)


def fold_width(text: str) -> str:
    """Map full-width ASCII (Ａ１！) to ASCII, and the ideographic space to a space.

    Unlike NFKC this leaves half-width katakana and other kana untouched: the
    issue tracker asks us to keep kana exactly as written.
    """
    out = []
    for ch in text:
        code = ord(ch)
        if 0xFF01 <= code <= 0xFF5E:
            out.append(chr(code - 0xFEE0))
        elif code == 0x3000:
            out.append(" ")
        else:
            out.append(ch)
    return "".join(out)


def normalize_text(text: str) -> str:
    """Canonical form for indexing and querying.

    NFC (Vietnamese tone marks composed, as keyboards produce them), full-width
    ASCII folded, control characters dropped, runs of spaces collapsed. Line
    breaks are kept: only the PDF loader knows which ones are layout.
    """
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n"))
    text = fold_width(text)
    text = _CONTROL.sub("", text)
    text = _SPACES.sub(" ", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", text).strip()


def strip_diacritics(text: str) -> str:
    """"Nghị định" -> "Nghi dinh": lets unaccented queries match accented text."""
    decomposed = unicodedata.normalize("NFD", text)
    bare = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return unicodedata.normalize("NFC", bare.replace("đ", "d").replace("Đ", "D"))


def script_counts(text: str) -> dict[str, int]:
    """Count letters by script: the evidence language detection weighs."""
    counts = {"kana": 0, "han": 0, "hangul": 0, "latin": 0, "vi": 0}
    for ch in unicodedata.normalize("NFD", text):
        code = ord(ch)
        if ch in _VI_TONES:
            counts["vi"] += 1
        elif 0x3040 <= code <= 0x30FF or 0x31F0 <= code <= 0x31FF or 0xFF66 <= code <= 0xFF9F:
            counts["kana"] += 1
        elif 0x4E00 <= code <= 0x9FFF or 0x3400 <= code <= 0x4DBF:
            counts["han"] += 1
        elif 0xAC00 <= code <= 0xD7AF:
            counts["hangul"] += 1
        elif ch.isalpha() and code < 0x0250:
            counts["latin"] += 1
    for ch in text:
        if ch in _VI_LETTERS:
            counts["vi"] += 1
    return counts


def detect_lang(text: str) -> str:
    """Classify text as ``vi``, ``ja``, ``en`` or ``other``.

    A script heuristic rather than a statistical detector, on purpose: the
    three languages we serve are told apart by their writing systems almost
    perfectly (kana and kanji for Japanese; tone marks and ơ/ư/đ for
    Vietnamese), it works on a three-word query where n-gram models guess,
    it is deterministic, and it needs no model files. Unaccented Vietnamese
    ("nghi dinh 06") is caught by a short list of common syllables.
    """
    c = script_counts(text)
    cjk = c["kana"] + c["han"]
    letters = cjk + c["latin"] + c["hangul"]
    if letters == 0:
        return "other"
    if c["hangul"] > cjk and c["hangul"] > c["latin"]:
        return "other"
    # Japanese prose mixes in Latin names and acronyms; a modest CJK share wins.
    if cjk and (c["kana"] > 0 or cjk >= c["latin"]) and cjk / letters >= 0.2:
        return "ja"
    if c["latin"] and c["vi"] / max(c["latin"], 1) >= 0.03:
        return "vi"
    words = re.findall(r"[a-zA-Z]+", text.lower())
    if words:
        vi_hits = sum(w in _VI_PLAIN_WORDS for w in words)
        en_hits = sum(w in _EN_WORDS for w in words)
        if vi_hits > en_hits:
            return "vi"
        if en_hits or c["vi"] == 0:
            return "en"
    return "other"


_JA_SENTENCE_END = re.compile(r"(?<=[。！？!?])(?![」』）)\]])|(?<=[。！？!?][」』）)\]])")
_LATIN_SENTENCE_END = re.compile(
    r"(?<=[.!?…])[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-ZÀ-Ỹ0-9Đ])"
)


_ABBREVIATIONS = {"tp.", "mr.", "mrs.", "ms.", "dr.", "no.", "co.", "ltd.", "inc.", "st.", "ts.", "ths.", "pgs.", "gs.", "e.g.", "i.e.", "vs."}


def _unwrap(lines: list[str]) -> list[str]:
    out: list[str] = []
    for line in lines:
        if out and _WRAPPED.search(out[-1]) and "|" not in out[-1] and CONTINUES_SENTENCE.match(line):
            out[-1] = out[-1].rstrip() + " " + line.lstrip()
        else:
            out.append(line)
    return out


_WRAPPED = re.compile(r"[^\s.!?。！？:：;；|]\s*$")
"""A line that stops mid-sentence (no closing punctuation, not a table row)."""
CONTINUES_SENTENCE = re.compile(r"\s*[a-zà-ỹđ]")
"""A line that carries on a sentence: it starts with a lower-case Latin letter (Vietnamese included)."""
_SECTION_NUMBER = re.compile(r"^(?:\d{1,2}\.)+\d{0,2}$")


def split_sentences(text: str) -> list[str]:
    """Split into sentences: at 。！？ for Japanese, at . ! ? + capital otherwise.

    Lines (bullets, table rows, headings) are boundaries, except where a PDF
    wrapped a sentence: a line that does not end a sentence, followed by one
    that starts in lower case ("Thị trưởng 永藤英機 (Nagafuji Hideki)" /
    "đã giới thiệu chiến lược này."), is one sentence. Legal references such
    as "06/2022/NĐ-CP" and decimals like "15.8%" survive because a Latin
    boundary needs whitespace and a capital or digit after it.
    """
    sentences: list[str] = []
    for line in _unwrap(text.split("\n")):
        pieces = [
            sentence.strip()
            for part in _JA_SENTENCE_END.split(line)
            for sentence in _LATIN_SENTENCE_END.split(part)
            if sentence.strip()
        ]
        merged: list[str] = []
        for piece in pieces:
            if merged and (merged[-1].split()[-1].lower() in _ABBREVIATIONS or _SECTION_NUMBER.match(merged[-1])):
                merged[-1] += " " + piece  # "Tp. Hồ Chí Minh", "4. Số liệu" are one sentence
            else:
                merged.append(piece)
        sentences.extend(merged)
    return sentences

"""Keyword tokens for Vietnamese, Japanese and English, for the BM25 lane.

Whitespace splitting fails both languages we serve: Japanese has no spaces,
and a Vietnamese word is often two or three syllables, typed with or without
tone marks. So:

* Japanese runs go through SudachiPy (split mode B: 太陽光 and 発電 stay
  findable apart, unlike mode C's 太陽光発電) and are indexed by their
  normalised form, without particles, auxiliaries and punctuation.
* Vietnamese and English words are lower-cased; Vietnamese syllables are
  indexed with and without diacritics ("định" and "dinh"), and adjacent
  syllables also as a bigram ("nghi_dinh"), which stands in for word
  segmentation.
* Legal references (06/2022/NĐ-CP, 896/QĐ-TTg) and numbers are kept whole,
  and a reference also yields its number ("6"), so "nghị định 06" finds it.

Every token carries a kind (``word``, ``neutral``) so that fusion can tell
language-bound words from tokens that match across languages: numbers,
legal references and Latin acronyms mean the same in a Japanese and a
Vietnamese document.
"""

from __future__ import annotations

import functools
import re
import threading
from collections.abc import Iterator

from kb.text import normalize_text, strip_diacritics

_CJK = re.compile(r"[\u3005\u3006\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff66-\uff9f]")
_LEGAL_REF = r"\d+(?:/\d{2,4})?/[A-Za-zĐđ]+(?:-[A-Za-zĐđ0-9]+)*"
_CODE = r"[A-Za-z]+\d+[A-Za-z0-9]*"  # COP28, PDP8, VNEEP3, QH15
_NUMBER = r"\d+(?:[.,]\d+)*"
_WORD = r"[^\W\d_]+(?:[-'][^\W\d_]+)*"
_NEUTRAL_PATTERN = re.compile(f"(?P<ref>{_LEGAL_REF})|(?P<code>{_CODE})|(?P<num>{_NUMBER})")
_LATIN_TOKEN = re.compile(f"(?P<ref>{_LEGAL_REF})|(?P<code>{_CODE})|(?P<num>{_NUMBER})|(?P<word>{_WORD})")
_SKIP_POS = {"助詞", "助動詞", "補助記号", "空白", "記号"}
_STOPWORDS = set(
    # Vietnamese function words (with their tone marks: "khi" is "when" but "khí" is "gas")
    # and English ones. Frequent and uninformative; dropping them keeps postings short.
    "và của là các những được cho trong với có này đã để theo về từ một khi thì đến tại do bởi "
    "như cũng sẽ đang mà ở ra vào lên hay hoặc nên nếu vì "
    "the a an of and to in is are was were for on with by from that this as at be it or which"
    .split()
)

_QUESTION_WORDS_JA = {
    "何", "いつ", "誰", "どこ", "何処", "どの", "どれ", "どちら", "どう", "どんな", "如何", "何故", "なぜ",
    "幾つ", "いくつ", "幾ら", "どなた",
}
"""Japanese question words (Sudachi normalised forms): in a question they are the unknown, not a clue."""
_QUESTION_PHRASES_VI = re.compile(
    r"(?<!\w)(?:bao nhiêu|bao giờ|bao lâu|tại sao|vì sao|như thế nào|thế nào|gì|nào|ai(?! Cập)|đâu|mấy)(?!\w)",
    re.IGNORECASE,
)
"""Vietnamese question words, with their tone marks ("Ai Cập" is Egypt, not "who")."""

WORD, NEUTRAL = "w", "n"
"""Token kinds: language-bound words, and tokens that read the same in every language."""


@functools.lru_cache(maxsize=1)
def _sudachi():
    from sudachipy import Dictionary, SplitMode

    return Dictionary(dict="core").create(), SplitMode.B


_sudachi_lock = threading.Lock()


def tokens(text: str) -> list[str]:
    """BM25 terms for ``text`` (kind prefixes included, e.g. ``w:dinh``, ``n:6``)."""
    return [f"{kind}:{term}" for kind, term in _tokens(normalize_text(text))]


def search_tokens(text: str) -> list[str]:
    """The terms a query searches with: a syllable typed with its tone marks drops its bare form.

    The index holds both forms ("khí" and "khi") so that a query typed without
    diacritics ("nghi dinh 06") still matches. A query typed with them says which
    word it means: "khí" (gas) is not "khi" (when), and searching the bare form
    too measured worse (XQuAD-vi BM25 R@1 0.915 without it, 0.901 with it).

    Question words (何, いつ, gì, bao nhiêu) are left out: they are the unknown, and a
    passage that happens to contain 何 or "nào" is no likelier to answer. A line break
    stands in for a Vietnamese one so that no bigram spans it. Measured with BM25
    k1 0.6 / b 0.5, R@1 on even / odd questions: JSQuAD BM25 0.896 -> 0.897 (0.897 / 0.895 ->
    0.899 / 0.896), hybrid 0.901 -> 0.903 (0.897 / 0.904 -> 0.899 / 0.908); XQuAD-vi BM25
    0.911 -> 0.916 (0.916 / 0.906 -> 0.919 / 0.913), hybrid unchanged at 0.949.
    """
    terms = [t for t in tokens(_QUESTION_PHRASES_VI.sub("\n", text)) if t[2:] not in _QUESTION_WORDS_JA]
    bare = {strip_diacritics(t) for t in terms if t.startswith(WORD + ":") and strip_diacritics(t) != t}
    return [t for t in terms if t not in bare]


def neutral_only(terms: list[str]) -> list[str]:
    """The subset of terms that can match a document in another language."""
    return [t for t in terms if t.startswith(NEUTRAL + ":")]


def is_strong(term: str) -> bool:
    """A neutral term rare enough to link two languages on its own.

    A legal reference, a code such as COP28, a number of three or more digits
    (a year, an amount) or an acronym of three or more letters (JCM, GEC) is;
    a one- or two-digit number or a two-letter acronym ("5", "EU") appears in
    so many passages that, alone, it links unrelated ones (measured on NTREX).
    """
    body = term.partition(":")[2]
    if not body:
        return False
    if "/" in body or (any(c.isdigit() for c in body) and any(c.isalpha() for c in body)):
        return True
    return len(body.replace(".", "").replace(",", "")) >= 3


def _tokens(text: str) -> Iterator[tuple[str, str]]:
    for line in text.split("\n"):
        if _CJK.search(line):
            yield from _mixed_tokens(line)
        else:
            yield from _latin_tokens(line)


def _mixed_tokens(line: str) -> Iterator[tuple[str, str]]:
    """A line with Japanese in it: numbers and references first, then Sudachi.

    Sudachi would cut "06/2022/NĐ-CP" or "4,115" into pieces, so those are
    taken out by pattern before the rest is analysed morphologically.
    """
    for match in _NEUTRAL_PATTERN.finditer(line):
        yield from _neutral(match)
    # A middle dot (punctuation to Sudachi) keeps the sentence in one piece.
    rest = _NEUTRAL_PATTERN.sub("・", line)
    tokenizer, mode = _sudachi()
    with _sudachi_lock:  # the tokenizer object is not documented as thread-safe
        morphemes = [(m.surface(), m.normalized_form(), m.part_of_speech()) for m in tokenizer.tokenize(rest, mode)]
    for surface, form, pos in morphemes:
        if pos[0] in _SKIP_POS or not surface.strip():
            continue
        if _CJK.search(surface):
            yield WORD, form
            if pos[1:3] == ("固有名詞", "地名") and (place := _PLACE_SUFFIX.match(form)):
                yield WORD, place.group(1)
        else:
            yield from _latin_tokens(surface, bigrams=False)


_PLACE_SUFFIX = re.compile(r"^(.+?)[市県都府町村区]$")
"""A place name is also indexed without its suffix: Sudachi reads 泉大津市 as one word in
"大阪府泉大津市の代表団", but 泉大津 + 市長 in "泉大津市長は誰？" (likewise 堺 + 市民)."""


def _neutral(match: re.Match) -> Iterator[tuple[str, str]]:
    raw = match.group()
    if match.lastgroup == "ref":
        ref = strip_diacritics(raw.lower())
        number, rest = ref.split("/", 1)
        yield NEUTRAL, ref
        yield NEUTRAL, str(int(number))
        yield NEUTRAL, rest.rsplit("/", 1)[-1]  # the document type: nd-cp, qd-ttg
    elif match.lastgroup == "code":
        yield NEUTRAL, raw.lower()
    else:
        yield NEUTRAL, _canonical_number(raw)


def _latin_tokens(segment: str, bigrams: bool = True) -> Iterator[tuple[str, str]]:
    previous: str | None = None
    for match in _LATIN_TOKEN.finditer(segment):
        if match.lastgroup != "word":
            yield from _neutral(match)
            previous = None
            continue
        raw = match.group()
        lower = raw.lower()
        if lower in _STOPWORDS:
            previous = None
            continue
        folded = strip_diacritics(lower)
        if raw.isascii() and raw.isupper() and len(raw) > 1:
            yield NEUTRAL, lower  # acronyms such as JCM, GEC, MOEJ read the same everywhere
        else:
            yield WORD, folded
            if lower != folded:
                yield WORD, lower  # the accented form too: an exact match scores higher
        if bigrams and previous:
            yield WORD, f"{previous}_{folded}"
        previous = folded


def _canonical_number(raw: str) -> str:
    """'06' -> '6'; thousands separators differ by language, so they are dropped: 4.115 == 4,115."""
    digits = re.sub(r"[.,](?=\d{3}(?:\D|$))", "", raw)
    return digits.lstrip("0") or "0"

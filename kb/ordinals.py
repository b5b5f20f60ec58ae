"""Ordinals and superlatives ("first", "đầu tiên", 最初) matched across languages.

"Which country was the first to sign the JCM?" has one answer: the one a document
calls first. Passages that merely tell of a signing are close in meaning and share
more words with the question, so they win unless the word "first" itself counts,
and across languages it cannot count as written: a Vietnamese question's
"đầu tiên" never occurs in the Japanese passage that says 最初.

The glossary (kb/glossary.py) is a document the organisation maintains, for the
names and terms of its domain; these are words of questions in any domain, so
they are kept here, as a few groups of equivalent spellings.
"""

from __future__ import annotations

import re
from functools import lru_cache

from kb.text import normalize_text, strip_diacritics

GROUPS: tuple[dict[str, tuple[str, ...]], ...] = (
    {"vi": ("đầu tiên", "lần đầu", "sớm nhất"), "ja": ("最初", "初めて"), "en": ("first", "earliest")},
    {"vi": ("cuối cùng",), "ja": ("最後",), "en": ("last", "final")},
    {"vi": ("mới nhất", "gần đây nhất"), "ja": ("最新", "直近"), "en": ("latest", "most recent")},
    {"vi": ("lớn nhất",), "ja": ("最大",), "en": ("largest", "biggest")},
    {"vi": ("nhỏ nhất",), "ja": ("最小",), "en": ("smallest",)},
    {"vi": ("cao nhất",), "ja": ("最高",), "en": ("highest",)},
    {"vi": ("thấp nhất",), "ja": ("最低",), "en": ("lowest",)},
    {"vi": ("nhiều nhất",), "ja": ("最多",), "en": ("the most",)},
)
"""Each group: one ordinal or superlative, spelled per language."""


def _fold(text: str) -> str:
    return strip_diacritics(normalize_text(text).lower())


@lru_cache(maxsize=64)
def _pattern(spelling: str) -> re.Pattern[str]:
    """Japanese spellings match anywhere; Latin ones as whole words (``first`` not in ``firstly``)."""
    folded = re.escape(_fold(spelling))
    return re.compile(rf"(?<!\w){folded}(?!\w)" if _is_latin(spelling) else folded)


def _is_latin(text: str) -> bool:
    return all(ch.isascii() or "\u00c0" <= ch <= "\u024f" or "\u1e00" <= ch <= "\u1eff" for ch in text)


def groups_in(text: str) -> frozenset[int]:
    """The groups of :data:`GROUPS` that ``text`` names, in any language (diacritics optional)."""
    folded = _fold(text)
    return frozenset(
        i for i, group in enumerate(GROUPS)
        if any(_pattern(s).search(folded) for spellings in group.values() for s in spellings)
    )


def translations(text: str, source_lang: str) -> dict[str, list[str]]:
    """Other-language spellings of the ordinals and superlatives ``text`` names in ``source_lang``."""
    folded = _fold(text)
    out: dict[str, list[str]] = {}
    for group in GROUPS:
        if any(_pattern(s).search(folded) for s in group.get(source_lang, ())):
            for lang, spellings in group.items():
                if lang != source_lang:
                    out.setdefault(lang, []).extend(spellings)
    return out

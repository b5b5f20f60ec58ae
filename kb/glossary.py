"""The bilingual glossary, read from the knowledge base itself.

Any public document tagged ``glossary`` whose tables pair Vietnamese,
Japanese and English terms feeds query expansion: a Vietnamese question
that says "tín chỉ carbon" also searches the Japanese keyword index for
カーボンクレジット, and the reverse. Because the glossary is a document, an
organisation extends it by uploading a file, not by editing code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from kb.text import detect_lang, normalize_text, strip_diacritics

GLOSS_MIN_CHARS = 3
"""Two-character terms (事業, 計画) are too generic to gloss a quote usefully."""
_PAREN = re.compile(r"[(（]([^)）]*)[)）]")


@dataclass(frozen=True)
class Entry:
    terms: dict[str, tuple[str, ...]]
    """Language -> the term's spellings in that language."""


def parse_rows(text: str) -> list[Entry]:
    """Table rows ``a | b | c`` whose cells are in at least two languages."""
    entries: list[Entry] = []
    for line in text.split("\n"):
        if line.count("|") < 1:
            continue
        terms: dict[str, list[str]] = {}
        for cell in (c.strip() for c in line.split("|")):
            if not cell or cell.isdigit() or len(cell) > 120:
                continue
            lang = detect_lang(cell)
            if lang in ("vi", "ja", "en") and lang not in terms:
                terms[lang] = _spellings(cell)
        if len(terms) >= 2 and ("vi" in terms or "ja" in terms):
            entries.append(Entry({k: tuple(v) for k, v in terms.items()}))
    return entries


def _spellings(cell: str) -> list[str]:
    """'Cơ chế tín chỉ chung (JCM)' -> ['Cơ chế tín chỉ chung', 'JCM'];  'a / b' -> ['a', 'b']."""
    out: list[str] = []
    inner = _PAREN.findall(cell)
    outer = _PAREN.sub(" ", cell)
    for part in re.split(r"\s*/\s*|、|;", outer):
        part = normalize_text(part).strip(" \"'“”「」")
        if len(part) >= 2:
            out.append(part)
    out.extend(i.strip() for i in inner if len(i.strip()) >= 2)
    return list(dict.fromkeys(out))


class Glossary:
    def __init__(self, entries: list[Entry]) -> None:
        self.entries = entries

    @classmethod
    def from_collection(cls, collection: Any) -> "Glossary":
        """Load the rows of every public chunk tagged ``glossary``."""
        try:
            page = collection.get(
                where={"$and": [{"tags": {"$contains": "glossary"}}, {"visibility": "public"}]},
                include=["documents"],
            )
        except Exception:
            return cls([])
        entries: list[Entry] = []
        seen: set[tuple] = set()
        for text in page["documents"] or []:
            for entry in parse_rows(text):
                key = tuple(sorted((k, v) for k, v in entry.terms.items()))
                if key not in seen:
                    seen.add(key)
                    entries.append(entry)
        return cls(entries)

    def translate(self, query: str, source_lang: str) -> dict[str, list[str]]:
        """Glossary terms of other languages for the terms that occur in ``query``."""
        out: dict[str, list[str]] = {}
        for _, others in self.matches(query, source_lang):
            for lang, spellings in others.items():
                out.setdefault(lang, []).extend(spellings)
        return {lang: list(dict.fromkeys(terms)) for lang, terms in out.items()}

    def matches(self, query: str, source_lang: str) -> list[tuple[str, dict[str, tuple[str, ...]]]]:
        """(the spelling that occurs in ``query``, the entry's spellings in the other languages) per entry.

        Answers use the pairing to tell which of the question's words a passage in
        another language matches ("Osaka Gas" by 大阪ガス), not merely that it matches some.
        """
        folded = _fold(query)
        out: list[tuple[str, dict[str, tuple[str, ...]]]] = []
        for entry in self.entries:
            found = [s for s in entry.terms.get(source_lang, ()) if _occurs(_fold(s), folded, source_lang)]
            if found:
                out.append((found[0], {lang: terms for lang, terms in entry.terms.items() if lang != source_lang}))
        return out


    def pairs(self, text: str, source_lang: str, target_lang: str) -> list[tuple[str, str]]:
        """(term as ``text`` spells it, its ``target_lang`` equivalent) for glossary terms in ``text``.

        Used to gloss quoted evidence in the asker's language; the longest
        terms come first, and a term inside a longer one already glossed is skipped.
        """
        folded = _fold(text)
        found: list[tuple[str, str]] = []
        for entry in self.entries:
            targets = entry.terms.get(target_lang, ())
            if not targets:
                continue
            for spelling in entry.terms.get(source_lang, ()):
                if len(spelling) >= GLOSS_MIN_CHARS and _occurs(_fold(spelling), folded, source_lang):
                    found.append((spelling, targets[0]))
                    break
        found.sort(key=lambda pair: -len(pair[0]))
        kept: list[tuple[str, str]] = []
        for source, target in found:
            if not any(_fold(source) in _fold(longer) for longer, _ in kept) and target not in (t for _, t in kept):
                kept.append((source, target))
        return kept


def _fold(text: str) -> str:
    return strip_diacritics(normalize_text(text).lower())


def _occurs(term: str, folded_query: str, lang: str) -> bool:
    if lang == "ja":
        return len(term) >= 2 and term in folded_query
    # Latin script: whole words only, and at least two syllables or an acronym.
    if len(term) < 3:
        return False
    return re.search(rf"(?<![\w]){re.escape(term)}(?![\w])", folded_query) is not None

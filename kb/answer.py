"""Extractive answers: the evidence sentences that best answer the question, cited.

Used when no LLM endpoint is configured (the offline default) and as the
fallback when the endpoint fails. The answer only ever contains sentences
copied from retrieved passages, each followed by its citation marker, so it
cannot say anything the documents do not.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from kb.messages import answer_lang, message
from kb.retrieve import Hit
from kb.text import detect_lang, split_sentences, strip_diacritics

MAX_SENTENCES = 3
EVIDENCE_HITS = 5


@dataclass
class Citation:
    n: int
    doc_id: str
    title: str
    source: str
    page: int | None
    lang: str
    text: str
    section: str | None = None
    chunk_id: str = ""
    used: list[str] = field(default_factory=list)
    """The sentences of ``text`` the answer quotes (for highlighting)."""


@dataclass
class Answer:
    question: str
    lang: str
    answer: str
    found: bool
    mode: str
    citations: list[Citation]
    notes: list[str] = field(default_factory=list)
    """System notes in the asker's language (LLM fallback, removed citations)."""
    standalone_query: str = ""
    """The follow-up rewritten as a self-contained query (what was searched)."""
    stripped_citations: list[str] = field(default_factory=list)
    """Citation markers the LLM wrote that named no given passage, e.g. ["[7]"]."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def extractive_answer(question: str, hits: list[Hit], lang: str | None = None, min_similarity: float = 0.80) -> Answer:
    lang = answer_lang(lang or detect_lang(question))
    terms = query_terms(question)
    scored: list[tuple[float, int, str]] = []
    for rank, hit in enumerate(hits[:EVIDENCE_HITS]):
        for position, sentence in enumerate(split_sentences(hit.text)):
            if len(sentence) < 8:
                continue
            overlap = term_overlap(terms, sentence)
            prior = 1.0 / (rank + 1) + 0.05 / (position + 1)
            scored.append((overlap * 2.0 + prior, rank, sentence))
    best_similarity = max((h.similarity for h in hits), default=0.0)
    if not scored or best_similarity < min_similarity:
        return not_found(question, lang, hits)
    scored.sort(key=lambda item: -item[0])
    chosen: list[tuple[int, str]] = []
    for _, rank, sentence in scored:
        if any(sentence == s for _, s in chosen):
            continue
        chosen.append((rank, sentence))
        if len(chosen) == MAX_SENTENCES:
            break
    numbering: dict[int, int] = {}
    citations: list[Citation] = []
    parts: list[str] = []
    for rank, sentence in chosen:
        if rank not in numbering:
            numbering[rank] = len(numbering) + 1
            citations.append(citation_for(hits[rank], numbering[rank]))
        citations[numbering[rank] - 1].used.append(sentence)
        parts.append(f"{sentence} [{numbering[rank]}]")
    evidence_langs = {hits[rank].lang for rank, _ in chosen}
    prefix = ""
    if lang not in evidence_langs and len(evidence_langs) == 1:
        prefix = message(f"other_lang_{evidence_langs.pop()}", lang) + "\n"
    return Answer(question, lang, prefix + "\n".join(parts), True, "extractive", citations)


def not_found(question: str, lang: str, hits: list[Hit]) -> Answer:
    text = message("not_found", lang)
    titles = list(dict.fromkeys(h.title for h in hits[:3] if h.title))
    if titles:
        text += "\n" + message("nearest", lang) + " " + "; ".join(titles)
    return Answer(question, lang, text, False, "extractive", [])


def citation_for(hit: Hit, n: int) -> Citation:
    return Citation(n, hit.doc_id, hit.title, hit.source, hit.page, hit.lang, hit.text, hit.section, hit.chunk_id)


_WORD = re.compile(r"[0-9]+(?:[./,-][0-9A-Za-zĐđ]+)*|[^\W\d_]+", re.UNICODE)
_CJK_RUN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]+")
_STOP = set(
    "là gì của có được không các những và cho trong với nào bao nhiêu khi nào ai ở đâu như thế sao thì "
    "đã sẽ này đó một theo về hay hoặc do bởi tại the of and what which who when how is are"
    .split()
)


def query_terms(text: str) -> set[str]:
    """Lexical features: Latin/number words (accents folded) and CJK bigrams."""
    terms: set[str] = set()
    for word in _WORD.findall(text.lower()):
        if _CJK_RUN.fullmatch(word):
            continue
        if word not in _STOP and (len(word) > 1 or word.isdigit()):
            terms.add(strip_diacritics(word))
    for run in _CJK_RUN.findall(text):
        if len(run) == 1:
            terms.add(run)
        terms.update(run[i : i + 2] for i in range(len(run) - 1))
    return terms


def term_overlap(terms: set[str], sentence: str) -> float:
    if not terms:
        return 0.0
    return len(terms & query_terms(sentence)) / len(terms)

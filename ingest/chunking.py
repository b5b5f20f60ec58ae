"""Split units into chunks measured in the embedder's own tokens.

Chunks never cross a unit boundary, so every chunk has exactly one page or
section to cite. Separators prefer paragraph, line and sentence ends in both
scripts (。！？ for Japanese, ". " for Vietnamese and English) before falling
back to clauses and words.
"""

from __future__ import annotations

import hashlib
from typing import Callable

from langchain_core.documents import Document
from langchain_text_splitters import RecursiveCharacterTextSplitter

from kb.text import detect_lang, script_counts

SEPARATORS = ["\n\n", "\n", "。", "！", "？", "!", "?", ". ", "; ", "；", "、", ", ", "，", " ", ""]


def make_splitter(count_tokens: Callable[[str], int], size: int, overlap: int) -> RecursiveCharacterTextSplitter:
    return RecursiveCharacterTextSplitter(
        separators=SEPARATORS,
        keep_separator="end",
        chunk_size=size,
        chunk_overlap=overlap,
        length_function=count_tokens,
        strip_whitespace=True,
    )


def chunk_units(
    units: list[Document],
    doc_meta: dict,
    count_tokens: Callable[[str], int],
    size: int = 200,
    overlap: int = 40,
) -> list[Document]:
    """Chunks with ids, positions, per-chunk language and the document's metadata.

    ``chunk_id`` hashes the document id, the position and the text, so an
    unchanged file yields the same ids on every run (re-ingest is a no-op)
    and an edited one yields new ids only where it changed.
    """
    splitter = make_splitter(count_tokens, size, overlap)
    chunks: list[Document] = []
    for unit in units:
        for piece in splitter.split_text(unit.page_content):
            position = len(chunks)
            lang = chunk_lang(piece, doc_meta.get("lang"))
            metadata = {
                **doc_meta,
                **unit.metadata,
                "position": position,
                "lang": lang,
                "n_tokens": count_tokens(piece),
                "chunk_id": chunk_id(doc_meta["doc_id"], position, piece),
            }
            chunks.append(Document(page_content=piece, metadata=metadata, id=metadata["chunk_id"]))
    return chunks


def chunk_lang(text: str, doc_lang: str | None) -> str:
    """A passage's language: what it looks like, unless it is written in the document's language too.

    A Vietnamese passage quoted in a Japanese report is Vietnamese. But a glossary
    row or a source list holds both languages, and script counts alone called the
    Vietnamese glossary's rows Japanese (a fifth of their letters are kanji): they
    then ranked as other-language evidence for every Vietnamese question. A list of
    URLs or English names keeps the document's language as well.
    """
    lang = detect_lang(text)
    if doc_lang not in ("vi", "ja") or lang == doc_lang:
        return lang
    if lang not in ("vi", "ja") or _holds(text, doc_lang):
        return doc_lang
    return lang


def _holds(text: str, lang: str) -> bool:
    """Whether a good part of ``text`` is written in ``lang`` (a twentieth of its letters kana or
    kanji: a glossary row of English and Vietnamese names beside one Japanese term; or a
    third Latin with Vietnamese marks), though another language may dominate it."""
    counts = script_counts(text)
    cjk = counts["kana"] + counts["han"]
    letters = cjk + counts["latin"]
    if not letters:
        return False
    if lang == "ja":
        return cjk / letters >= 0.05
    return counts["latin"] / letters >= 0.3 and counts["vi"] / counts["latin"] >= 0.03


def chunk_id(doc_id: str, position: int, text: str) -> str:
    digest = hashlib.sha256(f"{doc_id}\x00{position}\x00{text}".encode()).hexdigest()
    return f"{doc_id}:{digest[:16]}"

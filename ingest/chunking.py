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

from kb.text import detect_lang

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
            # A Vietnamese or Japanese passage is what it looks like; a list of
            # URLs or English names inside a vi/ja document keeps the document's language.
            lang = detect_lang(piece)
            if lang not in ("vi", "ja") and doc_meta.get("lang") in ("vi", "ja"):
                lang = doc_meta["lang"]
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


def chunk_id(doc_id: str, position: int, text: str) -> str:
    digest = hashlib.sha256(f"{doc_id}\x00{position}\x00{text}".encode()).hexdigest()
    return f"{doc_id}:{digest[:16]}"

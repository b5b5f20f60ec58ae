"""The knowledge base as one object: what the CLI, the app and the tests call.

It owns the embedder, the store and the retriever for one configuration, so
a caller never wires Chroma, models or filters together by hand.
"""

from __future__ import annotations

import threading
from functools import cached_property
from typing import Any

from kb.answer import Answer, extractive_answer
from kb.config import Config
from kb.embeddings import get_embeddings
from kb.filters import Filters
from kb.manifest import Manifest
from kb.retrieve import Hit, KakehashiRetriever, Retriever
from kb.store import describe, open_store
from kb.text import detect_lang

__version__ = "0.1.0"


class KnowledgeBase:
    def __init__(self, config: Config | None = None) -> None:
        self.config = config or Config.from_env()
        self._lock = threading.Lock()

    @cached_property
    def embeddings(self):
        return get_embeddings(self.config.embedder, self.config.embed_batch)

    @cached_property
    def store(self):
        return open_store(self.config, self.embeddings)

    @cached_property
    def retriever(self) -> Retriever:
        return Retriever(self.store._collection, self.embeddings)

    def as_langchain_retriever(self, k: int = 5, filters: Filters | None = None) -> KakehashiRetriever:
        return KakehashiRetriever(retriever=self.retriever, k=k, filters=filters or Filters())

    # ------------------------------------------------------------------ queries
    def search(self, query: str, k: int | None = None, filters: Filters | None = None) -> list[Hit]:
        return self.retriever.search(query, k or self.config.top_k, filters)

    def ask(self, question: str, lang: str | None = None, filters: Filters | None = None, k: int = 8) -> Answer:
        """Answer in the asker's language (detected unless ``lang`` is given)."""
        asked_in = lang if lang in ("vi", "ja", "en") else detect_lang(question)
        hits = self.search(question, k, filters)
        return extractive_answer(question, hits, asked_in)

    # ------------------------------------------------------------------ facts
    def stats(self) -> dict[str, Any]:
        collection = self.store._collection
        per_lang: dict[str, int] = {}
        offset = 0
        while True:
            page = collection.get(include=["metadatas"], limit=5000, offset=offset)
            if not page["ids"]:
                break
            for meta in page["metadatas"]:
                lang = (meta or {}).get("lang", "other")
                per_lang[lang] = per_lang.get(lang, 0) + 1
            offset += len(page["ids"])
        documents = self.documents()
        return {
            "documents": sum(1 for d in documents if d["status"] == "ok"),
            "failed_files": sum(1 for d in documents if d["status"] == "failed"),
            "chunks": sum(per_lang.values()),
            "chunks_per_lang": dict(sorted(per_lang.items())),
            "documents_per_lang": _count(d["lang"] for d in documents if d["status"] == "ok"),
            "embedding_model": getattr(self.embeddings, "model_name", "?"),
            "embedding_dim": getattr(self.embeddings, "dim", None),
            "store": describe(self.config),
            "data_dir": str(self.config.data_dir),
            "version": __version__,
        }

    def documents(self) -> list[dict[str, Any]]:
        """The manifest as rows: one per file, with status and errors."""
        if not self.config.manifest_path.exists():
            return []
        manifest = Manifest(self.config.manifest_path)
        try:
            return [
                {
                    "doc_id": r.doc_id,
                    "title": r.title or r.path.rsplit("/", 1)[-1],
                    "lang": r.lang,
                    "format": r.format,
                    "pages": r.pages,
                    "chunks": r.chunks,
                    "ingested_at": r.ingested_at,
                    "status": r.status,
                    "error": r.error,
                    "path": r.path,
                    "visibility": r.meta.get("visibility", "public"),
                    "translation_of": r.meta.get("translation_of"),
                }
                for r in manifest.all()
            ]
        finally:
            manifest.close()


def _count(values) -> dict[str, int]:
    out: dict[str, int] = {}
    for value in values:
        out[value or "other"] = out.get(value or "other", 0) + 1
    return dict(sorted(out.items()))

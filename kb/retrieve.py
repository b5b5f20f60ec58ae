"""Dense retrieval over the Chroma collection, language-aware.

multilingual-e5 prefers passages in the query's own language: a Vietnamese
question ranks off-topic Vietnamese text above the Japanese passage that
answers it. So besides the plain query we query each corpus language on its
own (a ``lang`` filter inside the store) and fuse the lanes with reciprocal
rank fusion: the best Japanese passage competes with the best Vietnamese one
instead of with the tenth.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever

from kb.filters import Filters
from kb.text import normalize_text

RRF_K = 60
CORPUS_LANGS = ("vi", "ja")


@dataclass
class Hit:
    doc_id: str
    chunk_id: str
    title: str
    source: str
    page: int | None
    lang: str
    score: float
    text: str
    section: str | None = None
    similarity: float = 0.0
    metadata: dict[str, Any] = field(default_factory=dict, repr=False)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.pop("metadata")
        out["score"] = round(self.score, 4)
        out["similarity"] = round(self.similarity, 4)
        return out

    def to_document(self) -> Document:
        return Document(page_content=self.text, metadata={**self.metadata, "score": self.score}, id=self.chunk_id)


class Retriever:
    def __init__(self, collection: Any, embeddings: Embeddings) -> None:
        self.collection = collection
        self.embeddings = embeddings

    def search(self, query: str, k: int = 5, filters: Filters | None = None) -> list[Hit]:
        query = normalize_text(query)
        if not query:
            return []
        filters = filters or Filters()
        vector = self.embeddings.embed_query(query)
        depth = max(k * 3, 20)
        if filters.lang and filters.lang != "any":
            lanes = [self._dense(vector, depth, filters)]
        else:
            lanes = [self._dense(vector, depth, filters)]
            lanes += [self._dense(vector, depth, filters.with_lang(lang)) for lang in CORPUS_LANGS]
        return fuse(lanes)[:k]

    def _dense(self, vector: list[float], n: int, filters: Filters) -> list[Hit]:
        result = self.collection.query(
            query_embeddings=[vector],
            n_results=n,
            where=filters.where(),
            include=["documents", "metadatas", "distances"],
        )
        hits = []
        for chunk_id, text, meta, distance in zip(
            result["ids"][0], result["documents"][0], result["metadatas"][0], result["distances"][0]
        ):
            hits.append(hit_from_record(chunk_id, text, meta or {}, 1.0 - float(distance)))
        return hits


def hit_from_record(chunk_id: str, text: str, meta: dict[str, Any], similarity: float) -> Hit:
    page = meta.get("page")
    return Hit(
        doc_id=str(meta.get("doc_id", "")),
        chunk_id=chunk_id,
        title=str(meta.get("title", "")),
        source=str(meta.get("source", "")),
        page=int(page) if page is not None else None,
        lang=str(meta.get("lang", "")),
        score=similarity,
        text=text,
        section=meta.get("section"),
        similarity=similarity,
        metadata=meta,
    )


def fuse(lanes: list[list[Hit]], k: int = RRF_K) -> list[Hit]:
    """Reciprocal rank fusion: robust to lanes whose scores are not comparable."""
    scores: dict[str, float] = {}
    best: dict[str, Hit] = {}
    for lane in lanes:
        for rank, hit in enumerate(lane):
            scores[hit.chunk_id] = scores.get(hit.chunk_id, 0.0) + 1.0 / (k + rank + 1)
            if hit.chunk_id not in best or hit.similarity > best[hit.chunk_id].similarity:
                best[hit.chunk_id] = hit
    ranked = sorted(scores, key=lambda cid: (-scores[cid], -best[cid].similarity))
    out = []
    for chunk_id in ranked:
        hit = best[chunk_id]
        hit.score = scores[chunk_id]
        out.append(hit)
    return out


class KakehashiRetriever(BaseRetriever):
    """The same search as a LangChain retriever, for chains and agents."""

    retriever: Any
    k: int = 5
    filters: Filters = Filters()

    model_config = {"arbitrary_types_allowed": True}

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        return [hit.to_document() for hit in self.retriever.search(query, self.k, self.filters)]

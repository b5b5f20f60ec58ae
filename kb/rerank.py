"""Optional second-stage reranking with a sentence-transformers ``CrossEncoder``.

Off by default (no reranker ships offline). A user who has, say,
BAAI/bge-reranker-v2-m3 sets ``KAKEHASHI_RERANKER`` to its name or folder;
the fused candidates are then re-ordered by the cross-encoder's scores.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kb.embeddings import EmbedderUnavailable


class CrossEncoderReranker:
    def __init__(self, model: str, max_candidates: int = 30) -> None:
        try:
            from sentence_transformers import CrossEncoder
        except ImportError as exc:  # pragma: no cover - in requirements.txt
            raise EmbedderUnavailable("sentence-transformers is not installed: pip install -r requirements.txt") from exc
        path = Path(model).expanduser()
        try:
            self._model = CrossEncoder(str(path) if path.exists() else model, device="cpu",
                                       local_files_only=not path.exists())
        except Exception as exc:
            raise EmbedderUnavailable(
                f"Cannot load the reranker {model!r} ({type(exc).__name__}: {str(exc).splitlines()[0][:200]}). "
                "Point KAKEHASHI_RERANKER at a local model folder, or unset it to search without reranking."
            ) from exc
        self.model_name = model
        self.max_candidates = max_candidates

    def scores(self, query: str, texts: list[str]) -> list[float]:
        return [float(s) for s in self._model.predict([(query, t) for t in texts], show_progress_bar=False)]

    def rerank(self, query: str, hits: list[Any]) -> list[Any]:
        """Order the first ``max_candidates`` hits by cross-encoder score; the rest keep their order."""
        head, tail = hits[: self.max_candidates], hits[self.max_candidates :]
        if not head:
            return hits
        scored = sorted(zip(self.scores(query, [h.text for h in head]), range(len(head))), key=lambda p: (-p[0], p[1]))
        ordered = []
        for score, index in scored:
            hit = head[index]
            hit.metadata = {**hit.metadata, "rerank_score": score}
            ordered.append(hit)
        return ordered + tail

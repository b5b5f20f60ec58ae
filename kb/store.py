"""The vector store: langchain-chroma over an embedded or a server Chroma.

Chroma never embeds anything itself here: the collection is created with no
embedding function (so it cannot reach for its default model download), and
the model that filled it is recorded in the collection's metadata. Opening a
collection with a different model is refused, because mixing vector spaces
silently returns nonsense.
"""

from __future__ import annotations

import os
import uuid
from typing import Any

from langchain_chroma import Chroma
from langchain_core.embeddings import Embeddings

from kb.config import Config
from kb.embeddings import embedding_identity

# Chroma's client reads this at import; make sure nothing phones home even if
# some code path builds a client without our Settings.
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")


class EmbeddingMismatch(RuntimeError):
    """The index was built with another embedding model than the configured one."""


class StoreUnavailable(RuntimeError):
    """The Chroma server (or data directory) cannot be reached or opened."""


_clients: dict[tuple, Any] = {}


def cosine() -> dict[str, Any]:
    """How every passage-vector collection measures distance (a new dict: Chroma's client adds keys to it)."""
    return {"hnsw": {"space": "cosine"}}


def chroma_client(config: Config):  # -> chromadb.api.ClientAPI
    """One client per data dir or server per process (Chroma wants a singleton)."""
    import chromadb
    from chromadb.config import Settings

    settings = Settings(anonymized_telemetry=False, allow_reset=False)
    if config.uses_chroma_server:
        key: tuple = ("http", config.chroma_host, config.chroma_port)
        if key not in _clients:
            try:
                _clients[key] = chromadb.HttpClient(
                    host=config.chroma_host, port=config.chroma_port, settings=settings
                )
            except Exception as exc:
                raise StoreUnavailable(
                    f"Cannot reach the Chroma server at {config.chroma_host}:{config.chroma_port} "
                    f"({exc}). Start it with `chroma run --path DIR --port {config.chroma_port}`, "
                    "or unset KAKEHASHI_CHROMA_HOST to use the embedded store."
                ) from exc
        return _clients[key]
    path = config.chroma_dir.resolve()
    key = ("local", str(path))
    if key not in _clients:
        path.mkdir(parents=True, exist_ok=True)
        _clients[key] = chromadb.PersistentClient(path=str(path), settings=settings)
    return _clients[key]


def open_store(config: Config, embeddings: Embeddings) -> Chroma:
    """Open (or create) the collection, refusing a model that does not match it."""
    model, dim = embedding_identity(embeddings)
    client = chroma_client(config)
    store = Chroma(
        client=client,
        collection_name=config.collection,
        embedding_function=embeddings,
        collection_metadata={"embedding_model": model, "embedding_dim": dim},
        collection_configuration=cosine(),
    )
    meta = store._collection.metadata or {}
    if meta.get("embedding_model") != model or int(meta.get("embedding_dim", dim)) != dim:
        raise EmbeddingMismatch(
            f"The index in {describe(config)} was built with {meta.get('embedding_model')!r} "
            f"({meta.get('embedding_dim')} dimensions) but the configured embedder is {model!r} "
            f"({dim} dimensions). Re-index with `python -m ingest --reindex PATH...`, "
            "or set KAKEHASHI_EMBEDDER back to the model the index was built with."
        )
    if config.uses_chroma_server:
        # Replicas share the vectors but each keeps its own keyword index: make this
        # data dir's keyword index follow the server's changes (kb/keyword.py).
        from kb.keyword import follow

        follow(config.keyword_path, lambda: generation_stamp(client, config.collection), config.keyword_sync_seconds)
    return store


GENERATION_KEY = "keyword_generation"
STAMP_KEY = "keyword_stamp"


def bump_generation(collection: Any) -> int:
    """Record in the collection's metadata that its chunks changed; returns the new generation.

    Called by ingestion after every write (add, replace, remove, prune), so
    other replicas sharing this Chroma server know their local keyword index
    is stale. The counter says how often; the random stamp makes two
    replicas that bump at the same moment still produce a value no reader
    has seen (a read-modify-write of the counter alone could lose one).
    Chroma's ``modify(metadata=...)`` replaces the whole metadata, so the
    existing keys (``embedding_model``, ``embedding_dim``) are carried over.
    """
    fresh = collection._client.get_collection(collection.name)  # the cached .metadata may be stale
    meta = dict(fresh.metadata or {})
    generation = int(meta.get(GENERATION_KEY, 0)) + 1
    meta[GENERATION_KEY] = generation
    meta[STAMP_KEY] = f"{generation}-{uuid.uuid4().hex[:12]}"
    collection.modify(metadata=meta)
    return generation


def generation_stamp(client: Any, name: str) -> tuple[str, Any]:
    """(stamp, collection) as the server has them now: the stamp changes with every write.

    The collection's id is part of the stamp, so a dropped and re-created
    collection (``--reindex``) is a change even though its counter restarts.
    """
    collection = client.get_collection(name)
    meta = collection.metadata or {}
    return f"{collection.id}/{meta.get(STAMP_KEY, '0')}", collection


def describe(config: Config) -> str:
    if config.uses_chroma_server:
        return f"chroma server {config.chroma_host}:{config.chroma_port}/{config.collection}"
    return f"{config.chroma_dir}/{config.collection}"


def drop_collection(config: Config) -> None:
    """Delete the whole collection (used by ``--reindex`` after a model change), its side collections too.

    The language shadows go after the collection: a crash in between leaves
    shadows without a collection, which the next writer's backfill ignores
    (it only runs when the registry that marks them complete is gone too) and
    the next drop removes.
    """
    from kb import facets, shadows

    client = chroma_client(config)
    try:
        client.delete_collection(config.collection)
    except Exception:
        pass  # it did not exist
    shadows.drop(config.collection, client)
    facets.drop(config.collection, client)


def sibling(collection: Any, name: str, create: bool, metadata: dict[str, Any], vectors: bool = False) -> Any | None:
    """The collection ``name`` beside ``collection``, through the same (embedded or HTTP) API; None if absent.

    Side collections (kb/facets.py, kb/shadows.py) must live on the same
    server and database as the passages they describe, whoever opened them.
    ``vectors``: it holds passage vectors, so it measures cosine like the
    main collection.
    """
    from chromadb.api.models.Collection import Collection

    api = collection._client
    where = {"tenant": collection.tenant, "database": collection.database}
    try:
        if create:
            model = api.get_or_create_collection(
                name=name, metadata=metadata, configuration=cosine() if vectors else None, **where
            )
        else:
            model = api.get_collection(name=name, **where)
    except Exception:
        if create:
            raise
        return None  # not created yet, or dropped by a re-index
    return Collection(client=api, model=model, embedding_function=None)

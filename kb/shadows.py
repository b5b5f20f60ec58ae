"""Per-language shadow collections: one language's passages, asked without a ``where``.

Why: multilingual-e5 ranks the query's own language far ahead, so the dense
lane needs each corpus language's own best passages (kb/retrieve.py). Asked
of the whole collection with ``where={"lang": ...}``, Chroma first builds the
set of allowed ids from its SQLite metadata: 140-300 ms per query at 100k
chunks, against 1-5 ms for an unfiltered query of 30 on a collection that
holds one language (bench/scale.md). So every chunk is also written to
``<collection>.lang.<lang>``: its id, vector and metadata, not its text.

How it stays correct with several writers and replicas on one Chroma server,
and with a writer killed anywhere:

* **Shadow first on write, main first on delete.** :func:`write` upserts the
  shadows, then the main collection; :func:`delete` deletes from the main
  collection, then from the shadows. So every chunk the main collection holds
  is in its language's shadow; a crash leaves extra shadow records, never a
  missing one.
* **Readers validate against the main collection.** A shadow hit is used only
  if the main collection still holds the id with the very metadata the shadow
  matched (kb/retrieve.py): the shadow's ``where`` was then evaluated inside
  the store on the chunk's current metadata. Text, metadata and vector come
  from the main collection; a record deleted or rewritten since is dropped.
* **Complete, or not used.** An index written before this has no shadows:
  :func:`ensure_complete` (ingestion runs it when it opens the store, after
  kb/facets.py's scan) copies every chunk once, checks that none was missed,
  and only then adds :data:`MARKER` to kb/facets.py's registry. Readers use
  the shadows only when the marker is there and every declared language can
  name a shadow; otherwise the dense lane asks the main collection with
  ``lang`` filters, as it did before.
* **Reconciled.** Extra records left by a crash, and the copy a chunk leaves in
  its old language's shadow when its language changes, are removed when their
  file is written again (:func:`ids_by_lang`, by path) and by :func:`prune`
  (``python -m ingest --prune``).

Every writer must run this version: a writer that upserts the main collection
alone would add chunks no shadow holds (the same rule as kb/facets.py).
"""

from __future__ import annotations

import re
from typing import Any, Iterable, Mapping, Sequence

from kb import facets
from kb.store import sibling

SUFFIX = ".lang."
MARKER = "__lang_shadows__"
"""In kb/facets.py's registry: every chunk of the collection is in its language's shadow."""
_NAMEABLE = re.compile(r"^[a-z]{2,12}$")
WRITE_BATCH = 1000


def shadow_name(collection_name: str, lang: str) -> str:
    return f"{collection_name}{SUFFIX}{lang}"


def nameable(lang: Any) -> bool:
    """Whether chunks of ``lang`` have a shadow (a language code; a chunk without one has none)."""
    return isinstance(lang, str) and bool(_NAMEABLE.match(lang))


def open_shadow(collection: Any, lang: str, create: bool = False) -> Any | None:
    """The shadow of ``lang``; None if no chunk of that language was ever written."""
    name = shadow_name(collection.name, lang)
    return sibling(collection, name, create, {"kakehashi": "lang-shadow", "lang": lang}, vectors=True)


def existing(collection: Any) -> dict[str, Any]:
    """Every shadow of ``collection``, by language (one listing request)."""
    from chromadb.api.models.Collection import Collection

    api, prefix = collection._client, collection.name + SUFFIX
    return {
        model.name[len(prefix):]: Collection(client=api, model=model, embedding_function=None)
        for model in api.list_collections(tenant=collection.tenant, database=collection.database)
        if model.name.startswith(prefix)
    }


def write(
    collection: Any,
    ids: Sequence[str],
    embeddings: Sequence[Sequence[float]],
    documents: Sequence[str],
    metadatas: Sequence[Mapping[str, Any]],
) -> None:
    """Upsert chunks: into their languages' shadows first, then into the collection."""
    _mirror(collection, ids, embeddings, metadatas)
    collection.upsert(ids=list(ids), embeddings=list(embeddings), documents=list(documents), metadatas=list(metadatas))


def _mirror(
    collection: Any, ids: Sequence[str], embeddings: Sequence[Any], metadatas: Sequence[Mapping[str, Any] | None]
) -> None:
    by_lang: dict[str, list[int]] = {}
    for row, meta in enumerate(metadatas):
        lang = (meta or {}).get("lang")
        if nameable(lang):
            by_lang.setdefault(lang, []).append(row)
    for lang, rows in by_lang.items():
        shadow = open_shadow(collection, lang, create=True)
        for start in range(0, len(rows), WRITE_BATCH):
            part = rows[start : start + WRITE_BATCH]
            shadow.upsert(ids=[ids[r] for r in part], embeddings=[embeddings[r] for r in part],
                          metadatas=[metadatas[r] for r in part])


def delete(collection: Any, ids: Iterable[str]) -> None:
    """Delete chunks: from the collection first, then from every shadow."""
    ids = sorted(set(ids))
    if not ids:
        return
    collection.delete(ids=ids)
    for shadow in existing(collection).values():
        shadow.delete(ids=ids)


def ids_where(collection: Any, where: Mapping[str, Any]) -> set[str]:
    """Ids the shadows hold under ``where`` (e.g. one file's path), whether or not the collection has them."""
    return set().union(*ids_by_lang(collection, where).values())


def ids_by_lang(collection: Any, where: Mapping[str, Any]) -> dict[str, set[str]]:
    """Per shadow language, the ids it holds under ``where``."""
    return {lang: set(shadow.get(where=dict(where), include=[])["ids"]) for lang, shadow in existing(collection).items()}


def forget(collection: Any, ids_by_shadow: Mapping[str, Iterable[str]]) -> None:
    """Delete ids from the named shadows only: a chunk whose language changed (an edited
    ``lang:``, a relabelled mixed-language passage) leaves its old language's shadow."""
    misplaced = {lang: sorted(set(ids)) for lang, ids in ids_by_shadow.items() if ids}
    if not misplaced:
        return  # the usual case: no listing request on every write
    shadows = existing(collection)
    for lang, ids in misplaced.items():
        for start in range(0, len(ids), WRITE_BATCH):
            if lang in shadows:
                shadows[lang].delete(ids=ids[start : start + WRITE_BATCH])


def is_complete(registry: Iterable[str] | None) -> bool:
    """Whether kb/facets.py's registry records (:func:`kb.facets.records`) mark the shadows complete."""
    return registry is not None and MARKER in registry


def ensure_complete(collection: Any, page: int = 5000) -> None:
    """Copy every chunk into its shadow once, then mark the shadows complete.

    Run by a writer when it opens the store; at 100k chunks it takes one to
    two minutes and happens once per collection. Offset paging can skip a
    chunk when another writer deletes meanwhile, so the ids are compared
    afterwards and any the shadows lack are copied before the marker is set.
    Writers that run meanwhile mirror their own chunks (:func:`write`).
    """
    if is_complete(facets.records(collection)):
        return
    offset = 0
    while True:
        got = collection.get(include=["embeddings", "metadatas"], limit=page, offset=offset)
        if not got["ids"]:
            break
        _mirror(collection, got["ids"], got["embeddings"], got["metadatas"])
        offset += len(got["ids"])
    while True:
        langs = _main_langs(collection, page)
        missing = sorted({cid for cid, lang in langs.items() if nameable(lang)} - _shadowed(collection))
        if not missing:
            break
        got = collection.get(ids=missing, include=["embeddings", "metadatas"])
        _mirror(collection, got["ids"], got["embeddings"], got["metadatas"])
    facets.mark(collection, MARKER)


def prune(collection: Any, page: int = 5000) -> int:
    """Remove shadow records the collection lacks (or holds in another language); returns how many.

    The shadows are listed before the collection, so a chunk another writer
    is adding (shadow, then collection) is either in both listings or in
    neither. Records found extra are deleted, then looked up in the
    collection again: any that a writer added meanwhile are mirrored back.
    """
    shadows = existing(collection)
    listed = {lang: set(shadow.get(include=[])["ids"]) for lang, shadow in shadows.items()}
    langs = _main_langs(collection, page)
    removed = 0
    for lang, ids in listed.items():
        extra = sorted(cid for cid in ids if langs.get(cid) != lang)
        for start in range(0, len(extra), WRITE_BATCH):
            shadows[lang].delete(ids=extra[start : start + WRITE_BATCH])
        if extra:
            back = collection.get(ids=extra, include=["embeddings", "metadatas"])
            _mirror(collection, back["ids"], back["embeddings"], back["metadatas"])
            removed += len(extra) - len(back["ids"])
    return removed


def _main_langs(collection: Any, page: int) -> dict[str, Any]:
    """Chunk id -> language, for every chunk of the main collection (metadata only)."""
    out: dict[str, Any] = {}
    offset = 0
    while True:
        got = collection.get(include=["metadatas"], limit=page, offset=offset)
        if not got["ids"]:
            return out
        out.update((cid, (meta or {}).get("lang")) for cid, meta in zip(got["ids"], got["metadatas"]))
        offset += len(got["ids"])


def _shadowed(collection: Any) -> set[str]:
    return {cid for shadow in existing(collection).values() for cid in shadow.get(include=[])["ids"]}


def drop(collection_name: str, client: Any) -> None:
    """Delete the shadows with their collection (a re-index starts without them)."""
    prefix = collection_name + SUFFIX
    for model in client.list_collections():
        name = model if isinstance(model, str) else model.name
        if name.startswith(prefix):
            try:
                client.delete_collection(name)
            except Exception:
                pass  # another process dropped it first

"""Which ``visibility`` and ``lang`` values a collection may hold, so no-op filters can be dropped.

Why: at 100k chunks a Chroma query with a metadata ``where`` costs 130-400 ms
against 2-30 ms without one (bench/scale.md), and the public view always
carries ``visibility in [public]``. When every chunk in the collection is
public, that clause excludes nothing; dropping it from the ``where`` changes
no result and still enforces the visibility. It may only be dropped when
that is *provably* so, including with several replicas and ingestion
processes writing to one Chroma server.

How it stays provable:

* **Declared before written.** Every writer declares the values it is
  about to store (:func:`declare`) *before* it upserts the chunks. A
  declaration is one record per value in a small side collection
  (``<collection>.facets``): upserts of distinct ids never lose each other,
  unlike the collection's metadata, which Chroma replaces whole (two
  replicas writing it at once would drop one's value). Declarations are
  only ever added, so the set is a superset of what is stored; removing the
  last internal document keeps ``internal`` declared (no elision, still
  correct) until a re-index drops the side collection with the collection.
* **Complete, or unknown.** A collection filled before this existed (or by
  a writer that does not declare) has no declarations; reading it gives
  ``None`` and nothing is elided. :func:`ensure_complete` (run by ingestion
  when it opens the store) scans the stored metadata once, declares what it
  finds, then writes a ``complete`` marker; only a marked set is trusted.
* **Fresh before, checked after.** A writer that declares a value no one
  declared before waits ``GRACE_SECONDS`` before writing its chunks, and a
  reader elides only with values read less than ``FRESH_SECONDS`` ago, so a
  restricted chunk cannot reach a query that left its clause out. The
  reader then reads the declarations again after its queries (one small
  request); if a value appeared meanwhile (a reader stalled for longer than
  the grace), the results are dropped and the query is asked again with
  every clause. A chunk was declared before it was written, so that second
  read always sees its value.
"""

from __future__ import annotations

import time
from typing import Any, Iterable, Mapping

FIELDS = ("visibility", "lang")
MISSING = ""
"""Declared for a chunk without the field: a ``$in`` filter excludes such a chunk, so it blocks elision."""
COMPLETE = "__complete__"
SUFFIX = ".facets"

GRACE_SECONDS = 2.0
"""A writer's pause between declaring a new value and writing chunks that carry it.

Only for a visibility some principal may not see (anything but ``public``):
a public chunk, or one in a new language, that reaches a query which left a
clause out shows nobody anything they may not see, and the check after the
query re-asks the lane without the stale elision."""
FRESH_SECONDS = 1.0
"""A reader elides only with declarations read this recently (less than the grace)."""

Present = Mapping[str, frozenset[str]]
"""Field -> the values the collection may hold (a superset of what it holds)."""


def side_name(collection_name: str) -> str:
    return collection_name + SUFFIX


def _side(collection: Any, create: bool) -> Any | None:
    """The side collection; None if absent (no writer declared for this collection yet, or re-indexed)."""
    from kb.store import sibling

    return sibling(collection, side_name(collection.name), create, {"kakehashi": "facets"})


def _record_id(field: str, value: str) -> str:
    return f"{field}={value}"


def values_of(metadatas: Iterable[Mapping[str, Any] | None]) -> dict[str, set[str]]:
    """The facet values a batch of chunk metadatas carries (a missing field is :data:`MISSING`)."""
    out: dict[str, set[str]] = {f: set() for f in FIELDS}
    for meta in metadatas:
        for field in FIELDS:
            value = (meta or {}).get(field)
            out[field].add(MISSING if value is None else str(value))
    return out


def _restricting(ids: set[str]) -> bool:
    """Whether a visibility some principal may not see (anything but ``public``) is among ``ids``."""
    return any(i.startswith("visibility=") and i != _record_id("visibility", "public") for i in ids)


def declare(collection: Any, values: Mapping[str, Iterable[str]], known: set[str] | None = None) -> None:
    """Record that ``collection`` may hold ``values``; call *before* writing the chunks.

    ``known`` (record ids this writer already declared) saves the request when
    nothing is new; it is updated in place.
    """
    ids = sorted({_record_id(f, v) for f, vs in values.items() for v in vs} - (known or set()))
    if not ids:
        return
    side = _side(collection, create=True)
    new = set(ids) - set(side.get(ids=ids, include=[])["ids"])
    if new:
        side.upsert(ids=sorted(new), embeddings=[[1.0]] * len(new), metadatas=[{"declared": True}] * len(new))
        if _restricting(new):  # readers holding the old set stop using it before the chunks land
            time.sleep(GRACE_SECONDS)
    if known is not None:
        known.update(ids)


def records(collection: Any) -> frozenset[str] | None:
    """Every record id of the registry (declarations and markers), in one request; None if there is none."""
    side = _side(collection, create=False)
    if side is None:
        return None
    try:
        return frozenset(side.get(include=[])["ids"])
    except Exception:  # dropped between the two requests
        return None


def present_in(ids: Iterable[str] | None) -> Present | None:
    """The declared values among registry ``ids``, or None when they are not known to be complete."""
    if ids is None or COMPLETE not in ids:
        return None
    out: dict[str, set[str]] = {f: set() for f in FIELDS}
    for rid in ids:
        field, sep, value = rid.partition("=")
        if sep and field in out:
            out[field].add(value)
    return {f: frozenset(v) for f, v in out.items()}


def read(collection: Any) -> Present | None:
    """The declared values, or None when the declarations are not known to be complete."""
    return present_in(records(collection))


def mark(collection: Any, marker: str) -> None:
    """Add ``marker`` (a record id without ``=``) to the registry: a fact about the collection that only ever becomes true."""
    _side(collection, create=True).upsert(ids=[marker], embeddings=[[1.0]], metadatas=[{"declared": True}])


def ensure_complete(collection: Any, page: int = 5000) -> set[str]:
    """Declare every value already stored, once, then mark the declarations complete.

    Run by a writer before it writes (ingestion does it when it opens the
    store). The scan reads metadata only; at 100k chunks it takes a few
    seconds and happens once per collection. Writers that run meanwhile
    declare their own values before writing, so the union stays a superset.
    Returns the declared record ids (a writer's ``known`` set).
    """
    side = _side(collection, create=True)
    have = set(side.get(include=[])["ids"])
    if COMPLETE in have:
        return have
    found: dict[str, set[str]] = {f: set() for f in FIELDS}
    offset = 0
    while True:
        got = collection.get(include=["metadatas"], limit=page, offset=offset)
        if not got["ids"]:
            break
        for field, vs in values_of(got["metadatas"]).items():
            found[field] |= vs
        offset += len(got["ids"])
    for field in FIELDS:  # offset paging can skip a chunk if another writer deletes meanwhile
        while True:
            other = collection.get(where={field: {"$nin": sorted(found[field]) or [MISSING]}}, limit=1,
                                   include=["metadatas"])
            if not other["ids"]:
                break
            found[field] |= values_of(other["metadatas"])[field]
    declare(collection, found, have)
    mark(collection, COMPLETE)
    have.add(COMPLETE)
    return have


def drop(collection_name: str, client: Any) -> None:
    """Forget the declarations with their collection (a re-index starts from an empty set)."""
    try:
        client.delete_collection(side_name(collection_name))
    except Exception:
        pass  # there were none

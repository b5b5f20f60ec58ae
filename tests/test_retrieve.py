"""Hybrid retrieval on the indexed sample corpus: languages, references, filters, twins."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from kb.filters import Filters
from kb.keyword import KeywordIndex
from kb.retrieve import Hit, Retriever, is_question, length_mismatch, sentence_coverage, shared_numbers
from kb.tokenize import neutral_only, search_tokens, tokens

ROOT = Path(__file__).resolve().parent.parent


def _doc_ids(hits) -> list[str]:
    return [d for h in hits for d in (h.doc_id, *(t.doc_id for t in h.twins))]


# ------------------------------------------------------------------ tokens
def test_japanese_tokens_keep_solar_and_generation_apart():
    terms = tokens("太陽光発電の設備")
    assert "w:太陽光" in terms and "w:発電" in terms
    assert not any(t.startswith("w:の") for t in terms)  # particles dropped


def test_vietnamese_tokens_fold_diacritics_and_keep_references_whole():
    terms = tokens("Nghị định 06/2022/NĐ-CP về khí nhà kính")
    assert {"w:nghi", "w:nghị", "w:dinh", "w:nghi_dinh", "n:06/2022/nd-cp", "n:6", "w:khí", "w:khi"} <= set(terms)
    assert set(tokens("nghi dinh 06")) <= set(terms)
    assert neutral_only(tokens("Quyết định 896/QĐ-TTg năm 2022")) == ["n:896/qd-ttg", "n:896", "n:qd-ttg", "n:2022"]


def test_a_query_with_tone_marks_does_not_also_search_the_bare_syllables():
    assert search_tokens("khí nhà kính") == ["w:khí", "w:nhà", "w:khi_nha", "w:kính", "w:nha_kinh"]
    assert "w:nghi_dinh" in search_tokens("Nghị định 06")  # bigrams are kept: they are always folded
    assert search_tokens("nghi dinh 06") == tokens("nghi dinh 06")  # typed without marks: every form counts
    assert search_tokens("太陽光発電") == tokens("太陽光発電")


def test_numbers_read_the_same_in_both_languages():
    assert "n:4115" in tokens("4.115 tín chỉ") and "n:4115" in tokens("4,115クレジット")


# ------------------------------------------------------------------ keyword index
def test_keyword_index_replaces_files_atomically_and_filters_in_sql(tmp_path):
    index = KeywordIndex(tmp_path / "k.sqlite")
    index.replace_file("a", [("a1", "Nghị định 06/2022/NĐ-CP", {"doc_id": "a", "lang": "vi", "visibility": "internal"})])
    index.replace_file("b", [("b1", "政令06/2022/NĐ-CP", {"doc_id": "b", "lang": "ja", "tags": ["law"]})])
    assert index.search(tokens("nghi dinh 06"))[0][0] == "a1"
    assert [c for c, _ in index.search(tokens("06/2022/NĐ-CP"), filters=Filters(visibility=("public",)))] == ["b1"]
    assert [c for c, _ in index.search(tokens("06/2022/NĐ-CP"), filters=Filters(tags=("law",)))] == ["b1"]
    index.replace_file("a", [])
    assert index.chunk_ids() == {"b1"}
    df, n = index.document_frequencies(["n:6", "w:unknown"])
    assert n == 1 and df == {"n:6": 1, "w:unknown": 0}


# ------------------------------------------------------------------ questions, passages, second stage
@pytest.mark.parametrize("text, asks", [
    ("車からクロスボウが発射された形跡もある模様。", False),  # a one-sentence NTREX passage
    ("Có những phát bắn ná chĩa về chiếc xe tại một số thời điểm.", False),
    ("グスタフ・マーラーの子供の人数は。", True),
    ("日本共産党の略称をアルファベット3文字で答えよ。", True),
    ("Kể tên một nhánh cao cấp của Toyota.", True),
    ("Một số người bất tuân dân sự cảm thấy cần phải thừa nhận điều gì.", True),
    ("堺市とバリア・ブンタウ省の覚書はいつ署名されたか", True),
    ("私たちは負かされました。」", False),  # quoted speech, however short
    ("彼女と子供に何が起こったのかわからない。 無事であることを願う。」", False),  # asks nothing, holds 何
    ("Ông nói: \"Tôi sẽ không bình luận gì về việc đó.\"", False),
    ("検索エンジン最適化は、周辺の要因への対処と、もうひとつは何か。」", True),  # closes on か: still asks
])
def test_a_one_sentence_statement_is_a_passage_not_a_question(text, asks):
    assert is_question(text) is asks


def test_sentence_coverage_rewards_the_query_terms_found_in_one_sentence():
    weights = {"w:マーラー": 2.0, "w:子供": 1.0}
    assert sentence_coverage(weights, "マーラーには子供が二人いた。彼は作曲家だった。") == 1.0
    assert sentence_coverage(weights, "マーラーは作曲家だった。その子供は二人いた。") == pytest.approx(2 / 3)
    assert sentence_coverage({}, "マーラー") == 0.0


def test_shared_numbers_is_the_overlap_of_numbers_codes_and_acronyms():
    numbers = set(neutral_only(tokens("2018年にCOP24で300人が参加した。")))
    assert shared_numbers(numbers, "Năm 2018 có 300 người tham gia COP24.") == 1.0
    assert shared_numbers(numbers, "Năm 2019 có 300 người tham gia.") == pytest.approx(1 / 4)


def test_shared_numbers_reads_a_decimal_comma_as_a_decimal_point():
    numbers = set(neutral_only(tokens("失業率は7.5%に上がった。")))
    assert shared_numbers(numbers, "Tỷ lệ thất nghiệp tăng lên 7,5%.") == 1.0


def test_length_mismatch_is_the_log_ratio_of_token_counts():
    assert length_mismatch(100, 100) == 0.0
    assert length_mismatch(100, 50) == pytest.approx(length_mismatch(100, 200))
    assert length_mismatch(100, None) == 0.0  # a hit that does not say is not judged


def _hit(chunk_id: str, lang: str, text: str, score: float, n_tokens: int | None = None) -> Hit:
    return Hit(doc_id=chunk_id, chunk_id=chunk_id, title="", source="", page=None, lang=lang, score=score,
               text=text, similarity=score, metadata={} if n_tokens is None else {"n_tokens": n_tokens})


class _Counter:
    """Counts a text's tokens as its characters (the second stage only asks for counts)."""

    def count_tokens(self, text: str) -> int:
        return len(text)


def test_the_second_stage_prefers_the_passage_answering_in_one_sentence(tmp_path):
    index = KeywordIndex(tmp_path / "k.sqlite")
    texts = {
        "spread": "マーラーは作曲家だった。彼は指揮者でもあった。その子供は二人いた。",
        "together": "マーラーには子供が二人いた。家族は大切だった。",
    }
    index.replace_file("f", [(cid, text, {"doc_id": cid, "lang": "ja"}) for cid, text in texts.items()])
    retriever = Retriever(collection=None, embeddings=None, keyword=index)
    hits = [_hit("spread", "ja", texts["spread"], 1.0), _hit("together", "ja", texts["together"], 0.9)]
    assert [h.chunk_id for h in retriever._rescore("マーラーの子供は何人か？", hits)] == ["together", "spread"]


def test_the_second_stage_does_not_push_another_languages_answer_down(tmp_path):
    # A Vietnamese passage cannot share a Japanese question's words; the sentence-coverage bonus
    # must not sink it below a Japanese passage that merely repeats the question's terms.
    index = KeywordIndex(tmp_path / "k.sqlite")
    texts = {
        "ja-near": "マーラーは作曲家だった。マーラーの子供について、資料は何も述べていない。",
        "vi-answer": "Mahler có hai người con.",
    }
    index.replace_file("f", [("ja-near", texts["ja-near"], {"doc_id": "ja-near", "lang": "ja"}),
                             ("vi-answer", texts["vi-answer"], {"doc_id": "vi-answer", "lang": "vi"})])
    retriever = Retriever(collection=None, embeddings=None, keyword=index)
    hits = [_hit("vi-answer", "vi", texts["vi-answer"], 1.0), _hit("ja-near", "ja", texts["ja-near"], 0.9)]
    assert [h.chunk_id for h in retriever._rescore("マーラーの子供は何人か？", hits)] == ["vi-answer", "ja-near"]


def test_the_second_stage_prefers_the_translation_sharing_the_passages_numbers():
    retriever = Retriever(collection=None, embeddings=None, keyword=None)
    passage = "2018年の選挙では、候補者の300人のうち45人が女性だった。"
    hits = [
        _hit("other", "vi", "Trong cuộc bầu cử năm 2016, 120 ứng cử viên là phụ nữ.", 1.0),
        _hit("twin", "vi", "Trong cuộc bầu cử năm 2018, 45 trong số 300 ứng cử viên là phụ nữ.", 0.95),
    ]
    assert [h.chunk_id for h in retriever._rescore(passage, hits)] == ["twin", "other"]


def test_the_second_stage_prefers_the_translation_as_long_as_the_passage():
    # A one-line quote sits near every short passage in e5's space; the translation of a
    # three-sentence passage has about as many tokens as the passage.
    retriever = Retriever(collection=None, embeddings=_Counter(), keyword=None)
    passage = "書類が漏れたのか? ああ、何。 いいえ、私は本当にひどいボディランゲージを見た。"
    hits = [
        _hit("quote", "vi", "Bạn đã lập kế hoạch chưa.", 1.0, n_tokens=10),
        _hit("twin", "vi", "Bà có để lộ thông tin không? Sao cơ. Không, tôi đã thấy ngôn ngữ cơ thể tệ.", 0.9,
             n_tokens=len(passage)),
    ]
    assert [h.chunk_id for h in retriever._rescore(passage, hits)] == ["twin", "quote"]


def test_length_is_judged_only_in_another_language_than_the_querys():
    # A question that reads as a passage (context, then the question) is much shorter than the
    # passage answering it, in its own language: that is no sign of a poor match.
    retriever = Retriever(collection=None, embeddings=_Counter(), keyword=None)
    query = "梅雨の期間中ほとんど雨が降らない場合がある。このような梅雨のことをなんというか？"
    hits = [_hit("answer", "ja", "空梅雨とは、梅雨の期間中に雨がほとんど降らない場合を言う。" * 5, 1.0, n_tokens=300),
            _hit("short", "ja", "梅雨の話。", 0.95, n_tokens=len(query))]
    assert retriever._translation_likeness(query, hits) == {"answer": 0.0, "short": 0.0}


def test_a_passage_longer_than_a_chunk_expects_whole_chunks():
    # Its translation was cut into chunks of at most ``chunk_tokens``: a whole chunk is no mismatch.
    retriever = Retriever(collection=None, embeddings=_Counter(), keyword=None, chunk_tokens=20)
    passage = "これは気候変動についての長い報告書の一文です。" * 6
    hits = [_hit("stub", "vi", "Câu ngắn.", 1.0, n_tokens=5), _hit("chunk", "vi", "Một đoạn dài.", 0.9, n_tokens=20)]
    assert retriever._translation_likeness(passage, hits)["chunk"] == 0.0
    assert [h.chunk_id for h in retriever._rescore(passage, hits)] == ["chunk", "stub"]


# ------------------------------------------------------------------ on the corpus
def test_the_retriever_knows_the_indexes_chunk_size(corpus_kb):
    assert corpus_kb.retriever.chunk_tokens == corpus_kb.config.chunk_tokens


@pytest.mark.parametrize("query, expected", [
    ("nghi dinh 06 2022", {"vi-05-vietnam-framework", "ja-05-vietnam-framework"}),
    ("896/QĐ-TTg", {"vi-05-vietnam-framework", "ja-05-vietnam-framework"}),
    ("Quyết định 1629", {"vi-06-ba-ria-vung-tau", "ja-06-ba-ria-vung-tau"}),
    ("脱炭素先行地域に選定されたのはいつ", {"ja-03-sakai-policy", "vi-03-sakai-policy"}),
])
def test_unaccented_and_legal_reference_queries(corpus_kb, query, expected):
    assert expected & set(_doc_ids(corpus_kb.search(query, 3)))


def test_vietnamese_question_finds_a_fact_only_in_japanese(corpus_kb):
    hits = corpus_kb.search("Tổ chức nào quản lý các đợt kêu gọi dự án mô hình JCM?", 5)
    assert "ja-12-jcm-subsidy-guide" in _doc_ids(hits)


def test_japanese_question_finds_a_fact_only_in_vietnamese(corpus_kb):
    hits = corpus_kb.search("スオイラオ・エコロッジ（Suối Rao Ecolodge）がカーボンニュートラルな観光地に認証されたのはいつ？", 5)
    assert "vi-11-brvt-climate-plans" in _doc_ids(hits)


def test_japanese_question_over_an_index_holding_only_vietnamese(corpus_kb):
    hits = corpus_kb.search("堺市とバリア・ブンタウ省の覚書はいつ署名されたか", 5, Filters(lang="vi"))
    assert {h.lang for h in hits} == {"vi"}
    assert "vi-01-cooperation" in _doc_ids(hits)


@pytest.mark.parametrize("question", [
    'Thuật ngữ "khu vực dẫn đầu về khử carbon" trong tiếng Nhật là gì?',
    '"Giấy chứng nhận đăng ký đầu tư" trong tiếng Nhật gọi là gì?',
    "「投資登録証明書」はベトナム語で何と言いますか？",
    "「脱炭素先行地域」に対応するベトナム語の表現は何ですか？",
])
def test_asking_what_a_term_is_called_finds_the_glossary_first(corpus_kb, question):
    # Passages that merely use the term outranked the glossary row before the glossary lane.
    assert corpus_kb.search(question, 3)[0].doc_id.endswith("08-glossary")


def test_a_passage_used_as_the_query_is_embedded_as_a_passage(corpus_kb):
    retriever = corpus_kb.retriever
    passage = "堺市は2009年に環境モデル都市に選ばれた。2021年にはゼロカーボンシティを宣言した。市は多くの事業を進めている。"
    question = "堺市が環境モデル都市に選ばれたのはいつですか？"
    assert retriever._query_vector(passage) == retriever.embeddings.embed_documents([passage])[0]
    assert retriever._query_vector(question) == retriever.embeddings.embed_query(question)


def test_filters_are_enforced_inside_every_lane(corpus_kb):
    hits = corpus_kb.search("JCM", 10, Filters(doc_ids=("ja-04-jcm",)))
    assert hits and {h.doc_id for h in hits} == {"ja-04-jcm"}
    tagged = corpus_kb.search("thuật ngữ", 5, Filters(tags=("glossary",)))
    assert tagged and all(h.doc_id.endswith("08-glossary") for h in tagged)
    dated = corpus_kb.search("JCM", 10, Filters(date_from="2026-01-01"))
    assert dated and all(int(h.metadata["date_int"]) >= 20260101 for h in dated)
    assert corpus_kb.search("JCM", 10, Filters(visibility=("internal",))) == []


def test_a_passage_and_its_translation_fold_with_the_askers_language_first(corpus_kb):
    hits = corpus_kb.search("Sakai được chọn là thành phố mô hình môi trường vào tháng 1 năm 2009", 5)
    twins = [h for h in hits if h.twins]
    assert twins, "expected the Japanese twin passage folded under the Vietnamese one"
    assert twins[0].lang == "vi" and twins[0].twins[0].lang == "ja"


def test_dense_and_bm25_methods_are_available(corpus_kb):
    for method in ("dense", "bm25", "hybrid"):
        assert corpus_kb.retriever.search("Thị Vải LNG", 3, method=method)


def test_langchain_retriever_interface(corpus_kb):
    documents = corpus_kb.as_langchain_retriever(k=2).invoke("二国間クレジット制度")
    assert len(documents) == 2 and documents[0].metadata["doc_id"]


def test_cross_encoder_reranker_wiring(corpus_config, tmp_path):
    """A locally built cross-encoder (from the packaged MiniLM) reorders the candidates."""
    from sentence_transformers import CrossEncoder

    from kb.embeddings import packaged_minilm_path
    from kb.service import KnowledgeBase

    model_dir = tmp_path / "cross-encoder"
    CrossEncoder(str(packaged_minilm_path()), num_labels=1, device="cpu").save(str(model_dir))
    kb = KnowledgeBase(dataclasses.replace(corpus_config, reranker=str(model_dir)))
    hits = kb.search("Thị Vải LNG terminal capacity", 5)
    assert all("rerank_score" in h.metadata for h in hits)  # the search went through the reranker
    candidates = kb.retriever.search("Thị Vải LNG terminal capacity", 10, method="dense")
    reranked = kb.retriever.reranker.rerank("Thị Vải LNG terminal capacity", candidates)
    scores = [h.metadata["rerank_score"] for h in reranked]
    assert scores == sorted(scores, reverse=True)
    assert {h.chunk_id for h in reranked} == {h.chunk_id for h in candidates}


def test_eval_command_contract(corpus_config, tmp_path):
    questions = tmp_path / "q.jsonl"
    questions.write_text("\n".join(json.dumps(q, ensure_ascii=False) for q in [
        {"id": "1", "lang": "vi", "question": "Nghị định 06/2022/NĐ-CP", "expected_doc_ids": ["vi-05-vietnam-framework", "ja-05-vietnam-framework"], "kind": "same"},
        {"id": "2", "lang": "ja", "question": "GECが公募を担う", "expected_doc_ids": ["ja-12-jcm-subsidy-guide"], "kind": "same"},
    ]), encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "kb", "eval", str(questions), "--method", "all", "--k", "10", "--json",
         "--data-dir", str(corpus_config.data_dir)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report["methods"]) == {"dense", "bm25", "hybrid"}
    hybrid = report["methods"]["hybrid"]
    assert {"r@1", "r@5", "r@10", "mrr@10", "p50_ms", "p95_ms"} <= set(hybrid)
    assert hybrid["r@5"] == 1.0


# ------------------------------------------------------------------ both store modes (issue #8)
def test_retrieval_is_the_same_on_a_chroma_server(mode_corpus_kb):
    """Every lane, filter and cross-language path, embedded and through ``chroma run`` (HttpClient)."""
    assert "ja-12-jcm-subsidy-guide" in _doc_ids(
        mode_corpus_kb.search("Tổ chức nào quản lý các đợt kêu gọi dự án mô hình JCM?", 5))
    only = mode_corpus_kb.search("JCM", 10, Filters(doc_ids=("ja-04-jcm",)))
    assert only and {h.doc_id for h in only} == {"ja-04-jcm"}
    dated = mode_corpus_kb.search("JCM", 10, Filters(date_from="2026-01-01"))
    assert dated and all(int(h.metadata["date_int"]) >= 20260101 for h in dated)
    assert mode_corpus_kb.search("JCM", 10, Filters(visibility=("internal",))) == []
    for method in ("dense", "bm25"):
        assert mode_corpus_kb.retriever.search("Thị Vải LNG", 3, method=method)


def test_an_ordinal_in_the_question_is_searched_in_the_other_language(corpus_kb):
    """"lần đầu tiên" (first) is searched as 最初 among Japanese passages: only the Japanese guide
    names the first JCM partner (最初のパートナー国は…モンゴル), and without the word it ranked
    below Vietnamese passages about Vietnam's own signing."""
    hits = corpus_kb.search("Nhật Bản ký JCM lần đầu tiên với quốc gia nào?", 8)
    assert any("最初のパートナー国" in h.text for h in hits), [h.chunk_id for h in hits]


def test_ordinals_are_matched_in_every_language_and_as_whole_words():
    from kb import ordinals

    first = ordinals.groups_in("最初のパートナー国")
    assert first and ordinals.groups_in("Quoc gia dau tien") == first == ordinals.groups_in("the first partner")
    assert not ordinals.groups_in("firstly, the plan")
    assert "最初" in ordinals.translations("Quốc gia đầu tiên ký JCM", "vi")["ja"]


def test_the_chunk_after_a_passage_is_fetched_under_the_callers_filters(corpus_kb):
    hit = corpus_kb.search("令和5年度公募の概要 募集期間", 5, Filters(doc_ids=("ja-01-cooperation",)))[0]
    after = corpus_kb.retriever.following(hit)
    assert after is not None and after.doc_id == hit.doc_id
    assert after.metadata["position"] == hit.metadata["position"] + 1
    assert corpus_kb.retriever.following(hit, Filters(visibility=("internal",))) is None  # a public document

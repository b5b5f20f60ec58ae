"""Chunking: each passage's language, on made-up text and on the sample corpus."""

from __future__ import annotations

from ingest.chunking import chunk_lang

GLOSSARY_ROW = ("trung hòa carbon | カーボンニュートラル | carbon neutrality\n"
                "phát thải ròng bằng 0 | ネットゼロ | net zero\n"
                "Cơ chế tín chỉ chung (JCM) | 二国間クレジット制度 | Joint Crediting Mechanism")


def test_a_passage_in_both_languages_keeps_its_documents_language():
    # A fifth of the row's letters are kana and kanji: alone, that reads as Japanese.
    assert chunk_lang(GLOSSARY_ROW, "vi") == "vi"
    assert chunk_lang(GLOSSARY_ROW, "ja") == "ja"


def test_a_passage_in_the_other_language_alone_is_that_language():
    quoted_ja = "堺市は、2021年3月に気候非常事態を宣言し、2050年までに温室効果ガス排出量の実質ゼロを目指す。"
    quoted_vi = "Thành phố Sakai tuyên bố tình trạng khẩn cấp về khí hậu vào tháng 3/2021."
    assert chunk_lang(quoted_ja, "vi") == "ja"
    assert chunk_lang(quoted_vi, "ja") == "vi"


def test_urls_and_english_names_keep_the_documents_language():
    assert chunk_lang("• moj.go.jp • env.go.jp (Ministry of the Environment)", "ja") == "ja"
    assert chunk_lang("Joint Crediting Mechanism", "vi") == "vi"
    assert chunk_lang("Joint Crediting Mechanism", None) == "en"


def test_the_sample_glossaries_are_labelled_with_their_own_language(corpus_kb):
    collection = corpus_kb.store._collection
    for doc_id, lang in (("vi-08-glossary", "vi"), ("ja-08-glossary", "ja")):
        labels = [m["lang"] for m in collection.get(where={"doc_id": doc_id}, include=["metadatas"])["metadatas"]]
        assert labels and set(labels) == {lang}, (doc_id, labels)

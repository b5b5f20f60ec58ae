"""Query tokens: what the keyword lane searches with."""

from __future__ import annotations

from kb.tokenize import search_tokens, tokens


def test_vietnamese_question_words_are_not_searched_and_no_bigram_spans_them():
    # "bao nhiêu" (how many) is the unknown; matching it, or "thua_bao", pulled in unrelated passages.
    terms = search_tokens("Đội thủ Panthers đã thua bao nhiêu điểm?")
    assert not {"w:bao", "w:nhiêu", "w:bao_nhieu", "w:thua_bao", "w:nhieu_diem"} & set(terms)
    assert {"w:panthers", "w:thua", "w:điểm"} <= set(terms)
    assert not {"w:gì", "w:nào"} & set(search_tokens("Tổ chức nào đã làm gì?"))


def test_ai_cap_is_egypt_not_who():
    assert "w:ai_cap" in search_tokens("Ai Cập nằm ở đâu?")


def test_japanese_question_words_are_not_searched():
    assert search_tokens("梅雨とは何季の一種か?") == ["w:梅雨", "w:季", "w:一種"]
    assert "w:いつ" not in search_tokens("脱炭素先行地域に選定されたのはいつ")


def test_a_place_name_is_also_found_without_its_suffix():
    # Sudachi reads 泉大津市 as one word in running text, but 泉大津 + 市長 in a question.
    in_document = tokens("南出賢一市長が率いる大阪府泉大津市の代表団")
    assert "w:泉大津" in in_document and "w:泉大津市" in in_document
    assert "w:泉大津" in tokens("泉大津市長は誰ですか？")
    assert "w:都" not in tokens("堺市と都市")  # only place names: 都市 (city) is an ordinary word


def test_the_mayor_of_a_place_written_as_one_word_in_the_documents_is_found(corpus_kb):
    answer = corpus_kb.ask("泉大津市長は誰ですか？")
    assert answer.found and "南出賢一" in answer.answer, answer.answer

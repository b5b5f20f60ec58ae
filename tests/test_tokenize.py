"""Query tokens: what the keyword lane searches with."""

from __future__ import annotations

from kb.tokenize import search_tokens


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

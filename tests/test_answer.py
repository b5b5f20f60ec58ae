"""Extractive answers on the sample corpus: what a question asks for, and when to refuse."""

from __future__ import annotations

import pytest

from kb.answer import AnswerContext, QueryProfile
from kb.messages import message


@pytest.mark.parametrize("question, lang, wants", [
    ("Ai phát biểu khai mạc buổi thảo luận ngày 25/7?", "vi", "person"),
    ("代表者の氏名を教えてください。", "ja", "person"),
    ("Dự án do công ty nào đề xuất?", "vi", "org"),
    ("事業を提案した会社はどこですか？", "ja", "org"),
    ("専門討論会はどこで開かれましたか？", "ja", "place"),
    ("Buổi thảo luận được tổ chức ở đâu?", "vi", "place"),
    ("余剰電力をどこまで売電できますか？", "ja", "number"),
    ("「投資登録証明書」はベトナム語で何と言いますか？", "ja", "term"),
    ("Sakai ký bản ghi nhớ vào ngày nào?", "vi", "date"),
    ("Hai thành phố hợp tác về lĩnh vực gì?", "vi", None),  # "hai" (two) is not "ai" (who)
])
def test_what_a_question_asks_for(question, lang, wants):
    assert QueryProfile.build(question, lang, AnswerContext()).wants == wants


@pytest.mark.parametrize("question, key", [
    ("Dự án khử carbon và thành phố thông minh Sakai – Bà Rịa – Vũng Tàu năm tài khóa 2023 do công ty nào đề xuất?",
     "Nippon Koei"),
    ("Buổi thảo luận chuyên đề ngày 25/7 giữa Bà Rịa – Vũng Tàu và Sakai diễn ra ở đâu và ai là người trình bày "
     "phía Sakai?", "Hayashi Tomoya"),
    ("2024年12月にブンタウで科学技術省が東南部地域向けに始動したプログラムは何か。出席した科学技術大臣は誰か。",
     "Huỳnh Thành Đạt"),  # asked in Japanese, answered from Vietnamese
    ("専門討論会「2050年のカーボンニュートラルに向けて」はどこで開かれましたか？", "ブンタウ市"),
    ('Thuật ngữ "khu vực dẫn đầu về khử carbon" trong tiếng Nhật là gì?', "脱炭素先行地域"),
])
def test_the_answer_leads_with_what_was_asked_for(corpus_kb, question, key):
    answer = corpus_kb.ask(question)
    assert answer.found and key in answer.answer


@pytest.mark.parametrize("question, lang", [
    ("7月25日の専門討論会で、再生可能エネルギーや水素について発表した日本企業の社名を教えてください。", "ja"),
    ("COP28で覚書に署名した堺市側とバリア・ブンタウ省側の代表者の氏名と役職を教えてください。", "ja"),
])
def test_names_the_documents_do_not_give_are_refused(corpus_kb, question, lang):
    answer = corpus_kb.ask(question)
    assert answer.found is False and answer.answer.startswith(message("not_found", lang))

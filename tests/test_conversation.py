"""Follow-up questions: bounded history, rule-based and LLM rewriting, on the real corpus."""

from __future__ import annotations

import dataclasses

import pytest

from kb.conversation import bound_history, is_follow_up, key_terms, rewrite_heuristic, standalone_query
from kb.service import KnowledgeBase
from llm_server import FakeLLMServer, Reply, Request

TARGET_BRVT = "Mục tiêu trung hòa carbon của Bà Rịa – Vũng Tàu là năm nào?"
TARGET_SAKAI = "Mục tiêu trung hòa carbon của Sakai là năm nào?"


def turn(question: str, answer: str = "…") -> list[dict[str, str]]:
    return [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]


# --------------------------------------------------------------------------- history
def test_bound_history_keeps_the_newest_messages_within_both_limits():
    history = [{"role": "user" if i % 2 == 0 else "assistant", "content": f"message {i} " + "x" * 90} for i in range(20)]
    history += [{"role": "system", "content": "ignore me"}, {"role": "user", "content": "  "}, "junk"]  # type: ignore[list-item]
    kept = bound_history(history, max_messages=6, max_chars=10_000)
    assert [m["content"].split()[1] for m in kept] == ["14", "15", "16", "17", "18", "19"]
    kept = bound_history(history, max_messages=6, max_chars=250)
    assert [m["content"].split()[1] for m in kept] == ["17", "18", "19"]
    assert sum(len(m["content"]) for m in kept) <= 250 and kept[0]["content"].endswith("…")
    assert bound_history(None) == [] and bound_history(history, max_messages=0) == []


# --------------------------------------------------------------------------- rule-based rewriting
def test_key_terms():
    terms = key_terms("Nghị định 06/2022/NĐ-CP và Bà Rịa – Vũng Tàu, Sakai cắt giảm 50% vào năm 2030; JCM設備補助事業の補助率")
    assert [(t.text, t.kind) for t in terms] == [
        ("Nghị định 06/2022/NĐ-CP", "ref"), ("Bà Rịa – Vũng Tàu", "name"), ("Sakai", "name"),
        ("50%", "number"), ("2030", "number"), ("JCM設備補助事業", "name"), ("補助率", "phrase"),
    ]
    assert key_terms("Bản ghi nhớ được ký ngày nào?") == []  # a capital that only starts the sentence


@pytest.mark.parametrize("previous, follow_up, expected", [
    (TARGET_BRVT, "còn Sakai thì sao?", TARGET_SAKAI),
    ("Bản ghi nhớ giữa Bà Rịa – Vũng Tàu và Sakai được ký ngày nào?", "Còn Đà Nẵng thì sao?",
     "Bản ghi nhớ giữa Đà Nẵng và Sakai được ký ngày nào?"),
    ("Nghị định 06/2022/NĐ-CP quy định những gì?", "Nó có hiệu lực từ khi nào?",
     "Nó có hiệu lực từ khi nào? (Nghị định 06/2022/NĐ-CP)"),
    ("JCM設備補助事業について教えてください。", "その補助率は？", "JCM設備補助事業の補助率は？"),
    ("バリア・ブンタウ省の2050年目標は？", "では堺市は？", "堺市の2050年目標は？"),
    ("When did Sakai sign the MOU with Ba Ria - Vung Tau?", "What about Da Nang?",
     "When did Da Nang sign the MOU with Ba Ria - Vung Tau?"),
    (TARGET_BRVT, "Nghị định 06/2022/NĐ-CP quy định những gì về thị trường carbon?",
     "Nghị định 06/2022/NĐ-CP quy định những gì về thị trường carbon?"),  # not a follow-up
])
def test_rule_based_rewrite(previous, follow_up, expected):
    assert rewrite_heuristic(follow_up, turn(previous)) == expected


def test_no_history_means_no_rewrite():
    assert standalone_query("còn Sakai thì sao?", []) == "còn Sakai thì sao?"
    assert is_follow_up("còn Sakai thì sao?") and is_follow_up("その補助率は？")
    assert not is_follow_up("JCM設備補助事業とは？")


def test_a_bare_follow_up_keeps_the_conversation_language():
    assert KnowledgeBase._answer_lang("2050?", None, turn("Sakai đặt mục tiêu gì?")) == "vi"
    assert KnowledgeBase._answer_lang("2050?", "ja", turn("Sakai đặt mục tiêu gì?")) == "ja"


# --------------------------------------------------------------------------- on the corpus, no LLM
def test_vietnamese_follow_up_carries_the_topic_extractively(corpus_kb):
    answer = corpus_kb.ask("còn Sakai thì sao?", history=turn(TARGET_BRVT, "Bà Rịa – Vũng Tàu: chưa rõ."))
    assert answer.question == "còn Sakai thì sao?" and answer.lang == "vi" and answer.mode == "extractive"
    assert answer.standalone_query == TARGET_SAKAI
    assert answer.found and "2050" in answer.answer
    assert any("Sakai" in c.text or "堺" in c.text for c in answer.citations)


def test_japanese_follow_up_carries_the_entity_extractively(corpus_kb):
    answer = corpus_kb.ask("その補助率は？", history=turn("JCM設備補助事業について教えてください。"))
    assert answer.standalone_query == "JCM設備補助事業の補助率は？"
    assert answer.lang == "ja" and answer.found
    assert any(c.doc_id == "ja-12-jcm-subsidy-guide" for c in answer.citations)


# --------------------------------------------------------------------------- with an LLM
REWRITE_MARK = "rewrite the user's latest question"


def scripted(rewrite: Reply, answer: Reply):
    return lambda request: rewrite if REWRITE_MARK in request.content("system") else answer




def llm_kb(config, server: FakeLLMServer, **overrides) -> KnowledgeBase:
    settings = dict(llm_provider=server.protocol, llm_base_url=server.base_url, llm_model="fake-model", llm_timeout=3.0)
    return KnowledgeBase(dataclasses.replace(config, **(settings | overrides)))


def test_llm_rewrites_the_follow_up_from_a_bounded_history(corpus_config, fakes):
    server = fakes["openai"].respond_with(scripted(
        Reply.text(TARGET_SAKAI), Reply.text("Sakai đặt mục tiêu trung hòa carbon vào năm 2050 [1].")))
    history = turn("Hợp tác bắt đầu khi nào?", "Năm 2023.") * 4 + turn(TARGET_BRVT, "Chưa rõ [1].")
    kb = llm_kb(corpus_config, server, history_turns=4, history_chars=2000)
    answer = kb.ask("còn Sakai thì sao?", history=history)

    rewrite, generate = server.chat_requests()
    user = rewrite.content("user")
    assert REWRITE_MARK in rewrite.content("system") and not rewrite.body.get("stream")
    assert user.count("<turn ") == 4, "only history_turns messages reach the model"
    assert f'<turn role="user">\n{TARGET_BRVT}\n</turn>' in user
    assert user.endswith("<question>\ncòn Sakai thì sao?\n</question>")
    assert f"<question>\n{TARGET_SAKAI}\n</question>" in generate.content("user")
    assert answer.standalone_query == TARGET_SAKAI and answer.question == "còn Sakai thì sao?"
    assert answer.mode == "llm" and answer.lang == "vi"


def test_rewrite_failure_falls_back_to_the_rule(corpus_config, fakes):
    server = fakes["ollama"].respond_with(scripted(Reply(status=500), Reply.text("堺市の補助率は最大2分の1です [1]。")))
    answer = llm_kb(corpus_config, server).ask("その補助率は？", history=turn("JCM設備補助事業について教えてください。"))
    assert answer.standalone_query == "JCM設備補助事業の補助率は？"
    assert answer.mode == "llm" and answer.notes == [] and len(server.chat_requests()) == 2


def test_llm_rewrite_output_is_cleaned(fakes, corpus_config):
    from kb.llm import chat_model

    server = fakes["openai"].script(Reply.text('Standalone question: "JCM設備補助事業の補助率は？"\n(explanation)'))
    model = chat_model(dataclasses.replace(corpus_config, llm_provider="openai", llm_base_url=server.base_url,
                                           llm_model="fake-model"))
    assert standalone_query("その補助率は？", turn("JCM設備補助事業とは？"), model) == "JCM設備補助事業の補助率は？"
    request: Request = server.chat_requests()[0]
    assert "<conversation>" in request.content("user")

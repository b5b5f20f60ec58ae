"""The Hỏi đáp / 質問 tab: streaming cited answers, a sources panel, feedback.

The chat shows the answer with its numbered markers; the panel beside it
shows each cited passage with the quoted sentences highlighted and a link to
the original file at the cited page. Answers and passages are document text
and reach the page only through :mod:`webapp.render`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import gradio as gr

from kb.answer import Answer
from kb.feedback import FeedbackEntry, FeedbackStore
from kb.service import KnowledgeBase
from webapp import kbcalls
from webapp.auth import AppAuth
from webapp.controls import FilterControls, answer_lang_choices, filter_controls
from webapp.labels import t
from webapp.localizer import Localizer
from webapp.render import answer_markdown, md_text, message_html, sources_html

EXAMPLES = [
    "Thành phố Sakai được công nhận là Thành phố mô hình môi trường từ khi nào?",
    "Mức kinh phí tối đa mỗi năm cho một dự án hợp tác liên đô thị là bao nhiêu?",
    "堺市が脱炭素先行地域に選ばれたのはいつですか？",
    "堺市とダナン市の覚書はいつ結ばれ、事業期間はいつまでですか？",
]
ICONS = Path(__file__).parent / "static"
HISTORY_MESSAGES = 8
"""Earlier messages passed to the kb, which bounds them again (follow-up questions)."""


@dataclass
class ChatTab:
    chatbot: gr.Chatbot
    question: gr.Textbox
    sources: gr.HTML
    filters: FilterControls
    last_answer: gr.State


def build_chat_tab(
    loc: Localizer, kb: KnowledgeBase, feedback: FeedbackStore, ui_lang: gr.Dropdown, lang: str, auth: AppAuth
) -> ChatTab:
    conversation = gr.State([])  # [{"role", "content"}] in plain text, for follow-up questions
    last_answer = gr.State(None)  # the latest Answer.as_dict(), for the sources panel and feedback
    last_filters = gr.State({})
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=360):
            chatbot = loc.add(
                gr.Chatbot(
                    label=t("chatbot", lang), placeholder=t("chat_placeholder", lang), height=520,
                    examples=[{"text": q} for q in EXAMPLES], latex_delimiters=[], feedback_options=None,
                    buttons=["copy"], elem_id="kh-chatbot", autoscroll=True,
                ),
                label="chatbot", placeholder="chat_placeholder",
            )
            with gr.Row():
                question = loc.add(
                    gr.Textbox(label=t("question", lang), placeholder=t("question_ph", lang), lines=1, max_lines=6,
                               scale=5, elem_id="kh-question", max_length=2000, autofocus=True),
                    label="question", placeholder="question_ph",
                )
                send = loc.add(gr.Button(t("send", lang), variant="primary", scale=1, elem_id="kh-send"), value="send")
            # Problems with the question or filters are said here, in the UI language
            # (Gradio's own toasts would title them in the browser's language).
            chat_status = gr.HTML("", elem_id="kh-chat-status", js_on_load=None)
            with gr.Row():
                answer_lang = loc.add(
                    gr.Radio(answer_lang_choices(lang), value="auto", label=t("answer_lang", lang),
                             elem_id="kh-answer-lang", scale=3),
                    label="answer_lang", choices=answer_lang_choices,
                )
                new_chat = loc.add(gr.Button(t("new_chat", lang), size="sm", scale=1, elem_id="kh-new-chat"),
                                   value="new_chat")
            filters = filter_controls(loc, kb, lang, "kh-chat")
        with gr.Column(scale=2, min_width=300):
            sources = gr.HTML(sources_html(None, lang), elem_id="kh-sources", js_on_load=None, padding=False)
            with gr.Group(elem_id="kh-feedback"):
                loc.add(gr.Markdown(f"**{t('feedback', lang)}**", elem_classes=["kh-feedback-title"]),
                        value=lambda ui: f"**{t('feedback', ui)}**")
                comment = loc.add(
                    gr.Textbox(label=t("comment", lang), placeholder=t("comment_ph", lang), lines=2, max_length=4000,
                               elem_id="kh-comment"),
                    label="comment", placeholder="comment_ph",
                )
                with gr.Row():
                    up = loc.add(gr.Button(t("thumbs_up", lang), size="sm", elem_id="kh-up", icon=str(ICONS / "thumb-up.svg")),
                                 value="thumbs_up")
                    down = loc.add(gr.Button(t("thumbs_down", lang), size="sm", elem_id="kh-down",
                                             icon=str(ICONS / "thumb-down.svg")), value="thumbs_down")
            feedback_status = gr.HTML("", elem_id="kh-feedback-status", js_on_load=None)

    def respond(
        message: str, history: list, conv: list, lang_choice: str, ui: str,
        f_lang: str, f_docs: list, f_tags: list, f_from: str, f_to: str, request: gr.Request,
    ) -> Iterator[tuple]:
        message = (message or "").strip()
        history = list(history or [])
        if not message:
            yield history, gr.update(), message, conv, gr.update(), gr.update(), "", \
                message_html(t("empty_question", ui), "error")
            return
        try:
            active = kbcalls.make_filters(f_lang, f_docs, f_tags, f_from, f_to)
        except kbcalls.BadDate as exc:
            yield history, gr.update(), message, conv, gr.update(), gr.update(), "", \
                message_html(t("bad_date", ui, value=exc.value), "error")
            return
        history += [
            {"role": "user", "content": md_text(message)},
            {"role": "assistant", "content": t("thinking", ui)},
        ]
        yield history, sources_html(None, ui), "", conv, None, {}, "", ""
        principal = auth.principal(request)  # looked up per question: a role change applies at once
        text = ""
        final: Answer | None = None
        try:
            stream = kb.ask_stream(message, lang=kbcalls.answer_lang(lang_choice), filters=active,
                                   history=(conv or [])[-HISTORY_MESSAGES:], principal=principal, surface="app")
            for part in stream:
                if isinstance(part, str):
                    text += part
                    history[-1] = {"role": "assistant", "content": answer_markdown(text)}
                    yield history, gr.update(), "", conv, None, {}, "", ""
                else:
                    final = part
        except Exception as exc:  # show the failure in the chat instead of a broken turn
            history[-1] = {"role": "assistant", "content": md_text(t("error_ask", ui, error=str(exc)))}
            yield history, sources_html(None, ui), "", conv, None, {}, "", ""
            return
        if final is None:  # the stream ended without its Answer: ask again, whole
            final = kb.ask(message, lang=kbcalls.answer_lang(lang_choice), filters=active, history=conv,
                           principal=principal, surface="app")
        result = final.as_dict()
        history[-1] = {"role": "assistant", "content": answer_markdown(result["answer"])}
        conv = (conv or []) + [{"role": "user", "content": message},
                               {"role": "assistant", "content": result["answer"]}]
        filters_used = {"lang": f_lang, "doc_ids": f_docs, "tags": f_tags, "date_from": f_from, "date_to": f_to}
        yield history, sources_html(result, ui), "", conv, result, filters_used, "", ""

    chat_inputs = [question, chatbot, conversation, answer_lang, ui_lang, *filters.inputs]
    chat_outputs = [chatbot, sources, question, conversation, last_answer, last_filters, feedback_status, chat_status]
    events = dict(fn=respond, inputs=chat_inputs, outputs=chat_outputs, api_visibility="private",
                  concurrency_id="kb", show_progress="minimal")
    send.click(**events)
    question.submit(**events)

    def pick_example(evt: gr.SelectData) -> str:
        value = evt.value
        return value.get("text", "") if isinstance(value, dict) else str(value or "")

    chatbot.example_select(pick_example, None, question, api_visibility="private", queue=False).then(**events)

    def reset(ui: str) -> tuple:
        return [], [], None, {}, "", sources_html(None, ui)

    reset_outputs = [chatbot, conversation, last_answer, last_filters, feedback_status, sources]
    new_chat.click(reset, [ui_lang], reset_outputs, api_visibility="private", queue=False)
    chatbot.clear(reset, [ui_lang], reset_outputs, api_visibility="private", queue=False)

    def rate(rating: int):
        def store(comment: str, answer: dict | None, filters_used: dict, answer_choice: str, ui: str) -> tuple:
            if not answer:
                return message_html(t("feedback_nothing", ui), "error"), comment
            feedback.add(
                FeedbackEntry(
                    rating=rating, question=answer.get("question", ""), answer=answer.get("answer", ""),
                    comment=comment or "", answer_lang=answer.get("lang"), ui_lang=ui, mode=answer.get("mode"),
                    found=answer.get("found"), citations=answer.get("citations") or [],
                    filters={**(filters_used or {}), "answer_lang": answer_choice},
                )
            )
            return message_html(t("feedback_saved", ui), "ok"), ""

        return store

    for button, rating in ((up, 1), (down, -1)):
        button.click(
            rate(rating), [comment, last_answer, last_filters, answer_lang, ui_lang], [feedback_status, comment],
            api_visibility="private", queue=False,
        )
    return ChatTab(chatbot, question, sources, filters, last_answer)

"""The Bản tóm tắt / ブリーフィング資料 tab: a cited note on a topic, with downloads.

The note is written by ``kb.brief``; this tab only collects the topic and
filters, previews the note (built as escaped HTML from its parts, so document
text inside it is shown, never run or fetched) and offers it as DOCX and
Markdown files for the workshop folder.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Any

import gradio as gr

from kb.brief import SECTIONS
from kb.service import KnowledgeBase
from webapp import kbcalls
from webapp.auth import AppAuth
from webapp.controls import FilterControls, answer_lang_choices, filter_controls
from webapp.labels import t
from webapp.localizer import Localizer
from webapp.render import brief_html, message_html


def export_files(note: Any, topic: str) -> tuple[Path, Path]:
    """Write the note as DOCX and Markdown into a fresh temporary folder (Gradio serves it from there)."""
    folder = Path(tempfile.mkdtemp(prefix="kakehashi-brief-"))
    stem = re.sub(r"[^\w-]+", "-", topic, flags=re.UNICODE).strip("-")[:40] or "brief"
    docx = folder / f"brief-{stem}.docx"
    md = folder / f"brief-{stem}.md"
    note.to_docx(docx)
    md.write_text(note.to_markdown(), encoding="utf-8")
    return docx, md


def build_brief_tab(loc: Localizer, kb: KnowledgeBase, ui_lang: gr.Dropdown, lang: str, auth: AppAuth) -> FilterControls:
    loc.add(gr.Markdown(t("brief_intro", lang)), value="brief_intro")
    with gr.Row():
        topic = loc.add(
            gr.Textbox(label=t("topic", lang), placeholder=t("topic_ph", lang), scale=4, elem_id="kh-topic",
                       max_length=500),
            label="topic", placeholder="topic_ph",
        )
        brief_lang = loc.add(
            gr.Radio(answer_lang_choices(lang), value="auto", label=t("brief_lang", lang), scale=2,
                     elem_id="kh-brief-lang"),
            label="brief_lang", choices=answer_lang_choices,
        )
    filters = filter_controls(loc, kb, lang, "kh-brief")
    make = loc.add(gr.Button(t("make_brief", lang), variant="primary", elem_id="kh-make-brief"), value="make_brief")
    with gr.Row():
        docx_button = loc.add(
            gr.DownloadButton(t("download_docx", lang), visible=False, elem_id="kh-dl-docx"), label="download_docx"
        )
        md_button = loc.add(
            gr.DownloadButton(t("download_md", lang), visible=False, elem_id="kh-dl-md"), label="download_md"
        )
    hint = loc.add(gr.Markdown(f"*{t('brief_empty', lang)}*", elem_id="kh-brief-hint"),
                   value=lambda ui: f"*{t('brief_empty', ui)}*")
    preview = gr.HTML("", elem_id="kh-brief-preview", visible=False, js_on_load=None, padding=True,
                      container=True)

    def make_brief(topic_text: str, lang_choice: str, ui: str, f_lang: str, f_docs: list, f_tags: list,
                   f_from: str, f_to: str, request: gr.Request, progress=gr.Progress()) -> list[Any]:
        topic_text = (topic_text or "").strip()
        hidden = gr.update(visible=False, value=None)

        def shown(html: str) -> dict:
            return gr.update(value=html, visible=True)

        if not topic_text:
            return [gr.update(visible=False), shown(message_html(t("empty_topic", ui), "error")), hidden, hidden]
        try:
            active = kbcalls.make_filters(f_lang, f_docs, f_tags, f_from, f_to)
        except kbcalls.BadDate as exc:
            error = message_html(t("bad_date", ui, value=exc.value), "error")
            return [gr.update(visible=False), shown(error), hidden, hidden]
        progress(0.2, desc=t("make_brief", ui))
        try:
            note = kb.brief(topic_text, lang=kbcalls.answer_lang(lang_choice), filters=active,
                            principal=auth.principal(request), surface="app")
            docx, md = export_files(note, topic_text)
        except Exception as exc:
            return [gr.update(visible=False), shown(message_html(t("error_brief", ui, error=str(exc)), "error")),
                    hidden, hidden]
        return [
            gr.update(visible=False),
            shown(brief_html(note, SECTIONS)),
            gr.update(value=str(docx), visible=True),
            gr.update(value=str(md), visible=True),
        ]

    make.click(
        make_brief, [topic, brief_lang, ui_lang, *filters.inputs], [hint, preview, docx_button, md_button],
        api_visibility="private", concurrency_id="kb",
    )
    topic.submit(
        make_brief, [topic, brief_lang, ui_lang, *filters.inputs], [hint, preview, docx_button, md_button],
        api_visibility="private", concurrency_id="kb",
    )
    return filters

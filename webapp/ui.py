"""The Gradio Blocks: a header with the language selector, four tabs, the API.

This module only lays the tabs out and wires the language switch; each tab's
behaviour lives in its own module. The page first renders in Vietnamese and
then, on load, switches to ``?lang=`` or the browser's language.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from kb.feedback import FeedbackStore
from kb.service import KnowledgeBase
from webapp.about import build_about_tab, settings_html
from webapp.api import register_api
from webapp.briefing import build_brief_tab
from webapp.chat import build_chat_tab
from webapp.controls import refreshed_choices
from webapp.documents import build_documents_tab
from webapp.labels import DEFAULT_UI_LANG, LANG_SELECTOR, pick_ui_lang, t
from webapp.localizer import Localizer
from webapp.render import sources_html
from webapp.uploads import DocumentAdmin

SET_HTML_LANG = "(lang) => { document.documentElement.lang = lang || 'vi'; }"


def header_markdown(lang: str) -> str:
    return f"# {t('title', lang)}\n{t('subtitle', lang)}"


def build_ui(kb: KnowledgeBase, feedback: FeedbackStore, admin: DocumentAdmin) -> tuple[gr.Blocks, Localizer]:
    lang = DEFAULT_UI_LANG
    loc = Localizer()
    with gr.Blocks(title="Kakehashi 架け橋 · Cầu nối", analytics_enabled=False) as demo:
        with gr.Row(elem_id="kh-header", equal_height=True):
            loc.add(gr.Markdown(header_markdown(lang), elem_id="kh-title"), value=header_markdown)
            ui_lang = loc.add(
                gr.Dropdown(LANG_SELECTOR, value=lang, label=t("ui_lang", lang), elem_id="kh-ui-lang",
                            scale=0, min_width=180, filterable=False),
                label="ui_lang",
            )
        with gr.Tabs(elem_id="kh-tabs"):
            with loc.add(gr.Tab(t("tab_chat", lang), id="chat", elem_id="kh-tab-chat"), label="tab_chat"):
                chat = build_chat_tab(loc, kb, feedback, ui_lang, lang)
            with loc.add(gr.Tab(t("tab_docs", lang), id="docs", elem_id="kh-tab-docs"), label="tab_docs"):
                docs = build_documents_tab(loc, kb, admin, ui_lang, lang)
            with loc.add(gr.Tab(t("tab_brief", lang), id="brief", elem_id="kh-tab-brief"), label="tab_brief"):
                brief_filters = build_brief_tab(loc, kb, ui_lang, lang)
            with loc.add(gr.Tab(t("tab_settings", lang), id="settings", elem_id="kh-tab-settings"),
                         label="tab_settings") as settings_tab:
                facts = build_about_tab(loc, kb, feedback, lang)
        settings_tab.select(lambda ui: settings_html(kb, feedback, ui), [ui_lang], [facts],
                            api_visibility="private", queue=False)
        register_api(kb)

        choices = refreshed_choices(kb)
        dropdowns = chat.filters.choice_outputs + brief_filters.choice_outputs
        for event in docs.events:  # new or removed documents show up in both tabs' filters
            event.then(lambda: choices() + choices(), None, dropdowns, api_visibility="private", queue=False)

        def switch(ui: str, answer: dict | None) -> list[Any]:
            return [*loc.updates(ui), sources_html(answer, ui)]

        outputs = [*loc.components, chat.sources]
        ui_lang.change(switch, [ui_lang, chat.last_answer], outputs, api_visibility="private", queue=False)
        ui_lang.change(None, [ui_lang], None, js=SET_HTML_LANG, api_visibility="private", queue=False)

        def first_open(request: gr.Request) -> str:
            return pick_ui_lang(request.query_params.get("lang"), request.headers.get("accept-language"))

        demo.load(first_open, None, [ui_lang], api_visibility="private", queue=False).then(
            None, [ui_lang], None, js=SET_HTML_LANG, api_visibility="private", queue=False
        )
    return demo, loc

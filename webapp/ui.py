"""The Gradio Blocks: a header with the language selector, four tabs, the API.

This module only lays the tabs out and wires the language switch; each tab's
behaviour lives in its own module. The page first renders in Vietnamese and
then, on load, switches to ``?lang=`` or the browser's language.

It is built once, for the public view. On load (and on a language switch)
:func:`session` fills in what depends on the visitor: who is signed in, the
documents they may see, the document controls for managers and the audit
log for administrators. Logging in posts the form to Gradio's own ``/login``
from the browser (that sets Gradio's session cookie) and reloads the page.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from kb.feedback import FeedbackStore
from kb.service import KnowledgeBase
from kb.users import Principal
from webapp.about import audit_html, build_about_tab, settings_html
from webapp.api import register_api
from webapp.briefing import build_brief_tab
from webapp.chat import build_chat_tab
from webapp.controls import refreshed_choices
from webapp.auth import AppAuth
from webapp.documents import build_documents_tab
from webapp.labels import DEFAULT_UI_LANG, LANG_SELECTOR, UI_LANGS, pick_ui_lang, t
from webapp.localizer import Localizer
from webapp.render import esc, sources_html
from webapp.uploads import DocumentAdmin

SET_HTML_LANG = "(lang) => { document.documentElement.lang = lang || 'vi'; }"

LOGIN_JS = """async (user, password, lang) => {
    const failed = %s;
    const status = document.querySelector('#kh-login-status');
    let ok = false;
    try {
        const body = new URLSearchParams({username: user || '', password: password || ''});
        const response = await fetch('login', {method: 'POST', body: body, credentials: 'same-origin'});
        ok = response.ok;
    } catch (e) { ok = false; }
    if (ok) { window.location.reload(); }
    else if (status) { status.innerHTML = '<div class="kh-msg kh-msg-error"></div>';
                       status.firstChild.textContent = failed[lang] || failed.en; }
}"""


def header_markdown(lang: str) -> str:
    return f"# {t('title', lang)}\n{t('subtitle', lang)}"


def who_html(principal: Principal, lang: str, has_users: bool) -> str:
    """Who is signed in (with a log-out link), or that this is the public view."""
    if principal.is_public:
        return f"<div class='kh-who'>{esc(t('public_view', lang))}</div>" if has_users else ""
    role = t(f"role_{principal.role}", lang)
    return (f"<div class='kh-who'>{esc(t('signed_in', lang, name=principal.name, role=role))} · "
            f"<a href='logout' id='kh-logout'>{esc(t('logout', lang))}</a></div>")


def build_ui(
    kb: KnowledgeBase, feedback: FeedbackStore, admin: DocumentAdmin, auth: AppAuth
) -> tuple[gr.Blocks, Localizer]:
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
        who = gr.HTML("", elem_id="kh-who", js_on_load=None)
        with loc.add(gr.Accordion(t("login", lang), open=False, visible=False, elem_id="kh-login"),
                     label="login") as login_box:
            with gr.Row():
                user_box = loc.add(gr.Textbox(label=t("username", lang), elem_id="kh-login-user", max_length=64,
                                              scale=2), label="username")
                password_box = loc.add(gr.Textbox(label=t("password", lang), type="password", elem_id="kh-login-password",
                                                  max_length=256, scale=2), label="password")
                login_button = loc.add(gr.Button(t("login", lang), variant="primary", elem_id="kh-login-button",
                                                 scale=1), value="login")
            gr.HTML("", elem_id="kh-login-status", js_on_load=None)
        with gr.Tabs(elem_id="kh-tabs"):
            with loc.add(gr.Tab(t("tab_chat", lang), id="chat", elem_id="kh-tab-chat"), label="tab_chat"):
                chat = build_chat_tab(loc, kb, feedback, ui_lang, lang, auth)
            with loc.add(gr.Tab(t("tab_docs", lang), id="docs", elem_id="kh-tab-docs"), label="tab_docs"):
                docs = build_documents_tab(loc, kb, admin, ui_lang, lang, auth)
            with loc.add(gr.Tab(t("tab_brief", lang), id="brief", elem_id="kh-tab-brief"), label="tab_brief"):
                brief_filters = build_brief_tab(loc, kb, ui_lang, lang, auth)
            with loc.add(gr.Tab(t("tab_settings", lang), id="settings", elem_id="kh-tab-settings"),
                         label="tab_settings") as settings_tab:
                facts, audit_box, audit = build_about_tab(loc, kb, feedback, lang)

        def on_settings(ui: str, request: gr.Request) -> list[Any]:
            principal = auth.principal(request)
            return [settings_html(kb, feedback, ui, principal), audit_html(kb, ui, principal)]

        settings_tab.select(on_settings, [ui_lang], [facts, audit], api_visibility="private", queue=False)
        register_api(kb, auth)

        choices = refreshed_choices(kb)
        dropdowns = chat.filters.choice_outputs + brief_filters.choice_outputs

        def refresh_dropdowns(request: gr.Request) -> list[Any]:
            principal = auth.principal(request)
            return choices(principal) + choices(principal)

        for event in docs.events:  # new or removed documents show up in both tabs' filters
            event.then(refresh_dropdowns, None, dropdowns, api_visibility="private", queue=False)

        def session(ui: str, request: gr.Request) -> list[Any]:
            """Everything that depends on who is looking (see the module docstring)."""
            ui = ui if ui in UI_LANGS else DEFAULT_UI_LANG
            principal = auth.principal(request)
            has_users = auth.has_users
            return [
                who_html(principal, ui, has_users),
                gr.update(visible=principal.is_public and has_users),
                *docs.session_updates(kb, kb.users.groups(), ui, principal),
                *(choices(principal) + choices(principal)),
                gr.update(visible=principal.is_admin),
                audit_html(kb, ui, principal),
                settings_html(kb, feedback, ui, principal),
            ]

        session_outputs = [who, login_box, *docs.session_outputs, *dropdowns, audit_box, audit, facts]
        login_button.click(None, [user_box, password_box, ui_lang], None, js=LOGIN_JS % _failed_messages(),
                           api_visibility="private", queue=False)
        password_box.submit(None, [user_box, password_box, ui_lang], None, js=LOGIN_JS % _failed_messages(),
                            api_visibility="private", queue=False)

        def switch(ui: str, answer: dict | None) -> list[Any]:
            return [*loc.updates(ui), sources_html(answer, ui)]

        outputs = [*loc.components, chat.sources]
        ui_lang.change(switch, [ui_lang, chat.last_answer], outputs, api_visibility="private", queue=False)
        ui_lang.change(None, [ui_lang], None, js=SET_HTML_LANG, api_visibility="private", queue=False)
        ui_lang.change(session, [ui_lang], session_outputs, api_visibility="private", queue=False)

        def first_open(request: gr.Request) -> str:
            return pick_ui_lang(request.query_params.get("lang"), request.headers.get("accept-language"))

        loaded = demo.load(first_open, None, [ui_lang], api_visibility="private", queue=False)
        loaded.then(None, [ui_lang], None, js=SET_HTML_LANG, api_visibility="private", queue=False)
        loaded.then(session, [ui_lang], session_outputs, api_visibility="private", queue=False)
    return demo, loc


def _failed_messages() -> str:
    import json

    return json.dumps({code: t("login_failed", code) for code in UI_LANGS}, ensure_ascii=False)

"""The Settings / about tab: which models answer, whether the LLM is up, the index, the version.

It is what an operator checks first when answers look wrong ("is the LLM
reachable? is the corpus all there?"), so it reports live facts, refreshed
whenever the tab is opened. Administrators also find the audit log here
(who asked what, from which surface, and which documents came back); for
everyone else that box is neither shown nor filled.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from kb.feedback import FeedbackStore
from kb.service import KnowledgeBase, __version__
from kb.users import PUBLIC, Principal
from webapp import kbcalls
from webapp.labels import LABELS, lang_name, t

LABEL_KEYS = set(LABELS)
from webapp.localizer import Localizer
from webapp.render import esc, facts_html

AUDIT_ROWS = 200


def llm_rows(status: dict[str, Any], lang: str) -> list[tuple[str, str]]:
    """The LLM's model, endpoint and reachability, whatever shape ``llm_status`` returns."""
    provider = status.get("provider")
    configured = status.get("configured", bool(provider))
    if not configured:
        return [(t("llm_model", lang), t("llm_none", lang))]
    model = status.get("model") or "?"
    endpoint = status.get("base_url") or status.get("endpoint") or "(default)"
    ok = status.get("ok", status.get("reachable"))
    state = t("llm_ok", lang) if ok else t("llm_down", lang) if ok is False else "?"
    error = status.get("error")
    if error:
        state += f" — {error}"
    return [
        (t("llm_model", lang), f"{model} ({provider})"),
        (t("llm_endpoint", lang), str(endpoint)),
        (t("llm_status", lang), state),
    ]


def settings_html(kb: KnowledgeBase, feedback: FeedbackStore, lang: str, principal: Principal = PUBLIC) -> str:
    """Live facts. Whole-index figures (which count restricted documents too) are for document
    managers; everyone else sees how many documents they themselves can search."""
    stats = kb.stats()
    per_lang = ", ".join(f"{lang_name(code, lang)}: {n}" for code, n in stats.get("chunks_per_lang", {}).items())
    counts = feedback.counts()
    models = (t("settings_model", lang), [
        (t("embedding_model", lang), f"{stats.get('embedding_model')} ({stats.get('embedding_dim')} dim)"),
        *llm_rows(kbcalls.llm_status(kb), lang),
    ])
    version = (t("version", lang), [(t("version", lang), f"Kakehashi {__version__} · Gradio {gr.__version__}")])
    if not principal.can_manage:
        visible = sum(1 for d in kb.documents(principal) if d["status"] == "ok")
        return facts_html([models, (t("index_stats", lang), [(t("stat_documents", lang), str(visible))]), version])
    return facts_html([
        models,
        (t("index_stats", lang), [
            (t("stat_documents", lang), str(stats.get("documents"))),
            (t("stat_failed", lang), str(stats.get("failed_files"))),
            (t("stat_chunks", lang), str(stats.get("chunks"))),
            (t("stat_per_lang", lang), per_lang),
            (t("stat_store", lang), str(stats.get("store"))),
            (t("stat_data_dir", lang), str(stats.get("data_dir"))),
            (t("feedback_counts", lang), f"{t('thumbs_up', lang)}: {counts['up']} · {t('thumbs_down', lang)}: {counts['down']}"),
        ]),
        version,
    ])


def audit_html(kb: KnowledgeBase, lang: str, principal: Principal, limit: int = AUDIT_ROWS) -> str:
    """The newest audit records as an escaped table; empty for anyone but an administrator."""
    if not principal.is_admin:
        return ""
    records = kb.audit.recent(limit=limit)
    if not records:
        return f"<p class='kh-audit-empty'>{esc(t('audit_empty', lang))}</p>"
    keys = ("audit_time", "audit_user", "audit_surface", "audit_action", "audit_query", "audit_docs")
    head = "".join(f"<th>{esc(t(k, lang))}</th>" for k in keys)
    rows = []
    for r in records:
        who = f"{r.user or '—'} ({t('role_' + r.role, lang) if 'role_' + r.role in LABEL_KEYS else r.role})"
        cells = (r.time.replace("T", " "), who, r.surface, r.action, r.query, ", ".join(r.doc_ids))
        rows.append("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in cells) + "</tr>")
    return f"<table class='kh-audit'><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def build_about_tab(
    loc: Localizer, kb: KnowledgeBase, feedback: FeedbackStore, lang: str
) -> tuple[gr.HTML, gr.Group, gr.HTML]:
    """(facts, the admin-only audit box, its table); the box starts hidden and the session shows it."""
    loc.add(gr.Markdown(t("about", lang)), value="about")
    # Not registered with the Localizer: what it shows depends on who is looking, so the
    # session update (page load, language switch) and opening the tab refresh it.
    facts = gr.HTML(settings_html(kb, feedback, lang), elem_id="kh-settings", js_on_load=None)
    loc.add(gr.Markdown(t("api_help", lang)), value="api_help")
    with gr.Group(visible=False, elem_id="kh-audit-box") as audit_box:
        loc.add(gr.Markdown(f"**{t('audit_title', lang)}**"), value=lambda ui: f"**{t('audit_title', ui)}**")
        audit = gr.HTML("", elem_id="kh-audit", js_on_load=None, padding=True)
    return facts, audit_box, audit

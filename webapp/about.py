"""The Settings / about tab: which models answer, whether the LLM is up, the index, the version.

It is what an operator checks first when answers look wrong ("is the LLM
reachable? is the corpus all there?"), so it reports live facts, refreshed
whenever the tab is opened.
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from kb.feedback import FeedbackStore
from kb.service import KnowledgeBase, __version__
from webapp import kbcalls
from webapp.labels import lang_name, t
from webapp.localizer import Localizer
from webapp.render import facts_html


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


def settings_html(kb: KnowledgeBase, feedback: FeedbackStore, lang: str) -> str:
    stats = kb.stats()
    per_lang = ", ".join(f"{lang_name(code, lang)}: {n}" for code, n in stats.get("chunks_per_lang", {}).items())
    counts = feedback.counts()
    return facts_html([
        (t("settings_model", lang), [
            (t("embedding_model", lang), f"{stats.get('embedding_model')} ({stats.get('embedding_dim')} dim)"),
            *llm_rows(kbcalls.llm_status(kb), lang),
        ]),
        (t("index_stats", lang), [
            (t("stat_documents", lang), str(stats.get("documents"))),
            (t("stat_failed", lang), str(stats.get("failed_files"))),
            (t("stat_chunks", lang), str(stats.get("chunks"))),
            (t("stat_per_lang", lang), per_lang),
            (t("stat_store", lang), str(stats.get("store"))),
            (t("stat_data_dir", lang), str(stats.get("data_dir"))),
            (t("feedback_counts", lang), f"{t('thumbs_up', lang)}: {counts['up']} · {t('thumbs_down', lang)}: {counts['down']}"),
        ]),
        (t("version", lang), [(t("version", lang), f"Kakehashi {__version__} · Gradio {gr.__version__}")]),
    ])


def build_about_tab(loc: Localizer, kb: KnowledgeBase, feedback: FeedbackStore, lang: str) -> gr.HTML:
    loc.add(gr.Markdown(t("about", lang)), value="about")
    facts = loc.add(gr.HTML(settings_html(kb, feedback, lang), elem_id="kh-settings", js_on_load=None),
                    value=lambda ui: settings_html(kb, feedback, ui))
    loc.add(gr.Markdown(t("api_help", lang)), value="api_help")
    return facts

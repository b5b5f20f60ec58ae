"""Controls shared by the chat and briefing tabs: search filters and language choices."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import gradio as gr

from kb.service import KnowledgeBase
from kb.users import PUBLIC, Principal
from webapp.labels import lang_name, t
from webapp.localizer import Localizer


def filter_lang_choices(lang: str) -> list[tuple[str, str]]:
    return [(t("any_lang", lang), "any")] + [(lang_name(code, lang), code) for code in ("vi", "ja", "en")]


def answer_lang_choices(lang: str) -> list[tuple[str, str]]:
    return [(t("auto", lang), "auto"), (lang_name("vi", lang), "vi"), (lang_name("ja", lang), "ja")]


def doc_choices(kb: KnowledgeBase, principal: Principal = PUBLIC) -> list[tuple[str, str]]:
    """Documents ``principal`` may see as (title [lang], doc_id), for the "only these documents" filter."""
    rows = [d for d in kb.documents(principal) if d["status"] == "ok" and d["doc_id"]]
    rows.sort(key=lambda d: (d.get("lang") or "", d.get("title") or ""))
    return [(f"{d['title']} [{d.get('lang') or '?'}]", d["doc_id"]) for d in rows]


def tag_choices(kb: KnowledgeBase, principal: Principal = PUBLIC) -> list[str]:
    return sorted({tag for d in kb.documents(principal) if d["status"] == "ok" for tag in d.get("tags") or []})


@dataclass
class FilterControls:
    lang: gr.Dropdown
    docs: gr.Dropdown
    tags: gr.Dropdown
    date_from: gr.Textbox
    date_to: gr.Textbox

    @property
    def inputs(self) -> list[Any]:
        return [self.lang, self.docs, self.tags, self.date_from, self.date_to]

    @property
    def choice_outputs(self) -> list[Any]:
        """The dropdowns whose choices follow the index (refresh after uploads)."""
        return [self.docs, self.tags]


def filter_controls(loc: Localizer, kb: KnowledgeBase, lang: str, elem_prefix: str) -> FilterControls:
    """Language, documents, tags and a date range, inside an accordion."""
    with loc.add(gr.Accordion(t("filters", lang), open=False), label="filters"):
        with gr.Row():
            f_lang = loc.add(
                gr.Dropdown(filter_lang_choices(lang), value="any", label=t("filter_lang", lang),
                            elem_id=f"{elem_prefix}-filter-lang"),
                label="filter_lang", choices=filter_lang_choices,
            )
            f_from = loc.add(
                gr.Textbox(label=t("date_from", lang), placeholder=t("date_ph", lang), max_length=10,
                           elem_id=f"{elem_prefix}-date-from"),
                label="date_from", placeholder="date_ph",
            )
            f_to = loc.add(
                gr.Textbox(label=t("date_to", lang), placeholder=t("date_ph", lang), max_length=10,
                           elem_id=f"{elem_prefix}-date-to"),
                label="date_to", placeholder="date_ph",
            )
        f_docs = loc.add(
            gr.Dropdown(doc_choices(kb), multiselect=True, value=[], label=t("filter_docs", lang),
                        elem_id=f"{elem_prefix}-filter-docs"),
            label="filter_docs",
        )
        f_tags = loc.add(
            gr.Dropdown(tag_choices(kb), multiselect=True, value=[], label=t("filter_tags", lang),
                        elem_id=f"{elem_prefix}-filter-tags"),
            label="filter_tags",
        )
    return FilterControls(f_lang, f_docs, f_tags, f_from, f_to)


def refreshed_choices(kb: KnowledgeBase) -> Callable[[Principal], list[Any]]:
    """Updates for the document and tag dropdowns, for one user, after the index changed or on login."""

    def updates(principal: Principal = PUBLIC) -> list[Any]:
        return [gr.update(choices=doc_choices(kb, principal)), gr.update(choices=tag_choices(kb, principal))]

    return updates

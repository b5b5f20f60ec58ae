"""Named API endpoints for ``gradio_client``: ``/ask``, ``/search`` and ``/brief``.

They return the same JSON the CLI prints (``kb ask --json`` for ``/ask``), so
scripts can move between the CLI and the HTTP API without re-mapping fields.
Gradio derives each endpoint's parameters from these type hints (``gr.Request``
is not a parameter: it carries the caller, from the Gradio session or HTTP
Basic; no credentials = the public view). Every call is visibility-filtered
and audited by ``kb`` itself, with surface ``api``.
"""

from __future__ import annotations

from typing import Any, Callable

import gradio as gr

from kb.service import KnowledgeBase
from webapp import kbcalls
from webapp.auth import AppAuth

MAX_K = 50


def make_api(kb: KnowledgeBase, auth: AppAuth) -> dict[str, Callable[..., Any]]:
    """The endpoint functions, bound to ``kb``, keyed by API name."""

    def ask(question: str, lang: str = "auto", request: gr.Request = None) -> dict:
        """Answer a question from the documents, with numbered citations.

        lang: auto (the question's language), vi, ja or en.
        Returns the `python -m kb ask --json` object: question, lang, answer, found, mode, citations.
        """
        question = (question or "").strip()
        if not question:
            raise gr.Error("question is empty")
        answer = kb.ask(question, lang=kbcalls.answer_lang(lang), principal=auth.principal(request), surface="api")
        return answer.as_dict()

    def search(query: str, k: int = 5, lang: str = "any", request: gr.Request = None) -> list:
        """The k passages that best match the query; lang: any, vi, ja or en."""
        query = (query or "").strip()
        if not query:
            raise gr.Error("query is empty")
        try:
            k = max(1, min(int(k), MAX_K))
        except (TypeError, ValueError):
            raise gr.Error("k must be a whole number") from None
        if lang not in ("any", "auto", "", None, *kbcalls.ANSWER_LANGS):
            raise gr.Error("lang must be any, vi, ja or en")
        hits = kb.search(query, k, kbcalls.make_filters(lang=lang), principal=auth.principal(request), surface="api")
        return [hit.as_dict() for hit in hits]

    def brief(topic: str, lang: str = "auto", request: gr.Request = None) -> dict:
        """A cited briefing note on a topic: {"brief": the note as a dict, "markdown": the note}."""
        topic = (topic or "").strip()
        if not topic:
            raise gr.Error("topic is empty")
        note = kb.brief(topic, lang=kbcalls.answer_lang(lang), principal=auth.principal(request), surface="api")
        return {"brief": note.as_dict(), "markdown": note.to_markdown()}

    return {"ask": ask, "search": search, "brief": brief}


def register_api(kb: KnowledgeBase, auth: AppAuth) -> None:
    """Declare the endpoints inside the current ``gr.Blocks`` context."""
    for name, fn in make_api(kb, auth).items():
        gr.api(fn, api_name=name, concurrency_id="kb")

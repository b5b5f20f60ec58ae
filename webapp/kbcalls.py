"""The UI's inputs turned into ``kb`` arguments, shared by the tabs and the API.

One translation of "what the user chose" (dropdown values, date boxes,
"auto") into :class:`kb.filters.Filters` and answer languages, so the chat,
the briefing tab and the HTTP API cannot drift apart.
"""

from __future__ import annotations

from typing import Any

from kb.filters import Filters
from kb.service import KnowledgeBase

ANSWER_LANGS = ("vi", "ja", "en")


class BadDate(ValueError):
    """A date box holds something that is not YYYY, YYYY-MM or YYYY-MM-DD."""

    def __init__(self, value: str, reason: str) -> None:
        super().__init__(reason)
        self.value = value


def make_filters(
    lang: str | None = None,
    doc_ids: list[str] | tuple[str, ...] | None = None,
    tags: list[str] | tuple[str, ...] | None = None,
    date_from: str | None = None,
    date_to: str | None = None,
) -> Filters:
    """Filters from form values; raises :class:`BadDate` naming a malformed date."""
    for value in (date_from, date_to):
        if value and value.strip():
            try:
                Filters(date_from=value.strip()).where()
            except ValueError as exc:
                raise BadDate(value.strip(), str(exc)) from None
    filters = Filters(
        lang=None if lang in (None, "", "any", "auto") else lang,
        doc_ids=tuple(d for d in (doc_ids or ()) if d),
        tags=tuple(t for t in (tags or ()) if t),
        date_from=(date_from or "").strip() or None,
        date_to=(date_to or "").strip() or None,
    )
    return filters


def answer_lang(choice: str | None) -> str | None:
    """``auto`` (or anything unknown) means: answer in the question's language."""
    return choice if choice in ANSWER_LANGS else None


def llm_status(kb: KnowledgeBase) -> dict[str, Any]:
    """``kb.llm_status()``, never raising: the settings page must render when the LLM is down."""
    try:
        return dict(kb.llm_status())
    except Exception as exc:
        return {"configured": bool(kb.config.llm_provider), "provider": kb.config.llm_provider,
                "model": kb.config.llm_model, "base_url": kb.config.llm_base_url, "reachable": False,
                "error": str(exc)}

"""Search filters, compiled into a Chroma ``where`` clause.

Filters run inside the store query, never on its results: a post-filter
would return fewer than k hits and, worse, would let restricted text leave
the store at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from typing import Any, Mapping


@dataclass(frozen=True)
class Filters:
    lang: str | None = None
    """vi | ja | en; None or "any" for all languages."""
    doc_ids: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    date_from: str | None = None
    """ISO date (YYYY, YYYY-MM or YYYY-MM-DD), inclusive, on the document's "as of" date."""
    date_to: str | None = None
    visibility: tuple[str, ...] = field(default_factory=tuple)
    """Visibilities the caller may see; empty means no restriction (admin/CLI)."""

    def with_lang(self, lang: str | None) -> "Filters":
        return Filters(lang, self.doc_ids, self.tags, self.date_from, self.date_to, self.visibility)

    def elide(self, present: Mapping[str, frozenset[str]] | None) -> "Filters":
        """These filters without the ``visibility`` / ``lang`` clause when it provably excludes nothing.

        ``present`` is what :func:`kb.facets.read` says the collection may hold
        (None: unknown, nothing is dropped). A clause is dropped only when its
        allowed values cover every value present, e.g. the public view over a
        corpus where everything is public: at 100k chunks that clause alone
        costs Chroma 130-400 ms per query (bench/scale.md).
        """
        if present is None:
            return self
        lang, visibility = self.lang, self.visibility
        if visibility and "visibility" in present and present["visibility"] <= set(visibility):
            visibility = ()
        if lang and lang != "any" and "lang" in present and present["lang"] <= {lang}:
            lang = None
        return replace(self, lang=lang, visibility=visibility)

    def date_range(self) -> tuple[int | None, int | None]:
        """Inclusive bounds as YYYYMMDD integers (the ``date_int`` metadata)."""
        low = _date_int(self.date_from, low=True) if self.date_from else None
        high = _date_int(self.date_to, low=False) if self.date_to else None
        return low, high

    def where(self) -> dict[str, Any] | None:
        clauses: list[dict[str, Any]] = []
        if self.lang and self.lang != "any":
            clauses.append({"lang": self.lang})
        if self.doc_ids:
            clauses.append({"doc_id": {"$in": list(self.doc_ids)}})
        for tag in self.tags:
            clauses.append({"tags": {"$contains": tag}})
        low, high = self.date_range()
        if low is not None:
            clauses.append({"date_int": {"$gte": low}})
        if high is not None:
            clauses.append({"date_int": {"$lte": high}})
        if self.visibility:
            clauses.append({"visibility": {"$in": list(self.visibility)}})
        if not clauses:
            return None
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def _date_int(value: str, low: bool) -> int:
    digits = re.sub(r"\D", "", value)[:8]
    if len(digits) < 4:
        raise ValueError(f"not a date: {value!r} (use YYYY, YYYY-MM or YYYY-MM-DD)")
    pad = "0101" if low else "1231"
    return int(digits + pad[len(digits) - 4 :])

"""Turn answers, passages and facts into safe HTML and Markdown for the UI.

Documents are untrusted input: an uploaded file may contain ``<script>``,
``onerror=`` or Markdown that tries to look like our own interface. So every
piece of document text goes through :func:`esc` (HTML) or :func:`md_text`
(Markdown) here, and the UI never interpolates document text anywhere else.
Gradio's HTML component also treats ``${...}`` and ``{{...}}`` as template
syntax, so those characters are escaped as entities too.
"""

from __future__ import annotations

import html
import re
from typing import Any, Iterable
from urllib.parse import quote

from webapp.labels import lang_name, t

_TEMPLATE_CHARS = str.maketrans({"{": "&#123;", "}": "&#125;", "$": "&#36;", "`": "&#96;", "\\": "&#92;"})
_MD_SPECIAL = re.compile(r"([\\`*_\[\]{}()#+\-.!|~$:])")
_MARKER = re.compile(r"\\\[(\d{1,3})\\\]")


def esc(text: Any) -> str:
    """Escape text for HTML, including the characters Gradio's templates interpret."""
    return html.escape("" if text is None else str(text), quote=True).translate(_TEMPLATE_CHARS)


def md_text(text: str) -> str:
    """Escape text so Markdown shows it literally: no formatting, links, HTML or maths."""
    escaped = _MD_SPECIAL.sub(r"\\\1", text)
    return escaped.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def answer_markdown(answer: str) -> str:
    """An answer as Markdown: document text shown literally, citation markers as superscripts."""
    lines = [md_text(line) for line in answer.split("\n")]
    body = "  \n".join(lines)  # keep one sentence per line
    return _MARKER.sub(lambda m: f"<sup class='kh-ref'>[{m.group(1)}]</sup>", body)


def file_url(doc_id: str, page: int | None, fmt_is_pdf: bool) -> str:
    """The file route for a citation; PDF viewers jump to ``#page=N``."""
    url = f"/files/{quote(doc_id, safe='')}"
    return f"{url}#page={int(page)}" if fmt_is_pdf and page else url


def highlight(text: str, used: Iterable[str]) -> str:
    """The passage as HTML with the sentences the answer quoted wrapped in ``<mark>``."""
    spans: list[tuple[int, int]] = []
    for sentence in used:
        span = _find(text, sentence)
        if span:
            spans.append(span)
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    out: list[str] = []
    cursor = 0
    for start, end in merged:
        out.append(esc(text[cursor:start]))
        out.append(f"<mark>{esc(text[start:end])}</mark>")
        cursor = end
    out.append(esc(text[cursor:]))
    return "".join(out).replace("\n", "<br>")


def _find(text: str, sentence: str) -> tuple[int, int] | None:
    """Where ``sentence`` occurs in ``text``, tolerating different whitespace."""
    sentence = sentence.strip()
    if not sentence:
        return None
    at = text.find(sentence)
    if at >= 0:
        return at, at + len(sentence)
    words = sentence.split()
    if not words:
        return None
    pattern = r"\s*".join(re.escape(w) for w in words)
    match = re.search(pattern, text)
    return (match.start(), match.end()) if match else None


def where_label(citation: dict[str, Any], lang: str) -> str:
    """"page 3" or "section Foo" (or nothing) in the interface language."""
    if citation.get("page"):
        unit = "slide" if str(citation.get("source", "")).lower().endswith(".pptx") else "page"
        return f"{t(unit, lang)} {citation['page']}"
    if citation.get("section"):
        return f"{t('section', lang)}: {citation['section']}"
    return ""


def sources_html(answer: dict[str, Any] | None, lang: str) -> str:
    """The sources panel: one card per cited passage, quoted sentences highlighted."""
    head = f"<div class='kh-sources'><h3 class='kh-sources-title'>{esc(t('sources', lang))}</h3>"
    if not answer:
        return head + f"<p class='kh-muted'>{esc(t('sources_empty', lang))}</p></div>"
    citations = answer.get("citations") or []
    if not citations:
        return head + f"<p class='kh-muted'>{esc(t('sources_none', lang))}</p></div>"
    cards = [head]
    for c in citations:
        is_pdf = str(c.get("source", "")).lower().endswith(".pdf")
        meta = " · ".join(
            x for x in (where_label(c, lang), lang_name(c.get("lang"), lang), str(c.get("source") or "")) if x
        )
        cards.append(
            f"<div class='kh-source' id='kh-src-{int(c['n'])}' data-doc='{esc(c.get('doc_id'))}'>"
            f"<div class='kh-source-head'><span class='kh-n'>[{int(c['n'])}]</span> "
            f"<span class='kh-source-title'>{esc(c.get('title') or c.get('doc_id'))}</span></div>"
            f"<div class='kh-source-meta'>{esc(meta)}</div>"
            f"<blockquote class='kh-passage' lang='{esc(c.get('lang') or '')}'>"
            f"{highlight(str(c.get('text') or ''), c.get('used') or [])}</blockquote>"
            f"<a class='kh-open' href='{esc(file_url(str(c.get('doc_id') or ''), c.get('page'), is_pdf))}' "
            f"target='_blank' rel='noopener noreferrer'>{esc(t('open_original', lang))} ↗</a>"
            "</div>"
        )
    mode = answer.get("mode")
    if mode:
        key = "mode_extractive" if mode == "extractive" else "mode_llm"
        cards.append(f"<p class='kh-muted kh-mode'>{esc(t(key, lang))}</p>")
    cards.append("</div>")
    return "".join(cards)


def message_html(text: str, kind: str = "info") -> str:
    """A one-line status message (info | ok | error) as safe HTML."""
    return f"<div class='kh-msg kh-msg-{esc(kind)}'>{esc(text)}</div>"


def results_html(rows: list[tuple[str, bool, str]]) -> str:
    """Upload results: one line per file, ✓ or ✗ with the reason."""
    if not rows:
        return ""
    items = "".join(
        f"<li class='{'kh-ok' if ok else 'kh-bad'}'>{'✓' if ok else '✗'} <b>{esc(name)}</b>: {esc(detail)}</li>"
        for name, ok, detail in rows
    )
    return f"<ul class='kh-results'>{items}</ul>"


def facts_html(sections: list[tuple[str, list[tuple[str, str]]]]) -> str:
    """Settings/about: titled tables of label → value, all escaped."""
    out = []
    for title, rows in sections:
        body = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in rows)
        out.append(f"<h3>{esc(title)}</h3><table class='kh-facts'>{body}</table>")
    return "<div class='kh-settings'>" + "".join(out) + "</div>"


_HTML_MARKER = re.compile(r"\[(\d{1,3}(?:[,–-]\s*\d{1,3})*)\]")


def _with_markers(escaped: str) -> str:
    return _HTML_MARKER.sub(lambda m: f"<sup class='kh-ref'>[{m.group(1)}]</sup>", escaped)


def brief_html(note: Any, sections: Iterable[str]) -> str:
    """A briefing note as HTML built from its parts (not from its Markdown).

    Rendering the Markdown export would let document text such as
    ``![x](http://elsewhere/x.png)`` become an image fetched from outside;
    building the HTML ourselves keeps every item plain escaped text.
    """
    out = [f"<article class='kh-brief' lang='{esc(note.lang)}'>", f"<h1>{esc(note.title())}</h1>",
           f"<p class='kh-muted'><em>{esc(note.byline())}</em></p>"]
    out += [f"<blockquote class='kh-note'>{esc(n)}</blockquote>" for n in note.notes]
    for key in sections:
        out.append(f"<h2>{esc(note.heading(key))}</h2>")
        items = getattr(note, key)
        if not items:
            out.append(f"<p class='kh-muted'><em>{esc(note.empty_line(key))}</em></p>")
            continue
        out.append("<ul>")
        for item in items:
            lead, rest = note.item_line(key, item)
            lead_html = f"<b>{esc(lead)}</b> — " if lead else ""
            out.append(f"<li>{lead_html}{_with_markers(esc(rest))}</li>")
        out.append("</ul>")
    out.append(f"<h2>{esc(note.heading('sources'))}</h2><ul class='kh-brief-sources'>")
    for source in note.sources:
        is_pdf = str(source.source).lower().endswith(".pdf")
        href = file_url(source.doc_id, source.page, is_pdf)
        out.append(
            f"<li>{esc(note.source_line(source))} "
            f"<a class='kh-open' href='{esc(href)}' target='_blank' rel='noopener noreferrer'>↗</a></li>"
        )
    out.append("</ul></article>")
    return "".join(out)

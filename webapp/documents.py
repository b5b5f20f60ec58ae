"""The Tài liệu / 文書 tab: upload, list, remove and re-index documents.

Uploading indexes at once, with a progress bar; each file gets its own line
in the result (✓, or ✗ with the reason), and a bad file never stops the
others. The table is the manifest: what is indexed, how big, when, and what
went wrong.

Everyone sees the table, limited to the documents they may see; only
administrators and officials (:data:`kb.users.MANAGER_ROLES`) see the upload
and maintenance controls, and every handler checks the role again on the
server, since a hidden button can still be called.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gradio as gr

from ingest.pipeline import VISIBILITY, IngestBusy
from kb.service import KnowledgeBase
from kb.users import PUBLIC, Principal
from webapp.auth import AppAuth
from webapp.labels import lang_name, t
from webapp.localizer import Localizer
from webapp.render import message_html, results_html
from webapp.uploads import ALLOWED_SUFFIXES, DocumentAdmin, UploadResult

COLUMNS = ("col_title", "col_lang", "col_format", "col_pages", "col_chunks", "col_ingested", "col_status",
           "col_visibility", "col_error", "col_source")


def visibility_name(value: str | None, lang: str) -> str:
    value = value or "public"
    if value.startswith("group:"):
        return t("vis_group", lang, name=value[len("group:"):])
    return t(f"vis_{value}", lang) if value in ("public", "internal") else value


def visibility_choices(groups: list[str], lang: str) -> list[tuple[str, str]]:
    """The upload form's choices: from the file, public, internal, and each known group."""
    return [(t("vis_auto", lang), "auto"), (t("vis_public", lang), "public"), (t("vis_internal", lang), "internal")] + [
        (t("vis_group", lang, name=g), f"group:{g}") for g in groups
    ]


def table_value(kb: KnowledgeBase, lang: str, principal: Principal = PUBLIC) -> dict[str, Any]:
    """The documents ``principal`` may see, as a table with headers in the interface language."""
    rows = []
    # Newest first: what was just uploaded (or just failed) is what the user is looking for.
    documents = sorted(kb.documents(principal), key=lambda d: d.get("source") or d["path"])
    documents.sort(key=lambda d: d.get("ingested_at") or "", reverse=True)
    for d in documents:
        rows.append([
            d.get("title") or Path(d["path"]).name,
            lang_name(d.get("lang"), lang) if d.get("lang") else "",
            d.get("format") or Path(d["path"]).suffix.lstrip("."),
            d.get("pages") if d.get("pages") is not None else "",
            d.get("chunks") if d.get("chunks") is not None else "",
            (d.get("ingested_at") or "").replace("T", " ").replace("Z", " UTC"),
            t(f"status_{d['status']}", lang) if d["status"] in ("ok", "failed", "indexing") else d["status"],
            visibility_name(d.get("visibility"), lang),
            d.get("error") or "",
            shown_path(kb, d),
        ])
    return {"headers": [t(c, lang) for c in COLUMNS], "data": rows or [[""] * len(COLUMNS)]}


def shown_path(kb: KnowledgeBase, d: dict[str, Any]) -> str:
    """Where the file is, as a user would name it: ``documents/vi/x.pdf`` or ``uploads/vi/x.md``."""
    path = Path(d["path"])
    data_dir = kb.config.data_dir.resolve()
    if path.is_relative_to(data_dir):
        return path.relative_to(data_dir).as_posix()
    return d.get("source") or path.name


def picker_choices(kb: KnowledgeBase, principal: Principal = PUBLIC) -> list[tuple[str, str]]:
    """Every manifest entry ``principal`` may manage (failed ones too) as (title — file, manifest key)."""
    if not principal.can_manage:
        return []
    out = []
    for d in kb.documents(principal):
        label = f"{d.get('title') or Path(d['path']).name} — {shown_path(kb, d)}"
        out.append((label, d["path"]))
    return sorted(out)


def describe_result(result: UploadResult, lang: str) -> str:
    if result.status == "failed":
        reason = t(result.reason_key, lang, **(result.reason_values or {})) if result.reason_key else result.reason
        return t("upload_failed", lang, reason=reason)
    if result.status == "unchanged":
        return t("upload_unchanged", lang)
    return t("upload_ok", lang, chunks=result.chunks)


@dataclass
class DocumentsTab:
    table: gr.Dataframe
    picker: gr.Dropdown
    upload_info: gr.Markdown
    events: list[Any]
    """Events that change the index (upload, delete, re-index)."""
    manage: list[Any]
    """The containers of the controls only document managers see."""
    upload_visibility: gr.Dropdown

    def session_updates(self, kb: KnowledgeBase, groups: list[str], ui: str, principal: Principal) -> list[Any]:
        """For :attr:`session_outputs`: this user's table, picker and controls."""
        shown = gr.update(visible=principal.can_manage)
        return [
            gr.update(value=table_value(kb, ui, principal), label=t("doc_table", ui)),
            gr.update(choices=picker_choices(kb, principal), value=None),
            gr.update(choices=visibility_choices(groups, ui), value="auto"),
            *[shown for _ in self.manage],
        ]

    @property
    def session_outputs(self) -> list[Any]:
        return [self.table, self.picker, self.upload_visibility, *self.manage]


def build_documents_tab(
    loc: Localizer, kb: KnowledgeBase, admin: DocumentAdmin, ui_lang: gr.Dropdown, lang: str, auth: AppAuth
) -> DocumentsTab:
    """Build the tab; ``DocumentsTab.events`` lets other tabs refresh after the index changed.

    It is built for the public view (no controls, public documents); the page
    load fills in the visitor's own table and controls (``session_updates``).
    """
    mb = f"{kb.config.max_file_mb:g}"
    upload_langs = lambda ui: [(t("auto", ui), "auto")] + [(lang_name(c, ui), c) for c in ("vi", "ja", "en")]  # noqa: E731
    with gr.Column(visible=False, elem_id="kh-doc-manage") as manage_upload:
        with gr.Row():
            upload = loc.add(
                gr.UploadButton(t("upload", lang), file_count="multiple", file_types=list(ALLOWED_SUFFIXES),
                                variant="primary", elem_id="kh-upload", scale=2),
                label="upload",
            )
            upload_lang = loc.add(
                gr.Dropdown(upload_langs(lang), value="auto", label=t("upload_lang", lang), elem_id="kh-upload-lang",
                            scale=1),
                label="upload_lang", choices=upload_langs,
            )
            upload_visibility = loc.add(
                gr.Dropdown(visibility_choices([], lang), value="auto", label=t("upload_visibility", lang),
                            elem_id="kh-upload-visibility", scale=1, allow_custom_value=True),
                label="upload_visibility",
            )
        upload_info = loc.add(gr.Markdown(t("upload_info", lang, mb=mb), elem_id="kh-upload-info"),
                              value=lambda ui: t("upload_info", ui, mb=mb))
    results = gr.HTML("", elem_id="kh-upload-results", js_on_load=None)
    # Not registered with the Localizer: its rows depend on who is looking, so the
    # session update (page load, language switch) refreshes value and label together.
    table = gr.Dataframe(table_value(kb, lang), label=t("doc_table", lang), interactive=False, wrap=True,
                         elem_id="kh-doc-table", max_height=520, datatype="str",
                         column_widths=["22%", "7%", "6%", "6%", "6%", "11%", "8%", "8%", "14%", "12%"])
    with gr.Row(visible=False, elem_id="kh-doc-actions") as manage_actions:
        picker = loc.add(
            gr.Dropdown([], value=None, label=t("pick_doc", lang), elem_id="kh-doc-picker", scale=3),
            label="pick_doc",
        )
        delete = loc.add(gr.Button(t("delete", lang), variant="stop", elem_id="kh-delete", scale=1), value="delete")
        reindex = loc.add(gr.Button(t("reindex", lang), elem_id="kh-reindex", scale=1), value="reindex")
        reindex_all = loc.add(gr.Button(t("reindex_all", lang), elem_id="kh-reindex-all", scale=1),
                              value="reindex_all")
    status = gr.HTML("", elem_id="kh-doc-status", js_on_load=None)

    def refreshed(ui: str, principal: Principal) -> list[Any]:
        return [table_value(kb, ui, principal), gr.update(choices=picker_choices(kb, principal), value=None)]

    after = [table, picker]

    def refused(ui: str, principal: Principal) -> list[Any]:
        return [message_html(t("not_allowed", ui), "error"), *refreshed(ui, principal)]

    def on_upload(files: list[str] | None, upload_choice: str, vis_choice: str, ui: str, request: gr.Request,
                  progress=gr.Progress()) -> list[Any]:
        principal = auth.principal(request)
        if not principal.can_manage:
            return refused(ui, principal)
        if not files:
            return [message_html(t("upload_none", ui), "error"), *refreshed(ui, principal)]
        visibility = None if vis_choice in (None, "", "auto") else vis_choice.strip()
        if visibility is not None and not VISIBILITY.match(visibility):
            return [message_html(t("bad_visibility", ui, value=visibility), "error"), *refreshed(ui, principal)]
        items = [(Path(f).name, Path(f)) for f in files]
        progress(0, desc=t("ingesting", ui, name=items[0][0]))
        outcome = admin.ingest_uploads(
            items, None if upload_choice == "auto" else upload_choice,
            progress=lambda frac, name: progress(frac, desc=t("ingesting", ui, name=name) if name else None),
            visibility=visibility,
        )
        rows = [(r.name, r.ok, describe_result(r, ui)) for r in outcome]
        return [results_html(rows), *refreshed(ui, principal)]

    events = []
    events.append(upload.upload(on_upload, [upload, upload_lang, upload_visibility, ui_lang], [results, *after],
                                api_visibility="private", concurrency_id="ingest", concurrency_limit=1))

    def known(key: str, principal: Principal) -> bool:
        return any(d["path"] == key for d in kb.documents(principal))

    def title_of(key: str, principal: Principal) -> str:
        return next((d.get("title") or Path(key).name for d in kb.documents(principal) if d["path"] == key), key)

    def on_delete(key: str | None, ui: str, request: gr.Request) -> list[Any]:
        principal = auth.principal(request)
        if not principal.can_manage:
            return refused(ui, principal)
        if not key:
            return [message_html(t("no_doc_picked", ui), "error"), *refreshed(ui, principal)]
        if not known(key, principal):
            return [message_html(t("unknown_doc", ui), "error"), *refreshed(ui, principal)]
        title = title_of(key, principal)
        upload_file = admin.is_upload(key)
        try:
            chunks = admin.remove(key)
        except IngestBusy:
            return [message_html(t("busy", ui), "error"), *refreshed(ui, principal)]
        text = t("deleted", ui, title=title, chunks=chunks)
        if not upload_file:
            text += " " + t("deleted_corpus_note", ui)
        return [message_html(text, "ok"), *refreshed(ui, principal)]

    def on_reindex(key: str | None, ui: str, request: gr.Request, progress=gr.Progress()) -> list[Any]:
        principal = auth.principal(request)
        if not principal.can_manage:
            return refused(ui, principal)
        if not key:
            return [message_html(t("no_doc_picked", ui), "error"), *refreshed(ui, principal)]
        if not known(key, principal):
            return [message_html(t("unknown_doc", ui), "error"), *refreshed(ui, principal)]
        title = title_of(key, principal)
        progress(0.1, desc=t("ingesting", ui, name=Path(key).name))
        result = admin.reindex(key)
        kind = "ok" if result.ok else "error"
        return [message_html(t("reindexed", ui, title=title, result=describe_result(result, ui)), kind),
                *refreshed(ui, principal)]

    def on_reindex_all(ui: str, request: gr.Request, progress=gr.Progress()) -> list[Any]:
        principal = auth.principal(request)
        if not principal.can_manage:
            return refused(ui, principal)
        progress(0, desc=t("reindex_all", ui))
        try:
            summary = admin.update_all(
                progress=lambda frac, name: progress(frac, desc=t("ingesting", ui, name=name) if name else None)
            )
        except IngestBusy:  # another writer holds the lock: nothing was changed
            return [message_html(t("busy", ui), "error"), *refreshed(ui, principal)]
        text = t("reindexed_all", ui, added=summary.added, updated=summary.updated, unchanged=summary.unchanged,
                 removed=summary.removed, failed=len(summary.failed))
        lines = [(Path(f["path"]).name, False, t("upload_failed", ui, reason=f["reason"])) for f in summary.failed]
        return [message_html(text, "ok" if not summary.failed else "error") + results_html(lines),
                *refreshed(ui, principal)]

    common = dict(api_visibility="private", concurrency_id="ingest", concurrency_limit=1)
    events.append(delete.click(on_delete, [picker, ui_lang], [status, *after], **common))
    events.append(reindex.click(on_reindex, [picker, ui_lang], [status, *after], **common))
    events.append(reindex_all.click(on_reindex_all, [ui_lang], [status, *after], **common))
    return DocumentsTab(table, picker, upload_info, events, [manage_upload, manage_actions], upload_visibility)

"""Plain HTTP routes beside the Gradio UI: the health check and cited files.

``/files/{doc_id}`` serves the original of an indexed document so a citation
can open it at the cited page. The path comes from the manifest, looked up by
document id; nothing from the URL ever becomes a filesystem path, so
``../../etc/passwd`` is just an unknown id. Files are served so that they
cannot act on this origin: HTML and text are shown as plain text, nothing is
sniffed, and a sandboxing CSP forbids scripts and remote loads. A file is
served only to someone who may see its document (session cookie or HTTP
Basic; nobody = the public view); to anyone else it is the same 404 as an
unknown id, so the route does not reveal that a restricted document exists.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse

from kb.service import KnowledgeBase, __version__
from webapp.auth import AppAuth

log = logging.getLogger("kakehashi.app")

MEDIA_TYPES = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
}
INLINE = {"pdf"}
# Everything else (HTML, Markdown, text, scans as PDF are above) is shown as
# text: an uploaded HTML page rendered on our origin would run its scripts.
TEXT_MEDIA = "text/plain; charset=utf-8"
SANDBOX_CSP = "sandbox; default-src 'none'; style-src 'unsafe-inline'"


def add_routes(app: FastAPI, kb: KnowledgeBase, auth: AppAuth | None = None) -> None:
    """Register ``/healthz`` and ``/files/{doc_id}`` on ``app`` (before Gradio is mounted)."""

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> JSONResponse:
        try:
            counts = kb.counts()
        except Exception as exc:  # a monitor wants a status, not a stack trace
            log.exception("health check failed")
            return JSONResponse({"status": "error", "error": str(exc), "version": __version__}, status_code=503)
        body: dict[str, Any] = {"status": "ok", **counts, "version": __version__}
        return JSONResponse(body)

    @app.get("/files/{doc_id}", include_in_schema=False)
    def original_file(doc_id: str, request: Request) -> FileResponse:
        name = auth.username(request) if auth is not None else ""
        if name is None:
            raise HTTPException(status_code=401, detail="wrong user name or password",
                                headers={"WWW-Authenticate": 'Basic realm="Kakehashi"'})
        principal = auth.principal(name) if auth is not None else kb.principal(None)
        found = kb.file_for_doc(doc_id, principal=principal, surface="app")
        if found is None:
            raise HTTPException(status_code=404, detail="no indexed document with this id")
        path, fmt = found
        fmt = (fmt or "").lower()
        suffix = path.suffix.lower().lstrip(".")
        kind = suffix if suffix in MEDIA_TYPES else fmt
        media = MEDIA_TYPES.get(kind) or (TEXT_MEDIA if _is_utf8(path) else "application/octet-stream")
        disposition = "inline" if kind in INLINE or media == TEXT_MEDIA else "attachment"
        headers = {
            "Content-Disposition": f"{disposition}; filename*=UTF-8''{quote(path.name)}",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-cache",
        }
        if kind not in INLINE:
            headers["Content-Security-Policy"] = SANDBOX_CSP
        return FileResponse(path, media_type=media, headers=headers)


def _is_utf8(path) -> bool:
    """Text in another encoding (Shift_JIS, CP1258) is downloaded rather than shown garbled."""
    try:
        path.read_bytes().decode("utf-8")
    except (UnicodeDecodeError, OSError):
        return False
    return True

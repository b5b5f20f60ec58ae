"""The web server: FastAPI with our routes, Gradio mounted at ``/``, run by uvicorn.

Gradio 6 mounts cleanly on a FastAPI app (``gr.mount_gradio_app``), which is
the supported way to add plain routes (``/healthz``, ``/files/{doc_id}``)
beside the UI; routes registered before the mount take precedence.

Queue sizing: the machine this targets has 2 cores. A query embeds one
sentence (the embedder serialises calls and uses every core per batch) and
then reads Chroma and SQLite, so two concurrent questions keep both cores
busy while one waits on I/O; more would only queue inside the embedder and
stretch everyone's latency. Ingestion is CPU-bound for seconds to minutes and
takes a file lock, so it runs one at a time in its own concurrency group and
never blocks questions from being answered. ``max_size`` bounds the waiting
line so an overload is refused quickly instead of timing out.

Login: Gradio's ``auth=`` checks the user store at ``POST /login``; an
``auth_dependency`` added after the mount lets anonymous visitors in with the
public view (see :mod:`webapp.auth`).
"""

from __future__ import annotations

import os
import threading
import time

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # noqa: E402
import uvicorn  # noqa: E402
from fastapi import FastAPI  # noqa: E402
from starlette.routing import Mount  # noqa: E402

from kb.feedback import FeedbackStore, feedback_path  # noqa: E402
from kb.service import KnowledgeBase  # noqa: E402
from webapp.auth import AppAuth  # noqa: E402
from webapp.routes import add_routes  # noqa: E402
from webapp.style import CSS, theme  # noqa: E402
from webapp.ui import build_ui  # noqa: E402
from webapp.uploads import DocumentAdmin  # noqa: E402

CONCURRENCY = 2
QUEUE_MAX = 64


def create_app(kb: KnowledgeBase) -> FastAPI:
    """The whole app for one knowledge base (tests build several in one process)."""
    config = kb.config
    feedback = FeedbackStore(feedback_path(config.data_dir))
    admin = DocumentAdmin(config)
    auth = AppAuth(kb)
    blocks, _ = build_ui(kb, feedback, admin, auth)
    blocks.queue(default_concurrency_limit=CONCURRENCY, max_size=QUEUE_MAX)
    app = FastAPI(title="Kakehashi", docs_url=None, redoc_url=None, openapi_url=None)
    add_routes(app, kb, auth)
    app.state.kb = kb
    app.state.feedback = feedback
    app.state.blocks = blocks
    app.state.auth = auth
    if not auth.has_users:
        print("Kakehashi: no users yet, so everyone gets the public view (public documents only); "
              "add users with: python -m kb users add NAME --role admin", flush=True)
    # Gradio refuses uploads above this before they reach us; our own check
    # (config.max_file_mb) gives the precise, translated reason below it.
    max_upload = f"{int(config.max_file_mb * 2) + 1}mb"
    gr.mount_gradio_app(
        app, blocks, path="/", server_name=config.host, server_port=config.port,
        footer_links=[], run_history=False, ssr_mode=False, show_error=True, max_file_size=max_upload,
        enable_monitoring=False, pwa=False, mcp_server=False, theme=theme(), css=CSS,
        blocked_paths=[str(config.data_dir.resolve())], auth=auth.check,
    )
    gradio_app = next(r.app for r in reversed(app.routes) if isinstance(r, Mount) and r.path == "")
    # mount_gradio_app refuses auth= and auth_dependency= together; the dependency is
    # what lets anonymous visitors in, so it is attached to the mounted app here.
    gradio_app.auth_dependency = auth.username
    auth.gradio_app = gradio_app
    app.state.gradio_app = gradio_app
    return app


def serve(app: FastAPI, host: str, port: int) -> None:
    """Serve until interrupted (``python app.py``)."""
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


class BackgroundServer:
    """The app served from a thread: for tests and the benchmark, same code path as ``serve``."""

    def __init__(self, app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> None:
        self.server = uvicorn.Server(
            uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, timeout_graceful_shutdown=2)
        )
        self.thread = threading.Thread(target=self.server.run, daemon=True, name="kakehashi-server")
        self.host = host

    def start(self, timeout: float = 60) -> "BackgroundServer":
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the app did not start")
            time.sleep(0.05)
        return self

    @property
    def port(self) -> int:
        return self.server.servers[0].sockets[0].getsockname()[1]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)

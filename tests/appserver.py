"""Start the real web app on a free loopback port, in this process, for the app tests.

The app is served exactly as ``python app.py`` serves it (same FastAPI app,
same uvicorn), minus the start-up index check: the session's corpus index is
already up to date, and tests must not re-index it.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from kb.config import Config


def start_app(config: Config):
    """(server, kb) for ``config``; stop the server with ``server.stop()``."""
    from kb.service import KnowledgeBase
    from webapp.server import BackgroundServer, create_app

    kb = KnowledgeBase(config)
    server = BackgroundServer(create_app(kb), host="127.0.0.1", port=0).start()
    return server, kb


def copy_data_dir(config: Config, target: Path) -> Config:
    """A private copy of an index (for tests that upload or delete documents), without users or logs."""
    shutil.copytree(
        config.data_dir, target,
        ignore=shutil.ignore_patterns("ingest.lock", "feedback.sqlite*", "users.sqlite*", "audit.sqlite*"),
    )
    return Config.from_env(data_dir=target, documents_dir=config.documents_dir)

"""Kakehashi's web app: ``python app.py [--host H] [--port P]``.

On start it brings the index up to date with ``documents/`` (incremental:
only new or changed files are embedded, with a progress bar), then serves the
Gradio app (chat, documents, briefing notes, settings) with ``/healthz`` and
``/files/{doc_id}`` beside it. The UI itself lives in :mod:`webapp`.
"""

from __future__ import annotations

import os

# Gradio and Chroma read these at import time: nothing may phone home.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

import argparse  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402

from kb.config import Config  # noqa: E402

log = logging.getLogger("kakehashi.app")


def ensure_index(config: Config) -> None:
    """Index ``documents/`` when the index is missing or stale (changed files only)."""
    from ingest.pipeline import Ingestor

    if not config.documents_dir.is_dir():
        log.warning("no documents folder at %s; starting with the index as it is", config.documents_dir)
        return
    print(f"Checking the index against {config.documents_dir} …", flush=True)
    ingestor = Ingestor(config, progress=True)
    summary = ingestor.run([config.documents_dir], prune=True)
    ingestor.close()
    print(
        f"Index ready: {summary.added} added, {summary.updated} updated, {summary.unchanged} unchanged, "
        f"{summary.removed} removed, {len(summary.failed)} failed ({summary.seconds:.1f}s).",
        flush=True,
    )
    for failure in summary.failed:
        print(f"  could not index {failure['path']}: {failure['reason']}", flush=True)


def parse_args(argv: list[str] | None = None) -> tuple[Config, argparse.Namespace]:
    """Flags override ``KAKEHASHI_*`` variables, which override the defaults."""
    env_config = Config.from_env()
    parser = argparse.ArgumentParser(description="Start the Kakehashi web app.")
    parser.add_argument("--host", default=env_config.host, help="bind address (default 127.0.0.1; KAKEHASHI_HOST)")
    parser.add_argument("--port", type=int, default=env_config.port, help="port (default 7860; KAKEHASHI_PORT)")
    parser.add_argument("--data-dir", type=Path, help="index location (default ./data; KAKEHASHI_DATA_DIR)")
    parser.add_argument("--no-index", action="store_true", help="skip the start-up index check")
    args = parser.parse_args(argv)
    return Config.from_env(host=args.host, port=args.port, data_dir=args.data_dir), args


def main(argv: list[str] | None = None) -> int:
    config, args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if not args.no_index:
        ensure_index(config)

    from kb.service import KnowledgeBase
    from webapp.server import create_app, serve

    kb = KnowledgeBase(config)
    app = create_app(kb)
    kb.counts()  # open the store and load the embedder now, not on the first question
    # One question per language loads Sudachi and the Vietnamese paths too: a cold first
    # burst of users otherwise waits seconds (bench/load.py measured gradio_client time-outs).
    kb.ask("Sakai và Bà Rịa – Vũng Tàu hợp tác về gì?")
    kb.ask("堺市とバリア・ブンタウ省の協力とは？")
    print(f"Kakehashi: serving on http://{config.host}:{config.port}", flush=True)
    serve(app, config.host, config.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Kakehashi's web app: ``python app.py [--host H] [--port P]``.

On start it brings the index up to date with ``documents/`` (incremental:
only new or changed files are embedded, with a progress bar), then serves a
Gradio chat that answers from the knowledge base with citations.
"""

from __future__ import annotations

import os

# Gradio reads these at import time: nothing may phone home.
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

import argparse  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402

import gradio as gr  # noqa: E402

from kb.config import Config  # noqa: E402
from kb.service import KnowledgeBase  # noqa: E402

log = logging.getLogger("kakehashi.app")

EXAMPLES = [
    "Bà Rịa–Vũng Tàu và Sakai đã ký biên bản ghi nhớ khi nào?",
    "Nghị định 06/2022/NĐ-CP quy định những gì?",
    "堺市が脱炭素先行地域に選ばれたのはいつですか？",
    "JCM設備補助事業の補助率は？",
]


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


def format_answer(result: dict) -> str:
    lines = [result["answer"]]
    if result["citations"]:
        lines.append("")
        for c in result["citations"]:
            where = f", p.{c['page']}" if c["page"] else (f", {c['section']}" if c.get("section") else "")
            lines.append(f"[{c['n']}] {c['title']} ({c['source']}{where})")
    return "\n".join(lines)


def build_app(kb: KnowledgeBase) -> gr.Blocks:
    def respond(message: str, history: list) -> str:
        return format_answer(kb.ask(message).as_dict())

    with gr.Blocks(title="Kakehashi 架け橋 · Cầu nối") as demo:
        gr.Markdown("# Kakehashi 架け橋 · Cầu nối\nHỏi đáp về hợp tác khí hậu Sakai × Bà Rịa–Vũng Tàu · 堺市×バリア・ブンタウ省の気候協力Q&A")
        gr.ChatInterface(respond, examples=EXAMPLES, api_name="ask")
    return demo


def main(argv: list[str] | None = None) -> int:
    config = Config.from_env()
    parser = argparse.ArgumentParser(description="Start the Kakehashi web app.")
    parser.add_argument("--host", default=config.host, help="bind address (default 127.0.0.1; KAKEHASHI_HOST)")
    parser.add_argument("--port", type=int, default=config.port, help="port (default 7860; KAKEHASHI_PORT)")
    parser.add_argument("--no-index", action="store_true", help="skip the start-up index check")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if not args.no_index:
        ensure_index(config)
    kb = KnowledgeBase(config)
    build_app(kb).queue(default_concurrency_limit=4).launch(
        server_name=args.host, server_port=args.port, show_error=True
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

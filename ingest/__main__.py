"""``python -m ingest PATH... [--data-dir DIR] [--prune] [--json]``.

Exit codes: 0 every file went in; 3 some files were rejected (each is listed
with its reason, the rest are indexed); 2 usage error; 1 the index could not
be opened (e.g. a model mismatch) or another ingestion or backup holds the
data directory's lock for longer than ``--wait`` seconds, with a message
saying what to do.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from ingest.pipeline import IngestBusy, Ingestor, ingest_lock, printable_path, reindex
from kb.config import Config
from kb.embeddings import EmbedderUnavailable
from kb.store import EmbeddingMismatch, StoreUnavailable

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_REJECTED = 0, 1, 2, 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ingest",
        description="Index files and folders (PDF, DOCX, PPTX, HTML, Markdown, TXT) into the knowledge base. "
        "Re-running is incremental: unchanged files are skipped, changed ones replaced whole.",
    )
    parser.add_argument("paths", nargs="+", type=Path, metavar="PATH", help="files or folders to index")
    parser.add_argument("--data-dir", type=Path, help="index location (default: $KAKEHASHI_DATA_DIR or ./data)")
    parser.add_argument("--prune", action="store_true", help="remove indexed files under PATH that no longer exist")
    parser.add_argument("--visibility", help="public, internal or group:NAME for these files (overrides front matter)")
    parser.add_argument("--reindex", action="store_true", help="drop the index first (after changing the embedding model)")
    parser.add_argument(
        "--wait", type=float, default=600, metavar="SECONDS",
        help="how long to wait for another ingestion or backup of the same data dir to finish "
        "(default 600; 0 = refuse at once, exit 1)",
    )
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    missing = [str(p) for p in args.paths if not p.exists()]
    if missing:
        parser.error(f"no such file or folder: {', '.join(missing)}")
    logging.basicConfig(level=logging.ERROR, format="%(levelname)s %(message)s")
    config = Config.from_env(data_dir=args.data_dir)
    try:
        # The lock comes first: a second process refuses (or waits) before it loads the model
        # or opens the store, and --reindex never drops a collection another run is writing.
        with ingest_lock(config, timeout=args.wait):
            if args.reindex:
                reindex(config)
            ingestor = Ingestor(config, progress=not args.quiet and sys.stderr.isatty())
            try:
                summary = ingestor.run(args.paths, prune=args.prune, visibility=args.visibility, locked=True)
            finally:
                ingestor.close()
    except ValueError as exc:
        parser.error(str(exc))
    except (EmbeddingMismatch, EmbedderUnavailable, StoreUnavailable, IngestBusy) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    if args.json:
        print(json.dumps(summary.as_dict(), ensure_ascii=False, indent=2))
    else:
        print(_human(summary))
    return EXIT_REJECTED if summary.failed else EXIT_OK


def _human(summary) -> str:
    lines = [
        f"{summary.seen} files seen: {summary.added} added, {summary.updated} updated, "
        f"{summary.unchanged} unchanged, {summary.removed} removed, {len(summary.failed)} failed "
        f"({summary.chunks} chunks; {summary.embedded} texts embedded) in {summary.seconds:.1f}s"
    ]
    for failure in summary.failed:
        lines.append(f"  FAILED {printable_path(failure['path'])}: {failure['reason']}")
    for warning in summary.warnings:
        lines.append(f"  note   {printable_path(warning['path'])}: {warning['message']}")
    for skipped in summary.skipped:
        lines.append(f"  skip   {printable_path(skipped['path'])}: {skipped['reason']}")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

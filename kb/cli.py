"""``python -m kb search|ask|stats``: the knowledge base from the command line.

JSON field names are a contract with scripts and checks outside this repo;
add fields freely, but never rename or remove one.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from kb.config import Config
from kb.embeddings import EmbedderUnavailable
from kb.filters import Filters
from kb.service import KnowledgeBase
from kb.store import EmbeddingMismatch, StoreUnavailable

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2
HIT_FIELDS = ("doc_id", "chunk_id", "title", "source", "page", "lang", "score", "text")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m kb", description="Query the Kakehashi knowledge base.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", type=Path, help="index location (default: $KAKEHASHI_DATA_DIR or ./data)")
    common.add_argument("--json", action="store_true", help="machine-readable output")
    filters = argparse.ArgumentParser(add_help=False)
    filters.add_argument("--lang", choices=["vi", "ja", "en", "any"], default="any", help="only passages in this language")
    filters.add_argument("--doc", action="append", default=[], metavar="DOC_ID", help="only this document (repeatable)")
    filters.add_argument("--tag", action="append", default=[], help="only documents with this tag (repeatable)")
    filters.add_argument("--since", help="documents as of this date or later (YYYY[-MM[-DD]])")
    filters.add_argument("--until", help="documents as of this date or earlier")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    search = sub.add_parser("search", parents=[common, filters], help="find passages")
    search.add_argument("query")
    search.add_argument("--k", type=int, default=5, help="number of hits (default 5)")

    ask = sub.add_parser("ask", parents=[common, filters], help="answer a question with citations")
    ask.add_argument("question")
    ask.add_argument("--answer-lang", choices=["auto", "vi", "ja", "en"], default="auto",
                     help="language of the answer (default: the question's)")

    sub.add_parser("stats", parents=[common], help="documents, chunks per language, model, data dir")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    config = Config.from_env(data_dir=getattr(args, "data_dir", None))
    kb = KnowledgeBase(config)
    try:
        if args.command == "search":
            hits = kb.search(args.query, args.k, _filters(args))
            rows = [{f: h.as_dict()[f] for f in HIT_FIELDS} | {"section": h.section} for h in hits]
            _emit(rows, args.json, _format_hits)
        elif args.command == "ask":
            lang = None if args.answer_lang == "auto" else args.answer_lang
            answer = kb.ask(args.question, lang=lang, filters=_filters(args))
            _emit(answer.as_dict(), args.json, _format_answer)
        elif args.command == "stats":
            _emit(kb.stats(), args.json, lambda s: "\n".join(f"{k}: {v}" for k, v in s.items()))
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (EmbeddingMismatch, EmbedderUnavailable, StoreUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK


def _filters(args: argparse.Namespace) -> Filters:
    return Filters(
        lang=None if args.lang == "any" else args.lang,
        doc_ids=tuple(args.doc),
        tags=tuple(args.tag),
        date_from=args.since,
        date_to=args.until,
    )


def _emit(payload: Any, as_json: bool, formatter) -> None:
    if as_json:
        print(json.dumps(payload, ensure_ascii=False, indent=2))
    else:
        print(formatter(payload))


def _format_hits(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "(no hits)"
    out = []
    for i, row in enumerate(rows, 1):
        where = f"p.{row['page']}" if row["page"] else (row.get("section") or "")
        out.append(f"{i}. [{row['lang']}] {row['title']} — {row['source']} {where} (score {row['score']})")
        out.append("   " + row["text"][:300].replace("\n", " "))
    return "\n".join(out)


def _format_answer(answer: dict[str, Any]) -> str:
    lines = [answer["answer"], ""]
    for c in answer["citations"]:
        where = f", p.{c['page']}" if c["page"] else (f", {c['section']}" if c.get("section") else "")
        lines.append(f"[{c['n']}] {c['title']} ({c['source']}{where})")
    return "\n".join(lines).rstrip()

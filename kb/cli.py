"""``python -m kb search|ask|brief|stats``: the knowledge base from the command line.

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

    brief = sub.add_parser("brief", parents=[common], help="a cited briefing note on a topic (Markdown or DOCX)")
    brief.add_argument("topic")
    brief.add_argument("--lang", choices=["auto", "vi", "ja", "en"], default="auto",
                       help="language of the note (default: the topic's)")
    brief.add_argument("--out", type=Path, metavar="FILE.docx|FILE.md", help="also write the note to this file")
    brief.add_argument("--doc", action="append", default=[], metavar="DOC_ID", help="only this document (repeatable)")
    brief.add_argument("--tag", action="append", default=[], help="only documents with this tag (repeatable)")
    brief.add_argument("--since", help="documents as of this date or later (YYYY[-MM[-DD]])")
    brief.add_argument("--until", help="documents as of this date or earlier")

    evaluate = sub.add_parser("eval", parents=[common], help="measure retrieval: recall@1/5/10, MRR@10, latency")
    evaluate.add_argument("questions", type=Path, help="JSONL of questions (expected_doc_ids or context_id)")
    evaluate.add_argument("--contexts", type=Path, help="JSONL of passages: index them into a throwaway index first")
    evaluate.add_argument("--method", choices=["dense", "bm25", "hybrid", "all"], default="all")
    evaluate.add_argument("--k", type=int, default=10)
    evaluate.add_argument("--limit", type=int, help="only the first N questions")
    evaluate.add_argument("--cache-dir", type=Path, help="where throwaway indexes are kept (default DATA_DIR/eval-cache)")
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
        elif args.command == "brief":
            _brief(kb, args)
        elif args.command == "eval":
            _emit(_evaluate(args, config), args.json, _format_eval)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (EmbeddingMismatch, EmbedderUnavailable, StoreUnavailable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK


def _brief(kb: KnowledgeBase, args: argparse.Namespace) -> None:
    """Build the note, write ``--out`` (format from its suffix), print JSON or Markdown."""
    out = args.out
    if out is not None and out.suffix.lower() not in (".docx", ".md"):
        raise ValueError(f"--out {out}: use a .docx or .md file name")
    filters = Filters(doc_ids=tuple(args.doc), tags=tuple(args.tag), date_from=args.since, date_to=args.until)
    note = kb.brief(args.topic, lang=None if args.lang == "auto" else args.lang, filters=filters)
    if out is not None:
        if out.suffix.lower() == ".docx":
            note.to_docx(out)
        else:
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(note.to_markdown(), encoding="utf-8")
    payload = note.as_dict() | {"out": str(out) if out else None, "markdown": note.to_markdown()}
    _emit(payload, args.json, lambda p: p["markdown"].rstrip())


def _evaluate(args: argparse.Namespace, config: Config) -> dict[str, Any]:
    from kb import evaluate

    if not args.questions.is_file():
        raise ValueError(f"no such questions file: {args.questions}")
    questions = evaluate.load_jsonl(args.questions)[: args.limit]
    if args.contexts:
        if not args.contexts.is_file():
            raise ValueError(f"no such contexts file: {args.contexts}")
        cache = args.cache_dir or config.data_dir / "eval-cache"
        config = evaluate.context_index(args.contexts, config, cache, progress=sys.stderr.isatty())
    kb = KnowledgeBase(config)
    results = {
        method: evaluate.score(lambda q, k, m: kb.retriever.search(q, k, method=m), questions, method, args.k)
        for method in evaluate.methods_for(args.method)
    }
    return {"questions": str(args.questions), "contexts": str(args.contexts or ""), "k": args.k, "methods": results}


def _format_eval(report: dict[str, Any]) -> str:
    from kb.evaluate import markdown_table

    rows = [(Path(report["questions"]).name, method, m) for method, m in report["methods"].items()]
    for method, m in report["methods"].items():
        for kind, km in (m.get("by_kind") or {}).items():
            rows.append((f"{Path(report['questions']).name} [{kind}]", method, km))
    return markdown_table(rows)


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

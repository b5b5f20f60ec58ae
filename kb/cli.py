"""``python -m kb search|ask|brief|stats|eval|users|audit|backup|restore``: the knowledge base from the command line.

JSON field names are a contract with scripts and checks outside this repo;
add fields freely, but never rename or remove one.

The CLI runs as the machine's owner, who can read the data directory anyway:
``--user NAME`` acts as that user without a password (to see what they see),
and without it search, ask and brief get the public view (public documents only).

Adding a command: a ``sub.add_parser`` in :func:`build_parser` and a handler
``(kb, args) -> None`` in :data:`HANDLERS`.
"""

from __future__ import annotations

import argparse
import getpass
import json
import logging
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from kb.backup import BackupError
from kb.config import Config
from kb.embeddings import EmbedderUnavailable
from kb.filters import Filters
from kb.service import KnowledgeBase
from kb.store import EmbeddingMismatch, StoreUnavailable
from kb.users import ROLES, UserError

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
    acting = argparse.ArgumentParser(add_help=False)
    acting.add_argument("--user", metavar="NAME",
                        help="act as this user (their role and groups decide what is visible); default: public view")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    search = sub.add_parser("search", parents=[common, filters, acting], help="find passages")
    search.add_argument("query")
    search.add_argument("--k", type=int, default=5, help="number of hits (default 5)")

    ask = sub.add_parser("ask", parents=[common, filters, acting], help="answer a question with citations")
    ask.add_argument("question")
    ask.add_argument("--answer-lang", choices=["auto", "vi", "ja", "en"], default="auto",
                     help="language of the answer (default: the question's)")

    sub.add_parser("stats", parents=[common], help="documents, chunks per language, model, data dir")

    brief = sub.add_parser("brief", parents=[common, acting], help="a cited briefing note on a topic (Markdown or DOCX)")
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

    users = sub.add_parser("users", help="manage users and roles (DATA_DIR/users.sqlite)")
    users_sub = users.add_subparsers(dest="users_command", required=True, metavar="ACTION")
    add = users_sub.add_parser("add", parents=[common], help="add a user (password from --password-stdin or a prompt)")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--group", action="append", default=[], metavar="NAME",
                     help="member of this group: sees documents with visibility group:NAME (repeatable)")
    add.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    users_sub.add_parser("list", parents=[common], help="list users, roles and groups")
    remove = users_sub.add_parser("remove", parents=[common], help="remove a user")
    remove.add_argument("name")
    set_role = users_sub.add_parser("set-role", parents=[common], help="change a user's role (and groups)")
    set_role.add_argument("name")
    set_role.add_argument("role", choices=ROLES)
    set_role.add_argument("--group", action="append", default=None, metavar="NAME",
                          help="replace the user's groups with these (repeatable; omit to keep them)")

    audit = sub.add_parser("audit", parents=[common], help="who asked what: the audit log, newest first")
    audit.add_argument("--user", metavar="NAME", help="only this user's records ('' = the public view)")
    audit.add_argument("--limit", type=int, default=50, help="at most this many records (default 50)")

    backup = sub.add_parser("backup", parents=[common],
                            help="copy the index into one .tar.gz (safe while the app runs)")
    backup.add_argument("file", type=Path, metavar="FILE", help="the archive to write (outside the data dir)")
    restore = sub.add_parser("restore", parents=[common],
                             help="restore the index from a backup archive (stop the app first)")
    restore.add_argument("file", type=Path, metavar="FILE", help="an archive written by python -m kb backup")
    restore.add_argument("--force", action="store_true",
                         help="replace the index in a data dir that is not empty (default: refuse)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    config = Config.from_env(data_dir=getattr(args, "data_dir", None))
    kb = KnowledgeBase(config)
    try:
        HANDLERS[args.command](kb, args)
    except (ValueError, LookupError) as exc:  # UserError is a ValueError; an unknown --user a LookupError
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (EmbeddingMismatch, EmbedderUnavailable, StoreUnavailable, BackupError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK


def _search(kb: KnowledgeBase, args: argparse.Namespace) -> None:
    hits = kb.search(args.query, args.k, _filters(args), principal=kb.principal(args.user), surface="cli")
    rows = [{f: h.as_dict()[f] for f in HIT_FIELDS} | {"section": h.section} for h in hits]
    _emit(rows, args.json, _format_hits)


def _ask(kb: KnowledgeBase, args: argparse.Namespace) -> None:
    lang = None if args.answer_lang == "auto" else args.answer_lang
    answer = kb.ask(args.question, lang=lang, filters=_filters(args), principal=kb.principal(args.user), surface="cli")
    _emit(answer.as_dict(), args.json, _format_answer)


def _stats(kb: KnowledgeBase, args: argparse.Namespace) -> None:
    _emit(kb.stats(), args.json, lambda s: "\n".join(f"{k}: {v}" for k, v in s.items()))


def _users(kb: KnowledgeBase, args: argparse.Namespace) -> None:
    store = kb.users
    action = args.users_command
    if action == "add":
        password = _read_password(args.password_stdin)
        user = store.add(args.name, password, args.role, args.group)
        _emit(user.as_dict() | {"added": True}, args.json, lambda u: f"added {u['name']} ({u['role']})")
    elif action == "list":
        rows = store.list()
        _emit(rows, args.json, _format_users)
    elif action == "remove":
        store.remove(args.name)
        _emit({"name": args.name, "removed": True}, args.json, lambda r: f"removed {r['name']}")
    elif action == "set-role":
        user = store.set_role(args.name, args.role, args.group)
        _emit(user.as_dict(), args.json, lambda u: f"{u['name']}: {u['role']} {','.join(u['groups'])}".rstrip())


def _read_password(from_stdin: bool) -> str:
    """From stdin's first line (scripts) or a no-echo prompt typed twice; never from argv or echoed."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise UserError("--password-stdin: stdin held no password")
        return password
    if not sys.stdin.isatty():
        raise UserError("no terminal to prompt for the password; pipe it in with --password-stdin")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Password (again): "):
        raise UserError("the two passwords differ; run the command again")
    return first


def _format_users(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "(no users: the app runs with the public view only; add one with python -m kb users add NAME --role admin)"
    return "\n".join(f"{r['name']}\t{r['role']}\t{','.join(r['groups'])}".rstrip() for r in rows)


def _audit(kb: KnowledgeBase, args: argparse.Namespace) -> None:
    records = [r.as_dict() for r in kb.audit.recent(user=args.user, limit=args.limit)]
    _emit(records, args.json, _format_audit)


def _format_audit(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return "(no audit records)"
    out = []
    for r in rows:
        who = f"{r['user'] or '(public)'}/{r['role']}"
        query = r["query"].replace("\n", " ")[:120]
        out.append(f"{r['time']}  {who}  {r['surface']}  {r['action']}  {query}  → {', '.join(r['doc_ids']) or '-'}")
    return "\n".join(out)


def _brief(kb: KnowledgeBase, args: argparse.Namespace) -> None:
    """Build the note, write ``--out`` (format from its suffix), print JSON or Markdown."""
    out = args.out
    if out is not None and out.suffix.lower() not in (".docx", ".md"):
        raise ValueError(f"--out {out}: use a .docx or .md file name")
    filters = Filters(doc_ids=tuple(args.doc), tags=tuple(args.tag), date_from=args.since, date_to=args.until)
    note = kb.brief(args.topic, lang=None if args.lang == "auto" else args.lang, filters=filters,
                    principal=kb.principal(args.user), surface="cli")
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


def _eval(kb: KnowledgeBase, args: argparse.Namespace) -> None:
    _emit(_evaluate(args, kb.config), args.json, _format_eval)


def _format_eval(report: dict[str, Any]) -> str:
    from kb.evaluate import markdown_table

    rows = [(Path(report["questions"]).name, method, m) for method, m in report["methods"].items()]
    for method, m in report["methods"].items():
        for kind, km in (m.get("by_kind") or {}).items():
            rows.append((f"{Path(report['questions']).name} [{kind}]", method, km))
    return markdown_table(rows)


def _backup(kb: KnowledgeBase, args: argparse.Namespace) -> None:
    from kb.backup import backup

    with _lock_busy():
        summary = backup(kb.config, Path(args.file))
    _emit(summary, args.json, _format_backup)


def _restore(kb: KnowledgeBase, args: argparse.Namespace) -> None:
    from kb.backup import restore

    with _lock_busy():
        summary = restore(kb.config, Path(args.file), force=args.force)
    _emit(summary, args.json, _format_restore)


@contextmanager
def _lock_busy() -> Iterator[None]:
    """Turn :class:`ingest.pipeline.IngestBusy` (another writer holds the lock) into a :class:`BackupError`.

    Imported here, not at the top: ``kb`` reaches into ``ingest`` only for these two commands.
    """
    from ingest.pipeline import IngestBusy

    try:
        yield
    except IngestBusy as exc:
        raise BackupError(str(exc)) from exc


def _size(n: int) -> str:
    for unit in ("bytes", "kB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return str(n)


def _format_counts(counts: dict[str, Any]) -> str:
    return (f"{counts.get('documents', 0)} documents, {counts.get('chunks', 0)} chunks "
            f"({counts.get('keyword_chunks', 0)} in the keyword index), {counts.get('failed', 0)} failed files")


def _format_backup(s: dict[str, Any]) -> str:
    return "\n".join([
        f"backup written: {s['archive']} ({_size(s['bytes'])}, {s['files']} files, {s['seconds']} s)",
        f"holds: {_format_counts(s['counts'])}",
        f"taken at {s['created_at']}; restore with: python -m kb restore {s['archive']}",
    ])


def _format_restore(s: dict[str, Any]) -> str:
    replaced = "; the previous index was replaced" if s["replaced"] else ""
    return "\n".join([
        f"restored {s['archive']} into {s['data_dir']} ({s['files']} files, {s['seconds']} s{replaced})",
        f"holds: {_format_counts(s['counts'])}",
        f"backup taken at {s['created_at']}",
    ])


HANDLERS = {
    "search": _search,
    "ask": _ask,
    "stats": _stats,
    "brief": _brief,
    "eval": _eval,
    "users": _users,
    "audit": _audit,
    "backup": _backup,
    "restore": _restore,
}
"""One handler per subcommand, ``(kb, args) -> None``; they print, and raise to fail."""


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

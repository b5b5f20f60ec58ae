"""The knowledge base as one object: what the CLI, the app and the tests call.

It owns the embedder, the store and the retriever for one configuration, so
a caller never wires Chroma, models or filters together by hand.

Every query method takes a ``principal`` (default: the public view, public
documents only) and applies its visibility itself, inside the store and the
keyword index, then writes the audit record: no caller can forget either.
"""

from __future__ import annotations

import threading
from functools import cached_property
from pathlib import Path
from typing import Any, Iterator

from kb.answer import Answer, AnswerContext, extractive_answer
from kb.audit import AuditLog, audit_path
from kb.brief import Brief, build_brief
from kb.config import Config
from kb.conversation import bound_history, previous_question, standalone_query
from kb.embeddings import get_embeddings
from kb.filters import Filters
from kb.keyword import KeywordIndex
from kb.llm import base_url, chat_model, llm_status, stream_answer
from kb.manifest import Manifest
from kb.retrieve import Hit, KakehashiRetriever, Retriever
from kb.store import describe, open_store
from kb.text import detect_lang
from kb.users import PUBLIC, Principal, UserStore, users_path

__version__ = "0.1.0"


class KnowledgeBase:
    def __init__(self, config: Config | None = None) -> None:
        self.config = config or Config.from_env()
        self._lock = threading.Lock()

    @cached_property
    def embeddings(self):
        return get_embeddings(self.config.embedder, self.config.embed_batch)

    @cached_property
    def store(self):
        return open_store(self.config, self.embeddings)

    @cached_property
    def keyword(self) -> KeywordIndex:
        return KeywordIndex(self.config.keyword_path)

    @cached_property
    def users(self) -> UserStore:
        """Users and roles (``data_dir/users.sqlite``)."""
        return UserStore(users_path(self.config.data_dir))

    @cached_property
    def audit(self) -> AuditLog:
        """Who asked what (``data_dir/audit.sqlite``), append-only."""
        return AuditLog(audit_path(self.config.data_dir))

    def principal(self, name: str | None) -> Principal:
        """The principal for a user name; None or "" is the public view, an unknown name an error."""
        if not name:
            return PUBLIC
        found = self.users.get(name)
        if found is None:
            raise LookupError(f"no user {name!r}; add one with: python -m kb users add {name} --role ROLE")
        return found

    def _audit(self, principal: Principal, surface: str, action: str, query: str, doc_ids) -> None:
        try:
            self.audit.record(principal.name, principal.role, surface, action, query, doc_ids)
        except Exception:  # a full disk must not take answers down; it is logged loudly instead
            import logging

            logging.getLogger("kakehashi.audit").exception("could not write the audit record")

    @cached_property
    def retriever(self) -> Retriever:
        reranker = None
        if self.config.reranker:
            from kb.rerank import CrossEncoderReranker

            reranker = CrossEncoderReranker(self.config.reranker)
        return Retriever(
            self.store._collection, self.embeddings, self.keyword, reranker=reranker,
            chunk_tokens=self.config.chunk_tokens,
        )

    def as_langchain_retriever(
        self, k: int = 5, filters: Filters | None = None, principal: Principal = PUBLIC
    ) -> KakehashiRetriever:
        return KakehashiRetriever(retriever=self.retriever, k=k, filters=principal.filters(filters))

    # ------------------------------------------------------------------ queries
    def search(
        self,
        query: str,
        k: int | None = None,
        filters: Filters | None = None,
        principal: Principal = PUBLIC,
        surface: str = "lib",
    ) -> list[Hit]:
        """The k best passages ``principal`` may see (``surface``: cli, app, api or lib, for the audit log)."""
        hits = self.retriever.search(query, k or self.config.top_k, principal.filters(filters))
        self._audit(principal, surface, "search", query, [h.doc_id for h in hits])
        return hits

    def ask(
        self,
        question: str,
        lang: str | None = None,
        filters: Filters | None = None,
        history: list[dict[str, str]] | None = None,
        k: int = 8,
        principal: Principal = PUBLIC,
        surface: str = "lib",
    ) -> Answer:
        """Answer in the asker's language (detected unless ``lang`` is given), with citations.

        With an LLM configured the answer is generated (``mode="llm"``); without
        one, or when the endpoint fails, it is extractive. ``history`` (earlier
        turns) lets a follow-up such as "còn Sakai thì sao?" be understood.
        """
        answer: Answer | None = None
        for item in self.ask_stream(question, lang=lang, filters=filters, history=history, k=k,
                                    principal=principal, surface=surface):
            if isinstance(item, Answer):
                answer = item
        assert answer is not None
        return answer

    def ask_stream(
        self,
        question: str,
        lang: str | None = None,
        filters: Filters | None = None,
        history: list[dict[str, str]] | None = None,
        k: int = 8,
        principal: Principal = PUBLIC,
        surface: str = "lib",
    ) -> Iterator[str | Answer]:
        """Yield answer text as it is produced, then the finished :class:`Answer`.

        Extractive answers arrive in one piece; an LLM streams token deltas.
        The final Answer is authoritative (validated citations; after an LLM
        failure, the note and the extractive answer replace the partial text).
        """
        turns = bound_history(history, self.config.history_turns, self.config.history_chars)
        asked_in = self._answer_lang(question, lang, turns)
        model = self.llm
        query = standalone_query(question, turns, model, retries=0)
        hits = self.retriever.search(query, k, principal.filters(filters))
        if model is None:
            context = self.answer_context(principal.filters(filters))
            stream: Iterator[str | Answer] = _whole(extractive_answer(query, hits, asked_in, context))
        else:
            stream = stream_answer(
                model, query, hits, asked_in, self.config.llm_retries, self._endpoint(),
                self.answer_context(principal.filters(filters)),
            )
        asked = question if query == question else f"{question}\n→ {query}"
        audited = False
        try:
            for item in stream:
                if isinstance(item, Answer):
                    item.question = question
                    item.standalone_query = query
                    self._audit(principal, surface, "ask", asked, [c.doc_id for c in item.citations])
                    audited = True
                yield item
        finally:  # a stream abandoned mid-answer still showed text from these passages
            if not audited:
                self._audit(principal, surface, "ask", asked, [h.doc_id for h in hits])

    def answer_context(self, filters: Filters | None = None) -> AnswerContext:
        """Term rarity, the glossary and the chunk after a passage (under ``filters``), for extractive answers."""
        retriever = self.retriever
        return AnswerContext(
            frequencies=self.keyword.document_frequencies,
            glossary=retriever.glossary(),
            following=lambda hit: retriever.following(hit, filters),
        )

    def brief(
        self,
        topic: str,
        lang: str | None = None,
        filters: Filters | None = None,
        k: int = 10,
        principal: Principal = PUBLIC,
        surface: str = "lib",
    ) -> Brief:
        """A cited briefing note on ``topic`` (export with ``.to_markdown()`` / ``.to_docx(path)``)."""
        note_lang = self._answer_lang(topic, lang, [])
        hits = self.retriever.search(topic, k, principal.filters(filters))
        note = build_brief(topic, hits, note_lang, self.llm, self.config.llm_retries, self._endpoint())
        self._audit(principal, surface, "brief", topic, [s.doc_id for s in note.sources])
        return note

    # ------------------------------------------------------------------ LLM
    @cached_property
    def llm(self):
        """The configured LangChain chat model, or None for extractive mode."""
        return chat_model(self.config) if self.config.llm_provider.strip() else None

    def llm_status(self) -> dict[str, Any]:
        """{configured, provider, model, base_url, reachable, error}; no request when unconfigured."""
        return llm_status(self.config)

    def _endpoint(self) -> str:
        return f"{self.config.llm_provider} at {base_url(self.config)} (model {self.config.llm_model})"

    @staticmethod
    def _answer_lang(text: str, lang: str | None, turns: list[dict[str, str]]) -> str:
        """The override, else the text's language; a follow-up too short to tell keeps the conversation's."""
        if lang in ("vi", "ja", "en"):
            return lang
        detected = detect_lang(text)
        if detected == "other" and previous_question(turns, text):
            detected = detect_lang(previous_question(turns, text))
        return detected if detected in ("vi", "ja", "en") else "en"

    # ------------------------------------------------------------------ facts
    def stats(self) -> dict[str, Any]:
        collection = self.store._collection
        per_lang: dict[str, int] = {}
        offset = 0
        while True:
            page = collection.get(include=["metadatas"], limit=5000, offset=offset)
            if not page["ids"]:
                break
            for meta in page["metadatas"]:
                lang = (meta or {}).get("lang", "other")
                per_lang[lang] = per_lang.get(lang, 0) + 1
            offset += len(page["ids"])
        documents = self._all_documents()
        return {
            "documents": sum(1 for d in documents if d["status"] == "ok"),
            "failed_files": sum(1 for d in documents if d["status"] == "failed"),
            "chunks": sum(per_lang.values()),
            "chunks_per_lang": dict(sorted(per_lang.items())),
            "documents_per_lang": _count(d["lang"] for d in documents if d["status"] == "ok"),
            "embedding_model": getattr(self.embeddings, "model_name", "?"),
            "embedding_dim": getattr(self.embeddings, "dim", None),
            "store": describe(self.config),
            "data_dir": str(self.config.data_dir),
            "version": __version__,
        }

    def documents(self, principal: Principal = PUBLIC) -> list[dict[str, Any]]:
        """The manifest as rows that ``principal`` may see: one per file, with status and errors.

        A file that failed to index has no trustworthy visibility (its
        metadata may never have been read), so only document managers see it.
        """
        return [
            d for d in self._all_documents()
            if principal.can_see(d["visibility"]) and (d["status"] == "ok" or principal.can_manage)
        ]

    def _all_documents(self) -> list[dict[str, Any]]:
        if not self.config.manifest_path.exists():
            return []
        manifest = Manifest(self.config.manifest_path)
        try:
            return [
                {
                    "doc_id": r.doc_id,
                    "title": r.title or r.path.rsplit("/", 1)[-1],
                    "lang": r.lang,
                    "format": r.format,
                    "pages": r.pages,
                    "chunks": r.chunks,
                    "ingested_at": r.ingested_at,
                    "status": r.status,
                    "error": r.error,
                    "path": r.path,
                    "visibility": r.meta.get("visibility", "public"),
                    "translation_of": r.meta.get("translation_of"),
                    "tags": list(r.meta.get("tags") or []),
                    "date": r.meta.get("date"),
                    "source": r.meta.get("source"),
                }
                for r in manifest.all()
            ]
        finally:
            manifest.close()

    def file_for_doc(
        self, doc_id: str, principal: Principal = PUBLIC, surface: str = "lib"
    ) -> tuple[Path, str] | None:
        """The original file of an indexed document ``principal`` may see, as (path, format), or None.

        Only paths recorded in the manifest for a successfully indexed
        document are ever returned, so a web route built on this can serve a
        cited file but never an arbitrary path. A document the principal may
        not see is None, exactly like an unknown one: its existence is not told.
        """
        if not doc_id or not self.config.manifest_path.exists():
            return None
        manifest = Manifest(self.config.manifest_path)
        try:
            record = manifest.by_doc_id(doc_id)
        finally:
            manifest.close()
        if record is None or record.status != "ok":
            return None
        if not principal.can_see(record.meta.get("visibility", "public")):
            self._audit(principal, surface, "file-denied", doc_id, [])
            return None
        self._audit(principal, surface, "file", doc_id, [doc_id])
        path = Path(record.path)
        return (path, record.format or path.suffix.lstrip(".")) if path.is_file() else None

    def counts(self) -> dict[str, int]:
        """Cheap numbers for a health check: indexed documents and stored chunks."""
        documents = 0
        if self.config.manifest_path.exists():
            manifest = Manifest(self.config.manifest_path)
            try:
                documents = sum(1 for r in manifest.all() if r.status == "ok")
            finally:
                manifest.close()
        return {"documents": documents, "chunks": int(self.store._collection.count())}


def _whole(answer: Answer) -> Iterator[str | Answer]:
    """An extractive answer as a stream: all its text at once, then the Answer."""
    yield answer.answer
    yield answer


def _count(values) -> dict[str, int]:
    out: dict[str, int] = {}
    for value in values:
        out[value or "other"] = out.get(value or "other", 0) + 1
    return dict(sorted(out.items()))

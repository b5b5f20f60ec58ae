"""Hybrid, language-aware retrieval: dense lanes plus keyword lanes, fused.

Two measured problems shape this module:

* multilingual-e5 prefers passages in the query's own language: a Vietnamese
  question ranks off-topic Vietnamese text above the Japanese passage that
  answers it. So the best passages of each corpus language are gathered
  (from that language's shadow collection, kb/shadows.py; or, on an index
  without shadows, a ``lang`` filter inside the store) and merged on
  calibrated cosine: the best Japanese passage competes with the best
  Vietnamese one instead of with the tenth.
* Keyword hits across languages are noise (naive RRF of dense and BM25
  lowers cross-lingual recall on NTREX). So the full keyword query runs only
  against passages in the query's language; other languages are searched
  with the tokens that can match across languages (numbers, legal
  references, acronyms) and with the glossary's translations of the query's
  terms.

Lanes are fused by a weighted sum of their min-max normalised scores
(see :func:`fuse`; it beat reciprocal rank fusion on XQuAD-vi and JSQuAD,
and equal weights did best on the project's own cross-lingual questions).
Filters are enforced inside every lane's store query.
"""

from __future__ import annotations

import functools
import math
import re
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever

from kb import facets, ordinals, shadows
from kb.filters import Filters
from kb.glossary import Glossary
from kb.keyword import KeywordIndex, bm25_idf
from kb.text import detect_lang, normalize_text, split_sentences
from kb.tokenize import is_strong, neutral_only, search_tokens, tokens

QUESTION_CHARS = 200
"""Longer queries are passages, not questions (the evaluation set's longest question has
164 characters): the cross-language keyword lane is skipped for them."""
_ASKS = re.compile(
    r"[?？]\s*$|か[。.]?\s*$|何|いつ|どこ|誰|どの|どう|教えて|ください"
    r"|\b(?:gì|nào|ai|bao nhiêu|bao giờ|ở đâu|tại sao|không)\b[^.]*$",
    re.IGNORECASE,
)
"""A sentence that asks something, in Japanese or Vietnamese (Japanese questions often end in 「か。」)."""
ASKS_TERM = re.compile(
    r"tiếng (?:Nhật|Việt|Anh)\b[^.?]*\b(?:là gì|gọi là|nói|dịch|viết)|thuật ngữ"
    r"|\b(?:dịch|gọi|nói|viết)\b[^.?]*\b(?:sang|bằng) tiếng"
    r"|(?:ベトナム語|日本語|英語)(?:で|では|に|の表現|の用語|訳)|何と(?:言|い)|訳語|用語",
    re.IGNORECASE,
)
"""A question that asks what a term is called in the other language: the glossary answers it."""
_STATEMENT_END = re.compile(r"[。.!！][」”\"')）]*\s*$")
_ELLIPTICAL_ASK = re.compile(
    r"(?:は|とは)[。.]\s*$|答え(?:よ|なさい)|でしょう|なんと|なに|なぜ|いくつ|いくら"
    r"|^(?:kể tên|liệt kê|hãy|cho biết|nêu)\b|\b(?:gì|nào|ai|bao nhiêu|bao giờ|đâu|tại sao)\b",
    re.IGNORECASE,
)
"""Questions that end in a full stop: 「…の人数は。」, 「…を答えよ。」, "Kể tên …" (name …), "… điều gì."
(JSQuAD, XQuAD-vi)."""
_CLOSES_QUOTE = re.compile(r"[。.!！][」』”\"’]\s*$")
"""A full stop, then a closing quotation mark: the end of quoted speech, which is what news and reports quote."""
_ASKS_AT_END = re.compile(r"(?:[?？]|か[。.]?)[」』”\"’]?\s*$")
"""A text that ends in a question mark or in the particle か, inside a closing quote or not."""
RESCORE_TOP = 10
"""The fused hits the second stage rescores (hybrid R@5 is 0.97-0.99; rescoring the top 40 measured the same)."""
COVERAGE_WEIGHT = 0.5
"""Weight of a question's best-sentence keyword coverage (see :func:`sentence_coverage`), in fused-score
units (dense contributes at most 1.0, same-language keywords 1.1). R@1 on all / even / odd questions,
hybrid with BM25 k1 0.6, b 0.5 and question words dropped, without it and at 0.5, 0.8, 1.5:
JSQuAD 0.903 (0.899 / 0.908) -> 0.914 (0.912 / 0.916), 0.916 (0.912 / 0.920), 0.917 (0.911 / 0.923);
XQuAD-vi 0.949 (0.943 / 0.955) -> 0.954 (0.953 / 0.955), 0.953 (0.955 / 0.951), 0.949 (0.950 / 0.948).
0.5 is the smallest weight that holds on both; smaller leaves more room for a cross-lingual answer."""
NUMBERS_WEIGHT = 0.1
"""Weight of the numbers a passage used as the query shares with a hit (see :func:`shared_numbers`).
R@1 on NTREX from cached vectors (the dense lane's min-max scores, as hybrid fuses them; all / even /
odd passages), without it and at 0.05, 0.1, 0.2, 0.3: ja→vi 0.969 (0.964 / 0.975) -> 0.976, 0.978
(0.978 / 0.978), 0.978, 0.980; vi→ja 0.973 (0.971 / 0.975) -> 0.975, 0.980 (0.975 / 0.985), 0.982,
0.982. A translation keeps its numbers; a passage on the same story often has others."""
LENGTH_WEIGHT = 0.3
"""Weight of the length mismatch between a passage used as the query and a hit (see :func:`length_mismatch`).
A translation has about as many of e5's tokens as its source (XLM-R's vocabulary is shared by the
languages): on the 549 NTREX passage pairs, log(tokens vi / tokens ja) has mean 0.05 and standard
deviation 0.14, while the passages that beat a translation are often much shorter or longer (a
one-line quote sits near every short passage). Hits correct at rank 1 of 549 on NTREX, hybrid, from the
fused lists (numbers at 0.1, decimal commas read as points, quoted speech a passage; all (even / odd)
passages), without it and at 0.1, 0.2, 0.3, 0.5, 0.7, 1.0:
ja→vi 538 (269 / 269), 539, 541, 541 (269 / 272), 541, 541, 539 (267 / 272); vi→ja 540 (269 / 271), 540,
542, 544 (273 / 271), 544, 543, 535 (269 / 266). 0.3 is in the middle of the plateau."""
GLOSSARY_TAG = "glossary"
CORPUS_LANGS = ("vi", "ja")
EXACT_TOP = 10
"""The dense lane's top this-many are exact across languages; deeper ranks barely move a fusion."""
TWIN_SIMILARITY = 0.88
"""Cosine above which a passage from a document's translation is the same passage."""
UNKNOWN_SECONDS = 30.0
"""How long "no complete declarations" (or the collection's size) is trusted; either only picks a strategy."""
FILTERED_LANES_MAX_CHUNKS = 20000
"""Up to this many chunks the lane without shadows asks every other corpus language with a ``lang`` filter.

Measured on the scale bench's collections (bench/scale.md): a ``lang`` filter
costs Chroma 2-4 ms at 1k chunks and about 25 ms at 10k, but 140-170 ms at
100k, while an unfiltered query of ``DEEP_POOL`` costs about 30 ms at any size."""
DEEP_POOL = 300
"""Depth of its one query above ``FILTERED_LANES_MAX_CHUNKS`` (searches that keep a clause, unshadowed indexes)."""


@dataclass(frozen=True)
class Weights:
    dense: float = 1.0
    keyword_same_lang: float = 1.1
    """Keywords in the query's language weigh a little more than meaning: BM25 on these tokens
    beats e5-small on both public sets. Measured on all of XQuAD-vi and JSQuAD (halves agreeing),
    R@1 0.945 / 0.891 at 1.0, 0.948 / 0.894 at 1.1, 0.950 / 0.895 at 1.2; but at 1.2 the
    project's cross-lingual questions lose (R@5 1.0 -> 0.93), because same-language keyword hits
    bury an answer that only the other language holds. Cross-lingual is what Kakehashi is for."""
    keyword_cross_lang: float = 1.0
    glossary_lookup: float = 2.0
    """The glossary-only keyword lane, run for "what is X called in Japanese?" questions.

    It outweighs dense and keyword lanes together: for these questions, passages that
    merely use the term outrank the glossary row that translates it (measured on the
    own set's glossary questions).
    """
    cross_lingual_offset: float = 0.05
    """Added to the cosine of a passage in another language than the query's.

    multilingual-e5-small scores a translation about 0.05 below the same
    text in the query's language (measured on the project's evaluation set:
    the other-language answer trails the best same-language passage by
    0.01-0.045 when it is the only answer, while an off-topic other-language
    passage trails a same-language answer by 0.08 or more).
    """


METHODS = ("dense", "bm25", "hybrid")


@dataclass
class Hit:
    doc_id: str
    chunk_id: str
    title: str
    source: str
    page: int | None
    lang: str
    score: float
    text: str
    section: str | None = None
    similarity: float = 0.0
    metadata: dict[str, Any] = field(default_factory=dict, repr=False)
    twins: list["Hit"] = field(default_factory=list, repr=False)
    """The same passage from the document's translation, folded under this one."""
    vector: Any = field(default=None, repr=False, compare=False)

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in asdict(self).items() if k not in ("metadata", "twins", "vector")}
        out["score"] = round(self.score, 4)
        out["similarity"] = round(self.similarity, 4)
        out["twins"] = [{"doc_id": t.doc_id, "chunk_id": t.chunk_id, "lang": t.lang} for t in self.twins]
        return out

    def to_document(self) -> Document:
        return Document(page_content=self.text, metadata={**self.metadata, "score": self.score}, id=self.chunk_id)


class Retriever:
    def __init__(
        self,
        collection: Any,
        embeddings: Embeddings,
        keyword: KeywordIndex | None = None,
        weights: Weights = Weights(),
        reranker: Any = None,
        chunk_tokens: int | None = None,
    ) -> None:
        self.collection = collection
        self.chunk_tokens = chunk_tokens  # the index's chunk size in e5 tokens, if known: the longest a hit is
        self.embeddings = embeddings
        self.keyword = keyword
        self.weights = weights
        self.reranker = reranker
        self._glossary: Glossary | None = None
        self._glossary_stamp: int = -1
        self._lock = threading.Lock()
        self._facts = _StoreFacts()

    # ------------------------------------------------------------------ public
    def search(self, query: str, k: int = 5, filters: Filters | None = None, method: str = "hybrid") -> list[Hit]:
        query = normalize_text(query)
        if not query:
            return []
        filters = filters or Filters()
        depth = max(k * 4, 30)
        lanes: list[tuple[float, list[Hit]]] = []
        if method in ("dense", "hybrid"):
            lanes += self._dense_lanes(query, depth, filters)
        if method in ("bm25", "hybrid") and self.keyword is not None:
            lanes += self._keyword_lanes(query, depth, filters, cross_lingual=method == "hybrid")
        fused = fuse(lanes)
        if method == "hybrid":
            fused = self._rescore(query, fused)
        if self.reranker is not None:
            fused = self.reranker.rerank(query, fused[:depth])
        return fold_twins(fused, detect_lang(query))[:k]

    def _rescore(self, query: str, fused: list[Hit]) -> list[Hit]:
        """Second stage: add to the top ``RESCORE_TOP`` fused hits what the lanes cannot see.

        A question's answer sits in one sentence, so a passage that holds the question's
        rare terms together in one sentence is likelier than one that spreads them over
        a long text (BM25 scores the passage as a bag of words; e5 reads it as a whole).
        A passage used as the query wants its translation, which carries the same
        numbers, codes and acronyms. A question's words cannot occur in another
        language's passage, so such a passage gets the best bonus of the asker's
        language, not none: otherwise the second stage undoes what the dense lane
        does for cross-lingual answers (measured on the own set: cross-lingual
        R@1 0.786 with no bonus for them, 0.857 with this).
        """
        top = fused[:RESCORE_TOP]
        if not top:
            return fused
        if is_question(query):
            if self.keyword is None:
                return fused
            weights = self._term_weights(search_tokens(query))
            query_lang = detect_lang(query)
            mixed = query_lang in CORPUS_LANGS  # else (English) every passage is matched word for word
            own = {h.chunk_id: sentence_coverage(weights, h.text) for h in top if not mixed or h.lang == query_lang}
            # Another language's passage cannot share the question's words: it is not pushed
            # below the best passage of the asker's language for that (nor tokenised for nothing).
            best = max(own.values(), default=0.0)
            bonus, weight = {h.chunk_id: own.get(h.chunk_id, best) for h in top}, COVERAGE_WEIGHT
        else:
            bonus, weight = self._translation_likeness(query, top), 1.0
        for hit in top:
            hit.score += weight * bonus[hit.chunk_id]
        return sorted(top, key=lambda h: (-h.score, -h.similarity)) + fused[RESCORE_TOP:]

    def _translation_likeness(self, query: str, top: list[Hit]) -> dict[str, float]:
        """For a passage used as the query: how much each hit looks like its translation.

        A translation keeps the passage's numbers, codes and acronyms, and about as many of
        e5's tokens. Length is judged only in another language than the query's: a passage
        in the same one is no translation, and a question that reads as a passage (context,
        then the question: 26 of JSQuAD's first 1500) is much shorter than its answer
        (judging those too cost JSQuAD hybrid R@1 0.913 -> 0.912). The length is compared
        with at most a chunk's worth of tokens: the translation of a longer passage was cut
        into chunks.
        """
        numbers = set(neutral_only(tokens(query)))
        count = getattr(self.embeddings, "count_tokens", None)
        query_lang = detect_lang(query)
        expected = None
        if count and any(hit.lang != query_lang for hit in top):
            expected = min(count(query), self.chunk_tokens or math.inf)
        out = {}
        for hit in top:
            score = NUMBERS_WEIGHT * shared_numbers(numbers, hit.text)
            if expected and hit.lang != query_lang:
                score -= LENGTH_WEIGHT * length_mismatch(expected, hit.metadata.get("n_tokens"))
            out[hit.chunk_id] = score
        return out

    def _term_weights(self, terms: list[str]) -> dict[str, float]:
        """Each distinct query term the index knows, weighted by its BM25 IDF."""
        assert self.keyword is not None
        df, n = self.keyword.document_frequencies(terms)
        return {term: bm25_idf(count, n) for term, count in df.items() if count > 0}

    # ------------------------------------------------------------------ lanes
    def _dense_lanes(self, query: str, depth: int, filters: Filters) -> list[tuple[float, list[Hit]]]:
        """One dense lane: the best passages of each language, merged on calibrated cosine.

        A ``visibility`` or ``lang`` clause that excludes nothing in this
        collection is left out of the Chroma queries (:meth:`Filters.elide`,
        kb/facets.py): at 100k chunks it is what makes a query slow. Whether
        it excluded nothing is checked again after the queries, against the
        values declared by then; if a new one appeared, the lane is asked
        again with every clause.
        """
        vector = self._query_vector(query)
        facts = self._facts
        facts.refresh(self.collection)
        present, langs = facts.present, facts.shadow_langs()
        lane = self._dense_lane(query, vector, depth, filters, present, langs)
        if filters.elide(present) != filters:  # something was left out: still a no-op?
            facts.read(self.collection)
            if filters.elide(facts.present) != filters.elide(present):
                lane = self._dense_lane(query, vector, depth, filters, None, facts.shadow_langs())
        return [(self.weights.dense, lane)]

    def _dense_lane(
        self, query: str, vector: list[float], depth: int, filters: Filters, present: Any, langs: Any
    ) -> list[Hit]:
        """The lane's passages: each language's best, from its shadow collection (or ``lang`` filters).

        ``langs``: the languages whose shadows are complete (kb/shadows.py),
        None for an index without them. A query of one language's shadow
        needs no ``lang`` clause, so it is an unfiltered HNSW query on a
        fraction of the collection (1-5 ms at 100k chunks, where a
        ``lang``-filtered query of the whole costs 140-300 ms), and every
        language's top ``depth`` is exact, not only what one deep query reached.
        A search that keeps another clause (a tag, a date range, a visibility
        some chunk does not have) asks the collection with ``lang`` filters
        instead: Chroma pays for a ``where`` by the records it matches,
        whichever collection holds them, so the shadows save nothing there,
        and asking each language's shadow repeats the clause once per language
        (measured: 10k chunks, public view with a restricted document present,
        139 -> 188 ms embedded and 366 -> 677 ms through the server).
        """
        scoped = filters.elide(present)
        only = filters.lang if filters.lang and filters.lang != "any" else None
        query_lang = detect_lang(query)
        offset = self.weights.cross_lingual_offset if query_lang in CORPUS_LANGS and not only else 0.0

        def calibrated(hit: Hit) -> float:  # score = cosine when one language was asked for
            return hit.similarity + (offset if hit.lang != query_lang else 0.0)

        lane = None
        if langs is not None and scoped.with_lang(None).where() is None:
            lane = self._shadow_lane(vector, depth, scoped, sorted(langs & {only} if only else langs), calibrated)
        if lane is None:
            lane = self._filtered_lane(vector, depth, scoped, present, query_lang, only, calibrated)
        lane = sorted(lane, key=calibrated, reverse=True)[:depth]
        for hit in lane:
            hit.score = calibrated(hit)
        return lane

    def _shadow_lane(
        self, vector: list[float], depth: int, scoped: Filters, langs: list[str], calibrated: Any
    ) -> list[Hit] | None:
        """Each language's top ``depth`` from its shadow, the best ``depth`` read back; None if a shadow failed.

        The shadow query carries every clause but ``lang`` (the shadow holds
        one language), so filters are enforced inside the store. Only the
        lane's ``depth`` best (on calibrated cosine) are read back from the
        collection, which costs Chroma by the id. A hit counts only if the
        collection still holds the chunk with the metadata the shadow
        matched: a chunk deleted or rewritten since the shadow's copy (a
        write in progress, or one a crash cut short) is left out.
        """
        where = scoped.with_lang(None).where()
        found: dict[str, Hit] = {}
        try:
            for lang in langs:
                shadow = self._facts.shadow(self.collection, lang)
                if shadow is None:  # declared, but no chunk of it was ever written
                    continue
                result = shadow.query(query_embeddings=[vector], n_results=depth, where=where,
                                      include=["metadatas", "distances"])
                for cid, meta, dist in zip(result["ids"][0], result["metadatas"][0], result["distances"][0]):
                    found[cid] = hit_from_record(cid, "", meta or {}, 1.0 - float(dist))
        except Exception:  # dropped by a re-index meanwhile: forget the handles, ask the collection
            self._facts.forget_shadows()
            return None
        best = sorted(found.values(), key=calibrated, reverse=True)[:depth]
        if not best:
            return []
        got = self.collection.get(ids=[hit.chunk_id for hit in best], include=["documents", "metadatas", "embeddings"])
        return [
            hit_from_record(cid, text, meta or {}, found[cid].similarity, emb)
            for cid, text, meta, emb in zip(got["ids"], got["documents"], got["metadatas"], got["embeddings"])
            if (meta or {}) == found[cid].metadata
        ]

    def _filtered_lane(
        self, vector: list[float], depth: int, scoped: Filters, present: Any, query_lang: str, only: str | None,
        calibrated: Any,
    ) -> list[Hit]:
        """Without shadows: one query of the collection, then ``lang``-filtered queries where it falls short.

        The approximate (HNSW) unfiltered search can miss the one passage in
        the other language that answers, which is what cross-lingual search
        is for (seen in the suite on the 353-chunk sample corpus). Up to
        ``FILTERED_LANES_MAX_CHUNKS`` chunks a ``lang``-filtered query is
        cheap, so every other corpus language gets one, and the query's own
        language one when passages it did not reach could still enter the
        lane's top ``EXACT_TOP``. Beyond that one query of ``DEEP_POOL`` is
        asked and a language gets its own query only when a passage the pool
        missed could still enter the top ``EXACT_TOP``: it scores at most the
        pool's lowest cosine (plus the cross-lingual offset), and it cannot
        pass ``EXACT_TOP`` passages of its own language already in the pool.
        Serves searches that keep a clause, and indexes without shadows.
        """
        if only:
            return self._dense(vector, depth, scoped)
        offset = self.weights.cross_lingual_offset if query_lang in CORPUS_LANGS else 0.0
        langs = [lang for lang in CORPUS_LANGS if present is None or lang in present.get("lang", (lang,))]
        small = self._facts.size(self.collection) <= FILTERED_LANES_MAX_CHUNKS
        asked = depth * 3 if small else max(DEEP_POOL, depth * 3)
        pool = {hit.chunk_id: hit for hit in self._dense(vector, asked, scoped)}
        if len(pool) == asked:  # else the query returned every passage there is
            floor = min(hit.similarity for hit in pool.values())
            ranked = sorted(map(calibrated, pool.values()), reverse=True)
            bar = ranked[min(EXACT_TOP, len(ranked)) - 1]

            def could_enter(lang: str) -> bool:  # a passage of ``lang`` the pool missed scores <= floor
                many = sum(hit.lang == lang for hit in pool.values()) >= EXACT_TOP
                return not many and floor + (offset if lang != query_lang else 0.0) >= bar

            if small:  # every other language (HNSW can miss its one answer); the query's own if it could matter
                wanted = [lang for lang in langs if lang != query_lang or floor >= bar]
            else:
                wanted = [lang for lang in langs if could_enter(lang)]
            for lang in wanted:
                for hit in self._dense(vector, depth, scoped.with_lang(lang)):
                    pool.setdefault(hit.chunk_id, hit)
        return list(pool.values())

    def _query_vector(self, query: str) -> list[float]:
        """A question is embedded as a query; a passage used as a query, as a passage.

        e5 is trained asymmetric (``query:`` against ``passage:``); finding a passage's
        translation is a symmetric task, and embedding the query passage the way the
        indexed passages were embedded measured better on NTREX: ja→vi R@1 0.964 → 0.971,
        vi→ja 0.965 → 0.973 (dense, 549 passages each).
        """
        if is_question(query):
            return self.embeddings.embed_query(query)
        return self.embeddings.embed_documents([query])[0]

    def _dense(self, vector: list[float], n: int, filters: Filters) -> list[Hit]:
        result = self.collection.query(
            query_embeddings=[vector],
            n_results=n,
            where=filters.where(),
            include=["documents", "metadatas", "distances", "embeddings"],
        )
        return [
            hit_from_record(cid, text, meta or {}, 1.0 - float(dist), emb)
            for cid, text, meta, dist, emb in zip(
                result["ids"][0], result["documents"][0], result["metadatas"][0], result["distances"][0],
                result["embeddings"][0],
            )
        ]

    def _keyword_lanes(
        self, query: str, depth: int, filters: Filters, cross_lingual: bool
    ) -> list[tuple[float, list[Hit]]]:
        assert self.keyword is not None
        terms = search_tokens(query)
        query_lang = detect_lang(query)
        if query_lang not in ("vi", "ja", "en"):
            return [(self.weights.keyword_same_lang, self._keyword(terms, depth, filters))]
        lanes = []
        if not filters.lang or filters.lang in ("any", query_lang):
            lanes.append((self.weights.keyword_same_lang, self._keyword(terms, depth, filters.with_lang(query_lang))))
            if ASKS_TERM.search(query):
                # "What is X in Japanese?" is answered by the glossary row that holds X, which
                # general passages using X outrank (measured: the own set's glossary questions
                # ranked the glossary 2nd-3rd). The lane searches glossary documents only.
                glossary_only = replace(filters.with_lang(query_lang), tags=(*filters.tags, GLOSSARY_TAG))
                lanes.append((self.weights.glossary_lookup, self._keyword(terms, depth, glossary_only)))
        cross_weight = self._cross_weight(query)
        if not cross_lingual or not cross_weight:
            return lanes
        translations = self.glossary().translate(query, query_lang)
        ranks = ordinals.translations(query, query_lang)
        for lang in CORPUS_LANGS:
            if lang == query_lang or (filters.lang and filters.lang not in ("any", lang)):
                continue
            glossed = [t for term in translations.get(lang, []) for t in tokens(term)]
            # "đầu tiên" (first) as 最初: the word that tells the answer from passages on the same event.
            glossed += [t for term in ranks.get(lang, []) for t in tokens(term)]
            cross_terms = neutral_only(terms) + glossed
            if glossed or any(is_strong(t) for t in cross_terms):
                lanes.append((cross_weight, self._keyword(cross_terms, depth, filters.with_lang(lang))))
        return lanes

    def _cross_weight(self, query: str) -> float:
        """The cross-language keyword lane is for questions, not for passages used as queries.

        In a question, a year or a decree number is a strong clue; in a whole
        passage (NTREX passage-to-passage retrieval), shared numbers are common
        and the lane is noise that pulled R@1 from 0.953 to 0.852 (measured).
        """
        return self.weights.keyword_cross_lang if is_question(query) else 0.0

    def _keyword(self, terms: list[str], n: int, filters: Filters) -> list[Hit]:
        assert self.keyword is not None
        ranked = self.keyword.search(terms, n, filters)
        if not ranked:
            return []
        ids = [cid for cid, _ in ranked]
        got = self.collection.get(ids=ids, include=["documents", "metadatas", "embeddings"])
        by_id = {
            cid: (text, meta, emb)
            for cid, text, meta, emb in zip(got["ids"], got["documents"], got["metadatas"], got["embeddings"])
        }
        hits = []
        for cid, bm25 in ranked:
            if cid in by_id:
                hit = hit_from_record(cid, *by_id[cid][:2], similarity=0.0, vector=by_id[cid][2])
                hit.score = bm25
                hits.append(hit)
        return hits

    def following(self, hit: Hit, filters: Filters | None = None) -> Hit | None:
        """The chunk after ``hit`` in its document, or None (the last chunk, or one ``filters`` hide).

        A section can run past a chunk boundary: under "3.2 令和5年度公募の概要" the passage
        ends after one bullet, and the figures asked for are the next chunk's first lines. One
        ``get`` by document and position (about 2 ms on the sample corpus); the caller's filters
        go with it, so it shows nothing a search would not.
        """
        position = hit.metadata.get("position")
        if not isinstance(position, int) or not hit.doc_id:
            return None
        clauses: list[dict[str, Any]] = [{"doc_id": hit.doc_id}, {"position": position + 1}]
        where = (filters or Filters()).where()
        if where:
            clauses += where["$and"] if "$and" in where else [where]
        got = self.collection.get(where={"$and": clauses}, include=["documents", "metadatas"])
        if not got["ids"]:
            return None
        return hit_from_record(got["ids"][0], got["documents"][0], got["metadatas"][0] or {}, similarity=0.0)

    def glossary(self) -> Glossary:
        """The glossary, reloaded when the keyword index changes size (a cheap proxy for 'changed')."""
        stamp = self.keyword.count() if self.keyword is not None else 0
        with self._lock:
            if self._glossary is None or stamp != self._glossary_stamp:
                self._glossary = Glossary.from_collection(self.collection)
                self._glossary_stamp = stamp
            return self._glossary


class _StoreFacts:
    """What the dense lane remembers about its collection: declared facet values, and whether it is shadowed."""

    def __init__(self) -> None:
        self.present: facets.Present | None = None
        self.shadowed = False
        self._read_at = float("-inf")
        self._shadows: dict[str, Any] = {}
        self._size = 0
        self._size_at = float("-inf")

    def refresh(self, collection: Any) -> None:
        """Re-read the registry if older than ``facets.FRESH_SECONDS`` (unknown: ``UNKNOWN_SECONDS``)."""
        age = time.monotonic() - self._read_at
        if age > (UNKNOWN_SECONDS if self.present is None else facets.FRESH_SECONDS):
            self.read(collection)

    def read(self, collection: Any) -> None:
        registry = facets.records(collection)  # one request: the declarations and the shadows' marker
        self.present, self.shadowed = facets.present_in(registry), shadows.is_complete(registry)
        self._read_at = time.monotonic()

    def shadow_langs(self) -> frozenset[str] | None:
        """The languages to ask shadow by shadow; None when the shadows do not cover every chunk."""
        if not self.shadowed or self.present is None:
            return None
        langs = self.present.get("lang", frozenset())
        return langs if all(shadows.nameable(lang) for lang in langs) else None

    def shadow(self, collection: Any, lang: str) -> Any | None:
        if lang not in self._shadows:
            found = shadows.open_shadow(collection, lang)
            if found is None:
                return None  # asked again next time: a writer creates it before writing its chunks
            self._shadows[lang] = found
        return self._shadows[lang]

    def size(self, collection: Any) -> int:
        if time.monotonic() - self._size_at > UNKNOWN_SECONDS:
            self._size, self._size_at = int(collection.count()), time.monotonic()
        return self._size

    def forget_shadows(self) -> None:
        self._shadows.clear()
        self._read_at = float("-inf")


def is_question(query: str) -> bool:
    """A question, as opposed to a passage pasted as the query.

    Length alone does not tell them apart in Japanese, which packs a
    two-sentence news passage into fewer than 200 characters, so several
    sentences that are not all questions are a passage too, and so is one
    sentence that ends in a full stop and asks nothing (:func:`_is_statement`).
    """
    sentences = split_sentences(query)
    if len(query) > QUESTION_CHARS or _is_quoted_speech(query):
        return False
    if len(sentences) <= 1:
        return not _is_statement(query)
    return not [s for s in sentences if len(s) >= 15 and not _ASKS.search(s)]


def _is_quoted_speech(text: str) -> bool:
    """Text that ends where a quotation closes after a full stop (「…願う。」, “… tôi.”) is a passage.

    A question typed into a search box seldom ends so, but a quoted remark is often short, or
    several short sentences, or holds a word that asks (何が起こったのか, いつも), which made
    such passages read as questions (6 of the 11 NTREX Japanese passages that did, embedded
    with the ``query:`` prefix). A quote that closes on a question mark or on か still asks.
    """
    return bool(_CLOSES_QUOTE.search(text)) and not _ASKS_AT_END.search(text)


def _is_statement(sentence: str) -> bool:
    """One sentence that ends in a full stop and asks nothing: a one-sentence passage, not a question.

    Most NTREX passages are one sentence; as questions they were embedded with the ``query:``
    prefix, which measured worse for finding their translation (dense R@1 ja→vi 0.965 -> 0.971,
    vi→ja 0.969 -> 0.973 once embedded as passages). None of the project's 90 evaluation
    questions reads as a statement.
    """
    if len(sentence) < 15 or not _STATEMENT_END.search(sentence):
        return False
    return not (_ASKS.search(sentence) or _ELLIPTICAL_ASK.search(sentence))


def hit_from_record(chunk_id: str, text: str, meta: dict[str, Any], similarity: float, vector: Any = None) -> Hit:
    page = meta.get("page")
    return Hit(
        doc_id=str(meta.get("doc_id", "")),
        chunk_id=chunk_id,
        title=str(meta.get("title", "")),
        source=str(meta.get("source", "")),
        page=int(page) if page is not None else None,
        lang=str(meta.get("lang", "")),
        score=similarity,
        text=text,
        section=meta.get("section"),
        similarity=similarity,
        metadata=meta,
        vector=vector,
    )


def sentence_coverage(weights: dict[str, float], text: str) -> float:
    """The largest share of the query's term weight that one sentence of ``text`` holds."""
    total = sum(weights.values())
    if total <= 0:
        return 0.0
    best = max((sum(w for term, w in weights.items() if term in terms) for terms in _sentence_terms(text)), default=0.0)
    return best / total


def shared_numbers(numbers: set[str], text: str) -> float:
    """Jaccard overlap of the neutral tokens (numbers, codes, acronyms) of a query and of ``text``.

    A decimal is compared whichever mark it is written with: Vietnamese writes 7,5 where
    Japanese writes 7.5 (the keyword index keeps the written form; changing its tokens would
    need every index rebuilt).
    """
    ours = {_decimal_point(term) for term in numbers}
    theirs = {_decimal_point(term) for terms in _sentence_terms(text) for term in neutral_only(list(terms))}
    union = ours | theirs
    return len(ours & theirs) / len(union) if union else 0.0


_DECIMAL_COMMA = re.compile(r"(?<=\d),(?=\d)")


def _decimal_point(term: str) -> str:
    """``n:7,5`` -> ``n:7.5``: a separator still inside a number is a decimal one (thousands ones are gone)."""
    return _DECIMAL_COMMA.sub(".", term)


def length_mismatch(expected: int, tokens_of_hit: Any) -> float:
    """How far a hit's length is from the expected one, as the absolute log of their ratio (0 = equal).

    A hit that does not say how many tokens it has is not judged.
    """
    if not isinstance(tokens_of_hit, (int, float)) or tokens_of_hit <= 0 or expected <= 0:
        return 0.0
    return abs(math.log(tokens_of_hit / expected))


@functools.lru_cache(maxsize=4096)
def _sentence_terms(text: str) -> tuple[frozenset[str], ...]:
    """Keyword terms per sentence; cached, since the same passages come back query after query
    (tokenising 40 Japanese passages takes about 40 ms)."""
    return tuple(frozenset(tokens(sentence)) for sentence in split_sentences(text))


def fuse(lanes: list[tuple[float, list[Hit]]]) -> list[Hit]:
    """Weighted sum of each lane's scores, min-max normalised within the lane.

    A lane's scores (calibrated cosine, BM25) are not comparable with another
    lane's, but within a lane their spread says how much better the first
    hit is than the tenth, which rank fusion throws away. Measured on 400
    questions each (bench/retrieval.md): XQuAD-vi R@1 0.938 with RRF, 0.955
    with this; JSQuAD 0.823 with RRF, 0.890 with this.
    """
    scores: dict[str, float] = {}
    best: dict[str, Hit] = {}
    for weight, lane in lanes:
        if not lane:
            continue
        high = max(hit.score for hit in lane)
        low = min(hit.score for hit in lane)
        for hit in lane:
            share = (hit.score - low) / (high - low) if high > low else 1.0
            scores[hit.chunk_id] = scores.get(hit.chunk_id, 0.0) + weight * share
            known = best.get(hit.chunk_id)
            if known is None or hit.similarity > known.similarity:
                best[hit.chunk_id] = hit
    ranked = sorted(scores, key=lambda cid: (-scores[cid], -best[cid].similarity))
    out = []
    for chunk_id in ranked:
        hit = best[chunk_id]
        hit.score = scores[chunk_id]
        out.append(hit)
    return out


def fold_twins(hits: list[Hit], asker_lang: str) -> list[Hit]:
    """Fold a passage's translation under it; the asker's language comes first.

    Two hits are twins when their documents are translations of each other
    and their vectors say they are the same passage.
    """
    out: list[Hit] = []
    for hit in hits:
        twin_of = next((kept for kept in out if _are_twins(kept, hit)), None)
        if twin_of is None:
            out.append(hit)
            continue
        if hit.lang == asker_lang and twin_of.lang != asker_lang:
            # Promote the asker's language; the other becomes the folded twin.
            position = out.index(twin_of)
            hit.twins = [twin_of, *twin_of.twins]
            twin_of.twins = []
            hit.score = max(hit.score, twin_of.score)
            out[position] = hit
        else:
            twin_of.twins.append(hit)
    return out


def _are_twins(a: Hit, b: Hit) -> bool:
    if a.lang == b.lang or a.vector is None or b.vector is None:
        return False
    linked = a.metadata.get("translation_of") == b.doc_id or b.metadata.get("translation_of") == a.doc_id
    if not linked:
        return False
    return float(np.dot(np.asarray(a.vector), np.asarray(b.vector))) >= TWIN_SIMILARITY


class KakehashiRetriever(BaseRetriever):
    """The same search as a LangChain retriever, for chains and agents."""

    retriever: Any
    k: int = 5
    filters: Filters = Filters()

    model_config = {"arbitrary_types_allowed": True}

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        return [hit.to_document() for hit in self.retriever.search(query, self.k, self.filters)]

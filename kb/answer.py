"""Extractive answers: the evidence sentences that best answer the question, cited.

Used when no LLM endpoint is configured (the offline default) and as the
fallback when the endpoint fails. The answer only ever contains sentences
copied from retrieved passages, each followed by its citation marker, so it
cannot say anything the documents do not.
"""

from __future__ import annotations

import math
import re
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, NamedTuple

from kb import ordinals
from kb.glossary import Glossary
from kb.messages import answer_lang, message
from kb.retrieve import ASKS_TERM, GLOSSARY_TAG, Hit, Weights
from kb.text import CONTINUES_SENTENCE, detect_lang, split_sentences
from kb.tokenize import neutral_only, tokens


@dataclass
class Citation:
    n: int
    doc_id: str
    title: str
    source: str
    page: int | None
    lang: str
    text: str
    section: str | None = None
    chunk_id: str = ""
    used: list[str] = field(default_factory=list)
    """The sentences of ``text`` the answer quotes (for highlighting)."""


@dataclass
class Answer:
    question: str
    lang: str
    answer: str
    found: bool
    mode: str
    citations: list[Citation]
    notes: list[str] = field(default_factory=list)
    """System notes in the asker's language (LLM fallback, removed citations)."""
    standalone_query: str = ""
    """The follow-up rewritten as a self-contained query (what was searched)."""
    stripped_citations: list[str] = field(default_factory=list)
    """Citation markers the LLM wrote that named no given passage, e.g. ["[7]"]."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


FOUND_THRESHOLD = 0.25
"""Calibrated on tests/eval/questions.jsonl (see :func:`evidence_strength`): off-topic questions
score -0.28 to 0.19, the weakest answerable ones 0.30 (cross-lingual) and 0.64 (same language);
the threshold sits between. Questions near the topic that the documents do not answer are caught
by :func:`states_unknown` and by the name check instead."""
EVIDENCE_HITS = 8
CROSS_LINGUAL_OFFSET = Weights().cross_lingual_offset
EVIDENCE_PASSAGES = 3
MAX_SENTENCES = 3


@dataclass
class AnswerContext:
    """What the extractive answerer knows beyond the hits: term rarity and the glossary."""

    frequencies: Callable[[list[str]], tuple[dict[str, int], int]] | None = None
    """``KeywordIndex.document_frequencies``: (df per term, number of chunks)."""
    glossary: Glossary | None = None
    threshold: float = FOUND_THRESHOLD
    following: Callable[[Hit], Hit | None] | None = None
    """``Retriever.following`` under the asker's filters: the chunk after a passage, for a section
    the chunk boundary cut (see :func:`_continuation`)."""


def extractive_answer(
    question: str, hits: list[Hit], lang: str | None = None, context: AnswerContext | None = None
) -> Answer:
    """Quote the sentences that best answer ``question``, each with its citation.

    A sentence scores by the rarity-weighted share of the question's terms it
    contains (through the glossary for the other language), by the rank of
    its passage, and by whether it holds what the question asks for (a date
    for "when", a number for "how many"); MMR keeps the chosen sentences from
    repeating each other; the most direct sentence leads.
    """
    context = context or AnswerContext()
    lang = answer_lang(lang or detect_lang(question))
    query = QueryProfile.build(question, lang, context)
    evidence = hits[:EVIDENCE_HITS]
    # Tokenising a passage (Sudachi for Japanese) is the costly step: once per passage.
    passage_terms = [set(tokens(h.text)) for h in evidence]
    coverages = [query.coverage(terms, h.lang) for terms, h in zip(passage_terms, evidence)]
    candidates = _candidates(query, evidence, coverages, passage_terms, context.following)
    strength = evidence_strength(query, evidence, coverages) if candidates else 0.0
    if not candidates or strength < context.threshold:
        return not_found(question, lang, hits)
    if query.unseen_names and not any(query.bridges_unseen(t, h.lang, query.unseen_names)
                                      for t, h in zip(passage_terms, evidence)):
        return not_found(question, lang, hits)  # about a place or body that no document names
    if _ASKS_NAME.search(question) and not any(names_asked(query, c) for c in candidates):
        return not_found(question, lang, hits)  # asked for a name and no evidence sentence names anyone
    chosen = _select(candidates, query)
    if not measure_named(question, chosen):
        return not_found(question, lang, hits)  # asks for a measure (a price, a population) no quoted sentence names
    if not office_holder_named(question, chosen):
        return not_found(question, lang, hits)  # asks who holds an office of a place; no sentence names its holder
    if not year_named(query, chosen, context.following):
        return not_found(question, lang, hits)  # about a year (令和7年度) no quoted sentence is about
    terms_of = {h.chunk_id: terms for h, terms in zip(evidence, passage_terms)}
    if not any(query.same_language(c.hit.lang) or query.named_in(terms_of.get(c.hit.chunk_id, c.terms), c.hit.lang)
               for c in chosen):
        return not_found(question, lang, hits)  # other-language passages that share only a year with it
    said = (chosen[0].hit, chosen[0].sentence) if states_unknown(chosen[0].sentence) else _unknown_asked(query, evidence)
    if said is not None:
        # The documents themselves say this is not known: refuse, and show where they say so.
        hit, sentence = said
        citation = citation_for(hit, 1)
        citation.used.append(sentence)
        text = message("not_found", lang) + "\n" + message("documents_say", lang) + f" {sentence} [1]"
        return Answer(question, lang, text, False, "extractive", [citation])
    numbering: dict[str, int] = {}
    citations: list[Citation] = []
    parts: list[str] = []
    for candidate in chosen:
        hit = candidate.hit
        if hit.chunk_id not in numbering:
            numbering[hit.chunk_id] = len(numbering) + 1
            citations.append(citation_for(hit, numbering[hit.chunk_id]))
        citations[numbering[hit.chunk_id] - 1].used.extend(candidate.sources or (candidate.sentence,))
        parts.append(f"{candidate.sentence} [{numbering[hit.chunk_id]}]")
    evidence_langs = {c.hit.lang for c in chosen}
    prefix, gloss = "", ""
    if lang not in evidence_langs and len(evidence_langs) == 1:
        other = evidence_langs.pop()
        prefix = message(f"other_lang_{other}", lang) + "\n"
        gloss = _gloss(context.glossary, [c.sentence for c in chosen], other, lang)
    return Answer(question, lang, prefix + "\n".join(parts) + gloss, True, "extractive", citations)


# ---------------------------------------------------------------------------- scoring

_WANTS = (
    ("date", re.compile(r"khi nào|ngày nào|năm (?:tài khóa )?nào|tháng nào|bao giờ|thời điểm|いつ|何年|何月|何日|when", re.I)),
    ("share", re.compile(
        r"bao nhiêu phần|phần (?:nào|mấy)|tỷ lệ|phần trăm|何割|何分の|何%|何％|何パーセント|割合|比率"
        r"|what (?:share|fraction|proportion|percentage)", re.I)),
    ("number", re.compile(
        r"bao nhiêu|mấy|tỷ lệ|bao lâu|mức|何件|何社|何か国|何カ国|いくら|何%|何パーセント|割合|何年間|何日|上限"
        r"|何\s?(?:MW|kW|GW|万|億|円|人|%|％|トン|倍)|どこまで|how (many|much)", re.I)),
    ("ref", re.compile(r"nghị định nào|quyết định nào|thông tư nào|văn bản nào|số hiệu|どの(政令|決定|決議|通達|法)|(?:政令|決定|決議|通達|法令)は(?:何|どれ)|番号|which (decree|decision|resolution)", re.I)),
    ("term", ASKS_TERM),
    ("person", re.compile(r"\bai\b|người nào|họ tên|誰|だれ|どなた|氏名|人物|\bwho\b", re.I)),
    ("org", re.compile(
        r"công ty nào|doanh nghiệp nào|tổ chức nào|cơ quan nào|đơn vị nào|社名|企業名|会社名"
        r"|どの(?:企業|会社|機関|団体)|(?:会社|企業|機関|団体)は(?:どこ|何)|which (?:company|organi[sz]ation)", re.I)),
    ("place", re.compile(r"ở đâu|tại đâu|nơi nào|địa điểm nào|どこで|どこに|場所|\bwhere\b", re.I)),
    ("list", re.compile(
        r"gồm những|bao gồm những|gồm các\b.*\bnào|những (?:gì|lĩnh vực nào|hướng nào|nội dung nào|chữ)"
        r"|何の頭文字|どのような(?:もの|項目|分野|柱)|何が含まれ|を(?:すべて|全て)?挙げ|列挙|\bwhat are the\b", re.I)),
)
"""What a question asks for, by its question words; the first match wins. "share" (what part of the cost,
何割) comes before "number": any figure answers "how much", only a fraction or percentage answers "what part"
("tối đa bao nhiêu phần chi phí" was answered by "36 projects" under a glossary match)."""
_HAS = {
    "date": re.compile(r"\d{1,2}/\d{1,2}/\d{4}|\d{4}年|\d+月|tháng \d+|năm \d{4}|\b(19|20)\d{2}\b"),
    "number": re.compile(r"\d"),
    # "2/3 chi phí", "初期投資費用の最大2分の1", "tối đa 50%", "hai phần ba": a part of a whole. A fraction
    # is one digit over one digit, not part of a date or reference ("27/9/2021", "ngày 1/7").
    "share": re.compile(
        r"(?<![\d/])(?<!ngày )\d\s?/\s?\d(?![\d/])|\d\s?分の\s?\d|\d\s?割|\d(?:[.,]\d+)?\s?(?:%|％|phần trăm|percent)"
        r"|(?:một|hai|ba) phần (?:hai|ba|tư|năm|mười)|một nửa|半分|半額|\bhalf\b", re.I),
    "ref": re.compile(r"\d+/(\d{4}/)?[A-ZĐ]{2,}"),
    # A title or honorific next to a name: "ông Phạm Quốc Đăng", "Bộ trưởng Huỳnh Thành Đạt",
    # "Hayashi Tomoya氏". Lower-case "bà" only: "Bà Rịa" is a place.
    "person": re.compile(
        r"(?:\bông|\bbà|\bÔng|Bộ trưởng|Thứ trưởng|Thủ tướng|Chủ tịch|Giám đốc|Đại sứ|Thị trưởng)\s+[A-ZĐ一-龥]"
        r"|[^\s、。・「」()（）]{2,}氏|(?:大臣|市長|知事|首相|局長|係長|課長|講演者)[:：]?\s?[A-Z一-龥ァ-ヴ]"
        r"|\b(?:Mr|Ms|Mrs|Dr)\.? [A-Z]"),
    "org": re.compile(
        r"\b(?:[Cc]ông ty|[Tt]ập đoàn|Trung tâm|Hiệp hội|Quỹ)\s+[A-Z]|センター|機構|協会|財団|株式会社|[(（]株[)）]|[ァ-ヴー]{2,}(?:社|グループ)"
        r"|\bCo\.,? ?Ltd|\bCorporation\b|\bInc\."),
    "list": re.compile(r"\n|(?:[^,、，;；]+[,、，;；]){3,}"),  # a quoted list, or a sentence enumerating 3+ items
    "place": re.compile(
        r"\b(?:tại|ở) (?:thành phố|tỉnh|TP\.?|[A-ZĐ])|会場|[一-龥ァ-ヴ]+(?:市|県|省|区|町)(?:で|に|において|であ)"
        r"|\b(?:in|at) [A-Z]"),
}
_ROLE = re.compile(
    r"[一-龥ァ-ヴー]+(?<![前後])者(?:である|です|だ|が|は|に|と|。|、)"
    r"|\bngười (?:đại diện|nộp|đề xuất|đứng đầu|phụ trách|ký)|\b(?:nhà|chủ) đầu tư|\bchủ dự án"
    r"|\b(?:applicant|representative|operator)s?\b", re.I)
"""A role that answers "who?" as well as a name does: 代表事業者, 申請者 (前者/後者 are "the former/latter"),
"người đại diện", "chủ đầu tư". "Who applies for the JCM subsidy?" is answered by "the consortium's
Japanese representative company applies", which names no one."""
_REFERENCE = re.compile(r"\d+/\d{4}/[A-Za-zĐđ]+(?:-[A-Za-zĐđ0-9]+)*")
_ASKS_NAME = re.compile(
    r"氏名|名前|社名|企業名|会社名|họ tên|tên (?:công ty|doanh nghiệp|người)|công ty nào|doanh nghiệp nào"
    r"|\bname of\b|which company", re.I)
"""Asks for a name outright. "Who applies?" can be answered by a role; "give the name" cannot."""
_FIGURE = re.compile(r"n:[\d.,/%]+$")
"""A neutral term that is only a number (a year, an amount): it links unrelated passages."""
_QUESTION_WORDS = set(
    "w:gi w:gì w:nao w:nào w:bao w:nhieu w:nhiêu w:khi w:ai w:dau w:đâu w:sao w:the w:thế w:nhu w:như "
    "w:what w:which w:who w:when w:how w:何 w:いつ w:どこ w:誰 w:どの w:どう w:為る w:ある w:いる w:成る w:言う"
    .split()
)


NAME_TOPIC = 0.05
"""A sentence that names someone must share this much of the question's terms (rarity-weighted,
through the glossary across languages) to name whom the question asks for. On the own evaluation
set the sentences that do share 0.11-0.39; a speaker's name on a slide about another event, 0."""


def names_asked(query: "QueryProfile", candidate: "_Candidate") -> bool:
    """Whether ``candidate`` names someone (or a company) and is about what the question asks.

    A role ("the Japanese representative company") answers "who applies?", not "give the name".
    """
    named = bool(query.wants in _HAS and _HAS[query.wants].search(candidate.sentence))
    return named and query.coverage(candidate.terms, candidate.hit.lang) >= NAME_TOPIC


_LATIN = "A-Za-zÀ-ɏḀ-ỿ"
_LATIN_WORD = re.compile(rf"(?<![{_LATIN}0-9/\-])[{_LATIN}]+(?![{_LATIN}0-9/\-])")
"""A word of letters alone: not a piece of a reference such as 232/QĐ-TTg or NĐ-CP."""
_PLACE_NAME = re.compile(r"^(?:[一-龥]{1,4}[市都府県区町村]|[ァ-ヴー・]{2,}[市省州])$")
"""東京都, 横浜市, ハノイ市, ドンナイ省. Not ministries (環境省): their names change and are spelled variously."""


_CALENDAR = frozenset(
    "january february march april may june july august september october november december "
    "monday tuesday wednesday thursday friday saturday sunday".split())
"""Capitalised in English, but dates, not names."""


def name_terms(question: str, asked: set[str] | None = None) -> list[frozenset[str]]:
    """The index terms of the question's proper names: the places, bodies and people it is about.

    Why: a question about a place no document names ("Yokohama", 東京都の予算) is out of
    scope however well the rest of its words match; names are the one kind of word that
    cannot be paraphrased away. Capitalised words count, except one that merely opens the
    question (unless it is an acronym); in Japanese, place names (東京都, ハノイ市).
    Katakana words do not: most are ordinary loanwords (ロードマップ).

    One set of terms per name word: a Vietnamese word is indexed with and without its
    diacritics (w:cát, w:cat), and either spelling found in a document is the name found.
    """
    asked = set(tokens(question)) if asked is None else asked  # the caller's tokens, when it has them
    names: list[frozenset[str]] = []
    for match in _LATIN_WORD.finditer(question):
        word = match.group()
        opens = not question[: match.start()].strip()
        if word.lower() in _CALENDAR:
            continue
        if word[:1].isupper() and (not opens or (len(word) > 1 and word.isupper())):
            spellings = frozenset(t for t in tokens(word) if t in asked)
            if spellings:
                names.append(spellings)
    names += [frozenset([t]) for t in asked if _PLACE_NAME.match(t.partition(":")[2])]
    return names


_MEASURES = (
    # (what the question asks for, what a sentence that gives it names), both languages alike:
    # the evidence may be in the other language. An English question's words are asked for too
    # (the documents, and so the evidence, are Vietnamese and Japanese).
    (r"dân số|人口|\bpopulation\b", r"dân số|人口|万人|triệu người"),
    (r"ngân sách|予算|\bbudget\b", r"ngân sách|予算|kinh phí|経費|事業費"),
    (r"(?<!đánh )\bgiá\b(?! trị)|価格|料金|単価|値段|\bprices?\b",
     r"(?<!đánh )\bgiá\b(?! trị)|価格|料金|単価|値段"),
    (r"nhân viên|người lao động|従業員|職員数|社員数|\bemployees\b|\bstaff\b",
     r"nhân viên|người lao động|従業員|職員|社員"),
    (r"thuế suất|thuế thu nhập|税率|法人税|\btax rate\b|\bincome tax\b", r"thuế suất|thuế thu nhập|税率|法人税"),
    (r"mức phạt|xử phạt|tiền phạt|罰金|罰則|過料|\bfines?\b|\bpenalt(?:y|ies)\b", r"phạt|罰金|罰則|過料"),
    (r"chi phí xây dựng|建設費|総工費|工事費|\bconstruction costs?\b",
     r"chi phí|vốn đầu tư|建設費|総工費|工事費|事業費|投資額"),
    (r"tăng trưởng|GRDP|成長率|\bgrowth rate\b", r"tăng trưởng|GRDP|成長率"),
)
_MEASURE_PATTERNS = tuple((re.compile(q, re.I), re.compile(e, re.I)) for q, e in _MEASURES)


def measure_named(question: str, chosen: list["_Candidate"]) -> bool:
    """Whether the quoted evidence names the measure the question asks for, if it asks for one.

    A question for a price, a population, a budget, a head count, a tax or a fine
    names that measure, and a sentence that gives it names it too: "Dân số ... là bao
    nhiêu?" is not answered by a plan's date, nor "JCMクレジットの価格" by a count of
    credits, however many of the other words they share. The answer's lead sentence (the
    most direct one), or the section it stands in, must name it, in either language: a
    budget quoted third, below a line on the Hanoi stock exchange, is some other budget.
    Measured on tests/eval/probes.jsonl: "any quoted sentence" let that Hanoi question through.
    """
    asked = [evidence for wanted, evidence in _MEASURE_PATTERNS if wanted.search(question)]
    if not asked:
        return True
    lead = chosen[0].sentence + "\n" + (chosen[0].hit.section or "")
    return all(evidence.search(lead) for evidence in asked)


_OFFICE_JA = re.compile(r"([一-龥ァ-ヴー]{1,6}?[県府都省]?)の?(市長|知事|委員長)")
"""堺市長 (堺 + 市長: the place is 堺市), 大阪府知事, バリア・ブンタウ省人民委員会委員長."""
_OFFICE_VI = re.compile(
    r"\b((?i:thị trưởng|chủ tịch))(?:\s+(?i:UBND|ủy ban nhân dân))?\s+((?i:thành phố|tỉnh|TP\.?)\s+)?"
    rf"([A-ZĐ][{_LATIN}]*(?:\s*[–-]?\s*[A-ZĐ][{_LATIN}]*)*)")
_DEPUTY = re.compile(r"(?:phó|副)\s*$", re.I)


def year_named(
    query: "QueryProfile", chosen: list["_Candidate"], following: Callable[[Hit], Hit | None] | None = None
) -> bool:
    """Whether a quoted sentence (or its section) names a year the question names, if it names any.

    Why: "how many were adopted in FY2025 (令和7年度)?" matches the passages on the FY2022-2024
    rounds in every word but the year, and quoting them answers another question. On the own
    evaluation set and the probe set, every answerable question that names a year is answered by a
    sentence naming one of its years. A sentence the chunk boundary cut ("... 40 hệ thống điện
    mặt" | "trời áp mái vào năm 2027.") may name it in the next chunk's opening words.
    """
    if not query.years:
        return True
    if any((years_in(c.sentence) | years_in(c.hit.section or "")) & query.years for c in chosen):
        return True
    cut = [c.hit for c in chosen  # the passage's last sentence, and unfinished
           if c.hit.text.rstrip().endswith(c.sentence.rstrip()) and not _ENDS_SENTENCE.search(c.sentence.rstrip())]
    for hit in {h.chunk_id: h for h in cut}.values():
        after = following(hit) if following else None
        if after is not None and years_in(split_sentences(after.text)[0] if after.text else "") & query.years:
            return True
    return False


def office_holder_named(question: str, chosen: list["_Candidate"]) -> bool:
    """For "who is the mayor of X?": whether a quoted sentence names X's office itself.

    A sentence answers it if it names the office (市長, "thị trưởng", "chủ tịch") not as a
    deputy's ("Phó Chủ tịch", 副市長), and names the place as the question does
    (大阪市, "thành phố Osaka"), itself or in its section or document title. "南出賢一市長が
    率いる大阪府泉大津市" names a mayor in Osaka prefecture, not the mayor of Osaka; "Phó Chủ
    tịch UBND tỉnh" is not the chairman. Questions that name no office pass.
    """
    match = _OFFICE_JA.search(question)
    if match:
        place, office = match.group(1), match.group(2)
        if office == "市長":
            place += "市"
    else:
        match = _OFFICE_VI.search(question)
        if not match:
            return True
        office = match.group(1)
        place = ((match.group(2) or "") + match.group(3)).strip()
    if _DEPUTY.search(question[: match.start(match.lastindex if match.re is _OFFICE_JA else 1)]):
        return True  # asks for a deputy ("Phó Chủ tịch", 副市長): names do not tell deputies apart here
    office_re = re.compile(re.escape(office), re.I)
    for c in chosen:
        if not any(not _DEPUTY.search(c.sentence[: m.start()]) for m in office_re.finditer(c.sentence)):
            continue
        where = " ".join((c.sentence, c.hit.section or "", c.hit.title or "")).lower()
        if place.lower() in where:
            return True
    return False


def _is_question_word(term: str) -> bool:
    """'w:gi', and bigrams such as 'w:bao_nhieu' or 'w:la_gi' that contain one."""
    if term in _QUESTION_WORDS:
        return True
    kind, _, body = term.partition(":")
    return "_" in body and any(f"{kind}:{part}" in _QUESTION_WORDS for part in body.split("_"))


@dataclass
class QueryProfile:
    terms: dict[str, float]
    """Same-language terms of the question, weighted by rarity."""
    bridges: dict[str, dict[str, tuple[frozenset[str], ...]]]
    """Per other language: the question's terms that the glossary translates, each with the terms
    of its translations there (a passage holding all the terms of one of them matches it)."""
    lang: str
    unseen: float = 0.0
    """Rarity-weighted share of the question's terms that no indexed passage contains."""
    answer_terms: tuple[str, ...] = ()
    """For "what is X called in Japanese?": the glossary's other-language spellings of X."""
    kinds: tuple[str, ...] = ()
    """Everything the question asks for, in order ("when, and under which resolution?")."""
    years: frozenset[int] = frozenset()
    """The years the question names: sentences about other years are less likely its answer."""
    glossed: bool = False
    """Whether a glossary was at hand: without one, no other-language term can be matched."""
    unseen_terms: frozenset[str] = frozenset()
    """The question's terms no indexed passage holds as written ("w:osaka_gas" when only
    Japanese documents name 大阪ガス)."""
    unseen_names: frozenset[str] = frozenset()
    """The proper names among ``unseen_terms`` (:func:`name_terms`): "Yokohama", 東京都."""
    ranks: frozenset[int] = frozenset()
    """The ordinals and superlatives the question names ("đầu tiên", 最初; kb/ordinals.py)."""

    @property
    def wants(self) -> str | None:
        """What the question asks for first: its sentences are preferred."""
        return self.kinds[0] if self.kinds else None

    @classmethod
    def build(cls, question: str, lang: str, context: AnswerContext) -> "QueryProfile":
        asked = tokens(question)
        terms = [t for t in asked if not _is_question_word(t)]
        bridges: dict[str, dict[str, tuple[frozenset[str], ...]]] = {}
        answer_terms: list[str] = []
        for spelling, others in context.glossary.matches(question, lang) if context.glossary else ():
            for target, spellings in others.items():
                answer_terms += spellings
                bridge = bridges.setdefault(target, {})
                for term in tokens(spelling):
                    bridge[term] = bridge.get(term, ()) + tuple(frozenset(tokens(s)) for s in spellings)
        names = name_terms(question, set(asked))
        looked_up = list(dict.fromkeys(terms + [t for name in names for t in name]))
        df, n = context.frequencies(looked_up) if context.frequencies else ({}, 0)
        weight = lambda t: math.log(1 + (n - df.get(t, 0) + 0.5) / (df.get(t, 0) + 0.5)) if n else 1.0  # noqa: E731
        total = sum(weight(t) for t in set(terms))
        # The documents are Vietnamese and Japanese: an English question's words are expected
        # to be missing from them, so missing words do not say it is off-topic (see coverage).
        unseen = sum(weight(t) for t in set(terms) if n and df.get(t, 0) == 0) if lang in ("vi", "ja") else 0.0
        return cls(
            terms={t: weight(t) for t in terms},
            bridges=bridges,
            glossed=bool(context.glossary and context.glossary.entries),
            kinds=tuple(name for name, pattern in _WANTS if pattern.search(question)),
            lang=lang,
            unseen=unseen / total if total else 0.0,
            unseen_terms=frozenset(t for t in terms if n and df.get(t, 0) == 0),
            unseen_names=frozenset(
                t for name in names if n and not any(df.get(s, 0) for s in name) for t in name),
            answer_terms=tuple(dict.fromkeys(answer_terms)),
            years=years_in(question),
            ranks=ordinals.groups_in(question),
        )

    def answers(self, text: str, kind: str | None = None) -> bool:
        """Whether ``text`` holds what the question asks for first (or ``kind``): a date, a name..."""
        kind = kind or self.wants
        if kind == "term":
            return any(term in text for term in self.answer_terms)
        if kind == "date":
            text = _REFERENCE.sub(" ", text)  # the year in "202/2025/QH15" dates nothing
        if kind == "person" and _ROLE.search(text):
            return True
        return bool(kind and _HAS[kind].search(text))

    def ranks_in(self, text: str) -> bool:
        """Whether ``text`` names, in any language, the ordinal or superlative the question asks by.

        "The first country to sign" is the one a document calls first (最初); passages that tell
        of a signing without it are plausible and wrong answers.
        """
        return bool(self.ranks and self.ranks & ordinals.groups_in(text))

    def same_language(self, lang: str) -> bool:
        """Whether text in ``lang`` can be matched word for word (English questions match any)."""
        return lang == self.lang or self.lang not in ("vi", "ja")

    def named_in(self, text_terms: set[str], lang: str) -> bool:
        """Whether a text in another language shares more than figures with the question.

        Across languages, a passage near the topic (Vietnamese housing loans, a Japanese
        note on 2025 decrees) can share with the question nothing but a year. What ties
        it to the question is a name or term: a glossary translation, an acronym, a reference.
        """
        if not self.glossed:
            return True  # with no glossary to match names through, there is nothing to judge by
        figures = {t for t in self.terms if _FIGURE.match(t)}
        named = QueryProfile(
            {t: w for t, w in self.terms.items() if t not in figures}, self.bridges, self.lang)
        return named.coverage(text_terms, lang) > 0

    def bridges_unseen(self, text_terms: set[str], lang: str, unseen: frozenset[str] | None = None) -> bool:
        """Whether a text in another language holds, through the glossary, a term of the question
        (of ``unseen``; default: all) that no passage holds as written: then it is about what the
        asker's language never names."""
        bridge = self.bridges.get(lang, {})
        terms = self.unseen_terms if unseen is None else unseen
        return any(spelling <= text_terms for t in terms for spelling in bridge.get(t, ()))

    def coverage(self, text_terms: set[str], lang: str) -> float:
        """Rarity-weighted share of the question's terms found in ``text_terms``, of a text in ``lang``.

        In another language a term is found as itself only if it is language-neutral
        (a number, a reference, an acronym), or through the glossary: "Osaka Gas" is
        found in a Japanese passage that says 大阪ガス, and in part where part of a
        translation occurs. The share is of the whole question either way, so the two
        languages' passages compare directly.
        """
        total = sum(self.terms.values())
        if not total:
            return 0.0
        if lang == self.lang:
            return sum(w for t, w in self.terms.items() if t in text_terms) / total
        bridge = self.bridges.get(lang, {})
        neutral = set(neutral_only(list(self.terms)))
        # An English question matches a Vietnamese passage's Latin words as written (Sakai, Vung Tau)
        # and any passage's words through the glossary's English column.
        as_written = self.same_language(lang)

        def found(term: str) -> float:
            if term in neutral or (as_written and term in text_terms):
                return float(term in text_terms)
            # A translation found in part ("補助" of JCM設備補助事業) is partial evidence.
            return max((len(spelling & text_terms) / len(spelling) for spelling in bridge.get(term, ()) if spelling), default=0.0)

        return sum(w * found(t) for t, w in self.terms.items()) / total


@dataclass
class _Candidate:
    hit: Hit
    sentence: str
    """What the answer quotes: a sentence, a list with its lead-in, or a table row with its header."""
    terms: set[str]
    score: float
    sources: tuple[str, ...] = ()
    """The passage's own sentences it is made of (what the citation highlights)."""
    position: int = -1
    """Its place among the passage's units."""


_PAGE_NUMBER = re.compile(r"^\s*(?:\d+\s*/\s*\d+|-?\s*\d+\s*-?|p\.\s*\d+)\s*$")
_LIST_ITEM = re.compile(r"^\s*(?:[•・●◦▪*\-–]|\(?\d{1,2}[.)）]|[①-⑳])\s*")
MAX_LIST_ITEMS = 8
_CELL = re.compile(r"\s*\|\s*")


class Unit(NamedTuple):
    text: str
    """What the answer quotes."""
    sources: tuple[str, ...]
    """The passage's sentences it is made of."""
    heading: str = ""
    """The nearest heading above it in the passage: what it is about when it does not say."""
    cut: bool = False
    """A list that may go on in the next chunk: it runs to the passage's end, or its last item
    ends in ";" (the chunk boundary, often a page break, cut it)."""


def answer_units(text: str) -> list[Unit]:
    """A passage's sentences as the units an answer can quote, each with the sentences it is made of.

    Two kinds of sentence mean nothing on their own. A lead-in ending in a
    colon ("Chiến lược mô tả bốn hình ảnh đô thị, gọi tắt là 4C:") says
    only that a list follows, so it is quoted with its items. A table row
    ("2024 | 24 | 18") says nothing without its header ("Năm tài khóa | Số hồ
    sơ | Số dự án được chọn"), so it is quoted cell by cell with the
    header's labels, and its words count for matching the question. A
    slide's title is quoted with the short lines under it (see
    :func:`_labels_after`). The items and rows stay units of their own too,
    for questions about one.
    """
    sentences = split_sentences(text)
    units: list[Unit] = []
    header: list[str] | None = None
    heading = ""
    labelled_until = 0  # a slide's lines already quoted under its title are not titles themselves
    for i, sentence in enumerate(sentences):
        cells = _CELL.split(sentence.strip("| ")) if "|" in sentence else []
        if len(cells) >= 2:
            if header is None or len(cells) != len(header):
                # A table's first row labels the rest if it is labels (no figures) and the table
                # starts in this passage: one that starts with a row may have been cut mid-table.
                starts_here = i > 0 and "|" not in sentences[i - 1]
                header = cells if starts_here and not any(c.isdigit() for c in sentence) else None
                if header is not None:
                    continue
                units.append(Unit(sentence, (sentence,), heading))
                continue
            labelled = "; ".join(f"{label}: {cell}" for label, cell in zip(header, cells) if cell)
            units.append(Unit(labelled, (sentence,), heading))
            continue
        header = None
        if sentence.rstrip().endswith((":", "：")):
            items = []
            for following in sentences[i + 1 : i + 1 + MAX_LIST_ITEMS]:
                if not _LIST_ITEM.match(following):
                    break
                items.append(following)
            if items:
                rest = sentences[i + 1 + len(items):]
                cut = items[-1].rstrip().endswith((";", "；", ",", "、")) or all(_PAGE_NUMBER.match(r) for r in rest)
                units.append(Unit("\n".join([sentence, *items]), (sentence, *items), heading, cut))
                continue
        if _heading_like(sentence):
            heading = sentence
        labels = _labels_after(sentences, i) if i >= labelled_until and _is_label(sentence) else []
        if len(labels) >= 2:
            units.append(Unit("\n".join([sentence, *labels]), (sentence, *labels), heading))
            labelled_until = i + 1 + len(labels)
        units.append(Unit(sentence, (sentence,), heading))
    return units


def _labels_after(sentences: list[str], i: int) -> list[str]:
    """The short unpunctuated lines right after the heading ``sentences[i]``: a slide's bullets.

    Slide text arrives without bullet marks, and each line alone is too short to
    state anything ("Circular – tuần hoàn (循環都市)"); under their title
    ("Tầm nhìn "thành phố 4C"") they are the list the slide is about.
    """
    if _SOURCES.match(sentences[i].strip("#• ")):
        return []
    labels: list[str] = []
    for following in sentences[i + 1 : i + 1 + MAX_LIST_ITEMS]:
        if not _is_label(following):
            break
        labels.append(following)
    return labels


def _is_label(line: str) -> bool:
    """A short line that is not a sentence, a list item or a table row."""
    line = line.strip()
    return not ("|" in line or _LIST_ITEM.match(line) or len(line) > MAX_LABEL_CHARS or _ENDS_SENTENCE.search(line))


MAX_LABEL_CHARS = 80
_ENDS_SENTENCE = re.compile(r"[.。!?！？:：;；]$")


def _candidates(
    query: QueryProfile,
    hits: list[Hit],
    coverages: list[float],
    passage_terms: list[set[str]],
    following: Callable[[Hit], Hit | None] | None = None,
) -> list[_Candidate]:
    """Sentences of the best passages, scored.

    Passages are chosen first (retrieval rank and how much of the question
    they cover, and how close in meaning they are), then sentences within
    them, by the rarity-weighted share of the question they contain and by
    whether they hold what is asked for. A passage that ends inside a section
    whose heading names the question is read on into the next chunk
    (:func:`_continuation`).
    """
    passages = []
    for rank, (hit, coverage, terms) in enumerate(zip(hits, coverages, passage_terms)):
        same = query.same_language(hit.lang)
        typed = query.answers(hit.text)
        score = P_RANK / (1 + rank) + P_COVER * coverage + P_MEANING * _meaning(query, hit) + (P_TYPE if typed else 0.0)
        if query.ranks_in(hit.text):
            score += P_RANKED
        if not same and query.bridges_unseen(terms, hit.lang):
            score += P_BRIDGED
        passages.append((score, rank, hit, same))
    passages.sort(key=lambda p: -p[0])
    wordiest = _wordiest(coverages)
    out: list[_Candidate] = []
    used, read_wordiest, weakest = 0, False, 0.0
    for passage_score, rank, hit, same in passages:
        if used >= EVIDENCE_PASSAGES:
            if read_wordiest or rank != wordiest:
                continue  # the places are taken; only the passage holding most of the question's words may still come
            # Let in on its words, it is evidence like the weakest passage let in: its missing cosine
            # does not handicap its sentences further.
            passage_score = max(passage_score, weakest)
        found = _passage_units(query, hit, passage_score, following)
        out += found
        if found:  # a passage of headings or sources alone does not take a place
            used, weakest = used + 1, passage_score
        read_wordiest = read_wordiest or rank == wordiest
    out.sort(key=lambda c: -c.score)
    return out


WORDIEST_COVERAGE = 0.5
"""The share of the question (rarity-weighted) a passage holds to be read on words alone: most of it.
A passage sharing only a city's name and a year with a question on loan rates held 0.35."""


def _wordiest(coverages: list[float]) -> int | None:
    """The rank of the passage holding the largest share of the question's terms, if any holds some.

    Passages are chosen mostly by meaning, and a passage only the keyword lane found has no
    cosine: "Nhà nước hỗ trợ 2/3 chi phí, tối đa 5 tỷ yên" (a talk's slide, the best word
    match for "Khoản cấp phát ... hỗ trợ bao nhiêu phần chi phí và tối đa bao nhiêu?") ranked
    below three passages merely near the topic, and a table row on another grant was quoted.
    That passage is always read as well; its sentences still compete on their own scores.
    """
    if not coverages or max(coverages) < WORDIEST_COVERAGE:
        return None  # no passage holds most of the question: a near-topic one (a place, a year) is no better
    return max(range(len(coverages)), key=lambda i: coverages[i])


def _passage_units(
    query: QueryProfile, hit: Hit, passage_score: float, following: Callable[[Hit], Hit | None] | None
) -> list[_Candidate]:
    """The scored units of one passage, read on into the next chunk where its last section continues."""
    units = answer_units(hit.text)
    found = _scored_units(query, hit, units, passage_score)
    continued = _continuation(query, hit, units, following)
    if continued is not None:
        found += _scored_units(query, *continued, passage_score)
    return found


def _scored_units(query: QueryProfile, hit: Hit, units: list[Unit], passage_score: float) -> list[_Candidate]:
    """The quotable units of one passage, each scored against the question."""
    same = query.same_language(hit.lang)
    out: list[_Candidate] = []
    for position, (sentence, sources, heading, cut) in enumerate(units):
        if not quotable(sentence, heading, hit, position, query.wants == "term"):
            continue
        heading = heading or hit.section or ""
        if heading == hit.title:
            heading = ""  # a document's title is about all of it, and says nothing of one sentence
        terms = set(tokens(sentence))
        # Under "4. 令和6年度第1次公募の条件", "募集期間:2024年2月2日から2月22日まで" is about
        # the FY2024 call without saying so: the heading's words count, at half weight.
        in_context = terms | set(tokens(heading)) if heading else terms
        lexical = (query.coverage(terms, hit.lang) + query.coverage(in_context, hit.lang)) / 2
        answers_type = query.answers(sentence) and not (cut and query.wants == "list")  # a list cut short
        score = W_LEXICAL * lexical + W_PASSAGE * passage_score + (W_TYPE if answers_type else 0.0)
        if query.ranks_in(sentence):
            score += W_RANKED
        if query.years and (found := years_in(sentence) or years_in(heading)) and not found & query.years:
            score -= W_OTHER_YEAR  # about another year than the one asked for
        out.append(_Candidate(hit, sentence, terms, score + (W_SAME_LANG if same else 0.0), sources, position))
    return out


HEADING_MATCH = 0.25
"""A heading shares this much of the question's terms (rarity-weighted) to name what it asks about:
"3.2 令和5年度公募の概要" shares 0.31 of "令和5年度の環境省都市間連携事業の公募では、応募と採択は
それぞれ何件でしたか？"."""


def _continuation(
    query: QueryProfile, hit: Hit, units: list[Unit], following: Callable[[Hit], Hit | None] | None
) -> tuple[Hit, list[Unit]] | None:
    """The next chunk's lines that belong to the section ``hit`` ends in, when its heading names the question.

    Chunk boundaries fall where the token count says, not where sections end: the
    passage holding "3.2 令和5年度公募の概要" ended one bullet below it, and the
    bullet with the asked-for figures ("応募件数:24件、採択件数:21件") opened the next
    chunk, with no heading to say which year it is about. Those lines, up to the next
    chunk's own first heading, are quoted under the heading they continue (and cited as
    the next chunk, which holds them). Sentences the chunks share (their overlap) are skipped.
    """
    if following is None or not units:
        return None
    heading = units[-1].heading
    if not heading or heading in (hit.title, hit.section):
        return None  # no section opened in this passage: nothing says what comes next is about the question
    if query.coverage(set(tokens(heading)), hit.lang) < HEADING_MATCH:
        return None
    after = following(hit)
    if after is None:
        return None
    seen = {sentence for unit in units for sentence in unit.sources}
    lines: list[Unit] = []
    for unit in answer_units(after.text):
        if unit.heading:
            break  # the next chunk's own section begins
        if not set(unit.sources) <= seen:
            lines.append(unit._replace(heading=heading))
    return (after, lines) if lines else None


P_BRIDGED = 0.2
"""For an other-language passage naming, through the glossary, what no passage names in the asker's
words ("Osaka Gas": only a Japanese guide says 大阪ガス): passages of the asker's language on the
topic are close in meaning, but cannot be about it."""
P_RANKED = 0.2
"""For a passage naming the ordinal or superlative the question asks by ("first": 最初), in any
language: across languages that word is invisible to overlap, and it is what makes it the answer."""
P_RANK, P_COVER, P_MEANING, P_TYPE = 0.1, 0.2, 0.9, 0.1
"""Passage weights. Meaning (calibrated cosine) outweighs word overlap, which cannot see across
languages: measured on the own evaluation set, moving weight from overlap relative to the best
passage of the same language (0.3, dropped) to meaning (0.6 -> 0.9) took key facts in answers from
31/34 to 33/34 (vi), 9/14 to 10/14 (cross-lingual), 30/34 unchanged (ja), and refused one more
out-of-scope question."""


def _meaning(query: QueryProfile, hit: Hit) -> float:
    """The passage's calibrated cosine to the question, mapped from e5's narrow band onto 0..1."""
    if not hit.similarity:
        return 0.0  # found by keywords only
    return min(1.0, max(0.0, (_calibrated(query, hit) - 0.80) * 5))


def _calibrated(query: QueryProfile, hit: Hit) -> float:
    """Cosine plus the offset that puts other-language passages on the same scale (see Weights)."""
    return hit.similarity + (CROSS_LINGUAL_OFFSET if hit.lang != query.lang else 0.0)


W_LEXICAL, W_PASSAGE, W_TYPE, W_SAME_LANG = 0.5, 0.35, 0.15, 0.05
W_OTHER_YEAR = 0.15
W_RANKED = 0.15
"""For a sentence naming the question's ordinal or superlative (see :meth:`QueryProfile.ranks_in`)."""
"""A sentence that names years, none of them the question's, is about another round, plan or period
(a question on the 2024 call against "the 2023 call: 24 applications, 21 selected")."""
_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})(?:\s*[-–~～〜]\s*((?:19|20)\d{2}))?(?!\d)")


_ERA_YEAR = re.compile(r"(令和|平成)(\d{1,2}|元)年")
_ERA_START = {"令和": 2018, "平成": 1988}
"""Japanese official documents count fiscal years by era: 令和5年度 is FY2023."""


def years_in(text: str) -> frozenset[int]:
    """The years a text names; a range such as 2021–2030 names every year in it."""
    found: set[int] = {
        _ERA_START[era] + (1 if n == "元" else int(n)) for era, n in _ERA_YEAR.findall(text)
    }
    for start, end in _YEAR.findall(text):
        first, last = int(start), int(end or start)
        found.update(range(first, last + 1) if 0 <= last - first <= 100 else (first, last))
    return frozenset(found)


_SOURCES = re.compile(r"(?:Nguồn|Nguồn tham khảo|Tài liệu tham khảo|出典|参考文献|参考資料|Sources?|References)\s*[:：]?$", re.I)
_SOURCE_LINE = re.compile(r"[•\-–*\s]*(?:https?://)?(?:[\w-]+\.)+(?:vn|jp|com|org|net|gov|int|info|io)\b", re.I)
_BOILERPLATE = re.compile(
    r"^(Thông tin cập nhật đến|Tài liệu này (giới thiệu|tổng hợp|trình bày|tóm lược|tóm tắt)|本資料は|本ガイドは|この資料は)"
)


def quotable(sentence: str, heading: str, hit: Hit, position: int, asks_term: bool = False) -> bool:
    """Whether a unit of ``hit`` states something, as opposed to labelling or sourcing it.

    A glossary's rows are quotable only for a question about what a term is called
    (``asks_term``): "GEC | 地球環境センター" does not answer who runs the JCM calls.

    Not quotable: headings and labels; boilerplate about the document itself; source
    lists (a line starting with a domain, or anything under a "Nguồn"/"出典" heading);
    and a passage's first line when it starts in lower case, which is the tail of a
    sentence the chunk boundary cut (the previous chunk quotes it whole).
    """
    if _heading_like(sentence) or _BOILERPLATE.search(sentence) or sentence in (hit.title, hit.section):
        return False
    if not asks_term and _is_glossary(hit):
        return False  # a glossary row says what a name is in another language, nothing about what it did
    if _SOURCE_LINE.match(sentence) or _SOURCES.match((heading or hit.section or "").strip("#• ")):
        return False
    return not (position == 0 and CONTINUES_SENTENCE.match(sentence))


def _is_glossary(hit: Hit) -> bool:
    tags = hit.metadata.get("tags") or ()
    return GLOSSARY_TAG in (tags.split(",") if isinstance(tags, str) else tags)


def _heading_like(sentence: str) -> bool:
    """Headings and labels answer nothing: short, no verb-ending punctuation, no figures."""
    stripped = sentence.strip("•-–* ")
    if len(stripped) < 12:
        return True
    if _NUMBERED_HEADING.match(stripped) and len(stripped) < 60 and not stripped.endswith(("。", ".", ":", "：")):
        return True  # "3.2 令和5年度公募の概要", "4. Số liệu các đợt tuyển chọn"
    stripped = re.sub(r"\s*[(（](?:19|20)\d{2}[)）]$", "", stripped)  # "Chiến lược Môi trường Sakai (2021)"
    return len(stripped) < 40 and not re.search(r"[.。!?！？:：]$|\d", stripped)


_NUMBERED_HEADING = re.compile(r"(?:\d{1,2}\.)+\d{0,2}\s|[IVX]{1,4}\.\s|第\d+[章節条]")


def _select(candidates: list[_Candidate], query: QueryProfile, lambda_: float = 0.7) -> list[_Candidate]:
    """Maximal marginal relevance: relevant sentences that do not repeat each other.

    A question that asks for two things ("when, and under which resolution?")
    gets a bonus for a sentence holding what the chosen ones still lack.
    """
    chosen = [candidates[0]]
    floor = candidates[0].score * 0.6
    rest = candidates[1:]
    while rest and len(chosen) < MAX_SENTENCES:
        missing = [k for k in query.kinds if not any(query.answers(c.sentence, k) for c in chosen)]

        def fills(c: _Candidate) -> bool:
            return any(query.answers(c.sentence, kind) for kind in missing)

        def mmr(c: _Candidate) -> float:
            redundancy = max(_jaccard(c.terms, k.terms) for k in chosen)
            bonus = (W_TYPE if fills(c) else 0.0) + (W_FOLLOWS if _follows(c, chosen, query) else 0.0)
            return lambda_ * c.score - (1 - lambda_) * redundancy + bonus

        best = max(rest, key=mmr)
        rest.remove(best)
        if best.score < floor or set(best.sources) & {s for c in chosen for s in c.sources}:
            continue  # already quoted, alone or as part of a list
        if max(_jaccard(best.terms, k.terms) for k in chosen) > 0.8:
            continue  # the twin of a chosen sentence, or a near copy
        chosen.append(best)
    return chosen


W_FOLLOWS = 0.15


def _follows(candidate: _Candidate, chosen: list[_Candidate], query: QueryProfile) -> bool:
    """The sentence right after a chosen one in the same passage, holding what is asked.

    Documents go on where a sentence stops: "100 kW未満の系統連系システムは、余剰電力を
    EVNに販売できる。" is followed by "販売できる量は、実際の設置容量の20%まで". The follower
    shares few of the question's words (it refers back instead), so on overlap alone it loses
    to sentences elsewhere that merely hold a number. Measured on the own evaluation set, a wider
    span (up to 3-4 sentences after) also pulled in list items next to a wrong first sentence.
    """
    return query.answers(candidate.sentence) and any(
        k.hit.chunk_id == candidate.hit.chunk_id and candidate.position == k.position + 1 for k in chosen
    )


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def evidence_strength(query: QueryProfile, hits: list[Hit], coverages: list[float]) -> float:
    """How well the knowledge base covers the question, calibrated on the evaluation set.

    Combines the calibrated cosine of the best passage with the rarity-weighted
    share of the question's terms that the best passage contains: e5 cosines
    sit in a narrow band (0.80-0.95) for on- and off-topic questions alike,
    while an off-topic question's rare terms are missing from every passage.
    """
    if not hits:
        return 0.0
    best_similarity = max(_calibrated(query, h) for h in hits)
    return (best_similarity - 0.80) * 5 + max(coverages) - query.unseen


UNKNOWN_MARKERS = re.compile(
    r"không nêu|chưa nêu|không được nêu|chưa cho biết|không cho biết|không ghi rõ|không rõ|chưa rõ"
    r"|chưa (?:được )?(?:xác nhận|xác minh|xác định|kiểm chứng|đối chiếu|thu thập|công bố)|không được công bố"
    r"|chưa tìm thấy|không tìm thấy|cần (?:được )?(?:xác minh|đối chiếu)"
    r"|扱わない|確認されていない|確認できていない|確認できない|明らかでない|明らかになっていない|記載がない"
    r"|記載されていない|明記されていない|示されていない|不明|未確認|特定されていない|公表されていない"
    r"|分かっていない|わかっていない|照合していない|照合されていない"
    r"|unconfirmed|not (?:been )?(?:verified|confirmed|stated)|unclear|unknown|not found",
    re.IGNORECASE,
)
"""What documents write when they say something is not known or not verified."""


def states_unknown(sentence: str) -> bool:
    """The documents themselves say this is not known ("chưa được xác nhận", 「確認されていない」).

    An aside in brackets ("(the source does not give the meeting date)")
    qualifies a detail, not the sentence, so it does not count.
    """
    return UNKNOWN_MARKERS.search(_ASIDE.sub(" ", sentence)) is not None


_ASIDE = re.compile(r"\([^)]*\)|（[^）]*）")

_UNKNOWN_OF = {
    "person": re.compile(r"họ tên|tên người|chức danh|người ký|個人名|氏名|名前|役職|署名者|name", re.I),
    "date": re.compile(r"ngày|thời điểm|thời gian|日付|日時|時期|開催日|when|date", re.I),
    "org": re.compile(r"tên (?:công ty|doanh nghiệp|tổ chức|đơn vị)|社名|企業名|機関名|company|organi[sz]ation", re.I),
    "number": re.compile(
        r"số liệu|con số|công suất|tỷ lệ|số tiền|数値|数字|件数|金額|容量|割合|比率|figures?|amount|capacity", re.I),
}
"""Words with which a document says *what* it does not know: the names, the date, the company, the
figures ("電源別の設備容量は本資料では扱わない": the capacities by source are not covered here)."""
UNKNOWN_TOPIC = 0.25
"""A sentence saying the asked-for detail is unknown must also share this much of the question's
terms (rarity-weighted) to be about it. The own evaluation set's refusals of this kind share 0.26
(capacities by source) and 0.39 (signatories); "the year is not given" notes on other topics share
0.00-0.06."""


def _unknown_asked(query: QueryProfile, hits: list[Hit]) -> tuple[Hit, str] | None:
    """An evidence sentence saying that what the question asks for (a name, a date) is not known.

    "Who signed the memorandum?" is answered by the documents' own "the sources do not give the
    names of those who signed": that sentence may sit in a passage the answer would not quote,
    below passages that name other people at other events.
    """
    patterns = [_UNKNOWN_OF[kind] for kind in query.kinds if kind in _UNKNOWN_OF]
    if not patterns:
        return None
    for hit in hits:
        for sentence in split_sentences(hit.text):
            if not any(p.search(sentence) for p in patterns) or not states_unknown(sentence):
                continue
            if query.coverage(set(tokens(sentence)), hit.lang) >= UNKNOWN_TOPIC:
                return hit, sentence
    return None


GLOSSED_TERMS = 6


def _gloss(glossary: Glossary | None, sentences: list[str], source_lang: str, target_lang: str) -> str:
    """Glossary equivalents of the key terms in quoted other-language evidence.

    The quote stays as written (a translation by rule would put words in the
    documents' mouth); the glossary, itself a cited document, tells the
    reader what its terms mean in their language.
    """
    if glossary is None or target_lang not in ("vi", "ja", "en"):
        return ""
    pairs = glossary.pairs(" ".join(sentences), source_lang, target_lang)[:GLOSSED_TERMS]
    if not pairs:
        return ""
    return "\n" + message("glossary", target_lang) + " " + "; ".join(f"{s} = {t}" for s, t in pairs)


def not_found(question: str, lang: str, hits: list[Hit]) -> Answer:
    text = message("not_found", lang)
    titles = list(dict.fromkeys(h.title for h in hits[:3] if h.title))
    if titles:
        text += "\n" + message("nearest", lang) + " " + "; ".join(titles)
    return Answer(question, lang, text, False, "extractive", [])


def citation_for(hit: Hit, n: int) -> Citation:
    return Citation(n, hit.doc_id, hit.title, hit.source, hit.page, hit.lang, hit.text, hit.section, hit.chunk_id)


def query_terms(text: str) -> set[str]:
    """The keyword terms of a question or topic, without question words."""
    return set(tokens(text)) - _QUESTION_WORDS


def term_overlap(terms: set[str], text: str) -> float:
    """Share of ``terms`` that occur in ``text`` (unweighted)."""
    if not terms:
        return 0.0
    return len(terms & set(tokens(text))) / len(terms)

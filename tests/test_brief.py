"""Briefing notes: extractive and LLM modes on the real corpus, exported to Markdown and DOCX."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest
from docx import Document
from docx.oxml.ns import qn

from kb.brief import EAST_ASIA_FONT, SECTIONS, Brief, find_date
from kb.llm import LANG_NAMES
from kb.messages import message
from kb.service import KnowledgeBase
from llm_server import FakeLLMServer, Reply

TOPIC_VI = "Hợp tác giữa Sakai và Bà Rịa – Vũng Tàu"
MARKER = re.compile(r"\[(\d+)\]")


@pytest.mark.parametrize("text, label", [
    ("Ngày 6/12/2023, hai bên ký bản ghi nhớ.", "2023-12-06"),
    ("2023年12月6日、覚書に署名した。", "2023-12-06"),
    ("Hai bên ký bản ghi nhớ vào tháng 7/2011, gia hạn năm 2016.", "2011-07"),
    ("令和5年度の公募で採択された。", "2023"),
    ("The MOU was signed on 6 December 2023 in Dubai.", "2023-12-06"),
    ("Theo Nghị định 06/2022/NĐ-CP, năm 2025 bắt đầu thí điểm.", "2025"),
    ("Từ ngày 4/4 đến ngày 25/4/2023.", "2023-04-25"),
    ("Quyết định 1629/QĐ-TTg về quy hoạch.", None),
    ("Ngày 25/7, hai bên thảo luận mục tiêu trung hòa carbon năm 2050.", None),  # the event's year is unknown
])
def test_find_date(text, label):
    found = find_date(text)
    assert (found[1] if found else None) == label


def headings(brief: Brief) -> list[str]:
    return [message(key, brief.lang) for key in SECTIONS] + [message("sources", brief.lang)]


def check_citations_resolve(brief: Brief) -> None:
    numbers = {s.n for s in brief.sources}
    assert numbers == set(range(1, len(brief.sources) + 1)) or brief.mode == "llm"
    for key in SECTIONS:
        for item in getattr(brief, key):
            assert MARKER.search(item.text), f"uncited {key} item: {item.text}"
            assert {int(n) for n in MARKER.findall(item.text)} <= numbers
            assert set(item.cites) <= numbers
    for source in brief.sources:
        assert source.title and source.source.startswith("documents/")
    assert any(source.page or source.section for source in brief.sources)  # where known (an HTML intro has neither)


def check_docx(path: Path, brief: Brief) -> None:
    document = Document(str(path))
    assert [p.text for p in document.paragraphs if p.style.name == "Heading 1"] == headings(brief)
    assert document.paragraphs[0].style.name == "Title" and document.paragraphs[0].text == brief.title()
    for style in ("Normal", "Heading 1", "Title", "List Bullet"):
        fonts = document.styles[style].element.rPr.find(qn("w:rFonts"))
        assert fonts.get(qn("w:eastAsia")) == EAST_ASIA_FONT and fonts.get(qn("w:asciiTheme")) is None
    defaults = document.styles.element.find(qn("w:docDefaults")).find(qn("w:rPrDefault")).find(qn("w:rPr"))
    assert defaults.find(qn("w:rFonts")).get(qn("w:eastAsia")) == EAST_ASIA_FONT
    body = "\n".join(p.text for p in document.paragraphs)
    assert "[1]" in body
    for source in brief.sources:
        assert any(p.text.startswith(f"[{source.n}] {source.title}") and source.source in p.text for p in document.paragraphs)


# --------------------------------------------------------------------------- extractive
@pytest.fixture(scope="module")
def brief_vi(corpus_kb) -> Brief:
    return corpus_kb.brief(TOPIC_VI)


def test_extractive_brief_sections(brief_vi):
    brief = brief_vi
    assert brief.lang == "vi" and brief.mode == "extractive" and brief.found
    for key in SECTIONS:
        assert getattr(brief, key), f"empty section {key}"
    dates = [find_date(item.date or "")[0] for item in brief.timeline]  # type: ignore[index]
    assert dates == sorted(dates) and all(find_date(item.text)[1] == item.date for item in brief.timeline)  # type: ignore[index]
    assert any("6/12/2023" in item.text or "2023年12月6日" in item.text for item in brief.timeline)
    assert all(re.search(r"\d", item.text) for item in brief.key_facts)
    assert all(item.label for item in brief.actors)
    assert len(brief.actors) >= 3 and len({item.label for item in brief.actors}) == len(brief.actors)
    known = ("Nippon Koei", "Bộ Môi trường", "MOEJ", "UBND", "Ủy ban nhân dân", "Hayashi Tomoya", "Nguyễn Công Vinh")
    assert any(name in (item.label or "") for item in brief.actors for name in known)
    assert all(re.search(r"chưa|không|cần được xác minh|未|確認|明記|示されていない", item.text) for item in brief.open_questions)
    check_citations_resolve(brief)


def test_a_brief_quotes_statements_not_sources_or_cut_fragments(corpus_kb):
    brief = corpus_kb.brief("Chiến lược môi trường Sakai", lang="vi")
    items = [*brief.summary, *brief.key_facts, *brief.timeline, *brief.actors]
    for item in items:
        text = item.text.lstrip("• ")
        assert not re.match(r"(?:https?://)?[\w-]+\.(?:vn|jp|com)", text), text  # a source list entry
        assert not re.match(r"[a-zà-ỹđ]", text), text  # the tail of a sentence cut by a chunk boundary
        assert not text.startswith("Tài liệu này"), text  # what the document is, not what it says


def test_extractive_brief_markdown_and_docx(brief_vi, tmp_path):
    markdown = brief_vi.to_markdown()
    assert markdown.startswith(f"# {message('brief_title', 'vi')}: {TOPIC_VI}\n")
    assert [line[3:] for line in markdown.splitlines() if line.startswith("## ")] == headings(brief_vi)
    body, sources = markdown.split(f"## {message('sources', 'vi')}")
    assert {int(n) for n in MARKER.findall(body)} == {s.n for s in brief_vi.sources}
    assert all(f"- [{s.n}] " in sources for s in brief_vi.sources)
    check_docx(brief_vi.to_docx(tmp_path / "note.docx"), brief_vi)


def test_japanese_note_on_a_vietnamese_topic(corpus_kb, tmp_path):
    brief = corpus_kb.brief(TOPIC_VI, lang="ja")
    assert brief.lang == "ja" and brief.found
    markdown = brief.to_markdown()
    assert "## 時系列" in markdown and "## 出典" in markdown and markdown.startswith("# ブリーフィングノート: ")
    if any(s.lang != "ja" for s in brief.sources):
        assert message("brief_quoted", "ja") in brief.notes
    path = brief.to_docx(tmp_path / "ja.docx")
    check_docx(path, brief)
    lang = Document(str(path)).styles["Normal"].element.rPr.find(qn("w:lang"))
    assert lang.get(qn("w:val")) == "ja-JP" and lang.get(qn("w:eastAsia")) == "ja-JP"


def test_out_of_scope_topic(corpus_kb):
    brief = corpus_kb.brief("東京都内のビジネスホテルの平均宿泊料金")
    assert brief.found is False and brief.lang == "ja" and brief.sources == []
    assert all(getattr(brief, key) == [] for key in SECTIONS)
    assert brief.to_markdown().count(message("none_found", "ja")) == len(SECTIONS) + 1


# --------------------------------------------------------------------------- LLM
LLM_NOTE = {
    "summary": "Hai bên ký bản ghi nhớ tại COP28 [1].",
    "key_facts": [{"text": "Nippon Koei trúng tuyển 6 dự án [2]."}, {"text": "Không có trích dẫn."}],
    "timeline": [
        {"date": "2025-07-01", "text": "Bà Rịa – Vũng Tàu sáp nhập vào TP.HCM [1]."},
        {"date": "2023-12-06", "text": "Ký bản ghi nhớ tại Dubai [2]."},
        {"date": "2024", "text": "Một sự kiện bịa [42]."},
    ],
    "actors": [{"name": "Nippon Koei", "role": "đơn vị đề xuất dự án [3]"}],
    "open_questions": ["Chưa rõ dự án có được gia hạn hay không [3][42]."],
}




def llm_kb(config, server: FakeLLMServer) -> KnowledgeBase:
    return KnowledgeBase(dataclasses.replace(config, llm_provider=server.protocol, llm_base_url=server.base_url,
                                             llm_model="fake-model", llm_timeout=3.0, llm_retries=0))


def test_llm_brief_validates_citations(corpus_config, fakes, tmp_path):
    server = fakes["openai"].script(Reply.text("```json\n" + json.dumps(LLM_NOTE, ensure_ascii=False) + "\n```"))
    brief = llm_kb(corpus_config, server).brief(TOPIC_VI)

    (request,) = server.chat_requests()
    system, user = request.content("system"), request.content("user")
    assert "briefing notes" in system and '"open_questions"' in system and LANG_NAMES["vi"] in system
    assert "not instructions" in system and f"<topic>\n{TOPIC_VI}\n</topic>" in user
    assert user.count("<passage ") == user.count("</passage>") == 10

    assert brief.mode == "llm" and brief.found and brief.lang == "vi"
    assert brief.stripped_citations == ["[42]", "[42]"]
    assert [i.text for i in brief.key_facts] == ["Nippon Koei trúng tuyển 6 dự án [2]."]
    assert [i.date for i in brief.timeline] == ["2023-12-06", "2025-07-01"]
    assert brief.open_questions[0].text == "Chưa rõ dự án có được gia hạn hay không [3]."
    assert brief.actors[0].label == "Nippon Koei" and brief.actors[0].cites == [3]
    assert [s.n for s in brief.sources] == [1, 2, 3]
    assert message("items_dropped", "vi").format(count=2) in brief.notes
    check_citations_resolve(brief)
    check_docx(brief.to_docx(tmp_path / "llm.docx"), brief)
    assert "**2023-12-06** — Ký bản ghi nhớ tại Dubai [2]." in brief.to_markdown()


@pytest.mark.parametrize("reply, reason", [
    (Reply(status=500), "server_error"),
    (Reply.text("Xin lỗi, tôi không thể viết ghi chú này."), "bad_output"),
])
def test_llm_brief_failure_falls_back_to_extractive(corpus_config, fakes, reply, reason):
    server = fakes["ollama"].script(reply)
    brief = llm_kb(corpus_config, server).brief(TOPIC_VI)
    expected = message("llm_down", "vi").format(reason=message(f"reason_{reason}", "vi").format(status=500))
    assert brief.mode == "extractive" and brief.notes[0] == expected and brief.found and brief.timeline
    assert brief.to_markdown().count(expected) == 1


# --------------------------------------------------------------------------- CLI
def test_cli_brief_writes_docx_and_json(corpus_config, tmp_path, capsys):
    from kb.cli import main

    out = tmp_path / "out" / "jcm.docx"
    assert main(["brief", "JCM設備補助事業", "--out", str(out), "--json", "--data-dir", str(corpus_config.data_dir)]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["lang"] == "ja" and payload["mode"] == "extractive" and payload["found"] is True
    assert set(payload) >= set(SECTIONS) | {"sources", "topic", "markdown", "out"}
    assert payload["out"] == str(out) and payload["markdown"].startswith("# ブリーフィングノート: JCM設備補助事業")
    assert [p.text for p in Document(str(out)).paragraphs if p.style.name == "Heading 1"][0] == "概要"

    md = tmp_path / "jcm.md"
    assert main(["brief", "JCM設備補助事業", "--lang", "vi", "--out", str(md), "--data-dir", str(corpus_config.data_dir)]) == 0
    assert "## Dòng thời gian" in md.read_text(encoding="utf-8") and "## Dòng thời gian" in capsys.readouterr().out

    assert main(["brief", "JCM", "--out", str(tmp_path / "x.txt"), "--data-dir", str(corpus_config.data_dir)]) == 2
    assert ".docx or .md" in capsys.readouterr().err

"""``python -m kb`` on the indexed sample corpus: the JSON contract and real answers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _kb(config, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kb", *args, "--data-dir", str(config.data_dir)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )


def test_search_json_contract_in_vietnamese(corpus_config):
    result = _kb(corpus_config, "search", "Nghị định 06/2022/NĐ-CP về giảm nhẹ phát thải khí nhà kính", "--json")
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)
    assert len(hits) == 5
    assert set(hits[0]) >= {"doc_id", "chunk_id", "title", "source", "page", "lang", "score", "text"}
    assert any(h["doc_id"] in ("vi-05-vietnam-framework", "ja-05-vietnam-framework") for h in hits[:3])


def test_search_in_japanese_with_language_filter(corpus_config):
    result = _kb(corpus_config, "search", "堺市が脱炭素先行地域に選定された", "--lang", "ja", "--k", "3", "--json")
    hits = json.loads(result.stdout)
    assert {h["lang"] for h in hits} == {"ja"}
    assert any(h["doc_id"] == "ja-03-sakai-policy" for h in hits)


def test_ask_json_contract_and_citations(corpus_config):
    result = _kb(corpus_config, "ask", "Bản ghi nhớ giữa Bà Rịa – Vũng Tàu và Sakai được ký ngày nào?", "--json")
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert set(answer) >= {"question", "lang", "answer", "found", "mode", "citations"}
    assert answer["lang"] == "vi" and answer["mode"] == "extractive" and answer["found"] is True
    assert "[1]" in answer["answer"]
    citation = answer["citations"][0]
    assert set(citation) >= {"n", "doc_id", "title", "source", "page", "lang", "text"}
    assert any("6/12/2023" in c["text"] or "2023年12月6日" in c["text"] for c in answer["citations"])


def test_stats_reports_documents_and_languages(corpus_config):
    result = _kb(corpus_config, "stats", "--json")
    stats = json.loads(result.stdout)
    assert stats["documents"] == 22
    assert set(stats["chunks_per_lang"]) == {"vi", "ja"}
    assert stats["embedding_model"].startswith("intfloat/multilingual-e5-small")


def test_help_and_usage_errors(corpus_config):
    assert "search" in subprocess.run([sys.executable, "-m", "kb", "--help"], cwd=ROOT, capture_output=True, text=True).stdout
    assert _kb(corpus_config, "search").returncode == 2

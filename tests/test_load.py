"""The app under concurrent load: many gradio_client users at once, mixed vi/ja questions, no errors.

A CI-sized run of ``bench/load.py`` (which does the full 20 users × 10
questions and writes bench/load.md) against the real app, served with its
real queue settings on a private copy of the corpus index, through the real
``gradio_client.Client`` and the public ``/ask`` endpoint. Besides "no
errors", answers under load must be the answers: every user who asked the
same question got the same cited answer, with its key fact.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

from kb.config import Config

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
USERS = 8
PER_USER = 3


def load_bench():
    spec = importlib.util.spec_from_file_location("kakehashi_bench_load", ROOT / "bench" / "load.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench():
    return load_bench()


@pytest.fixture(scope="module")
def load_app(corpus_config: Config, tmp_path_factory: pytest.TempPathFactory):
    from appserver import copy_data_dir, start_app

    config = copy_data_dir(corpus_config, tmp_path_factory.mktemp("load-data") / "data")
    server, kb = start_app(config)
    yield server, kb
    server.stop()


def test_concurrent_users_get_every_answer_without_errors(bench, load_app):
    from webapp.server import CONCURRENCY, QUEUE_MAX

    server, _ = load_app
    questions = bench.load_questions()
    assert {q.lang for q in questions} == {"vi", "ja"}
    assert USERS > CONCURRENCY and USERS <= QUEUE_MAX  # some must wait in the queue; none may be refused

    # gradio_client's own HTTP time-outs, as a user's script has them; on a server that has answered before.
    result = bench.run_load(server.url, USERS, PER_USER, questions, timeout=300, warm_up=True)
    assert len(result.warm_up_seconds) == 2
    summary = result.summary()
    print(summary)  # visible with -s: the CI-sized numbers

    assert result.errors == [], result.errors
    assert summary["answered"] == USERS * PER_USER
    assert sorted({s.user for s in result.samples}) == list(range(USERS))
    asked = {s.question for s in result.samples}
    assert {q.lang for q in questions if q.id in asked} == {"vi", "ja"}

    # The same question asked by different users at the same time gets the same answer.
    by_question: dict[str, set[str]] = {}
    for sample in result.samples:
        by_question.setdefault(sample.question, set()).add(sample.answer)
    differing = {q: answers for q, answers in by_question.items() if len(answers) > 1}
    assert differing == {}, differing
    assert any(len([s for s in result.samples if s.question == q]) > 1 for q in by_question)
    assert all("[1]" in s.answer for s in result.samples), "every answer cites its source"
    assert summary["key_fact_rate"] >= 0.6, summary

    assert 0 < summary["p50_s"] <= summary["p95_s"] <= summary["max_s"]
    assert summary["throughput_per_s"] == pytest.approx(summary["answered"] / result.wall_seconds, rel=0.01)
    assert set(summary["median_s_by_lang"]) == {"vi", "ja"}


def test_percentiles_and_report(bench, tmp_path):
    samples = [bench.Sample(0, "q", "vi", float(s), True) for s in range(1, 21)]  # 1 … 20 s
    samples.append(bench.Sample(1, "q", "ja", 99.0, False, error="TimeoutError: queue"))
    result = bench.LoadResult(users=2, questions_per_user=11, wall_seconds=10.0, samples=samples)
    summary = result.summary()
    assert (summary["p50_s"], summary["p95_s"], summary["max_s"]) == (10.0, 19.0, 20.0)
    assert summary["answered"] == 20 and summary["errors"] == 1
    assert summary["throughput_per_s"] == 2.0
    assert summary["error_messages"] == ["user 1, q: TimeoutError: queue"]
    out = tmp_path / "load.md"
    bench.write_markdown(out, summary, {"concurrency": 2, "queue_max": 64}, "a test")
    text = out.read_text(encoding="utf-8")
    assert "| 2 × 11 | 20 | 1 |" in text and "httpx's 5 s" in text and "TimeoutError: queue" in text and "QUEUE_MAX=64" in text

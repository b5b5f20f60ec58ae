"""Load benchmark: many concurrent gradio_client users asking mixed Vietnamese/Japanese questions.

    python bench/load.py                        # 20 users × 10 questions against python app.py; writes bench/load.md
    python bench/load.py --users 8 --questions 3 --json
    python bench/load.py --url http://127.0.0.1:7860   # against an app that is already running

Each simulated user is one ``gradio_client.Client`` (its own HTTP connections
and queue session), and asks its questions one after another through the
public ``/ask`` endpoint, starting at a different question than its
neighbours so the mix stays vi/ja at every moment. All users start together
(a barrier), so the app's queue sees the whole crowd at once.

Reported: errors (exceptions, malformed results; the goal is none), latency
per question as each user saw it (p50, p95, max: queue wait included),
throughput (questions answered per second of wall time), and, as a sanity
check that the answers under load are real answers, how many contained the
question's key fact.

Without ``--url`` the app is started as a user would start it (``python
app.py --no-index``, uvicorn's default loop, the real queue settings) on a
free loopback port, serving ``--data-dir`` (default ``$KAKEHASHI_DATA_DIR``
or ``./data``; index it first with ``python -m ingest documents/``).
``tests/test_load.py`` runs a CI-sized version through :func:`run_load`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EVAL = ROOT / "tests" / "eval" / "questions.jsonl"
# Five Vietnamese and five Japanese questions from the evaluation set, two of
# them cross-lingual (answered from documents in the other language).
QUESTION_IDS = [
    "vi-q008", "ja-q009", "vi-q004", "ja-q006", "vi-q012",
    "ja-q013", "vi-q005", "ja-q033", "ja-x01", "vi-x01",
]


@dataclass
class Question:
    id: str
    lang: str
    text: str
    keys: list[list[str]]

    def has_key_fact(self, answer: str) -> bool:
        """Every key's alternatives: at least one appears (the evaluation set's rule)."""
        return bool(self.keys) and all(any(alt in answer for alt in alts) for alts in self.keys)


def load_questions(ids: list[str] = QUESTION_IDS) -> list[Question]:
    by_id = {}
    for line in EVAL.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            by_id[row["id"]] = row
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise SystemExit(f"questions {missing} are not in {EVAL}; update QUESTION_IDS in {__file__}")
    return [Question(i, by_id[i]["lang"], by_id[i]["question"], by_id[i].get("answer_keys") or []) for i in ids]


@dataclass
class Sample:
    user: int
    question: str
    lang: str
    seconds: float
    ok: bool
    key_fact: bool = False
    error: str = ""
    answer: str = ""


@dataclass
class LoadResult:
    users: int
    questions_per_user: int
    wall_seconds: float
    samples: list[Sample] = field(default_factory=list)
    client_errors: list[str] = field(default_factory=list)
    load_average: float | None = None
    """The machine's 1-minute load average when the run started (other work competes for the cores)."""
    warm_up_seconds: list[float] = field(default_factory=list)
    client_timeout: float | None = None

    @property
    def errors(self) -> list[str]:
        return self.client_errors + [f"user {s.user}, {s.question}: {s.error}" for s in self.samples if not s.ok]

    def latencies(self) -> list[float]:
        return sorted(s.seconds for s in self.samples if s.ok)

    def percentile(self, p: float) -> float:
        """Nearest-rank percentile of the successful questions' latencies, in seconds."""
        values = self.latencies()
        if not values:
            return float("nan")
        rank = max(1, min(len(values), int(-(-p * len(values) // 100))))
        return values[rank - 1]

    def summary(self) -> dict[str, Any]:
        ok = [s for s in self.samples if s.ok]
        values = self.latencies()
        per_lang = {
            lang: round(statistics.median([s.seconds for s in ok if s.lang == lang]), 3)
            for lang in sorted({s.lang for s in ok})
        }
        return {
            "users": self.users,
            "questions_per_user": self.questions_per_user,
            "requests": self.users * self.questions_per_user,
            "answered": len(ok),
            "errors": len(self.errors),
            "error_messages": self.errors[:10],
            "wall_seconds": round(self.wall_seconds, 2),
            "throughput_per_s": round(len(ok) / self.wall_seconds, 3) if self.wall_seconds else 0.0,
            "p50_s": round(self.percentile(50), 3),
            "p95_s": round(self.percentile(95), 3),
            "max_s": round(values[-1], 3) if values else None,
            "mean_s": round(statistics.fmean(values), 3) if values else None,
            "median_s_by_lang": per_lang,
            "key_fact_rate": round(sum(s.key_fact for s in ok) / len(ok), 3) if ok else None,
            "load_average": self.load_average,
            "warm_up_s": [round(x, 2) for x in self.warm_up_seconds],
            "client_timeout_s": self.client_timeout,
        }


def run_load(url: str, users: int, per_user: int, questions: list[Question] | None = None,
             timeout: float = 600.0, client_timeout: float | None = None, warm_up: bool = True) -> LoadResult:
    """``users`` concurrent gradio_client users, ``per_user`` questions each, against ``url``'s ``/ask``.

    ``client_timeout``: seconds for gradio_client's own HTTP calls (joining
    the queue, fetching the config); None keeps gradio_client's default
    (httpx's 5 s), as a user's script would. ``warm_up`` first asks one
    Vietnamese and one Japanese question, unmeasured: the first question in
    each language loads its tokenizer and dictionary, and a crowd arriving at
    a server that has never answered measures that, not the steady state.
    """
    from gradio_client import Client

    questions = questions or load_questions()
    kwargs: dict[str, Any] = {"verbose": False, "analytics_enabled": False, "download_files": False}
    if client_timeout is not None:
        kwargs["httpx_kwargs"] = {"timeout": client_timeout}
    warm_up_seconds = []
    if warm_up:
        first = Client(url.rstrip("/") + "/", **kwargs)
        try:
            for lang in ("vi", "ja"):
                q = next(q for q in questions if q.lang == lang)
                start = time.perf_counter()
                first.predict(q.text, api_name="/ask")
                warm_up_seconds.append(time.perf_counter() - start)
        finally:
            first.close()
    load_average = round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None
    samples: list[Sample] = []
    client_errors: list[str] = []
    lock = threading.Lock()
    ready = threading.Barrier(users + 1)

    def user(n: int) -> None:
        client = None
        try:
            client = Client(url.rstrip("/") + "/", **kwargs)
        except Exception as exc:  # noqa: BLE001 - a user who cannot even connect is an error to report
            with lock:
                client_errors.append(f"user {n} could not connect: {type(exc).__name__}: {exc}")
        try:
            ready.wait(timeout=timeout)
        except threading.BrokenBarrierError:
            return
        if client is None:
            return
        try:
            for i in range(per_user):
                q = questions[(n + i) % len(questions)]
                start = time.perf_counter()
                try:
                    result = client.predict(q.text, api_name="/ask")
                    seconds = time.perf_counter() - start
                    if not isinstance(result, dict) or not isinstance(result.get("answer"), str) or not result["answer"]:
                        sample = Sample(n, q.id, q.lang, seconds, False, error=f"malformed result: {str(result)[:200]}")
                    else:
                        sample = Sample(n, q.id, q.lang, seconds, True, q.has_key_fact(result["answer"]),
                                        answer=result["answer"])
                except Exception as exc:  # noqa: BLE001 - every failure is counted and shown
                    sample = Sample(n, q.id, q.lang, time.perf_counter() - start, False,
                                    error=f"{type(exc).__name__}: {exc}"[:300])
                with lock:
                    samples.append(sample)
        finally:
            client.close()

    threads = [threading.Thread(target=user, args=(n,), name=f"load-user-{n}", daemon=True) for n in range(users)]
    for thread in threads:
        thread.start()
    ready.wait(timeout=timeout)
    start = time.perf_counter()
    for thread in threads:
        thread.join(timeout=timeout)
    wall = time.perf_counter() - start
    stuck = [t.name for t in threads if t.is_alive()]
    if stuck:
        client_errors.append(f"{len(stuck)} users still waiting after {timeout:.0f} s")
    return LoadResult(users, per_user, wall, samples, client_errors, load_average, warm_up_seconds, client_timeout)


# --------------------------------------------------------------------------- the app as a process
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app_process(data_dir: Path | None, timeout: float = 300.0) -> tuple[subprocess.Popen, str]:
    port = free_port()
    command = [sys.executable, str(ROOT / "app.py"), "--port", str(port), "--no-index"]
    if data_dir:
        command += ["--data-dir", str(data_dir)]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the app exited with code {proc.returncode}:\n{proc.stderr.read()[-2000:]}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as response:
                health = json.loads(response.read())
            if not health.get("chunks"):
                proc.terminate()
                raise SystemExit(f"the index at {data_dir or './data'} is empty: run python -m ingest documents/ first")
            return proc, url
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"the app did not answer /healthz within {timeout:.0f} s")


def queue_settings() -> dict[str, int]:
    try:
        sys.path.insert(0, str(ROOT))
        from webapp.server import CONCURRENCY, QUEUE_MAX

        return {"concurrency": CONCURRENCY, "queue_max": QUEUE_MAX}
    except Exception:  # noqa: BLE001 - the table just omits them
        return {}


def write_markdown(path: Path, summary: dict[str, Any], settings: dict[str, int], target: str) -> None:
    s = summary
    lines = [
        "# Load benchmark",
        "",
        f"Generated by `python bench/load.py` on {date.today().isoformat()}, {os.cpu_count()} cores "
        f"({platform.machine()}), against {target}; extractive answers (no LLM).",
        f"{s['users']} concurrent `gradio_client` users on loopback, each asking {s['questions_per_user']} "
        f"questions one after another through `/ask` (the mix of {len(QUESTION_IDS)} questions: 5 Vietnamese, "
        "5 Japanese, 2 of them answered from the other language's documents).",
        "",
        "| users × questions | answered | errors | wall (s) | throughput (q/s) | p50 (s) | p95 (s) | max (s) | key fact in answer |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        f"| {s['users']} × {s['questions_per_user']} | {s['answered']} | {s['errors']} | {s['wall_seconds']} | "
        f"{s['throughput_per_s']} | {s['p50_s']} | {s['p95_s']} | {s['max_s']} | {s['key_fact_rate']} |",
        "",
        f"Median latency by question language: {', '.join(f'{k} {v} s' for k, v in s['median_s_by_lang'].items())}.",
        "Latency is what each user waited for one answer, queue time included.",
        f"Before the clock started, one Vietnamese and one Japanese question warmed the app up "
        f"({', '.join(f'{x} s' for x in s['warm_up_s']) or 'skipped'}). "
        f"The machine's 1-minute load average at the start was {s['load_average']} on {os.cpu_count()} cores: "
        "other work on the machine competes with the app, so compare runs at similar load.",
        "gradio_client's HTTP time-out: "
        + (f"{s['client_timeout_s']} s (`--client-timeout`)." if s.get("client_timeout_s") else
           "its default (httpx's 5 s), as in a user's script; joining the queue must answer within it."),
    ]
    if settings:
        waiting = max(0, s["users"] - settings["concurrency"])
        lines += [
            "",
            f"Queue: `CONCURRENCY={settings['concurrency']}`, `QUEUE_MAX={settings['queue_max']}` (webapp/server.py). "
            f"With {s['users']} users each waiting for its answer before asking again, at most {s['users']} "
            f"requests are in the app at once: {settings['concurrency']} running, up to {waiting} waiting, "
            f"well under the queue bound of {settings['queue_max']}, so none is refused.",
        ]
    if s["error_messages"]:
        lines += ["", "Errors (first 10):", ""] + [f"- {m}" for m in s["error_messages"]]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20, help="concurrent gradio_client users (default 20)")
    parser.add_argument("--questions", type=int, default=10, help="questions per user (default 10)")
    parser.add_argument("--url", help="an app that is already running (default: start python app.py)")
    parser.add_argument("--data-dir", type=Path, help="index for the started app (default: $KAKEHASHI_DATA_DIR or ./data)")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "load.md", help="Markdown report ('-' for none)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="give up on a user after this many seconds")
    parser.add_argument("--client-timeout", type=float,
                        help="seconds for gradio_client's HTTP calls (default: gradio_client's own, 5 s)")
    parser.add_argument("--no-warm-up", action="store_true", help="start the crowd on an app that has answered nothing")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args(argv)
    if args.users < 1 or args.questions < 1:
        parser.error("--users and --questions must be at least 1")

    proc = None
    url = args.url
    if not url:
        print("Starting python app.py …", file=sys.stderr, flush=True)
        proc, url = start_app_process(args.data_dir)
    try:
        print(f"{args.users} users × {args.questions} questions against {url} …", file=sys.stderr, flush=True)
        result = run_load(url, args.users, args.questions, timeout=args.timeout,
                          client_timeout=args.client_timeout, warm_up=not args.no_warm_up)
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    summary = result.summary()
    settings = queue_settings()
    if str(args.out) != "-":
        write_markdown(args.out, summary, settings, "`python app.py`" if proc is not None else url)
    if args.json:
        print(json.dumps({**summary, **settings}, ensure_ascii=False, indent=2))
    else:
        print(f"users × questions: {summary['users']} × {summary['questions_per_user']}")
        print(f"answered: {summary['answered']}/{summary['requests']}, errors: {summary['errors']}")
        for message in summary["error_messages"]:
            print(f"  {message}")
        print(f"latency p50 {summary['p50_s']} s, p95 {summary['p95_s']} s, max {summary['max_s']} s")
        print(f"throughput {summary['throughput_per_s']} questions/s over {summary['wall_seconds']} s")
        print(f"key fact in answer: {summary['key_fact_rate']}")
        print(f"load average at start: {summary['load_average']} ({os.cpu_count()} cores); warm-up {summary['warm_up_s']} s")
    return 0 if summary["errors"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

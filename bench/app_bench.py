"""App start-up benchmark: process start → first answer, and memory at rest.

    python bench/app_bench.py [--data-dir DIR] [--no-index] [--questions N]

Starts ``python app.py`` exactly as a user would (with the start-up index
check unless ``--no-index``) on a free loopback port, and measures:

* ready: process start until ``/healthz`` answers (imports, model load, index check, server up);
* first answer: process start until the first ``/ask`` through gradio_client returns;
* warm answers: median latency of the next N questions;
* RSS at rest: resident memory of the app process a few seconds after start-up
  (before any question) and after the questions.

The index in the data dir should already be up to date with documents/
(otherwise the first start indexes it, and that time is included).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = [
    "Thành phố Sakai được Chính phủ Nhật Bản công nhận là Thành phố mô hình môi trường từ khi nào?",
    "堺市が脱炭素先行地域に選ばれたのはいつですか？",
    "Mức kinh phí tối đa mỗi năm cho một dự án thuộc chương trình hợp tác liên đô thị là bao nhiêu?",
    "都市間連携事業の委託費の上限は1件当たり年間いくらですか？",
    "Nghị định 06/2022/NĐ-CP quy định những gì?",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    """Resident set size of ``pid`` in MB, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the app exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=2) as response:
                return json.loads(response.read())
        except OSError:
            time.sleep(0.05)
    raise TimeoutError("the app did not become healthy")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, help="index to serve (default: $KAKEHASHI_DATA_DIR or ./data)")
    parser.add_argument("--no-index", action="store_true", help="skip the start-up index check")
    parser.add_argument("--questions", type=int, default=len(QUESTIONS) - 1, help="warm questions after the first")
    parser.add_argument("--rest", type=float, default=3.0, help="seconds to wait before reading RSS at rest")
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args()

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [sys.executable, str(ROOT / "app.py"), "--port", str(port)]
    if args.data_dir:
        command += ["--data-dir", str(args.data_dir)]
    if args.no_index:
        command.append("--no-index")
    env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}

    started = time.monotonic()
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        health = wait_healthy(url, proc, args.timeout)
        ready = time.monotonic() - started
        from gradio_client import Client

        client = Client(url + "/", verbose=False, analytics_enabled=False, download_files=False)
        first = client.predict(QUESTIONS[0], api_name="/ask")
        first_answer = time.monotonic() - started
        assert first["citations"], "the first answer has no citations"
        time.sleep(args.rest)
        rest_rss = rss_mb(proc.pid)
        latencies = []
        for question in (QUESTIONS[1:] * 10)[: args.questions]:
            t0 = time.monotonic()
            client.predict(question, api_name="/ask")
            latencies.append(time.monotonic() - t0)
        after_rss = rss_mb(proc.pid)
    finally:
        proc.terminate()
        try:
            output, _ = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()

    index_line = next((line for line in output.splitlines() if line.startswith("Index ready")), "index check skipped")
    print(f"documents / chunks:        {health['documents']} / {health['chunks']}")
    print(f"start-up index check:      {index_line}")
    print(f"ready (/healthz):          {ready:.2f} s")
    print(f"cold start → first answer: {first_answer:.2f} s")
    if latencies:
        print(f"warm /ask median ({len(latencies)}):     {statistics.median(latencies) * 1000:.0f} ms")
    print(f"RSS at rest (after start-up and the first answer): {rest_rss:.0f} MB")
    print(f"RSS after {len(latencies) + 1} questions:    {after_rss:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())

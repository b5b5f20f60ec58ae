"""Privacy: nothing leaves the machine except calls to the configured LLM endpoint.

Every test here runs the real code (ingestion, search, answers, the app and
its gradio_client API) under :mod:`netguard`, which refuses and records every
connection or name lookup that would leave loopback. A guard that saw nothing
proves something only if it would have seen something, so the guard is
tested first, in this process and in a child process, against TEST-NET
addresses (RFC 5737: never routed, so nothing is sent even if it failed).

In-process: the app is served on asyncio's own event loop here, because
uvloop (uvicorn's default when installed) connects from C where no Python
patch can see it. The child-process test covers the real default path: the
CLIs and ``python app.py`` run with the guard installed by ``sitecustomize``
and with the "please don't phone home" variables (GRADIO_ANALYTICS_ENABLED,
ANONYMIZED_TELEMETRY, HF_HUB_OFFLINE) removed from their environment, so the
code must switch telemetry off itself; when strace is installed their
``connect`` system calls are traced as well, which sees native code too.
"""

from __future__ import annotations

import errno
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kb.config import Config
from netguard import NetGuard, is_local_host, read_log

pytestmark = pytest.mark.slow

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
SITE = TESTS / "netguard_site"
TEST_NET = "203.0.113.1"  # RFC 5737 TEST-NET-3: documentation only, never routed
PHONE_HOME_VARS = ("GRADIO_ANALYTICS_ENABLED", "ANONYMIZED_TELEMETRY", "HF_HUB_OFFLINE", "HF_HUB_DISABLE_TELEMETRY",
                   "DO_NOT_TRACK")

VI_DOC = """---
id: vi-privacy-note
title: Ghi chú riêng tư PRIVACYPROBE
lang: vi
---

# Ghi chú PRIVACYPROBE

Biên bản PRIVACYPROBE ghi lại rằng hai thành phố thống nhất lắp đặt 40 hệ thống điện mặt trời áp mái vào năm 2027.
"""

JA_DOC = """---
id: ja-privacy-note
title: プライバシー確認メモ PRIVACYPROBE
lang: ja
---

# 確認メモ PRIVACYPROBE

PRIVACYPROBEの記録によると、両市は2027年に屋根置き太陽光発電設備を40基設置することで合意した。
"""

VI_QUESTION = "Hai thành phố thống nhất lắp đặt bao nhiêu hệ thống điện mặt trời áp mái vào năm 2027?"
JA_QUESTION = "両市は2027年に屋根置き太陽光発電設備を何基設置することで合意しましたか？"


def write_docs(folder: Path) -> Path:
    (folder / "vi").mkdir(parents=True, exist_ok=True)
    (folder / "ja").mkdir(parents=True, exist_ok=True)
    (folder / "vi" / "privacy-note.md").write_text(VI_DOC, encoding="utf-8")
    (folder / "ja" / "privacy-note.md").write_text(JA_DOC, encoding="utf-8")
    return folder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(port: int, path: str, timeout: float = 30) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


# --------------------------------------------------------------------------- the guard itself
def test_the_guard_records_and_refuses_every_way_out():
    import asyncio

    import _socket
    import httpx

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    local_port = listener.getsockname()[1]
    try:
        with NetGuard() as guard:
            with pytest.raises(ConnectionRefusedError):
                socket.socket().connect((TEST_NET, 9))
            assert socket.socket().connect_ex((TEST_NET, 10)) == errno.ECONNREFUSED
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection((TEST_NET, 11), timeout=1)
            with pytest.raises(socket.gaierror):
                socket.getaddrinfo("telemetry.example.com", 443)
            with pytest.raises(OSError):
                socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", (TEST_NET, 12))
            with pytest.raises(httpx.ConnectError):
                httpx.get(f"http://{TEST_NET}:13/", timeout=1)
            with pytest.raises(OSError):  # asyncio's loop connects through the same methods
                asyncio.run(asyncio.wait_for(asyncio.open_connection(TEST_NET, 14), 2))
            with pytest.raises(OSError):  # the C socket type, bypassing the patched class: audit hook
                _socket.socket(socket.AF_INET, socket.SOCK_STREAM).connect((TEST_NET, 15))
            # loopback still works: the app and its clients live there
            with socket.create_connection(("127.0.0.1", local_port), timeout=2):
                pass
            with socket.create_connection(("localhost", local_port), timeout=2):
                pass
            assert socket.getaddrinfo("localhost", local_port)
        targets = guard.targets()
        kinds = [a.kind for a in guard.attempts]
        for port in range(9, 16):
            assert f"{TEST_NET}:{port}" in targets, (port, guard.report())
        assert "telemetry.example.com:443" in targets
        assert "audit:socket.connect" in kinds and "connect_ex" in kinds and "sendto" in kinds
        assert all(TEST_NET in t or "example.com" in t for t in targets), targets
    finally:
        listener.close()
    # uninstalled: the real methods are back
    assert socket.socket.connect is _socket.socket.connect
    assert socket.getaddrinfo.__module__ == "socket"


@pytest.mark.parametrize("host", ["127.0.0.1", "127.8.9.10", "::1", "localhost", "", "0.0.0.0", "::ffff:127.0.0.1"])
def test_local_hosts_are_local(host):
    assert is_local_host(host)


@pytest.mark.parametrize("host", [TEST_NET, "10.0.0.1", "192.168.1.1", "2001:db8::1", "huggingface.co", "us.i.posthog.com"])
def test_other_hosts_are_not(host):
    assert not is_local_host(host)


def guarded_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a guarded child: sitecustomize on PYTHONPATH, no anti-telemetry variables."""
    env = {k: v for k, v in os.environ.items() if k not in PHONE_HOME_VARS and not k.startswith("KAKEHASHI_")}
    env["PYTHONPATH"] = os.pathsep.join([str(SITE), str(ROOT)])
    env["NETGUARD_LOG"] = str(tmp_path / "netguard.jsonl")
    env.update(extra)
    return env


def test_the_guard_is_installed_in_child_processes(tmp_path):
    env = guarded_env(tmp_path)
    code = (
        "import socket, subprocess, sys\n"
        f"try: socket.create_connection(('{TEST_NET}', 21), timeout=1)\n"
        "except OSError: pass\n"
        # a grandchild is guarded too (it inherits PYTHONPATH and NETGUARD_LOG)
        f"subprocess.run([sys.executable, '-c', \"import urllib.request as u\\ntry: u.urlopen('http://{TEST_NET}:22/', timeout=1)\\nexcept OSError: pass\"])\n"
    )
    subprocess.run([sys.executable, "-c", code], env=env, check=True, timeout=60, cwd=tmp_path)
    targets = {a["target"] for a in read_log(env["NETGUARD_LOG"])}
    assert {f"{TEST_NET}:21", f"{TEST_NET}:22"} <= targets
    installed = read_log(env["NETGUARD_LOG"] + ".installed")
    assert len({p["pid"] for p in installed}) == 2


# --------------------------------------------------------------------------- in this process
@pytest.fixture()
def asyncio_server_loop(monkeypatch):
    """Serve the app on asyncio's loop (see the module docstring: uvloop connects from C)."""
    import uvicorn.config

    monkeypatch.setitem(uvicorn.config.LOOP_FACTORIES, "auto", uvicorn.config.LOOP_FACTORIES["asyncio"])


def test_ingest_search_ask_and_the_app_stay_on_the_machine(tmp_path, corpus_config, asyncio_server_loop):
    from gradio_client import Client

    from appserver import copy_data_dir, start_app
    from ingest.pipeline import Ingestor
    from kb.service import KnowledgeBase

    docs = write_docs(tmp_path / "docs")
    config = Config.from_env(data_dir=tmp_path / "data")
    app_config = copy_data_dir(corpus_config, tmp_path / "app-data")
    with NetGuard() as guard:
        ingestor = Ingestor(config, progress=False)
        summary = ingestor.run([docs])
        ingestor.close()
        assert summary.failed == [] and summary.added == 2
        kb = KnowledgeBase(config)
        hits = kb.search("PRIVACYPROBE điện mặt trời", 3)
        assert hits and hits[0].doc_id in ("vi-privacy-note", "ja-privacy-note")
        vi = kb.ask(VI_QUESTION)
        ja = kb.ask(JA_QUESTION)
        assert vi.found and "40" in vi.answer
        assert ja.found and "40" in ja.answer
        assert kb.llm_status()["configured"] is False

        server, app_kb = start_app(app_config)
        try:
            loop = type(server.server.servers[0]._loop)
            assert "uvloop" not in loop.__module__, loop  # the guard must be able to see the server's connects
            status, page = http_get(server.port, "/?lang=ja")
            assert status == 200 and b"gradio" in page.lower()
            assert http_get(server.port, "/healthz")[0] == 200
            doc_id = app_kb.documents()[0]["doc_id"]
            assert http_get(server.port, f"/files/{doc_id}")[0] == 200
            client = Client(server.url + "/", verbose=False, analytics_enabled=False, download_files=False)
            answer = client.predict("堺市が脱炭素先行地域に選ばれたのはいつですか？", api_name="/ask")
            assert answer["found"] and "2022" in answer["answer"]
            found = client.predict("Nghị định 06/2022/NĐ-CP", 3, "vi", api_name="/search")
            assert len(found) == 3
            client.close()
        finally:
            server.stop()
    assert guard.attempts == [], guard.report()


def test_the_configured_llm_endpoint_is_the_only_destination(tmp_path, corpus_config):
    """An LLM endpoint off the machine is the one permitted destination, and nothing else goes out with it.

    The endpoint is a TEST-NET address: the guard refuses it like everything
    else (no packet is sent), the answer falls back to extractive mode, and
    the recorded attempts show exactly where the app tried to go.
    """
    from kb.service import KnowledgeBase

    config = Config.from_env(
        data_dir=corpus_config.data_dir, documents_dir=corpus_config.documents_dir,
        llm_provider="openai", llm_base_url=f"http://{TEST_NET}:8000/v1", llm_model="private-model",
        llm_api_key="not-a-real-key", llm_timeout=5, llm_retries=0,
    )
    with NetGuard() as guard:
        kb = KnowledgeBase(config)
        answer = kb.ask("Thành phố Sakai được công nhận là Thành phố mô hình môi trường từ khi nào?")
        status = kb.llm_status()
    assert answer.mode == "extractive" and answer.found and "2009" in answer.answer
    assert status["configured"] is True and status["reachable"] is False
    assert guard.attempts, "the configured endpoint was not even tried: the test proves nothing"
    assert set(guard.targets()) == {f"{TEST_NET}:8000"}, guard.report()


# --------------------------------------------------------------------------- child processes
class Traced:
    """Run a child under the guard (and under strace when installed); collect what it attempted."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.strace = shutil.which("strace")
        self.traces: list[Path] = []
        self.count = 0

    def command(self, args: list[str]) -> list[str]:
        if not self.strace:
            return args
        self.count += 1
        trace = self.tmp_path / f"strace-{self.count}.txt"
        self.traces.append(trace)
        return [self.strace, "-f", "-qq", "--seccomp-bpf", "-e", "trace=connect,sendto,sendmsg", "-o", str(trace), *args]

    def syscall_destinations(self) -> list[str]:
        """Non-loopback IPv4/IPv6 destinations in the traced connect/sendto calls."""
        found = []
        pattern = re.compile(r'inet_addr\("([^"]+)"\)|inet_pton\(AF_INET6, "([^"]+)"')
        for trace in self.traces:
            if not trace.exists():
                continue
            for line in trace.read_text(errors="replace").splitlines():
                for v4, v6 in pattern.findall(line):
                    host = v4 or v6
                    if not is_local_host(host):
                        found.append(f"{host}: {line.strip()}")
        return found


def test_the_syscall_trace_sees_what_python_cannot(tmp_path):
    """The strace layer records a connect made with the guard out of the way (``-S``: no sitecustomize).

    A UDP ``connect`` only sets the socket's default peer: no packet is sent.
    """
    from conftest import require

    require(shutil.which("strace") is not None, "strace is not installed (the syscall layer of the privacy tests)")
    traced = Traced(tmp_path)
    code = f"import socket; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).connect(('{TEST_NET}', 31))"
    subprocess.run(traced.command([sys.executable, "-S", "-c", code]), env=guarded_env(tmp_path), check=True,
                   timeout=60)
    assert read_log(tmp_path / "netguard.jsonl") == []  # the Python guard was not there …
    found = traced.syscall_destinations()
    assert len(found) == 1 and found[0].startswith(f"{TEST_NET}:") and "htons(31)" in found[0], found  # … strace was


def test_clis_and_app_in_child_processes_stay_on_the_machine(tmp_path):
    from gradio_client import Client

    docs = write_docs(tmp_path / "docs")
    data = tmp_path / "data"
    env = guarded_env(tmp_path, KAKEHASHI_DATA_DIR=str(data))
    traced = Traced(tmp_path)

    def run(*args: str) -> dict:
        done = subprocess.run(traced.command([sys.executable, *args]), env=env, cwd=ROOT, capture_output=True,
                              text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout)

    summary = run("-m", "ingest", str(docs), "--json", "-q")
    assert summary["added"] == 2 and not summary["failed"], summary
    answer = run("-m", "kb", "ask", VI_QUESTION, "--json")
    assert answer["found"] and "40" in answer["answer"]

    port = free_port()
    app = subprocess.Popen(
        traced.command([sys.executable, "app.py", "--port", str(port), "--no-index"]), env=env, cwd=ROOT,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 180
        while True:
            assert app.poll() is None, app.stdout.read()[-3000:]
            try:
                if http_get(port, "/healthz", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the app did not start in 180 s"
            time.sleep(0.5)
        client = Client(f"http://127.0.0.1:{port}/", verbose=False, analytics_enabled=False, download_files=False)
        result = client.predict(JA_QUESTION, api_name="/ask")
        assert result["found"] and "40" in result["answer"]
        client.close()
        assert http_get(port, "/?lang=vi")[0] == 200
    finally:
        # stop the Python process itself (under strace, the Popen pid is strace's)
        pids = [p["pid"] for p in read_log(env["NETGUARD_LOG"] + ".installed") if "app.py" in " ".join(p["argv"])]
        for pid in pids:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        try:
            app.wait(timeout=30)
        except subprocess.TimeoutExpired:
            app.kill()
            app.wait(timeout=10)

    installed = [" ".join(p["argv"]) for p in read_log(env["NETGUARD_LOG"] + ".installed")]
    for needle in ("-m ingest", "-m kb ask", "app.py"):
        assert any(needle in argv for argv in installed), (needle, installed)
    attempts = read_log(env["NETGUARD_LOG"])
    assert attempts == [], "\n".join(f"{a['kind']} → {a['target']}\n{a['stack']}" for a in attempts)
    assert traced.syscall_destinations() == []

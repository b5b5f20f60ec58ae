"""Shared fixtures. The sample corpus is indexed once per test session.

Embedding is the slow part (a few passages a second on 2 cores), so every
test that needs "the real knowledge base" shares one index of ``documents/``
built here, with the real embedder and a real embedded Chroma.

Store modes: the same tests run against the embedded store and against a
real Chroma server (``chroma run`` on loopback, started once per session by
the ``chroma_server`` fixture and stopped at the end). To run a test in both
modes, use one of these parametrised fixtures (ids ``[embedded]`` /
``[server]``; ``-k server`` selects one mode):

* ``store_mode`` -- just the mode name, ``"embedded"`` or ``"server"``;
* ``store_config`` -- an empty index in that mode (a fresh data dir; in
  server mode also a fresh collection on the shared server), for tests that
  ingest their own files (tests/test_visibility.py, say);
* ``mode_corpus_config`` / ``mode_corpus_kb`` -- the indexed sample corpus
  in that mode (session-scoped). The server copy is not re-embedded: its
  vectors, texts and metadata are copied from the embedded index.

``server_config(data_dir)`` builds a server-mode config on the running
server for tests that need several replicas (tests/test_server_mode.py).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid

# Developers may keep a built corpus index between runs (CI never sets this):
# TEST_CORPUS_CACHE=/tmp/kakehashi-corpus python -m pytest tests/test_retrieve.py
CORPUS_CACHE = os.environ.get("TEST_CORPUS_CACHE", "")

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["ANONYMIZED_TELEMETRY"] = "False"
for _name in list(os.environ):
    if _name.startswith("KAKEHASHI_"):
        del os.environ[_name]  # a developer's settings must not leak into the tests

import dataclasses  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from kb.config import Config  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = ROOT / "documents"


def require(condition: bool, reason: str) -> None:
    """Skip on a developer machine without an optional tool; fail in CI, where it must be installed."""
    if condition:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{reason} — CI must install it (scripts/install.sh --dev)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def corpus_config(tmp_path_factory: pytest.TempPathFactory) -> Config:
    """A data dir holding the whole sample corpus, ingested through the real pipeline."""
    from ingest.pipeline import Ingestor

    data_dir = tmp_path_factory.mktemp("corpus-index")
    cache = Path(CORPUS_CACHE) if CORPUS_CACHE else None
    if cache and cache.is_dir():
        shutil.copytree(cache, data_dir, dirs_exist_ok=True)  # then ingest re-embeds only what changed
    config = Config.from_env(data_dir=data_dir, documents_dir=DOCUMENTS)
    ingestor = Ingestor(config, progress=False)
    summary = ingestor.run([DOCUMENTS])
    ingestor.close()
    assert summary.failed == [], summary.failed
    if cache and not cache.is_dir():
        shutil.copytree(data_dir, cache)
    config.extra["summary"] = summary
    return config


@pytest.fixture(scope="session")
def corpus_kb(corpus_config: Config):
    from kb.service import KnowledgeBase

    return KnowledgeBase(corpus_config)


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--headless=new", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium through Playwright, for the browser tests (required in CI)."""
    require(Path(CHROMIUM).exists(), "Chromium is not installed")
    import playwright.sync_api as playwright_api

    with playwright_api.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture()
def data_config(tmp_path: Path) -> Config:
    """An empty data dir for tests that build their own small index."""
    return Config.from_env(data_dir=tmp_path / "data")


@pytest.fixture(scope="module")
def fakes():
    """A scripted OpenAI-protocol and Ollama-protocol server on loopback (tests/llm_server.py)."""
    from llm_server import FakeLLMServer

    servers = {protocol: FakeLLMServer(protocol) for protocol in ("openai", "ollama")}
    yield servers
    for server in servers.values():
        server.close()


# ---------------------------------------------------------------------- store modes
STORE_MODES = ("embedded", "server")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ChromaServer:
    """A ``chroma run`` subprocess on loopback, with its own data directory."""

    def __init__(self, path: Path, log: Path) -> None:
        exe = Path(sys.executable).with_name("chroma")
        command = str(exe) if exe.is_file() else shutil.which("chroma")
        require(bool(command), "the `chroma` command (from the chromadb package) is needed for server-mode tests")
        self.host, self.port, self.path, self.log = "127.0.0.1", _free_port(), path, log
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CHROMA_OTEL", "OTEL_"))}
        env["ANONYMIZED_TELEMETRY"] = "False"  # and no OpenTelemetry endpoint: nothing leaves the machine
        self._log = log.open("wb")
        self.process = subprocess.Popen(
            [command, "run", "--path", str(path), "--host", self.host, "--port", str(self.port)],
            stdout=self._log, stderr=subprocess.STDOUT, env=env, cwd=path,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/api/v2/heartbeat", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.close()
                pytest.fail(f"chroma run did not answer its heartbeat; its log:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.2)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def config(self, data_dir: Path, collection: str | None = None, **overrides) -> Config:
        """A server-mode config: local data dir (manifest, keyword index), vectors on this server."""
        return Config.from_env(
            data_dir=data_dir, chroma_host=self.host, chroma_port=self.port,
            collection=collection or f"t-{uuid.uuid4().hex[:12]}", **overrides,
        )

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self._log.close()


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("chroma-server")
    (root / "db").mkdir()
    server = ChromaServer(root / "db", root / "chroma.log")
    yield server
    server.close()


@pytest.fixture(params=STORE_MODES)
def store_mode(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture()
def store_config(store_mode: str, tmp_path: Path, request: pytest.FixtureRequest) -> Config:
    """An empty index in ``store_mode``: embedded, or a fresh collection on the shared server."""
    if store_mode == "embedded":
        return Config.from_env(data_dir=tmp_path / "data")
    return request.getfixturevalue("chroma_server").config(tmp_path / "data")


def copy_collection(source, target, page: int = 1000) -> int:
    """Copy every record (vector, text, metadata) from one Chroma collection to another."""
    copied, offset = 0, 0
    while True:
        got = source.get(include=["embeddings", "documents", "metadatas"], limit=page, offset=offset)
        if not got["ids"]:
            return copied
        target.upsert(ids=got["ids"], embeddings=got["embeddings"], documents=got["documents"],
                      metadatas=got["metadatas"])
        copied += len(got["ids"])
        offset += len(got["ids"])


@pytest.fixture(scope="session")
def server_corpus_config(corpus_config: Config, chroma_server: ChromaServer, tmp_path_factory) -> Config:
    """The sample corpus on the Chroma server, copied from the embedded index (no re-embedding)."""
    from kb.embeddings import get_embeddings
    from kb.store import chroma_client, open_store

    data_dir = tmp_path_factory.mktemp("corpus-server")
    # Never open (and close) a SQLite file that a connection in this process is writing: closing any
    # descriptor drops the process's POSIX locks on it, and the audit log's writers then wait 30 s each.
    shutil.copytree(corpus_config.data_dir, data_dir, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("chroma", "*.lock", "audit.sqlite*", "users.sqlite*",
                                                  "feedback.sqlite*"))
    config = dataclasses.replace(chroma_server.config(data_dir, collection="corpus"),
                                 documents_dir=corpus_config.documents_dir)
    source = chroma_client(corpus_config).get_collection(corpus_config.collection)
    target = open_store(config, get_embeddings())._collection
    assert copy_collection(source, target) == source.count() > 0
    config.extra["summary"] = corpus_config.extra.get("summary")
    return config


@pytest.fixture(scope="session", params=STORE_MODES)
def mode_corpus_config(request: pytest.FixtureRequest) -> Config:
    """The indexed sample corpus, embedded or on the Chroma server."""
    name = "corpus_config" if request.param == "embedded" else "server_corpus_config"
    return request.getfixturevalue(name)


@pytest.fixture(scope="session")
def mode_corpus_kb(mode_corpus_config: Config):
    from kb.service import KnowledgeBase

    return KnowledgeBase(mode_corpus_config)

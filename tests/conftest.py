"""Shared fixtures. The sample corpus is indexed once per test session.

Embedding is the slow part (a few passages a second on 2 cores), so every
test that needs "the real knowledge base" shares one index of ``documents/``
built here, with the real embedder and a real embedded Chroma.
"""

from __future__ import annotations

import os
import shutil

# Developers may keep a built corpus index between runs (CI never sets this):
# TEST_CORPUS_CACHE=/tmp/kakehashi-corpus python -m pytest tests/test_retrieve.py
CORPUS_CACHE = os.environ.get("TEST_CORPUS_CACHE", "")

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["ANONYMIZED_TELEMETRY"] = "False"
for _name in list(os.environ):
    if _name.startswith("KAKEHASHI_"):
        del os.environ[_name]  # a developer's settings must not leak into the tests

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

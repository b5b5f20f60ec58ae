"""kb against a real Chroma server (``chroma run``), and several replicas sharing it.

Each test gets its own collection on the session's server and its own data
dirs (manifest, keyword index), like app replicas on different machines.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingest.pipeline import Ingestor, reindex
from kb.service import KnowledgeBase
from kb.store import chroma_client

ROOT = Path(__file__).resolve().parent.parent

MANGROVE_VI = """---
id: vi-can-gio
title: Rừng ngập mặn Cần Giờ
lang: vi
tags: [mangrove]
---
# Rừng ngập mặn Cần Giờ

Khu dự trữ sinh quyển rừng ngập mặn Cần Giờ được UNESCO công nhận năm 2000. Rừng ngập mặn
hấp thụ carbon và bảo vệ bờ biển khỏi xói lở. Thành phố Hồ Chí Minh giao khoán bảo vệ rừng cho
các hộ dân địa phương.
"""

HEAT_JA = """---
id: ja-heat-island
title: 堺市のヒートアイランド対策
lang: ja
---
# ヒートアイランド対策

堺市は、屋上緑化と保水性舗装によってヒートアイランド現象の緩和に取り組んでいる。
市役所本館の屋上では、緑化による表面温度の低下を測定している。
"""

REPLICA = """
import json, sys
from kb.config import Config
from kb.service import KnowledgeBase
kb = KnowledgeBase(Config.from_env())
kb.keyword.count()
print(json.dumps("ready"), flush=True)
for line in sys.stdin:
    hits = kb.retriever.search(line.strip(), 5, method="bm25")
    print(json.dumps([h.doc_id for h in hits]), flush=True)
"""


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _server_env(config, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KAKEHASHI_")}
    env.update(
        KAKEHASHI_DATA_DIR=str(data_dir), KAKEHASHI_CHROMA_HOST=config.chroma_host,
        KAKEHASHI_CHROMA_PORT=str(config.chroma_port), KAKEHASHI_COLLECTION=config.collection, **extra,
    )
    return env


def _ingest(config, paths, prune: bool = False):
    ingestor = Ingestor(config, progress=False)
    try:
        return ingestor.run(paths, prune=prune)
    finally:
        ingestor.close()


def test_ingest_search_ask_delete_prune_reindex_on_a_server(chroma_server, tmp_path):
    docs = tmp_path / "docs"
    vi_file = _write(docs, "vi/can-gio.md", MANGROVE_VI)
    _write(docs, "ja/heat.md", HEAT_JA)
    config = chroma_server.config(tmp_path / "data")
    summary = _ingest(config, [docs])
    assert summary.added == 2 and summary.failed == []
    collection = chroma_client(config).get_collection(config.collection)
    assert collection.count() == summary.chunks > 0
    assert not config.chroma_dir.exists(), "server mode must not create an embedded store"

    kb = KnowledgeBase(config)
    assert kb.search("rung ngap man Can Gio", 3)[0].doc_id == "vi-can-gio"  # unaccented, keyword lane
    dense = kb.retriever.search("カンザーのマングローブ生物圏保護区がUNESCOに認定されたのは何年？", 2, method="dense")
    assert dense[0].doc_id == "vi-can-gio"  # ja → vi through the server's HNSW
    answer = kb.ask("堺市はヒートアイランド対策として何をしているか")
    assert answer.found and answer.citations[0].doc_id == "ja-heat-island"
    assert kb.stats()["store"].startswith("chroma server 127.0.0.1")

    # A fresh replica (new data dir, empty keyword index) answers through the CLI at once.
    cli = subprocess.run(
        [sys.executable, "-m", "kb", "search", "Cần Giờ UNESCO", "--json", "--k", "3"],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env=_server_env(config, tmp_path / "replica"),
    )
    assert cli.returncode == 0, cli.stderr
    assert json.loads(cli.stdout)[0]["doc_id"] == "vi-can-gio"

    vi_file.unlink()
    pruned = _ingest(config, [docs], prune=True)
    assert pruned.removed == 1 and pruned.unchanged == 1
    assert {m["doc_id"] for m in collection.get(include=["metadatas"])["metadatas"]} == {"ja-heat-island"}
    assert "vi-can-gio" not in {h.doc_id for h in kb.retriever.search("Cần Giờ", 5, method="bm25")}

    reindex(config)
    assert config.collection not in {c.name for c in chroma_client(config).list_collections()}
    again = _ingest(config, [docs])
    assert again.added == 1
    fresh = KnowledgeBase(config)
    assert [h.doc_id for h in fresh.search("屋上緑化", 2)][0] == "ja-heat-island"
    assert fresh.counts()["chunks"] == again.chunks


def test_replicas_share_the_keyword_index_through_the_server(chroma_server, tmp_path):
    """Replica B (another process, its own data dir) sees A's upload and removal by keyword alone."""
    docs = tmp_path / "docs"
    _write(docs, "ja/heat.md", HEAT_JA)
    writer = chroma_server.config(tmp_path / "replica-a")
    assert _ingest(writer, [docs]).added == 1
    interval = 1.0
    replica = subprocess.Popen(
        [sys.executable, "-c", REPLICA], cwd=ROOT, text=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        env=_server_env(writer, tmp_path / "replica-b", KAKEHASHI_KEYWORD_SYNC_SECONDS=str(interval)),
    )

    def search(query: str) -> list[str]:
        replica.stdin.write(query + "\n")
        replica.stdin.flush()
        line = replica.stdout.readline()
        assert line, "the replica process died"
        return json.loads(line)

    def wait_until(condition, query: str) -> float:
        started = time.monotonic()
        while not condition(search(query)):
            assert time.monotonic() - started < interval + 10, f"replica B never caught up on {query!r}"
            time.sleep(0.1)
        return time.monotonic() - started

    try:
        assert json.loads(replica.stdout.readline()) == "ready"
        assert search("ヒートアイランド") == ["ja-heat-island"]  # synced from the server at start
        assert search("Cần Giờ") == []
        can_gio = _write(docs, "vi/can-gio.md", MANGROVE_VI)
        assert _ingest(writer, [docs]).added == 1
        seen_after = wait_until(lambda ids: ids[:1] == ["vi-can-gio"], "rừng ngập mặn Cần Giờ")
        assert seen_after <= interval + 2.0, f"replica B took {seen_after:.1f}s for a {interval}s sync interval"
        assert search("Cần Giờ") == ["vi-can-gio"]
        can_gio.unlink()
        assert _ingest(writer, [docs], prune=True).removed == 1
        gone_after = wait_until(lambda ids: "vi-can-gio" not in ids, "rừng ngập mặn Cần Giờ")
        assert gone_after <= interval + 2.0
        assert search("ヒートアイランド") == ["ja-heat-island"]
    finally:
        replica.stdin.close()
        replica.terminate()
        replica.wait(timeout=10)


def test_sync_fetches_only_new_chunks(chroma_server, tmp_path):
    """After a write, a replica lists ids and reads the text of the new chunks only."""
    from kb.keyword import KeywordIndex

    docs = tmp_path / "docs"
    _write(docs, "ja/heat.md", HEAT_JA)
    writer = chroma_server.config(tmp_path / "a", keyword_sync_seconds=0)
    first = _ingest(writer, [docs])
    reader = chroma_server.config(tmp_path / "b", collection=writer.collection, keyword_sync_seconds=0)
    KnowledgeBase(reader).store  # opening the store makes b's keyword index follow the server
    index = KeywordIndex(reader.keyword_path)
    assert index.maybe_sync() == {"added": first.chunks, "removed": 0}
    assert index.maybe_sync() == {"added": 0, "removed": 0}  # same stamp: nothing re-read
    _write(docs, "vi/can-gio.md", MANGROVE_VI)
    second = _ingest(writer, [docs])
    assert second.chunks_written > 0
    assert index.maybe_sync() == {"added": second.chunks_written, "removed": 0}
    assert index.count() == first.chunks + second.chunks_written
    assert index.search(["w:gio"])[0][0].startswith("vi-can-gio:")


@pytest.mark.parametrize("query, expected", [
    ("nghi dinh 06 2022", {"vi-05-vietnam-framework", "ja-05-vietnam-framework"}),
    ("脱炭素先行地域に選定されたのはいつ", {"ja-03-sakai-policy", "vi-03-sakai-policy"}),
])
def test_the_corpus_answers_the_same_in_both_modes(mode_corpus_kb, query, expected):
    hits = mode_corpus_kb.search(query, 3)
    assert expected & {d for h in hits for d in (h.doc_id, *(t.doc_id for t in h.twins))}

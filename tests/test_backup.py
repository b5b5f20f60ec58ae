"""Backups: taken while the index is being read, restored into a new directory, searched again."""

from __future__ import annotations

import io
import json
import sqlite3
import tarfile
import threading
from pathlib import Path

import pytest

from ingest.pipeline import IngestBusy, ingest_lock
from kb.backup import MANIFEST_NAME, BackupError, RestoreRefused, backup, restore
from kb.config import Config

QUERIES = [
    "Nghị định 06/2022/NĐ-CP giảm nhẹ phát thải khí nhà kính",
    "JCM設備補助事業の補助率は？",
    "Sakai và Bà Rịa – Vũng Tàu ký biên bản ghi nhớ ở đâu?",
    "堺市 脱炭素先行地域",
]


def _hits(kb, query: str) -> list[tuple[str, float]]:
    return [(h.chunk_id, round(h.score, 6)) for h in kb.search(query, k=8)]


@pytest.fixture(scope="module")
def archive(tmp_path_factory, corpus_config, corpus_kb):
    """A backup of the corpus index taken while another thread keeps searching it."""
    dest = tmp_path_factory.mktemp("backup") / "kakehashi.tar.gz"
    stop = threading.Event()
    searched: list[int] = []
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            while not stop.is_set():
                for query in QUERIES:
                    searched.append(len(corpus_kb.search(query, k=5)))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    _hits(corpus_kb, QUERIES[0])  # model and store loaded before the race starts
    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    try:
        summary = backup(corpus_config, dest)
    finally:
        stop.set()
        thread.join(timeout=120)
    assert errors == []
    assert searched and all(n > 0 for n in searched)
    return dest, summary


def test_backup_is_one_archive_with_counts_and_versions(archive, corpus_config):
    dest, summary = archive
    assert dest.is_file() and summary["bytes"] == dest.stat().st_size > 0
    json.dumps(summary)  # ready for --json
    expected_docs = sqlite3.connect(str(corpus_config.manifest_path)).execute(
        "SELECT COUNT(*) FROM files WHERE status='ok'").fetchone()[0]
    assert summary["counts"]["documents"] == expected_docs == 22
    assert summary["counts"]["chunks"] == summary["counts"]["keyword_chunks"] > 100
    assert {"kakehashi", "chromadb", "sqlite", "python"} <= set(summary["versions"])
    with tarfile.open(dest) as tar:
        names = tar.getnames()
        info = json.loads(tar.extractfile(MANIFEST_NAME).read())
    assert "data/manifest.sqlite" in names and "data/keyword.sqlite" in names
    assert "data/chroma/chroma.sqlite3" in names
    assert any(n.endswith("/data_level0.bin") for n in names)  # the HNSW segment folder
    assert not any(n.endswith(("-wal", "-shm", "ingest.lock")) for n in names)
    assert set(info["files"]) == {n[len("data/"):] for n in names if n.startswith("data/")}


def test_restore_into_a_new_dir_gives_the_same_hits(archive, tmp_path, corpus_kb):
    from kb.service import KnowledgeBase

    dest, summary = archive
    target = Config.from_env(data_dir=tmp_path / "restored")
    result = restore(target, dest)
    json.dumps(result)
    assert result["counts"]["chunks"] == summary["counts"]["chunks"]
    assert result["counts"]["documents"] == summary["counts"]["documents"]
    restored = KnowledgeBase(target)
    assert restored.store._collection.count() == summary["counts"]["chunks"]
    assert restored.keyword.count() == summary["counts"]["keyword_chunks"]
    for query in QUERIES:
        assert _hits(restored, query) == _hits(corpus_kb, query), query
    assert restored.retriever._facts.shadow_langs() == {"vi", "ja"}  # served from the restored shadows

    # A second restore over it is refused unless forced, and the index is left alone.
    with pytest.raises(RestoreRefused, match="not empty"):
        restore(target, dest)
    assert restored.store._collection.count() == summary["counts"]["chunks"]


def test_forced_restore_replaces_an_index_and_is_usable(archive, tmp_path):
    from kb.service import KnowledgeBase

    dest, summary = archive
    target = Config.from_env(data_dir=tmp_path / "data")
    target.data_dir.mkdir()
    (target.data_dir / "stale.txt").write_text("old index")
    result = restore(target, dest, force=True)
    assert result["replaced"] is True
    assert not (target.data_dir / "stale.txt").exists()
    hits = KnowledgeBase(target).search(QUERIES[1], k=3)
    assert hits and hits[0].lang in ("ja", "vi")


def _evil_archive(path: Path, name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> Path:
    info_blob = json.dumps({"format": "kakehashi-backup", "format_version": 1, "files": {}}).encode()
    with tarfile.open(path, "w:gz") as tar:
        member = tarfile.TarInfo(MANIFEST_NAME)
        member.size = len(info_blob)
        tar.addfile(member, io.BytesIO(info_blob))
        member = tarfile.TarInfo(name)
        member.type = kind
        member.linkname = link
        payload = b"owned"
        member.size = len(payload) if kind == tarfile.REGTYPE else 0
        tar.addfile(member, io.BytesIO(payload) if kind == tarfile.REGTYPE else None)
    return path


@pytest.mark.parametrize(
    ("name", "kind", "link", "reason"),
    [
        ("data/../../escaped.txt", tarfile.REGTYPE, "", "outside"),
        ("/tmp/absolute.txt", tarfile.REGTYPE, "", "outside"),
        ("data/chroma/link", tarfile.SYMTYPE, "/etc/passwd", "link"),
        ("data/hard", tarfile.LNKTYPE, "/etc/passwd", "link"),
        ("elsewhere.txt", tarfile.REGTYPE, "", "unexpected member"),
    ],
)
def test_hostile_archives_are_refused_before_anything_is_written(tmp_path, name, kind, link, reason):
    evil = _evil_archive(tmp_path / "evil.tar.gz", name, kind, link)
    target = Config.from_env(data_dir=tmp_path / "work" / "data")
    with pytest.raises(BackupError, match=reason):
        restore(target, evil)
    assert not (tmp_path / "escaped.txt").exists() and not (tmp_path / "work" / "escaped.txt").exists()
    assert not target.data_dir.exists() or list(target.data_dir.iterdir()) == []


def test_not_a_backup_and_damaged_archives_are_refused(tmp_path, archive):
    target = Config.from_env(data_dir=tmp_path / "data")
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"<html>not an archive</html>")
    with pytest.raises(BackupError, match="not a Kakehashi backup"):
        restore(target, junk)
    dest, _ = archive
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(dest.read_bytes()[: dest.stat().st_size // 2])
    with pytest.raises(BackupError):
        restore(target, truncated)
    assert not target.data_dir.exists() or list(target.data_dir.iterdir()) == []


def test_backup_waits_for_a_running_ingestion(tmp_path, corpus_config):
    with ingest_lock(corpus_config):
        with pytest.raises(IngestBusy, match="another ingestion is running"):
            backup(corpus_config, tmp_path / "busy.tar.gz", lock_timeout=0.2)
    assert not (tmp_path / "busy.tar.gz").exists()
    with pytest.raises(BackupError, match="no index"):
        backup(Config.from_env(data_dir=tmp_path / "empty"), tmp_path / "x.tar.gz")


def test_backup_right_after_an_ingestion_in_the_same_process_has_every_vector(tmp_path):
    """The writer's Chroma client is still open when the backup is taken (as in the app after an
    upload); a fresh process restoring the archive finds every new chunk by vector search."""
    import subprocess
    import sys

    from ingest.pipeline import Ingestor

    folder = tmp_path / "docs"
    folder.mkdir()
    for i in range(8):
        lang, text = ("vi", f"Dự án JCM số {i}: điện mặt trời mái nhà, mã XK{i * 7919}.") if i % 2 else \
            ("ja", f"JCM案件{i}番：屋根置き太陽光、コードXK{i * 7919}。")
        (folder / f"d{i}.md").write_text(f"---\nid: d{i}\nlang: {lang}\n---\n{text}\n", encoding="utf-8")
    config = Config.from_env(data_dir=tmp_path / "live")
    ingestor = Ingestor(config, progress=False)
    assert ingestor.run([folder]).chunks == 8
    dest = tmp_path / "live.tar.gz"
    assert backup(config, dest)["counts"]["chunks"] == 8
    ingestor.close()

    script = f"""
import json, sys
from pathlib import Path
from kb.backup import restore
from kb.config import Config
from kb.embeddings import get_embeddings
from kb.store import open_store
config = Config.from_env(data_dir=Path({str(tmp_path / "restored")!r}))
restore(config, Path({str(dest)!r}))
embeddings = get_embeddings()
collection = open_store(config, embeddings)._collection
texts = collection.get(include=["documents"])
top = []
for cid, text in zip(texts["ids"], texts["documents"]):
    found = collection.query(query_embeddings=[embeddings.embed_query(text)], n_results=1)["ids"][0]
    top.append(found[0] == cid)
print(json.dumps({{"count": collection.count(), "self_hits": sum(top)}}))
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600,
                            cwd=Path(__file__).resolve().parent.parent)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"count": 8, "self_hits": 8}


# --------------------------------------------------------------------------- the CLI
def test_cli_backup_then_restore_into_an_empty_dir(tmp_path, capsys):
    """``python -m kb backup`` of a small index, ``python -m kb restore`` (a real process) into an empty dir."""
    import subprocess
    import sys

    from ingest.pipeline import Ingestor
    from kb.cli import main
    from kb.service import KnowledgeBase

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "vi.md").write_text("---\nid: cli-vi\nlang: vi\n---\nDự án JCM mã CLI4711: điện mặt trời mái nhà.\n",
                                  encoding="utf-8")
    (folder / "ja.md").write_text("---\nid: cli-ja\nlang: ja\n---\nJCM案件コードCLI4711：屋根置き太陽光。\n",
                                  encoding="utf-8")
    live = Config.from_env(data_dir=tmp_path / "live")
    ingestor = Ingestor(live, progress=False)
    assert ingestor.run([folder]).chunks == 2
    ingestor.close()

    dest = tmp_path / "out" / "kakehashi.tar.gz"
    assert main(["backup", str(dest), "--data-dir", str(live.data_dir)]) == 0
    out = capsys.readouterr().out
    assert f"backup written: {dest}" in out and "2 documents, 2 chunks" in out
    assert dest.is_file()

    restored = tmp_path / "restored"
    result = subprocess.run(
        [sys.executable, "-m", "kb", "restore", str(dest), "--json", "--data-dir", str(restored)],
        cwd=Path(__file__).resolve().parent.parent, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["archive"] == str(dest) and summary["replaced"] is False
    assert summary["counts"]["documents"] == 2 and summary["counts"]["chunks"] == 2
    kb = KnowledgeBase(Config.from_env(data_dir=restored))
    assert {h.doc_id for h in kb.search("CLI4711", k=2)} == {"cli-vi", "cli-ja"}


def test_cli_restore_refuses_a_non_empty_dir_without_force(archive, tmp_path, capsys):
    from kb.cli import main

    dest, summary = archive
    target = tmp_path / "data"
    target.mkdir()
    (target / "stale.txt").write_text("old index")
    assert main(["restore", str(dest), "--data-dir", str(target)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "error:" in captured.err and "not empty" in captured.err and "--force" in captured.err
    assert (target / "stale.txt").read_text() == "old index"

    assert main(["restore", str(dest), "--force", "--json", "--data-dir", str(target)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["replaced"] is True and result["counts"]["chunks"] == summary["counts"]["chunks"]
    assert not (target / "stale.txt").exists()


def test_cli_backup_errors_exit_1_with_the_message(tmp_path, capsys, monkeypatch):
    import kb.backup
    from kb.cli import main

    assert main(["backup", str(tmp_path / "x.tar.gz"), "--data-dir", str(tmp_path / "empty")]) == 1
    assert "no index" in capsys.readouterr().err

    def busy(*args, **kwargs):
        raise IngestBusy("another ingestion is running on DIR; wait for it to finish and run this again")

    monkeypatch.setattr(kb.backup, "backup", busy)
    assert main(["backup", str(tmp_path / "x.tar.gz"), "--json", "--data-dir", str(tmp_path / "empty")]) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "error: another ingestion is running" in captured.err
    assert main(["restore", str(tmp_path / "missing.tar.gz"), "--data-dir", str(tmp_path / "empty")]) == 1
    assert "no backup archive" in capsys.readouterr().err


def test_cli_help_lists_backup_and_restore(capsys):
    from kb.cli import main

    with pytest.raises(SystemExit) as exited:
        main(["--help"])
    assert exited.value.code == 0
    listing = capsys.readouterr().out
    assert "backup" in listing and "restore" in listing
    with pytest.raises(SystemExit):
        main(["restore", "--help"])
    assert "--force" in capsys.readouterr().out

"""Crash safety: SIGKILL at random moments, then a re-run, ends in the clean run's index.

The vectors (Chroma, with its per-language shadow collections), the keyword index (``keyword.sqlite``) and the manifest
are all compared with an uninterrupted run: same chunk ids and texts, same
postings statistics, same manifest rows. No duplicates, no orphans, nothing lost.

Embedding is the slow part of ingestion and not what can break on a crash, so
both data dirs start with the embedding cache of the session's corpus index
(same model, same texts): a run then takes seconds and the kills land in the
loading and writing phases. The file that is edited mid-sequence has new text,
so some embedding happens under the kills too.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingest.pipeline import Ingestor
from kb.config import Config
from kb.manifest import Manifest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = ROOT / "documents"
SUBSET = [
    "vi/04-jcm.pdf",
    "vi/06-ba-ria-vung-tau.html",
    "vi/09-workshop-talk.pptx",
    "ja/02-city-to-city.docx",
    "ja/10-workshop-notice.md",
]
SEED = int(os.environ.get("TEST_CRASH_SEED", "20231206"))  # the memorandum's date; developers may explore others


def copy_subset(folder: Path) -> Path:
    for rel in SUBSET:
        target = folder / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(DOCUMENTS / rel, target)
    return folder


def seed_embedding_cache(source: Config, data_dir: Path) -> None:
    """Give ``data_dir`` the corpus index's embedding cache (and nothing else)."""
    manifest = Manifest(data_dir / "manifest.sqlite")
    manifest.close()
    db = sqlite3.connect(str(data_dir / "manifest.sqlite"))
    db.execute("ATTACH DATABASE ? AS src", (str(source.manifest_path),))
    db.execute("INSERT OR IGNORE INTO embeddings SELECT key, vector FROM src.embeddings")
    db.commit()
    db.execute("DETACH DATABASE src")
    db.close()


def snapshot(data_dir: Path) -> dict:
    """Everything an index is made of, in a comparable form."""
    from kb.embeddings import get_embeddings
    from kb.store import open_store

    from kb import shadows

    config = Config.from_env(data_dir=data_dir)
    store = open_store(config, get_embeddings())
    got = store.get(include=["documents", "metadatas"])
    chroma = {i: (text, (meta or {}).get("path"), (meta or {}).get("doc_id")) for i, text, meta in
              zip(got["ids"], got["documents"], got["metadatas"])}
    langs = {i: (meta or {}).get("lang") for i, meta in zip(got["ids"], got["metadatas"])}
    shadowed = {lang: set(s.get(include=[])["ids"]) for lang, s in shadows.existing(store._collection).items()}
    db = sqlite3.connect(str(config.keyword_path))
    keyword_rows = db.execute("SELECT chunk_id, path, doc_id, length FROM chunks").fetchall()
    terms = dict(db.execute("SELECT term, df FROM terms WHERE df != 0"))
    stats = {k: round(v, 6) for k, v in db.execute("SELECT key, value FROM stats")}
    postings = db.execute("SELECT COUNT(*) FROM postings").fetchone()[0]
    db.close()
    manifest = Manifest(config.manifest_path)
    files = {
        (r.path, r.doc_id, r.content_hash, r.size, r.status, r.chunks, r.pages, r.format, r.title, r.lang)
        for r in manifest.all()
    }
    manifest.close()
    return {
        "chroma_count": len(got["ids"]),
        "chroma": chroma,
        "by_lang": {lang: {i for i, x in langs.items() if x == lang} for lang in set(langs.values())},
        "shadows": {lang: ids for lang, ids in shadowed.items() if ids},
        "keyword_count": len(keyword_rows),
        "keyword": {row[0]: row[1:] for row in keyword_rows},
        "terms": terms,
        "stats": stats,
        "postings": postings,
        "manifest": files,
    }


def _ingest_cmd(folder: Path, data_dir: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "ingest", str(folder), "--data-dir", str(data_dir), "--quiet", *extra]


@pytest.mark.slow
def test_sigkill_at_random_points_then_rerun_equals_a_clean_run(tmp_path, corpus_config):
    folder = copy_subset(tmp_path / "docs")
    notice = folder / "ja" / "10-workshop-notice.md"
    original_notice = notice.read_bytes()
    extra = folder / "vi" / "99-tam-thoi.md"

    # The reference: one uninterrupted CLI run, timed from taking the lock (after start-up) to the end.
    clean_dir = tmp_path / "clean"
    seed_embedding_cache(corpus_config, clean_dir)
    reference = subprocess.Popen(_ingest_cmd(folder, clean_dir, "--json"), cwd=ROOT, text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert _wait_until_locked(clean_dir, reference), "the reference ingestion never took the lock"
    locked_at = time.monotonic()
    out, err = reference.communicate(timeout=600)
    duration = time.monotonic() - locked_at
    assert reference.returncode == 0, err
    clean_summary = json.loads(out)
    assert clean_summary["added"] == len(SUBSET) and clean_summary["chunks"] > 20

    crashed_dir = tmp_path / "crashed"
    seed_embedding_cache(corpus_config, crashed_dir)
    rng = random.Random(SEED)
    # One kill point in each quarter of the locked phase (model loading, parsing, embedding, writing),
    # in increasing order, so each killed run gets further than the one before.
    points = [duration * rng.uniform(i / 4, (i + 1) / 4) for i in range(4)]
    interrupted = 0
    for attempt, delay in enumerate(points):
        if attempt == 1:  # a file changes, and a new one appears, between two killed runs
            notice.write_bytes(original_notice + "\n## 追記\n\nワークショップの会場は堺市役所本館に変更されました。\n".encode())
            extra.write_text("---\nid: tam-thoi\nlang: vi\ntitle: Tạm thời\n---\n"
                             "Tài liệu tạm thời về Thỏa thuận hợp tác Sakai – Bà Rịa–Vũng Tàu.\n", encoding="utf-8")
        if attempt == 2:  # the edit is undone while the index may hold a mix of both versions
            notice.write_bytes(original_notice)
        if attempt == 3:
            extra.unlink()
        process = subprocess.Popen(_ingest_cmd(folder, crashed_dir), cwd=ROOT,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if _wait_until_locked(crashed_dir, process):
            time.sleep(delay)
        if process.poll() is None:
            interrupted += 1
            process.send_signal(signal.SIGKILL)  # a no-op if it has just finished
        process.wait(timeout=60)
    print(f"kills that interrupted a running ingestion: {interrupted} of {len(points)}, "
          f"at {[round(p, 2) for p in points]} s after the lock (clean run {duration:.2f} s)")
    assert interrupted >= 2, f"only {interrupted} of {len(points)} kills hit a running ingestion ({points})"

    # The re-run, in-process: the same code as the CLI, without another start-up.
    config = Config.from_env(data_dir=crashed_dir)
    ingestor = Ingestor(config, progress=False)
    try:
        summary = ingestor.run([folder], prune=True)
    finally:
        ingestor.close()
    assert summary.failed == [], summary.failed

    clean, crashed = snapshot(clean_dir), snapshot(crashed_dir)
    assert crashed["chroma_count"] == clean["chroma_count"] == clean_summary["chunks"]
    assert set(crashed["chroma"]) == set(clean["chroma"])
    assert crashed["chroma"] == clean["chroma"]
    # Each language's shadow (kb/shadows.py) holds exactly its chunks: none missing, no copy a kill left behind.
    assert crashed["shadows"] == clean["shadows"] == clean["by_lang"]
    assert crashed["keyword_count"] == clean["keyword_count"] == clean["chroma_count"]
    assert crashed["keyword"] == clean["keyword"]
    assert crashed["terms"] == clean["terms"]
    assert (crashed["stats"], crashed["postings"]) == (clean["stats"], clean["postings"])
    assert crashed["manifest"] == clean["manifest"]
    assert {row[4] for row in crashed["manifest"]} == {"ok"} and len(crashed["manifest"]) == len(SUBSET)


def _wait_until_locked(data_dir: Path, process: subprocess.Popen, limit: float = 120) -> bool:
    """True once ``process`` holds the data dir's lock (probing it without keeping it)."""
    from filelock import FileLock, Timeout

    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and process.poll() is None:
        probe = FileLock(str(data_dir / "ingest.lock"))
        try:
            probe.acquire(timeout=0)
        except Timeout:
            return True
        probe.release()
        time.sleep(0.02)
    return False


@pytest.mark.slow
def test_two_ingests_at_once_serialise_or_the_second_refuses(tmp_path, corpus_config):
    folder = copy_subset(tmp_path / "docs")
    data_dir = tmp_path / "data"
    seed_embedding_cache(corpus_config, data_dir)
    first = subprocess.Popen(_ingest_cmd(folder, data_dir, "--json"), cwd=ROOT, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert _wait_until_locked(data_dir, first), "the first ingestion never took the lock"
    # Freeze the holder so the others surely start while it holds the lock (no timing luck).
    os.kill(first.pid, signal.SIGSTOP)
    try:
        refusing = subprocess.Popen(_ingest_cmd(folder, data_dir, "--json", "--wait", "0"), cwd=ROOT, text=True,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        waiting = subprocess.Popen(_ingest_cmd(folder, data_dir, "--json"), cwd=ROOT, text=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        refused = refusing.communicate(timeout=300)
        time.sleep(1.0)  # the waiting one started with the refusing one: it is queued on the lock now
        assert waiting.poll() is None, waiting.communicate()
    finally:
        os.kill(first.pid, signal.SIGCONT)
    outputs = {"refusing": refused}
    outputs.update((name, p.communicate(timeout=600)) for name, p in (("first", first), ("waiting", waiting)))

    assert refusing.returncode == 1, outputs["refusing"]
    assert "another ingestion" in outputs["refusing"][1] and str(data_dir) in outputs["refusing"][1]
    assert outputs["refusing"][0] == ""
    assert first.returncode == 0, outputs["first"][1]
    assert waiting.returncode == 0, outputs["waiting"][1]
    done_first, done_second = json.loads(outputs["first"][0]), json.loads(outputs["waiting"][0])
    assert done_first["added"] == len(SUBSET)
    # The waiting one ran after the first had finished: everything was already there.
    assert (done_second["added"], done_second["updated"], done_second["unchanged"]) == (0, 0, len(SUBSET))
    assert done_second["chunks_written"] == 0

    state = snapshot(data_dir)
    assert state["chroma_count"] == state["keyword_count"] == done_first["chunks"]
    assert set(state["chroma"]) == set(state["keyword"])
    assert {row[4] for row in state["manifest"]} == {"ok"} and len(state["manifest"]) == len(SUBSET)


def test_a_half_replaced_file_that_turns_bad_leaves_no_chunks(tmp_path, data_config, monkeypatch):
    """Killed between the vector write and the manifest commit, then the file is damaged:
    the mix of old and new chunks in the store matches no version of it, so it is dropped."""
    from makefiles import VI_PAGES, pdf_bytes, write

    folder = tmp_path / "docs"
    report = write(folder / "bao-cao.pdf", pdf_bytes(VI_PAGES, lang="vi"))
    other = write(folder / "khac.md", "---\nid: khac\nlang: vi\n---\nMột tài liệu khác, không liên quan.\n".encode())
    ingestor = Ingestor(data_config, progress=False)
    assert ingestor.run([folder]).added == 2
    key = str(report.resolve())
    old_ids = set(ingestor.collection.get(where={"path": key}, include=[])["ids"])

    write(report, pdf_bytes(VI_PAGES[::-1] + ["Trang mới: Quyết định 896/QĐ-TTg."], lang="vi"))

    class Killed(BaseException):
        pass

    def die(*args, **kwargs):  # the process dies after the vectors, before keywords and manifest
        raise Killed()

    monkeypatch.setattr(ingestor.keyword, "replace_files", die)
    with pytest.raises(Killed):
        ingestor.run([folder])
    monkeypatch.undo()
    assert ingestor.manifest.get(key).status == "indexing"
    mixed = set(ingestor.collection.get(where={"path": key}, include=[])["ids"])
    assert mixed != old_ids and mixed  # neither the old nor only the new version

    report.write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog >> garbage")  # and now it is damaged
    summary = ingestor.run([folder])
    assert [Path(f["path"]).name for f in summary.failed] == ["bao-cao.pdf"]
    assert ingestor.collection.get(where={"path": key}, include=[])["ids"] == []
    assert key not in ingestor.keyword.paths()
    assert ingestor.manifest.get(key).status == "failed"
    assert ingestor.collection.count() == ingestor.keyword.count() > 0  # the other file is intact
    assert str(other.resolve()) in ingestor.keyword.paths()
    ingestor.close()

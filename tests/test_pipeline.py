"""Ingestion end to end: real files, real embeddings, a real embedded Chroma."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ingest.pipeline import IngestBusy, Ingestor
from kb.config import Config
from kb.manifest import Manifest
from makefiles import JA_PAGES, VI_PAGES, cp1258_bytes, docx_bytes, html_bytes, pdf_bytes, write

ROOT = Path(__file__).resolve().parent.parent


def _md(doc_id: str, lang: str, body: str, title: str | None = None) -> bytes:
    return f"---\nid: {doc_id}\nlang: {lang}\ntitle: {title or doc_id}\n---\n{body}\n".encode()


def _good_folder(folder: Path) -> Path:
    write(folder / "vi" / "nghi-dinh.pdf", pdf_bytes(VI_PAGES, title="Nghị định 06", lang="vi"))
    write(folder / "ja" / "senko.pdf", pdf_bytes(JA_PAGES, title="脱炭素先行地域", lang="ja"))
    write(folder / "vi" / "thu-tuc.docx", docx_bytes("Thủ tục", [("IRC", "Giấy chứng nhận đăng ký đầu tư cấp trong 15 ngày làm việc.")]))
    write(folder / "vi" / "brvt.html", html_bytes("BR-VT", "<h2>Sáp nhập</h2><p>Bà Rịa – Vũng Tàu thuộc TP. Hồ Chí Minh từ ngày 1/7/2025.</p>"))
    write(folder / "ja" / "jcm.txt", "二国間クレジット制度は2013年7月2日に署名された。".encode("shift_jis"))
    write(folder / "vi" / "chien-luoc.txt", cp1258_bytes("Quyết định 896/QĐ-TTg phê duyệt Chiến lược quốc gia về biến đổi khí hậu."))
    return folder


def _ids(config: Config) -> set[str]:
    from kb.embeddings import get_embeddings
    from kb.store import open_store

    return set(open_store(config, get_embeddings()).get(include=[])["ids"])


def _run(config: Config, *paths: Path, **kwargs):
    ingestor = Ingestor(config, progress=False)
    try:
        return ingestor.run(list(paths), **kwargs)
    finally:
        ingestor.close()


def test_bad_files_are_reported_and_the_rest_indexed(tmp_path, data_config):
    folder = _good_folder(tmp_path / "docs")
    write(folder / "bad" / "corrupt.pdf", b"%PDF-1.4\n%broken beyond repair\n1 0 obj <<")
    write(folder / "bad" / "locked.pdf", pdf_bytes(VI_PAGES, encrypt_password="pw"))
    write(folder / "bad" / "empty.md", b"")
    huge = folder / "bad" / "huge.txt"
    with open(huge, "wb") as handle:
        handle.truncate(50 * 1024 * 1024)  # a 50 MB file
    summary = _run(data_config, folder)
    reasons = {Path(f["path"]).name: f["reason"] for f in summary.failed}
    assert set(reasons) == {"corrupt.pdf", "locked.pdf", "empty.md", "huge.txt"}
    assert "damaged" in reasons["corrupt.pdf"]
    assert "encrypted" in reasons["locked.pdf"]
    assert "empty" in reasons["empty.md"]
    assert "50.0 MB" in reasons["huge.txt"] and "limit" in reasons["huge.txt"]
    assert summary.added == 6
    ids = _ids(data_config)
    assert len(ids) == summary.chunks > 0
    statuses = {Path(r.path).name: r.status for r in Manifest(data_config.manifest_path).all()}
    assert statuses["corrupt.pdf"] == "failed" and statuses["nghi-dinh.pdf"] == "ok"


def test_rerun_changes_nothing_and_edits_replace_the_whole_file(tmp_path, data_config):
    folder = tmp_path / "docs"
    write(folder / "a.md", _md("doc-a", "vi", "Nội dung đầu tiên về JCM.\n\nĐoạn thứ hai về Sakai."))
    write(folder / "b.md", _md("doc-b", "ja", "堺市の脱炭素先行地域について。"))
    first = _run(data_config, folder)
    ids_before = _ids(data_config)
    second = _run(data_config, folder)
    assert (second.added, second.updated, second.unchanged, second.chunks_written) == (0, 0, 2, 0)
    assert _ids(data_config) == ids_before
    assert first.chunks == len(ids_before)

    write(folder / "a.md", _md("doc-a", "vi", "Nội dung đã sửa về Nghị định 119/2025/NĐ-CP."))
    third = _run(data_config, folder)
    assert (third.added, third.updated, third.unchanged) == (0, 1, 1)
    from kb.embeddings import get_embeddings
    from kb.store import open_store

    texts = open_store(data_config, get_embeddings()).get(where={"doc_id": "doc-a"})["documents"]
    assert texts == ["Nội dung đã sửa về Nghị định 119/2025/NĐ-CP."]


def test_re_ingesting_with_another_visibility_rewrites_every_copy(tmp_path, data_config):
    """The chunk ids name the text, not the visibility: the store and the shadows must follow anyway."""
    from kb.filters import Filters
    from kb.service import KnowledgeBase
    from kb.store import chroma_client

    folder = tmp_path / "docs"
    write(folder / "a.md", _md("doc-vault", "vi", "Mã kho hồ sơ rừng ngập mặn là VELVETORCHID, chỉ dành cho cán bộ."))
    _run(data_config, folder)
    again = _run(data_config, folder, visibility="internal")
    assert (again.updated, again.embedded) == (1, 0)  # rewritten from the vector cache, not re-embedded
    client = chroma_client(data_config)
    names = [c if isinstance(c, str) else c.name for c in client.list_collections()]
    for name in [n for n in names if n == data_config.collection or n.startswith(data_config.collection + ".lang.")]:
        metas = client.get_collection(name).get(where={"doc_id": "doc-vault"}, include=["metadatas"])["metadatas"]
        assert metas and {m["visibility"] for m in metas} == {"internal"}, name
    kb = KnowledgeBase(data_config)
    public = kb.retriever.search("VELVETORCHID mã kho hồ sơ", 5, Filters(visibility=("public",)))
    assert not [h for h in public if h.doc_id == "doc-vault"]


def test_a_file_that_turns_bad_keeps_its_indexed_version(tmp_path, data_config):
    folder = tmp_path / "docs"
    pdf = write(folder / "report.pdf", pdf_bytes(VI_PAGES, lang="vi"))
    _run(data_config, folder)
    before = _ids(data_config)
    pdf.write_bytes(b"%PDF-1.4 truncated")
    summary = _run(data_config, folder)
    assert [Path(f["path"]).name for f in summary.failed] == ["report.pdf"]
    assert _ids(data_config) == before


def test_prune_removes_chunks_of_deleted_files(tmp_path, data_config):
    folder = tmp_path / "docs"
    write(folder / "keep.md", _md("keep", "vi", "Giữ lại tài liệu này."))
    gone = write(folder / "gone.md", _md("gone", "vi", "Tài liệu này sẽ bị xóa."))
    _run(data_config, folder)
    gone.unlink()
    assert _run(data_config, folder).removed == 0  # without --prune nothing is forgotten
    summary = _run(data_config, folder, prune=True)
    assert summary.removed == 1
    assert all(i.startswith("keep:") for i in _ids(data_config))


def test_identical_text_is_embedded_once(tmp_path, data_config):
    folder = tmp_path / "docs"
    body = "Đoạn văn giống hệt nhau trong hai tệp."
    # A copy of a document under another id: same title, same text, same embedding input.
    write(folder / "one.md", _md("one", "vi", body, title="Bản sao"))
    write(folder / "two.md", _md("two", "vi", body, title="Bản sao"))
    summary = _run(data_config, folder)
    assert summary.chunks_written == 2  # both documents can cite it
    assert summary.embedded == 1


def test_a_batch_is_written_while_the_next_one_is_embedded(tmp_path, data_config, monkeypatch):
    """Three stages: the writes of one batch overlap the embedding of the next, and a text
    repeated in the next batch while the first is still being embedded is embedded once."""
    import threading

    import ingest.pipeline as pipeline

    monkeypatch.setattr(pipeline, "EMBED_GROUP_TEXTS", 1)  # one file per batch
    folder = tmp_path / "docs"
    shared = "Đoạn văn này xuất hiện trong cả hai tệp kế tiếp nhau."
    write(folder / "a.md", _md("a", "vi", shared, title="Chung"))
    write(folder / "b.md", _md("b", "vi", shared, title="Chung"))  # same embedding input, next batch
    write(folder / "c.md", _md("c", "vi", "Tệp thứ ba nói về điện mặt trời mái nhà.", title="Ba"))
    ingestor = Ingestor(data_config, progress=False)
    written = threading.Event()
    calls: list[tuple[str, int]] = []
    inner = ingestor.embeddings

    class Embedder:
        """The real engine; a call after the first waits until the main thread has written a file."""

        def embed_documents_counted(self, texts: list[str]) -> tuple[list[list[float]], int]:
            calls.append((threading.current_thread().name, len(texts)))
            if len(calls) > 1:
                assert written.wait(20), "the previous batch was not written while this one was embedded"
            return inner.embed_documents_counted(texts)

        def __getattr__(self, name: str):
            return getattr(inner, name)

    original = ingestor._commit

    def commit(*args, **kwargs):
        original(*args, **kwargs)
        written.set()

    ingestor.embeddings = Embedder()
    monkeypatch.setattr(ingestor, "_commit", commit)
    try:
        summary = ingestor.run([folder])
    finally:
        ingestor.close()
    assert summary.failed == [] and summary.added == 3 and summary.chunks_written == 3
    assert summary.embedded == sum(n for _, n in calls) == 2  # the shared text once, c.md once
    assert all(name.startswith("kakehashi-embed") for name, _ in calls), calls
    assert {m["doc_id"] for m in ingestor.collection.get(include=["metadatas"])["metadatas"]} == {"a", "b", "c"}


def test_a_batch_of_small_files_is_upserted_in_one_call_after_all_are_marked_indexing(
    tmp_path, data_config, monkeypatch
):
    """A Chroma upsert costs about 40 ms however small, so a batch's files are written together;
    write-ahead still holds: every file of a write is ``indexing`` before its first chunk is written."""
    import time

    import ingest.pipeline as pipeline

    folder = tmp_path / "docs"
    for i in range(6):
        write(folder / f"f{i}.md", _md(f"f{i}", "vi", f"Tệp số {i} nói về hợp tác khí hậu giữa hai thành phố."))
    ingestor = Ingestor(data_config, progress=False)
    inner = ingestor.embeddings

    class SlowFirst:
        """The real engine; its first call lingers, so the other five files gather into the next batch."""

        calls = 0

        def embed_documents_counted(self, texts: list[str]) -> tuple[list[list[float]], int]:
            SlowFirst.calls += 1
            if SlowFirst.calls == 1:
                time.sleep(1.0)
            return inner.embed_documents_counted(texts)

        def __getattr__(self, name: str):
            return getattr(inner, name)

    writes: list[tuple[list[str], set[str]]] = []
    original = pipeline.shadows.write

    def spy(collection, ids, **kwargs):
        docs = sorted({kwargs["metadatas"][n]["doc_id"] for n in range(len(ids))})
        statuses = {ingestor.manifest.get(str((folder / f"{d}.md").resolve())).status for d in docs}
        writes.append((docs, statuses))
        return original(collection, ids, **kwargs)

    ingestor.embeddings = SlowFirst()
    monkeypatch.setattr(pipeline.shadows, "write", spy)
    try:
        summary = ingestor.run([folder])
        assert summary.added == 6 and summary.failed == []
        # The first file goes alone (the embedder was free); the five parsed meanwhile go in one upsert.
        assert writes == [(["f0"], {"indexing"}), (["f1", "f2", "f3", "f4", "f5"], {"indexing"})]
        assert {r.status for r in ingestor.manifest.all()} == {"ok"}
        assert ingestor.collection.count() == ingestor.keyword.count() == 6
    finally:
        ingestor.close()


def test_duplicate_document_ids_are_refused(tmp_path, data_config):
    folder = tmp_path / "docs"
    write(folder / "one.md", _md("same-id", "vi", "Một."))
    write(folder / "two.md", _md("same-id", "vi", "Hai."))
    summary = _run(data_config, folder)
    assert len(summary.failed) == 1 and "already used" in summary.failed[0]["reason"]


def test_a_second_ingest_waits_for_the_lock_or_refuses(tmp_path, data_config):
    from filelock import FileLock

    write(tmp_path / "docs" / "a.md", _md("a", "vi", "Văn bản."))
    data_config.data_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(data_config.data_dir / "ingest.lock")):
        ingestor = Ingestor(data_config, progress=False)
        with pytest.raises(IngestBusy, match="another ingestion is running"):
            ingestor.run([tmp_path / "docs"], lock_timeout=0.2)
        ingestor.close()


def _cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ingest", *args], cwd=ROOT, capture_output=True, text=True, env=env, timeout=600
    )


def test_cli_exit_codes_and_json_summary(tmp_path):
    folder = _good_folder(tmp_path / "docs")
    write(folder / "corrupt.pdf", b"%PDF-1.4\n%%EOF garbage")
    data = str(tmp_path / "data")
    result = _cli(str(folder), "--data-dir", data, "--json")
    assert result.returncode == 3, result.stderr
    summary = json.loads(result.stdout)
    assert set(summary) >= {"seen", "added", "updated", "unchanged", "removed", "failed", "chunks", "seconds"}
    assert summary["seen"] == 7 and summary["added"] == 6
    assert summary["failed"][0]["path"].endswith("corrupt.pdf") and summary["failed"][0]["reason"]
    (folder / "corrupt.pdf").unlink()
    again = _cli(str(folder), "--data-dir", data, "--json", "--prune")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["unchanged"] == 6
    assert _cli("--data-dir", data).returncode == 2  # no PATH: usage error
    assert _cli(str(tmp_path / "nope"), "--data-dir", data).returncode == 2
    assert "--prune" in _cli("--help").stdout


def test_hostile_batch_is_reported_file_by_file_and_nothing_indexed_is_lost(tmp_path, capsys):
    """Hostile names and disguised contents through the real CLI: each refused with its reason."""
    from ingest.__main__ import main

    folder = tmp_path / "docs"
    keep = write(folder / "vi" / "giu-lai.md", _md("giu-lai", "vi", "Biên bản ghi nhớ ký ngày 6/12/2023 tại COP28."))
    data = str(tmp_path / "data")
    assert main([str(folder), "--data-dir", data, "--json", "--quiet"]) == 0
    capsys.readouterr()
    before = _ids(Config.from_env(data_dir=tmp_path / "data"))

    long_name = "Nghị-định-về-giảm-nhẹ-phát-thải-khí-nhà-kính-" * 3 + "脱炭素先行地域" * 2 + ".md"  # 234 bytes
    assert 200 < len(long_name.encode()) <= 255
    write(folder / "vi" / long_name, _md("ten-dai", "vi", "Tên tệp rất dài nhưng hợp lệ."))
    write(folder / "ja" / "資料.md", _md("shiryo", "ja", "堺市の資料です。"))
    write(folder / "bad" / "dong\nmoi.md", _md("newline", "vi", "Tên có ký tự xuống dòng."))
    write(folder / "bad" / "hoa-don\u202efdp.md", _md("rtl", "vi", "Tên có ký tự đảo chiều."))
    raw = os.fsencode(str(folder / "bad")) + b"/latin1-\xe9t\xe9.md"
    with open(raw, "wb") as handle:
        handle.write(_md("latin1", "vi", "Tên không phải UTF-8."))
    write(folder / "bad" / "bao-cao.pdf", html_bytes("404", "<p>Không tìm thấy trang</p>"))
    write(folder / "bad" / "thu-tuc.docx", pdf_bytes(VI_PAGES))
    write(folder / "bad" / "ghi-chu.md", b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8)
    write(keep, _md("giu-lai", "vi", "Biên bản ghi nhớ ký ngày 6/12/2023 tại COP28."))  # unchanged

    result = _cli(str(folder), "--data-dir", data, "--json")
    assert result.returncode == 3, result.stderr
    summary = json.loads(result.stdout)
    reasons = {f["path"].rsplit("/", 1)[-1]: f["reason"] for f in summary["failed"]}
    assert reasons == {
        "dong\\nmoi.md": "the file name contains a control character (U+000A); rename the file",
        "hoa-don\\u202efdp.md": "the file name contains a text-direction control character (U+202E); rename the file",
        "latin1-\\xe9t\\xe9.md": "the file name is not valid UTF-8; rename the file",
        "bao-cao.pdf": reasons.get("bao-cao.pdf", ""),
        "thu-tuc.docx": reasons.get("thu-tuc.docx", ""),
        "ghi-chu.md": reasons.get("ghi-chu.md", ""),
    }
    assert "its content is an HTML page" in reasons["bao-cao.pdf"]
    assert "its content is a PDF document" in reasons["thu-tuc.docx"]
    assert "its content is a PNG image" in reasons["ghi-chu.md"]
    assert (summary["added"], summary["unchanged"]) == (2, 1)

    assert main([str(folder), "--data-dir", data, "--quiet"]) == 3  # the human report, in-process
    human = capsys.readouterr().out
    failed_lines = [line for line in human.splitlines() if line.strip().startswith("FAILED")]
    assert len(failed_lines) == 6 and len(human.splitlines()) == 7  # a newline in a name forges no line
    assert "\u202e" not in human and "hoa-don\\u202efdp.md" in human

    after = _ids(Config.from_env(data_dir=tmp_path / "data"))
    assert before < after  # the earlier document is still there, the two good new ones were added
    records = {Path(r.path).name: r.status for r in Manifest(Path(data) / "manifest.sqlite").all()}
    assert records[long_name] == "ok" and records["資料.md"] == "ok" and records["giu-lai.md"] == "ok"
    assert not any("\n" in name or "\u202e" in name for name in records)

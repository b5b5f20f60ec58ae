"""Fuzzing the loaders: damaged real files and random text never crash ingestion.

Every input either loads into well-formed units (non-empty text that SQLite,
JSON and the embedder accept) or is refused with a :class:`LoadError` whose
reason a person can read. A parser exception that only the loaders' last-resort
handler catches ("could not be read (...)") counts as a finding too: hostile
input deserves a specific reason. ``bench/fuzz.py`` runs the same checks for
longer and prints examples per second.
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.errors import LoadError
from ingest.loaders import LoadedFile, LoadOptions, load_file

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = {
    ".pdf": ROOT / "documents" / "vi" / "04-jcm.pdf",
    ".docx": ROOT / "documents" / "vi" / "07-procedures.docx",
    ".pptx": ROOT / "documents" / "ja" / "09-workshop-talk.pptx",
    ".html": ROOT / "documents" / "ja" / "06-ba-ria-vung-tau.html",
    ".md": ROOT / "documents" / "vi" / "11-brvt-climate-plans.md",
}
OPTIONS = LoadOptions(max_pdf_pages=50, max_pdf_seconds=2)
"""A damaged page without a text layer goes to OCR; the budget keeps one example short."""
ENCODINGS = ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "shift_jis", "cp932",
             "euc_jp", "iso2022_jp", "cp1258", "latin-1", "cp1252", "gb18030", "big5", "koi8-r"]
VI = "Nghị định 06/2022/NĐ-CP quy định giảm nhẹ phát thải khí nhà kính Bà Rịa Vũng Tàu Sakai hợp tác"
JA = "堺市は脱炭素先行地域に選定された二国間クレジット制度の設備補助は初期投資の2分の1"


class Finding(AssertionError):
    """An input the loaders did not handle the way hostile input must be handled."""


def check(name: str, data: bytes, options: LoadOptions = OPTIONS) -> str:
    """Load ``data`` as ``name``; returns "ok" or "refused", raises :class:`Finding` otherwise."""
    handler = _Capture()
    logger = logging.getLogger("kakehashi.ingest")
    logger.addHandler(handler)
    try:
        loaded = load_file(Path(name), data, options)
    except LoadError as exc:
        reason = exc.reason
        if not isinstance(reason, str) or not reason.strip() or len(reason) > 2000:
            raise Finding(f"{name}: unreadable reason {reason!r}") from exc
        if any(record.getMessage().startswith("unexpected error loading") for record in handler.records):
            raise Finding(f"{name}: a parser error reached the last-resort handler: {reason}") from exc
        return "refused"
    except Exception as exc:  # the loaders promise LoadError only
        raise Finding(f"{name}: {type(exc).__name__}: {exc}") from exc
    finally:
        logger.removeHandler(handler)
    _check_loaded(name, loaded)
    return "ok"


def _check_loaded(name: str, loaded: LoadedFile) -> None:
    if not loaded.units and not loaded.warnings:
        raise Finding(f"{name}: loaded with no units and no warning")
    for unit in loaded.units:
        text = unit.page_content
        if not isinstance(text, str) or not text.strip():
            raise Finding(f"{name}: an empty unit")
        if "\x00" in text:
            raise Finding(f"{name}: NUL in the text")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise Finding(f"{name}: text SQLite cannot store ({exc})") from exc
        json.dumps(unit.metadata, ensure_ascii=False)
    json.dumps(loaded.meta, ensure_ascii=False, default=str)


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


# ------------------------------------------------------------------ mutations
def mutate(data: bytes, ops: list[tuple[str, int, int, bytes]]) -> bytes:
    """Apply byte-level damage: flip, overwrite, insert, delete, duplicate, truncate."""
    buf = bytearray(data)
    for op, a, b, payload in ops:
        if not buf:
            break
        i = a % len(buf)
        if op == "flip":
            buf[i] ^= 1 << (b % 8)
        elif op == "overwrite":
            buf[i : i + len(payload)] = payload
        elif op == "insert":
            buf[i:i] = payload
        elif op == "delete":
            del buf[i : i + 1 + b % 4096]
        elif op == "duplicate":
            buf[i:i] = buf[i : i + 1 + b % 4096]
        elif op == "truncate":
            del buf[i:]
    return bytes(buf)


OPS = st.lists(
    st.tuples(
        st.sampled_from(["flip", "flip", "flip", "overwrite", "insert", "delete", "duplicate", "truncate"]),
        st.integers(min_value=0, max_value=2**31),
        st.integers(min_value=0, max_value=2**16),
        st.binary(min_size=1, max_size=64),
    ),
    min_size=1,
    max_size=8,
)

_FUZZ = settings(
    max_examples=60,
    deadline=None,  # PDF pages through PDFium can take a second on a busy machine
    derandomize=True,  # CI runs the same examples every time; bench/fuzz.py explores
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)


@pytest.mark.parametrize("suffix", sorted(SAMPLES))
def test_damaged_real_files_load_or_are_refused_clearly(suffix):
    base = SAMPLES[suffix].read_bytes()
    assert check(f"ban-goc{suffix}", base) == "ok"  # the undamaged file loads

    outcomes: list[str] = []
    examples = 25 if suffix == ".pdf" else 60  # a damaged PDF page often goes to OCR: ~1 s each

    @settings(_FUZZ, max_examples=examples)
    @given(ops=OPS)
    def run(ops):
        outcomes.append(check(f"hu-hong{suffix}", mutate(base, ops)))

    run()
    assert len(outcomes) >= examples * 0.8


def test_damaged_files_in_the_wrong_format_are_refused_clearly():
    """A damaged PDF named .docx, a damaged DOCX named .md, …: all refused with a reason."""
    names = sorted(SAMPLES)

    @_FUZZ
    @given(source=st.sampled_from(names), target=st.sampled_from(names), ops=OPS)
    def run(source, target, ops):
        original = SAMPLES[source].read_bytes()
        data = mutate(original, ops)
        outcome = check(f"doi-ten{target}", data)
        if source in (".pdf", ".docx", ".pptx") and target != source and data[:5] == original[:5]:
            assert outcome == "refused", (source, target)  # still recognisably another format

    run()


TEXT = st.text(
    alphabet=st.one_of(st.sampled_from(VI + JA + " \n\t#*-|[]()<>&;:/\\\"'`~"), st.characters()),
    max_size=400,
)


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(text=TEXT, encoding=st.sampled_from(ENCODINGS), suffix=st.sampled_from([".md", ".txt", ".html"]))
def test_random_text_in_many_encodings_loads_or_is_refused(text, encoding, suffix):
    data = text.encode(encoding, errors="replace")
    if not data:
        return
    check(f"van-ban{suffix}", data)


@settings(max_examples=50, deadline=None, derandomize=True, database=None)
@given(
    words=st.lists(st.sampled_from(VI.split() + list(JA)), min_size=3, max_size=60),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-32"]),
)
def test_clean_vietnamese_and_japanese_text_round_trips_through_any_unicode_encoding(words, encoding):
    """Unicode encodings with or without a BOM must give back the text itself."""
    from ingest.normalize import normalize_text

    text = " ".join(words)
    loaded = load_file(Path("van-ban.txt"), text.encode(encoding))
    assert [u.page_content for u in loaded.units] == [normalize_text(text)]


def test_the_fuzz_check_catches_what_it_must():
    """The checker itself: a crash and a last-resort error are findings, a clear refusal is not."""
    import ingest.loaders as loaders

    assert check("rong.md", b"\x00\x01\x02binary") == "refused"
    original = loaders.LOADERS[".md"]
    try:
        loaders.LOADERS[".md"] = lambda path, data, options: (_ for _ in ()).throw(ValueError("parser bug"))
        with pytest.raises(Finding, match="last-resort"):
            check("loi.md", b"# ok")
        loaders.LOADERS[".md"] = lambda path, data, options: LoadedFile(path, "md", {}, [], [])
        with pytest.raises(Finding, match="no units"):
            check("rong.md", b"# ok")
    finally:
        loaders.LOADERS[".md"] = original
    started = time.monotonic()
    assert check("ok.md", "# Tiêu đề\n\nNội dung.".encode()) == "ok"
    assert time.monotonic() - started < 5

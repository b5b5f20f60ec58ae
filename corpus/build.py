#!/usr/bin/env python3
"""Render the Kakehashi sample corpus from Markdown sources into mixed formats.

Writers edit only ``corpus/src/<lang>/<stem>.md`` (see ``corpus/SPEC.md``); this
script turns each source into the format named by its front matter so that the
ingester is exercised on realistic PDF, DOCX, HTML, PPTX, scanned-PDF and
Markdown files, and writes ``documents/README.md`` as an index.

Every text PDF is re-read with pypdf right after it is written and the build
fails if any source paragraph cannot be found in the extracted text: a corpus
whose PDFs do not extract cleanly would silently poison retrieval evaluation.

Usage::

    python corpus/build.py [--src corpus/src] [--out documents] [--only STEM]
"""
from __future__ import annotations

import argparse
import datetime as dt
import html
import io
import json
import random
import re
import sys
import unicodedata
import zipfile
from contextlib import nullcontext
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable, Iterator

import yaml

ROOT = Path(__file__).resolve().parent.parent
LANGS = ("vi", "ja")
EXTENSIONS = {"md": "md", "pdf": "pdf", "docx": "docx", "html": "html", "pptx": "pptx", "scan": "pdf"}
REQUIRED_KEYS = ("id", "title", "lang", "date", "source", "visibility", "tags", "format", "topic")
AUTHOR = "Kakehashi sample corpus"
CREATOR = "corpus/build.py"

FONT_REGULAR = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
FONT_BOLD = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
FONT_CJK = "/usr/share/fonts/opentype/ipafont-gothic/ipag.ttf"
# Fonts named in DOCX/PPTX: the reader's machine picks them, nothing is embedded.
OFFICE_LATIN_FONT = "Arial"
OFFICE_EA_FONT = {"ja": "Yu Gothic", "vi": "MS Gothic"}
OFFICE_LANG_TAG = {"vi": "vi-VN", "ja": "ja-JP"}

# Characters that behave like CJK for line breaking and whitespace folding.
CJK = (
    "\u2e80-\u2fff\u3000-\u30ff\u3100-\u31ff\u3200-\u32ff\u3400-\u4dbf"
    "\u4e00-\u9fff\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef"
)
_CJK_CHAR = re.compile(f"[{CJK}]")
_TOKEN = re.compile(f"\\s+|[{CJK}]|[^\\s{CJK}]+")
# Japanese line-breaking rules (kinsoku): these never start / end a line.
NO_LINE_START = set("、。，．・：；？！）」』】〕〉》〙〗”’ーぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ々〜…,.;:!?)]}%")
NO_LINE_END = set("（「『【〔〈《〘〖“‘([{")

PAGEBREAK = re.compile(r"^\s*<!--\s*pagebreak\s*-->\s*$", re.I)


class SourceError(Exception):
    """A source file cannot be built; the message names the file and the reason."""


# --------------------------------------------------------------------------- model


@dataclass
class Block:
    """One structural element of a source body, shared by all renderers."""

    kind: str  # heading | para | bullet | table | pagebreak | notes
    text: str = ""
    level: int = 0  # heading level (1-3) or bullet depth (0-based)
    rows: list[list[str]] = field(default_factory=list)
    marker: str = ""  # "1." for numbered items, "" for bullets


@dataclass
class Source:
    """A parsed source: its path, validated front matter, raw text and blocks."""

    path: Path
    meta: dict
    raw: str
    front_matter: str
    blocks: list[Block]

    @property
    def lang(self) -> str:
        return self.meta["lang"]

    @property
    def stem(self) -> str:
        return self.path.stem

    @property
    def doc_id(self) -> str:
        return self.meta["id"]

    @property
    def fmt(self) -> str:
        return self.meta["format"]

    @property
    def date(self) -> dt.date:
        return self.meta["date"]

    @property
    def out_name(self) -> str:
        """Path of the rendered file relative to the output directory."""
        return f"{self.lang}/{self.stem}.{EXTENSIONS[self.fmt]}"


# ------------------------------------------------------------------------ parsing


def fold_text(text: str) -> str:
    """Normalise text for comparison: NFC, CJK line wraps joined, whitespace folded.

    PDF extraction puts a newline at every line wrap; between two CJK characters
    that newline is a wrap artefact (Japanese has no spaces) and is removed, any
    other whitespace run becomes one space. This is the ingester's view of text.
    """
    text = unicodedata.normalize("NFC", text)
    text = re.sub(f"(?<=[{CJK}])\n(?=[{CJK}])", "", text)
    return re.sub(r"\s+", " ", text).strip()


def join_lines(left: str, right: str) -> str:
    """Join two source lines of one paragraph the way a reader would: no space
    is inserted between Japanese text, a single space between words otherwise."""
    if not left:
        return right
    if _CJK_CHAR.match(left[-1]) or _CJK_CHAR.match(right[:1] or " "):
        return left + right
    return f"{left} {right}"


def plain(text: str) -> str:
    """Strip inline Markdown (bold, code, links) for formats without rich runs."""
    text = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", text)
    text = text.replace("**", "").replace("__", "").replace("`", "")
    return text


def split_bold(text: str) -> list[tuple[str, bool]]:
    """Split ``a **b** c`` into [(a, False), (b, True), (c, False)] for rich formats."""
    parts = plain(text.replace("**", "\0")).split("\0")
    return [(part, i % 2 == 1) for i, part in enumerate(parts) if part]


def _split_front_matter(path: Path, raw: str) -> tuple[str, str]:
    """Return (front matter text, body) or fail: every source must start with YAML."""
    match = re.match(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)(.*)\Z", raw, re.S)
    if not match:
        raise SourceError(f"{path}: missing YAML front matter (--- ... --- at the top)")
    return match.group(1), match.group(2)


def _validate_meta(path: Path, meta: object) -> dict:
    """Check the front matter against SPEC.md so a typo fails loudly, not silently."""
    if not isinstance(meta, dict):
        raise SourceError(f"{path}: front matter is not a YAML mapping")
    missing = [key for key in REQUIRED_KEYS if meta.get(key) in (None, "")]
    if missing:
        raise SourceError(f"{path}: missing front-matter keys: {', '.join(missing)}")
    if meta["format"] not in EXTENSIONS:
        raise SourceError(f"{path}: unknown format {meta['format']!r} (expected one of {', '.join(EXTENSIONS)})")
    if meta["lang"] not in LANGS or meta["lang"] != path.parent.name:
        raise SourceError(f"{path}: lang {meta['lang']!r} does not match its folder {path.parent.name!r}")
    if meta["id"] != f"{meta['lang']}-{path.stem}":
        raise SourceError(f"{path}: id {meta['id']!r} should be {meta['lang'] + '-' + path.stem!r}")
    date = meta["date"]
    if isinstance(date, str):
        try:
            date = dt.date.fromisoformat(date)
        except ValueError:
            raise SourceError(f"{path}: date {meta['date']!r} is not an ISO date (YYYY-MM-DD)") from None
    if isinstance(date, dt.datetime):
        date = date.date()
    if not isinstance(date, dt.date):
        raise SourceError(f"{path}: date {meta['date']!r} is not an ISO date (YYYY-MM-DD)")
    meta["date"] = date
    if isinstance(meta["tags"], str):
        meta["tags"] = [t.strip() for t in meta["tags"].split(",") if t.strip()]
    if not isinstance(meta["tags"], list):
        raise SourceError(f"{path}: tags must be a list")
    meta["tags"] = [str(tag) for tag in meta["tags"]]
    for key in ("title", "topic", "source", "visibility", "translation_of", "subtitle"):
        if meta.get(key) is not None:
            meta[key] = unicodedata.normalize("NFC", str(meta[key]).strip())
    return meta


def load_source(path: Path) -> Source:
    """Read, validate and parse one source file."""
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise SourceError(f"{path}: cannot read as UTF-8 ({error})") from None
    front, body = _split_front_matter(path, raw)
    try:
        meta = yaml.safe_load(front)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 2}" if mark else ""  # +2: the '---' line, 0-based
        reason = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise SourceError(f"{path}: invalid YAML front matter{where}: {reason}") from None
    meta = _validate_meta(path, meta)
    blocks = parse_body(unicodedata.normalize("NFC", body))
    if not any(b.kind == "heading" and b.level == 1 for b in blocks):
        raise SourceError(f"{path}: no '# Title' heading in the body")
    return Source(path=path, meta=meta, raw=raw, front_matter=front, blocks=blocks)


_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^(\s*)[-*+]\s+(.*)$")
_NUMBERED = re.compile(r"^(\s*)(\d+[.)])\s+(.*)$")
_TABLE_SEP = re.compile(r"^\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")


def _table_row(line: str) -> list[str]:
    """Split a pipe-table row into stripped cells."""
    cells = line.strip().strip("|").split("|")
    return [cell.strip() for cell in cells]


def parse_body(body: str) -> list[Block]:
    """Turn the source body into blocks following the syntax in SPEC.md."""
    blocks: list[Block] = []
    para: list[str] = []
    notes: list[str] | None = None

    def flush() -> None:
        text = ""
        for line in para:
            text = join_lines(text, line)
        if text:
            blocks.append(Block("para", text))
        para.clear()

    for raw_line in body.splitlines():
        line = raw_line.rstrip()
        stripped = line.strip()
        if notes is not None:
            if _HEADING.match(line) or stripped == ":::":
                blocks.append(Block("notes", "\n".join(notes).strip()))
                notes = None
                if stripped == ":::":
                    continue
            else:
                notes.append(stripped)
                continue
        if not stripped:
            flush()
        elif PAGEBREAK.match(line):
            flush()
            blocks.append(Block("pagebreak"))
        elif stripped.startswith("<!--") and stripped.endswith("-->"):
            continue  # editorial comment, never rendered
        elif re.match(r"^:::\s*notes\s*$", stripped):
            flush()
            notes = []
        elif m := _HEADING.match(line):
            flush()
            blocks.append(Block("heading", m.group(2), level=min(len(m.group(1)), 3)))
        elif m := _BULLET.match(line):
            flush()
            blocks.append(Block("bullet", m.group(2).strip(), level=len(m.group(1).expandtabs(2)) // 2))
        elif m := _NUMBERED.match(line):
            flush()
            blocks.append(Block("bullet", m.group(3).strip(), level=len(m.group(1)) // 2, marker=m.group(2)))
        elif stripped.startswith("|"):
            flush()
            if _TABLE_SEP.match(stripped):
                continue
            if blocks and blocks[-1].kind == "table":
                blocks[-1].rows.append(_table_row(stripped))
            else:
                blocks.append(Block("table", rows=[_table_row(stripped)]))
        elif blocks and blocks[-1].kind == "bullet" and not para and raw_line[:1].isspace():
            blocks[-1].text = join_lines(blocks[-1].text, stripped)  # bullet continuation
        else:
            para.append(stripped.lstrip("> ").strip() if stripped.startswith(">") else stripped)
    flush()
    if notes is not None:
        blocks.append(Block("notes", "\n".join(notes).strip()))
    return blocks


def check_twins(sources: list[Source]) -> list[str]:
    """Return warnings for translation_of links that do not point back.

    Only warnings: writers fill in pairs one file at a time, so a missing twin is
    normal while the corpus is being written (the tests enforce the final state).
    """
    by_id = {s.doc_id: s for s in sources}
    warnings = []
    for src in sources:
        twin_id = src.meta.get("translation_of")
        if not twin_id:
            continue
        twin = by_id.get(twin_id)
        if twin is None:
            warnings.append(f"{src.path}: translation_of {twin_id!r} has no source yet")
        elif twin.meta.get("translation_of") != src.doc_id:
            warnings.append(f"{src.path}: twin {twin_id} does not point back (translation_of={twin.meta.get('translation_of')!r})")
        elif twin.lang == src.lang:
            warnings.append(f"{src.path}: twin {twin_id} is in the same language")
    return warnings


# -------------------------------------------------------------------- line wrapping


def break_tokens(text: str) -> list[str]:
    """Split text into unbreakable units and the spaces between them.

    A line may break only at a space or between two CJK characters. Those are
    the only breaks that survive PDF extraction cleanly: the ingester joins a
    newline between two CJK characters and folds one between words into a
    space, whereas a break inside "2050年" or "NĐ-CPの" would leave a stray space.
    Kinsoku follows from the same gluing: closing punctuation stays with the
    unit before it, opening brackets with the unit after it.
    """
    units: list[str] = []
    tokens = _TOKEN.findall(text)
    for i, tok in enumerate(tokens):
        prev = units[-1] if units else ""
        after = tokens[i + 1][:1] if i + 1 < len(tokens) else ""
        if tok.isspace() and _CJK_CHAR.match(prev[-1:]) and _CJK_CHAR.match(after):
            units[-1] += tok  # a space inside Japanese text: a wrap there would vanish
            continue
        breakable = bool(_CJK_CHAR.match(prev[-1:]) and _CJK_CHAR.match(tok[0]))
        glue = prev and not prev.isspace() and not tok.isspace() and (
            not breakable or tok[0] in NO_LINE_START or prev[-1] in NO_LINE_END
        )
        if glue:
            units[-1] += tok
        else:
            units.append(tok)
    return units


def _cjk_pieces(unit: str) -> list[str]:
    """Split an over-long unit between any two CJK characters (kinsoku yields)."""
    return [p for p in re.split(f"(?<=[{CJK}])(?=[{CJK}])", unit) if p]


def wrap_text(text: str, width: float, measure: Callable[[str], float], split_long: bool = True) -> list[str]:
    """Greedy line breaking with our own rules instead of the PDF library's.

    Doing it ourselves keeps Vietnamese words whole and breaks Japanese between
    characters, and lets the PDF and the scanned image share one algorithm.
    A piece that cannot fit a line (a long chain of URLs, say) is broken by
    character when ``split_long``, else returned as a line of its own for the
    caller to condense, because a break inside a word would not extract cleanly.
    """
    lines: list[str] = []
    line, line_w, pending_space = "", 0.0, False
    space_w = measure(" ")
    for unit in break_tokens(text):
        if unit.isspace():
            pending_space = bool(line)
            continue
        for piece in _cjk_pieces(unit) if measure(unit) > width else [unit]:
            piece_w = measure(piece)
            gap = space_w if pending_space and line else 0.0
            pending_space = False
            if line and line_w + gap + piece_w > width:
                lines.append(line)
                line, line_w, gap = "", 0.0, 0.0
            if piece_w <= width:
                line, line_w = line + (" " if gap else "") + piece, line_w + gap + piece_w
            elif not split_long:
                lines.append(piece)
            else:
                for ch in piece:
                    if line and line_w + measure(ch) > width:
                        lines.append(line)
                        line, line_w = "", 0.0
                    line, line_w = line + ch, line_w + measure(ch)
    if line:
        lines.append(line)
    return lines


# ---------------------------------------------------------------------- text PDF


@lru_cache(maxsize=1)
def _fpdf_classes() -> tuple[type, type]:
    """Build the fpdf2 subclasses lazily so ``--help`` works without fpdf2."""
    from fpdf import FPDF
    from fpdf.output import OutputProducer
    from fpdf.syntax import PDFString

    class KakehashiPDF(FPDF):
        """FPDF with page-number footer, custom info keys and a font-state fix."""

        extra_info: dict[str, str] = {}
        show_footer = True

        def footer(self) -> None:
            if not self.show_footer:
                return
            self.set_y(-13)
            self.set_font("dejavu", "", 8)
            self.set_text_color(110)
            self.cell(0, 5, f"{self.page_no()} / {{nb}}", align="C")
            self.set_text_color(0)

        def _render_styled_text_line(self, *args, **kwargs):  # noqa: ANN002
            # fpdf2 2.8.9 bug: when a line *starts* with a fallback-font glyph
            # (e.g. a Japanese character) and the page has no font set yet, the
            # primary font is selected inside a q/Q group and lost after Q, so
            # the next line is drawn with the wrong font and extracts as
            # garbage. Emitting the font at page level first avoids it.
            if self.page and self.current_font is not None and not self.current_font_is_set_on_page:
                self._out(self._set_font_for_page(self.current_font, self.font_size_pt))
            return super()._render_styled_text_line(*args, **kwargs)

    class InfoProducer(OutputProducer):
        """Adds our custom keys (/DocId, /Lang, ...) to the PDF info dictionary."""

        def _add_info(self):  # noqa: ANN202
            info = super()._add_info()
            for key, value in getattr(self.fpdf, "extra_info", {}).items():
                if value:
                    setattr(info, key, PDFString(str(value), encrypt=True))
            return info

    return KakehashiPDF, InfoProducer


def _new_pdf(src: Source, footer: bool = True):  # noqa: ANN202
    """Create an A4 fpdf2 document with fonts and deterministic metadata."""
    pdf_class, _ = _fpdf_classes()
    pdf = pdf_class(format="A4", unit="mm")
    pdf.show_footer = footer
    pdf.add_font("dejavu", "", FONT_REGULAR)
    pdf.add_font("dejavu", "B", FONT_BOLD)
    pdf.add_font("ipag", "", FONT_CJK)
    # DejaVu has Vietnamese precomposed letters, IPAGothic has kana/kanji: the
    # fallback lets one line mix both without us splitting runs by hand.
    pdf.set_fallback_fonts(["ipag"], exact_match=False)
    pdf.set_text_shaping(False)  # shaping reorders/merges glyphs and hurts extraction
    pdf.set_margins(20, 20, 20)
    pdf.set_auto_page_break(True, margin=20)
    pdf.c_margin = 0
    pdf.alias_nb_pages()
    pdf.set_lang(OFFICE_LANG_TAG[src.lang])
    pdf.set_title(src.meta["title"])
    pdf.set_author(AUTHOR)
    pdf.set_subject(src.meta["topic"])
    pdf.set_keywords(", ".join(src.meta["tags"]))
    pdf.set_creator(CREATOR)
    pdf.set_producer("fpdf2")
    pdf.set_creation_date(dt.datetime(src.date.year, src.date.month, src.date.day, tzinfo=dt.timezone.utc))
    pdf.extra_info = {
        "doc_id": src.doc_id,
        "lang": src.lang,
        "as_of": src.date.isoformat(),
        "translation_of": src.meta.get("translation_of") or "",
        "visibility": src.meta["visibility"],
        "source": src.meta["source"],
    }
    return pdf


def _style_key(block: Block) -> tuple[str, int]:
    """Key into PDF_STYLE/SCAN_STYLE: headings by level (1-3), tables like paragraphs."""
    if block.kind == "heading":
        return ("heading", block.level)
    return ("bullet" if block.kind == "bullet" else "para", 0)


PDF_STYLE = {  # kind/level -> (font style, size pt, space before mm)
    ("heading", 1): ("B", 18, 2),
    ("heading", 2): ("B", 14, 6),
    ("heading", 3): ("B", 12, 4),
    ("para", 0): ("", 10.5, 2),
    ("bullet", 0): ("", 10.5, 0.8),
}


def _pdf_lines(pdf, text: str, width: float) -> list[str]:  # noqa: ANN001
    """Wrap text for the current font, caching widths (fpdf2 measuring is slow)."""
    key = (pdf.font_family, pdf.font_style, pdf.font_size_pt)
    cache: dict[str, float] = pdf.__dict__.setdefault("_width_cache", {}).setdefault(key, {})

    def measure(s: str) -> float:
        if s not in cache:
            cache[s] = pdf.get_string_width(s)
        return cache[s]

    return wrap_text(text, width * 0.995, measure, split_long=False)


def _pdf_text(pdf, text: str, style: str, size: float, indent: float = 0.0, marker: str = "") -> None:  # noqa: ANN001
    """Write one wrapped paragraph (optionally with a bullet marker) line by line."""
    from fpdf.enums import XPos, YPos

    pdf.set_font("dejavu", style, size)
    # IPAGothic has no bold face: in Japanese headings, stroke the glyph
    # outlines as well as filling them so the headings still read as bold.
    # local_context wraps it in q/Q so the stroke mode cannot leak into body text.
    fake_bold = style == "B" and bool(_CJK_CHAR.search(text))
    line_h = size * 0.3528 * 1.55
    x0 = pdf.l_margin + indent
    width = pdf.w - pdf.r_margin - x0
    lines = _pdf_lines(pdf, text, width) or [""]
    # Keep a paragraph on one page when it fits on one: otherwise the footer's
    # page number lands in the middle of the paragraph's extracted text.
    if pdf.will_page_break(line_h * len(lines)) and line_h * len(lines) < pdf.page_break_trigger - pdf.t_margin:
        _overflow_page(pdf)
    for i, line in enumerate(lines):
        if pdf.will_page_break(line_h):
            _overflow_page(pdf)
        if marker and i == 0:
            pdf.set_x(x0 - 5)
            pdf.cell(5, line_h, marker)
        pdf.set_x(x0)
        ctx: dict = {}
        if fake_bold:  # fpdf2 writes the stroke width of text unconverted, i.e. 0.45 pt here
            ctx.update(text_mode="FILL_STROKE", line_width=0.45, draw_color=0)
        if pdf.get_string_width(line) > width:  # an unbreakable run: condense it horizontally
            ctx["font_stretching"] = max(50.0, 99.0 * width / pdf.get_string_width(line))
        with pdf.local_context(**ctx) if ctx else nullcontext():
            pdf.cell(width, line_h, line, new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _overflow_page(pdf) -> None:  # noqa: ANN001
    """A page started because the text did not fit (not because the writer asked)."""
    pdf.add_page()
    pdf.overflowed = True


def _explicit_page_break(pdf) -> None:  # noqa: ANN001
    """Honour ``<!-- pagebreak -->``, except right after an overflow: writers place
    breaks for their idea of page length, and obeying one after the text already
    spilled onto a fresh page would leave a nearly empty page."""
    if getattr(pdf, "overflowed", False) and pdf.get_y() < pdf.h / 2:
        pdf.ln(4)
    else:
        pdf.add_page()
    pdf.overflowed = False


def _pdf_block(pdf, block: Block) -> None:  # noqa: ANN001
    """Lay out one block on the PDF page."""
    if block.kind == "pagebreak":
        _explicit_page_break(pdf)
        return
    if block.kind == "notes":
        return
    if block.kind == "table":
        for i, row in enumerate(block.rows):
            _pdf_text(pdf, " | ".join(plain(c) for c in row), "B" if i == 0 else "", 10, indent=2)
        pdf.ln(2)
        return
    style, size, before = PDF_STYLE[_style_key(block)]
    if block.kind == "heading" and pdf.get_y() > pdf.page_break_trigger - 30:
        _overflow_page(pdf)  # keep a heading with the text that follows it
    elif pdf.get_y() > pdf.t_margin + 1:
        pdf.ln(before)
    if block.kind == "bullet":
        marker = block.marker or ("•" if block.level == 0 else "–")
        _pdf_text(pdf, plain(block.text), style, size, indent=6 + 6 * block.level, marker=marker)
    else:
        _pdf_text(pdf, plain(block.text), style, size)
    if block.kind == "heading" and block.level == 1:
        pdf.set_draw_color(150)
        pdf.line(pdf.l_margin, pdf.get_y() + 1, pdf.w - pdf.r_margin, pdf.get_y() + 1)
        pdf.ln(3)


def _pdf_bytes(pdf) -> bytes:  # noqa: ANN001
    """Serialise with our info-dict producer."""
    _, producer = _fpdf_classes()
    return bytes(pdf.output(output_producer_class=producer))


def render_pdf(src: Source) -> bytes:
    """Render a text PDF and prove that pypdf extracts every paragraph from it."""
    pdf = _new_pdf(src)
    pdf.add_page()
    for block in src.blocks:
        _pdf_block(pdf, block)
    data = _pdf_bytes(pdf)
    verify_pdf_text(src, data)
    return data


def source_texts(src: Source) -> Iterator[str]:
    """Every visible text unit of a source (what must survive any rendering)."""
    for block in src.blocks:
        if block.kind in ("heading", "para", "bullet"):
            yield plain(block.text)
        elif block.kind == "table":
            for row in block.rows:
                yield from (plain(cell) for cell in row if cell)


def extract_pdf_text(data: bytes) -> list[str]:
    """Text of each page as pypdf (the ingester's extractor) sees it."""
    from pypdf import PdfReader

    return [page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages]


def verify_pdf_text(src: Source, data: bytes) -> None:
    """Fail the build if extraction loses, garbles or adds characters."""
    text = "\n".join(extract_pdf_text(data))
    bad = sorted({f"U+{ord(c):04X}" for c in text if c == "\ufffd" or (ord(c) < 32 and c not in "\n\t") or unicodedata.category(c) == "Co"})
    if bad:
        raise SourceError(f"{src.path}: extracted PDF text contains bad characters {', '.join(bad)}")
    folded = fold_text(text)
    missing = [t for t in source_texts(src) if fold_text(t) and fold_text(t) not in folded]
    if missing:
        raise SourceError(f"{src.path}: {len(missing)} paragraph(s) not extractable from the PDF, first: {missing[0][:80]!r}")


# -------------------------------------------------------------------- scanned PDF

SCAN_DPI = 300
SCAN_SIZE = (round(210 / 25.4 * SCAN_DPI), round(297 / 25.4 * SCAN_DPI))  # A4: 2480 x 3508
SCAN_MARGIN = round(20 / 25.4 * SCAN_DPI)  # 20 mm


@lru_cache(maxsize=None)
def _cmap(path: str) -> frozenset[int]:
    """Code points a font file covers, to choose a fallback font per character."""
    from fontTools.ttLib import TTFont

    return frozenset(TTFont(path, lazy=True).getBestCmap())


@lru_cache(maxsize=None)
def _pil_font(path: str, px: int):  # noqa: ANN202
    from PIL import ImageFont

    return ImageFont.truetype(path, px, layout_engine=ImageFont.Layout.BASIC)


def _runs(text: str, primary: str) -> list[tuple[str, str]]:
    """Split text into (font path, substring) runs: primary font, else IPAGothic."""
    covered = _cmap(primary)
    runs: list[tuple[str, str]] = []
    for ch in text:
        path = primary if ord(ch) in covered or ch.isspace() else FONT_CJK
        if runs and runs[-1][0] == path:
            runs[-1] = (path, runs[-1][1] + ch)
        else:
            runs.append((path, ch))
    return runs


def _scan_measure(primary: str, px: int) -> Callable[[str], float]:
    cache: dict[str, float] = {}

    def measure(s: str) -> float:
        if s not in cache:
            cache[s] = sum(_pil_font(p, px).getlength(t) for p, t in _runs(s, primary))
        return cache[s]

    return measure


def _draw_line(draw, xy: tuple[float, float], text: str, primary: str, px: int) -> None:  # noqa: ANN001
    """Draw text run by run, switching to IPAGothic for glyphs DejaVu lacks."""
    x, y = xy
    fake_bold = 2 if primary == FONT_BOLD else 0  # IPAGothic has no bold face
    for path, part in _runs(text, primary):
        font = _pil_font(path, px)
        stroke = fake_bold if path == FONT_CJK else 0
        draw.text((x, y), part, font=font, fill=25, stroke_width=stroke, stroke_fill=25)
        x += font.getlength(part)


SCAN_STYLE = {  # kind/level -> (font, px, space before px)
    ("heading", 1): (FONT_BOLD, 70, 0),
    ("heading", 2): (FONT_BOLD, 56, 50),
    ("heading", 3): (FONT_BOLD, 50, 35),
    ("para", 0): (FONT_REGULAR, 46, 25),
    ("bullet", 0): (FONT_REGULAR, 46, 8),
}


def _scan_pages(src: Source) -> list[list[Block]]:
    """Split blocks at page breaks (the scan keeps the writer's pagination)."""
    pages: list[list[Block]] = [[]]
    for block in src.blocks:
        if block.kind == "pagebreak":
            pages.append([])
        elif block.kind != "notes":
            pages[-1].append(block)
    return [page for page in pages if page]


def _scan_decorate(img, src: Source, page_no: int, pages: int) -> None:  # noqa: ANN001
    """A faint border, light paper speckles and a received-stamp box: it should
    look scanned, yet stay easy for OCR (no rotation, no heavy noise)."""
    from PIL import ImageDraw

    draw = ImageDraw.Draw(img)
    w, h = img.size
    rng = random.Random(f"{src.doc_id}-{page_no}")  # deterministic noise
    for _ in range(900):
        x, y = rng.randrange(w), rng.randrange(h)
        draw.point((x, y), fill=rng.randrange(170, 225))
    draw.rectangle((60, 60, w - 61, h - 61), outline=215, width=4)
    if page_no == 1:
        box = (w - SCAN_MARGIN - 520, 120, w - SCAN_MARGIN, 300)
        draw.rectangle(box, outline=110, width=6)
        draw.rectangle((box[0] + 14, box[1] + 14, box[2] - 14, box[3] - 14), outline=140, width=2)
        label = src.date.strftime("%d/%m/%Y") if src.lang == "vi" else src.date.strftime("%Y.%m.%d")
        font = _pil_font(FONT_BOLD, 52)
        tw = font.getlength(label)
        draw.text(((box[0] + box[2] - tw) / 2, box[1] + 62), label, font=font, fill=90)
    foot = f"{page_no}/{pages}"
    font = _pil_font(FONT_REGULAR, 38)
    draw.text(((w - font.getlength(foot)) / 2, h - 170), foot, font=font, fill=60)


def _scan_page_image(src: Source, blocks: list[Block], page_no: int, pages: int):  # noqa: ANN202
    """Draw one page of the document as a grayscale 300-dpi image."""
    from PIL import Image, ImageDraw

    img = Image.new("L", SCAN_SIZE, 250)
    _scan_decorate(img, src, page_no, pages)
    draw = ImageDraw.Draw(img)
    y = SCAN_MARGIN + (130 if page_no == 1 else 0)
    right = SCAN_SIZE[0] - SCAN_MARGIN
    for block in blocks:
        texts = [" | ".join(plain(c) for c in row) for row in block.rows] if block.kind == "table" else [plain(block.text)]
        font_path, px, before = SCAN_STYLE[_style_key(block)]
        indent = 90 + 70 * block.level if block.kind == "bullet" else 0
        y += before
        for text in texts:
            x0 = SCAN_MARGIN + indent
            lines = wrap_text(text, right - x0, _scan_measure(font_path, px))
            for i, line in enumerate(lines):
                if block.kind == "bullet" and i == 0:
                    _draw_line(draw, (x0 - 60, y), block.marker or "•", font_path, px)
                _draw_line(draw, (x0, y), line, font_path, px)
                y += int(px * 1.45)
        if y > SCAN_SIZE[1] - SCAN_MARGIN:
            raise SourceError(f"{src.path}: scan page {page_no} overflows; add a <!-- pagebreak -->")
    return img


def render_scan(src: Source) -> bytes:
    """An image-only PDF: what a scanner produces, with no text layer at all."""
    pdf = _new_pdf(src, footer=False)
    pdf.set_auto_page_break(False)
    pages = _scan_pages(src)
    for number, blocks in enumerate(pages, start=1):
        img = _scan_page_image(src, blocks, number, len(pages))
        pdf.add_page()
        pdf.image(img, x=0, y=0, w=pdf.w, h=pdf.h)
    data = _pdf_bytes(pdf)
    if any(t.strip() for t in extract_pdf_text(data)):
        raise SourceError(f"{src.path}: scanned PDF unexpectedly has a text layer")
    return data


# ------------------------------------------------------------------ office formats


def _zip_stable(data: bytes, date: dt.date) -> bytes:
    """Rewrite an OOXML zip with fixed timestamps so rebuilds are byte-identical.

    python-docx/python-pptx stamp every zip entry with the current time.
    """
    out = io.BytesIO()
    stamp = (max(date.year, 1980), date.month, date.day, 0, 0, 0)
    with zipfile.ZipFile(io.BytesIO(data)) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            info = zipfile.ZipInfo(item.filename, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zout.writestr(info, zin.read(item.filename))
    return out.getvalue()


def _set_core_properties(props, src: Source) -> None:  # noqa: ANN001
    """Same core properties for DOCX and PPTX (python-docx/pptx share the API)."""
    moment = dt.datetime(src.date.year, src.date.month, src.date.day)
    props.title = src.meta["title"]
    props.author = AUTHOR
    props.language = src.lang
    props.subject = src.meta["topic"]
    props.keywords = ", ".join(src.meta["tags"])
    props.identifier = src.doc_id
    props.category = src.meta["visibility"]
    props.comments = json.dumps(
        {
            "as_of": src.date.isoformat(),
            "date": src.date.isoformat(),
            "translation_of": src.meta.get("translation_of"),
            "source": src.meta["source"],
        },
        ensure_ascii=False,
    )
    props.last_modified_by = CREATOR
    props.revision = 1
    props.created = moment
    props.modified = moment
    props.last_printed = moment


def _docx_fonts(doc, lang: str) -> None:  # noqa: ANN001
    """Latin + East Asian fonts and language on Normal and the headings, so
    Word picks a Japanese-capable font for kana/kanji in either language."""
    from docx.oxml.ns import qn
    from docx.oxml import OxmlElement
    from docx.shared import Pt

    for name in ("Normal", "Heading 1", "Heading 2", "Heading 3", "Title"):
        style = doc.styles[name]
        if name == "Normal":
            style.font.size = Pt(10.5)
        style.font.name = OFFICE_LATIN_FONT
        rpr = style.element.get_or_add_rPr()
        fonts = rpr.get_or_add_rFonts()
        for attr in ("w:ascii", "w:hAnsi", "w:cs"):
            fonts.set(qn(attr), OFFICE_LATIN_FONT)
        fonts.set(qn("w:eastAsia"), OFFICE_EA_FONT[lang])
        for attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
            fonts.attrib.pop(qn(attr), None)
        if name == "Normal":
            lang_el = rpr.find(qn("w:lang"))
            if lang_el is None:
                lang_el = OxmlElement("w:lang")
                rpr.append(lang_el)
            lang_el.set(qn("w:val"), OFFICE_LANG_TAG[lang])
            lang_el.set(qn("w:eastAsia"), "ja-JP")


def _docx_runs(paragraph, text: str) -> None:  # noqa: ANN001
    for part, bold in split_bold(text):
        run = paragraph.add_run(part)
        run.bold = bold or None


def _docx_table(doc, rows: list[list[str]]) -> None:  # noqa: ANN001
    width = max(len(r) for r in rows)
    table = doc.add_table(rows=len(rows), cols=width)
    table.style = doc.styles["Table Grid"]
    for r, row in enumerate(rows):
        for c in range(width):
            cell = table.cell(r, c)
            _docx_runs(cell.paragraphs[0], row[c] if c < len(row) else "")
            if r == 0:
                for run in cell.paragraphs[0].runs:
                    run.bold = True


def render_docx(src: Source) -> bytes:
    """Word document with real heading, list and table structure."""
    from docx import Document
    from docx.enum.text import WD_BREAK

    doc = Document()
    _docx_fonts(doc, src.lang)
    for block in src.blocks:
        if block.kind == "heading":
            doc.add_heading(plain(block.text), level=block.level)
        elif block.kind == "para":
            _docx_runs(doc.add_paragraph(), block.text)
        elif block.kind == "bullet":
            base = "List Number" if block.marker else "List Bullet"
            style = base if block.level == 0 else f"{base} {min(block.level + 1, 3)}"
            _docx_runs(doc.add_paragraph(style=style), block.text)
        elif block.kind == "table":
            _docx_table(doc, block.rows)
        elif block.kind == "pagebreak":
            doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    _set_core_properties(doc.core_properties, src)
    buf = io.BytesIO()
    doc.save(buf)
    return _zip_stable(buf.getvalue(), src.date)


def _pptx_sections(src: Source) -> tuple[str, list[tuple[str, list[Block], str]]]:
    """Group blocks into (intro text, [(slide title, body blocks, notes)])."""
    intro: list[str] = []
    slides: list[tuple[str, list[Block], str]] = []
    for block in src.blocks:
        if block.kind == "heading" and block.level <= 2:
            if block.level == 2:
                slides.append((plain(block.text), [], ""))
        elif block.kind == "notes" and slides:
            title, body, notes = slides[-1]
            slides[-1] = (title, body, "\n".join(filter(None, [notes, block.text])))
        elif slides and block.kind != "pagebreak":
            slides[-1][1].append(block)
        elif block.kind == "para":
            intro.append(plain(block.text))
    return "\n".join(intro), slides


def _pptx_fonts(paragraph, lang: str, size_pt: int | None = None, bold: bool = False) -> None:  # noqa: ANN001
    """Give every run a Latin and an East Asian typeface."""
    from pptx.oxml.ns import qn
    from pptx.util import Pt

    for run in paragraph.runs:
        if size_pt:
            run.font.size = Pt(size_pt)
        if bold:
            run.font.bold = True
        rpr = run._r.get_or_add_rPr()
        for tag, face in (("a:latin", OFFICE_LATIN_FONT), ("a:ea", OFFICE_EA_FONT[lang])):
            el = rpr.find(qn(tag))
            if el is None:
                el = rpr.makeelement(qn(tag), {})
                rpr.append(el)
            el.set("typeface", face)


def _pptx_body(frame, blocks: list[Block], lang: str) -> None:  # noqa: ANN001
    """Fill the content placeholder; shrink the font when a slide is dense."""
    from pptx.enum.text import MSO_AUTO_SIZE

    items: list[tuple[str, int, bool]] = []
    for block in blocks:
        if block.kind == "table":
            items += [(" | ".join(plain(c) for c in row), 0, False) for row in block.rows]
        elif block.kind in ("bullet", "para", "heading"):
            text = f"{block.marker} {plain(block.text)}" if block.marker else plain(block.text)
            items.append((text, block.level if block.kind == "bullet" else 0, block.kind == "heading"))
    chars = sum(len(t) for t, _, _ in items)
    size = 24 if chars < 250 and len(items) <= 6 else 18 if chars < 500 else 14
    frame.clear()
    for i, (text, level, bold) in enumerate(items):
        para = frame.paragraphs[0] if i == 0 else frame.add_paragraph()
        para.text = text
        para.level = min(level, 4)
        _pptx_fonts(para, lang, size, bold)
    frame.word_wrap = True
    frame.auto_size = MSO_AUTO_SIZE.TEXT_TO_FIT_SHAPE


def render_pptx(src: Source) -> bytes:
    """Slide deck: a title slide, then one slide per ## section with notes."""
    from pptx import Presentation

    prs = Presentation()
    intro, sections = _pptx_sections(src)
    slide = prs.slides.add_slide(prs.slide_layouts[0])
    slide.shapes.title.text = src.meta["title"]
    _pptx_fonts(slide.shapes.title.text_frame.paragraphs[0], src.lang, 32 if len(src.meta["title"]) > 40 else None)
    subtitle = src.meta.get("subtitle") or intro or ""
    slide.placeholders[1].text = "\n".join(filter(None, [subtitle, src.date.isoformat()]))
    for para in slide.placeholders[1].text_frame.paragraphs:
        _pptx_fonts(para, src.lang, 16 if len(subtitle) > 80 else None)
    for title, blocks, notes in sections:
        slide = prs.slides.add_slide(prs.slide_layouts[1])
        slide.shapes.title.text = title
        _pptx_fonts(slide.shapes.title.text_frame.paragraphs[0], src.lang)
        _pptx_body(slide.placeholders[1].text_frame, blocks, src.lang)
        if notes:
            slide.notes_slide.notes_text_frame.text = notes
    _set_core_properties(prs.core_properties, src)
    buf = io.BytesIO()
    prs.save(buf)
    return _zip_stable(buf.getvalue(), src.date)


# ----------------------------------------------------------------------- HTML


HTML_SHELL = {
    "vi": {"site": "Cổng thông tin Kakehashi", "menu": ["Trang chủ", "Tin tức", "Tài liệu", "Liên hệ"],
           "footer": "© 2025 Cổng thông tin Kakehashi. Bảo lưu mọi quyền. | Chính sách bảo mật | Sơ đồ trang"},
    "ja": {"site": "かけはしポータル", "menu": ["ホーム", "お知らせ", "資料", "お問い合わせ"],
           "footer": "© 2025 かけはしポータル 無断転載を禁じます。 | プライバシーポリシー | サイトマップ"},
}
HTML_STYLE = """body{font-family:Arial,"Yu Gothic","Noto Sans CJK JP",sans-serif;margin:0;color:#222;line-height:1.6}
nav{background:#0b4f6c;padding:.5em 1em}nav a{color:#fff;margin-right:1.2em;text-decoration:none}
main{max-width:52em;margin:1.5em auto;padding:0 1em}table{border-collapse:collapse}
td,th{border:1px solid #999;padding:.3em .6em}footer{border-top:1px solid #ccc;color:#666;font-size:.85em;padding:1em;text-align:center}"""


def _html_inline(text: str) -> str:
    """Escape text, keeping **bold** as <strong>."""
    return "".join(f"<strong>{html.escape(p)}</strong>" if b else html.escape(p) for p, b in split_bold(text))


def _html_table(rows: list[list[str]]) -> list[str]:
    out = ["<table>", "<thead>", "<tr>" + "".join(f"<th>{_html_inline(c)}</th>" for c in rows[0]) + "</tr>", "</thead>", "<tbody>"]
    out += ["<tr>" + "".join(f"<td>{_html_inline(c)}</td>" for c in row) + "</tr>" for row in rows[1:]]
    return out + ["</tbody>", "</table>"]


def _html_article(blocks: list[Block]) -> list[str]:
    """Article body; nested bullets become nested lists, kept well-formed."""
    out: list[str] = []
    stack: list[str] = []  # open <ul>/<ol>, innermost last; each has an open <li>

    def close_list() -> None:
        out.append(f"</li></{stack.pop()}>")

    for block in blocks:
        if block.kind != "bullet":
            while stack:
                close_list()
        if block.kind == "bullet":
            tag, depth = ("ol" if block.marker else "ul"), block.level + 1
            while len(stack) > depth or (len(stack) == depth and stack[-1] != tag):
                close_list()
            if len(stack) == depth:
                out.append("</li>")  # close the previous sibling item
            while len(stack) < depth:  # open lists (with a bare item when skipping a level)
                out.append(f"<{tag}>" + ("<li>" if len(stack) < depth - 1 else ""))
                stack.append(tag)
            out.append(f"<li>{_html_inline(block.text)}")
        elif block.kind == "heading":
            out.append(f"<h{block.level}>{_html_inline(block.text)}</h{block.level}>")
        elif block.kind == "para":
            out.append(f"<p>{_html_inline(block.text)}</p>")
        elif block.kind == "table":
            out += _html_table(block.rows)
    while stack:
        close_list()
    return out


def render_html(src: Source) -> bytes:
    """A standalone page with site chrome (nav/footer/script) around <article>."""
    shell = HTML_SHELL[src.lang]
    first_para = next((plain(b.text) for b in src.blocks if b.kind == "para"), src.meta["title"])
    description = first_para if len(first_para) <= 160 else first_para[:157].rstrip() + "…"
    meta = {
        "doc_id": src.doc_id,
        "translation_of": src.meta.get("translation_of") or "",
        "date": src.date.isoformat(),
        "visibility": src.meta["visibility"],
        "keywords": ", ".join(src.meta["tags"]),
        "description": description,
        "author": AUTHOR,
        "source": src.meta["source"],
    }
    e = html.escape
    lines = [
        "<!DOCTYPE html>",
        f'<html lang="{src.lang}">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(src.meta['title'])}</title>",
        *(f'<meta name="{k}" content="{e(v)}">' for k, v in meta.items()),
        f"<style>\n{HTML_STYLE}\n</style>",
        "</head>",
        "<body>",
        f'<nav aria-label="{e(shell["site"])}">',
        *(f'<a href="#">{e(item)}</a>' for item in shell["menu"]),
        "</nav>",
        "<main>",
        f'<article id="{e(src.doc_id)}">',
        *_html_article(src.blocks),
        "</article>",
        "</main>",
        f"<footer><p>{e(shell['footer'])}</p></footer>",
        '<script>console.log("kakehashi: page loaded");</script>',
        "</body>",
        "</html>",
    ]
    return ("\n".join(lines) + "\n").encode("utf-8")


# ----------------------------------------------------------------------- Markdown


def render_md(src: Source) -> bytes:
    """The source itself, minus the build-only keys (format, topic).

    Lines are removed textually (with any indented continuation lines) instead
    of re-dumping YAML, so the writer's quoting and key order survive.
    """
    kept: list[str] = []
    skipping = False
    for line in src.front_matter.splitlines():
        if re.match(r"^(format|topic)\s*:", line):
            skipping = True
            continue
        if skipping and (line.startswith((" ", "\t")) or not line.strip()):
            continue
        skipping = False
        kept.append(line)
    check = yaml.safe_load("\n".join(kept)) or {}
    if set(check) != set(src.meta) - {"format", "topic"}:
        raise SourceError(f"{src.path}: could not strip format/topic from the front matter cleanly")
    body = _split_front_matter(src.path, src.raw)[1]
    return ("---\n" + "\n".join(kept) + "\n---\n" + body).encode("utf-8")


RENDERERS: dict[str, Callable[[Source], bytes]] = {
    "md": render_md,
    "pdf": render_pdf,
    "docx": render_docx,
    "html": render_html,
    "pptx": render_pptx,
    "scan": render_scan,
}


# ------------------------------------------------------------------------- README


README_INTRO = """# Kakehashi sample corpus

**English.** This folder is generated by `python corpus/build.py` from the Markdown
sources in `corpus/src/` — do not edit it by hand. The documents are written from the
verified facts of the project fact sheet (FACTSHEET) and rendered into several formats
(PDF, scanned PDF, DOCX, PPTX, HTML, Markdown) to exercise the ingester. Most documents
have a twin in the other language; {single_en}.

**Tiếng Việt.** Thư mục này được tạo tự động bằng lệnh `python corpus/build.py` từ các
tệp nguồn Markdown trong `corpus/src/` — không chỉnh sửa trực tiếp. Các tài liệu được viết
dựa trên những dữ kiện đã được xác minh trong bảng dữ kiện của dự án (FACTSHEET). Phần lớn
tài liệu có bản tương ứng bằng ngôn ngữ kia; {single_vi}.

**日本語.** このフォルダは `corpus/src/` のMarkdownソースから `python corpus/build.py`
で自動生成されます。直接編集しないでください。各文書はプロジェクトのファクトシート
（FACTSHEET）の検証済みの事実に基づいて書かれています。ほとんどの文書には他言語の対訳が
ありますが、{single_ja}。
"""


def _md_cell(text: str) -> str:
    """Keep table cells on one row and stop titles from being read as HTML."""
    return text.replace("|", "\\|").replace("<", "&lt;").replace("\n", " ")


def render_readme(sources: list[Source]) -> bytes:
    """Index of every generated file with its twin, for humans and for the tests."""
    by_id = {s.doc_id: s for s in sources}
    singles = [s for s in sources if not s.meta.get("translation_of")]
    names = ", ".join(f"`{s.out_name}`" for s in singles) or "none"
    count = len(singles)
    intro = README_INTRO.format(
        single_en=f"{count} exist in one language only: {names}",
        single_vi=f"{count} tài liệu chỉ có một ngôn ngữ: {names}",
        single_ja=f"単一言語のみの文書は次の{count}件です：{names}",
    )
    rows = ["| File | Title | Language | Format | Topic | As of | Twin |", "|---|---|---|---|---|---|---|"]
    for s in sources:
        twin = by_id.get(s.meta.get("translation_of") or "")
        twin_cell = f"[{twin.out_name}]({twin.out_name})" if twin else "—"
        fmt = "scan (image-only PDF)" if s.fmt == "scan" else s.fmt
        rows.append(
            f"| [{s.out_name}]({s.out_name}) | {_md_cell(s.meta['title'])} | {s.lang} | {fmt} "
            f"| {_md_cell(s.meta['topic'])} | {s.date.isoformat()} | {twin_cell} |"
        )
    return (intro + "\n## Documents\n\n" + "\n".join(rows) + "\n").encode("utf-8")


# --------------------------------------------------------------------------- main


def find_sources(src_dir: Path) -> list[Path]:
    """All ``<lang>/<stem>.md`` sources, in a stable order (vi before ja)."""
    return [p for lang in LANGS for p in sorted((src_dir / lang).glob("*.md"))]


def load_all(paths: Iterable[Path]) -> tuple[list[Source], list[str]]:
    """Parse every source, collecting all errors so writers see them at once."""
    sources, errors = [], []
    for path in paths:
        try:
            sources.append(load_source(path))
        except SourceError as error:
            errors.append(str(error))
    return sources, errors


def write_if_changed(path: Path, data: bytes) -> bool:
    """Write only when content differs, so unchanged files keep their mtime."""
    if path.exists() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return True


def remove_stale(out_dir: Path, sources: list[Source]) -> list[Path]:
    """Delete outputs whose source was removed or changed format (full builds only)."""
    wanted = {out_dir / s.out_name for s in sources}
    stale = [
        p for lang in LANGS for p in sorted((out_dir / lang).glob("*"))
        if p.is_file() and not p.name.startswith(".") and p not in wanted  # dotfiles belong to other tools
    ]
    for path in stale:
        path.unlink()
    return stale


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Render corpus/src/<lang>/<stem>.md into documents/<lang>/<stem>.<ext> "
        "(format from front matter) and write documents/README.md.",
    )
    parser.add_argument("--src", type=Path, default=ROOT / "corpus" / "src", help="source folder (default: corpus/src)")
    parser.add_argument("--out", type=Path, default=ROOT / "documents", help="output folder (default: documents)")
    parser.add_argument(
        "--only", metavar="STEM", action="append",
        help="build only this stem (e.g. 01-cooperation, both languages) or id (vi-01-cooperation); repeatable",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    paths = find_sources(args.src)
    if not paths:
        print(f"error: no sources found under {args.src}/{{vi,ja}}/*.md", file=sys.stderr)
        return 1
    sources, errors = load_all(paths)
    if errors:
        print("error: invalid source(s), nothing written:", *errors, sep="\n  ", file=sys.stderr)
        return 1
    for warning in check_twins(sources):
        print(f"warning: {warning}", file=sys.stderr)
    selected = [s for s in sources if not args.only or s.stem in args.only or s.doc_id in args.only]
    missing_fonts = [f for f in (FONT_REGULAR, FONT_BOLD, FONT_CJK) if not Path(f).exists()]
    if missing_fonts and any(s.fmt in ("pdf", "scan") for s in selected):
        print(f"error: fonts missing: {', '.join(missing_fonts)} "
              "(apt-get install fonts-dejavu-core fonts-ipafont-gothic)", file=sys.stderr)
        return 1
    if args.only and not selected:
        print(f"error: --only {args.only} matches no source", file=sys.stderr)
        return 1
    failures = []
    for src in selected:
        try:
            data = RENDERERS[src.fmt](src)
        except SourceError as error:
            failures.append(str(error))
            continue
        changed = write_if_changed(args.out / src.out_name, data)
        print(f"{'wrote' if changed else 'same '} {args.out / src.out_name}")
    if not args.only:
        for path in remove_stale(args.out, sources):
            print(f"removed stale {path}")
    write_if_changed(args.out / "README.md", render_readme(sources))
    if failures:
        print("error: some documents failed to build:", *failures, sep="\n  ", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

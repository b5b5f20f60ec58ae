"""File loaders: one function per format, each returning a :class:`LoadedFile`.

A loader turns a file into *units*, LangChain ``Document``s that a citation
can point to: a PDF page, a DOCX or Markdown section, an HTML section, a
slide with its speaker notes. Document-level metadata (id, title, language,
date, twin, visibility, tags) is read from the format's own metadata slots
(front matter, PDF info dict, DOCX/PPTX core properties, HTML ``<meta>``).
"""

from __future__ import annotations

import json
import logging
import re
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml
from langchain_core.documents import Document

from ingest import ocr, sniff
from ingest.encoding import UndecodableText, decode_bytes
from ingest.errors import LoadError
from ingest.normalize import garbled_reason, normalize_text, rejoin_wrapped_lines

log = logging.getLogger("kakehashi.ingest")

DOC_FIELDS = ("doc_id", "title", "lang", "date", "source_ref", "translation_of", "visibility", "tags")


@dataclass
class LoadedFile:
    path: Path
    format: str
    meta: dict[str, Any]
    """Document-level metadata; keys from :data:`DOC_FIELDS` when the file had them."""
    units: list[Document]
    warnings: list[str] = field(default_factory=list)
    pages: int = 0


@dataclass(frozen=True)
class LoadOptions:
    max_pdf_pages: int = 2000
    ocr_langs: str = "vie+jpn+eng"
    lang_hint: str | None = None
    max_pdf_seconds: float = 300.0
    """Budget for one PDF's extraction and OCR (KAKEHASHI_MAX_PDF_SECONDS)."""
    max_unzipped_mb: float = 250.0
    """DOCX/PPTX packages may unpack to at most this (KAKEHASHI_MAX_UNZIPPED_MB)."""


Loader = Callable[[Path, bytes, LoadOptions], LoadedFile]


# --------------------------------------------------------------------------- PDF
def load_pdf(path: Path, data: bytes, options: LoadOptions) -> LoadedFile:
    """Page by page with pypdf; PDFium for pages pypdf garbles; Tesseract for scans."""
    import io

    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    if not data.lstrip()[:5].startswith(b"%PDF"):
        raise LoadError(path, "not a PDF: the file does not start with a PDF header (%PDF)")
    budget = _Budget(path, options.max_pdf_seconds)
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            # Many "protected" PDFs only restrict printing: the user password is empty.
            try:
                unlocked = reader.decrypt("")
            except Exception:
                unlocked = 0
            if not unlocked:
                raise LoadError(
                    path,
                    "the PDF is encrypted with a password; remove the protection "
                    "(e.g. print to a new PDF) and upload it again",
                )
        n_pages = len(reader.pages)
    except LoadError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise LoadError(path, f"the PDF is damaged or truncated and cannot be read ({_why(exc)})") from exc
    except Exception as exc:  # pypdf raises assorted errors on hostile input
        raise LoadError(path, f"the PDF cannot be parsed ({_why(exc, True)})") from exc
    if n_pages == 0:
        raise LoadError(path, "the PDF has no pages")
    if n_pages > options.max_pdf_pages:
        raise LoadError(
            path, f"the PDF has {n_pages} pages, over the limit of {options.max_pdf_pages} (KAKEHASHI_MAX_PDF_PAGES)"
        )
    meta = _pdf_meta(reader)
    lang_hint = meta.get("lang") or options.lang_hint
    units: list[Document] = []
    warnings: list[str] = []
    for index in range(n_pages):
        budget.check(f"before page {index + 1} of {n_pages}")
        text = _pdf_page_text(path, data, reader, index, lang_hint, options, warnings, budget)
        if text:
            units.append(Document(page_content=text, metadata={"page": index + 1}))
    if not units and not any("needs OCR" in w for w in warnings):
        raise LoadError(path, "no text could be extracted from any page of the PDF")
    return LoadedFile(path, "pdf", meta, units, warnings, pages=n_pages)


class _Budget:
    """A per-file time budget: a PDF built to be slow (thousands of tiny streams, huge
    pages to OCR) is cut off with a clear error instead of holding the ingestion lane.
    Checked between pages and handed to Tesseract as its time-out."""

    def __init__(self, path: Path, seconds: float) -> None:
        self.path, self.seconds = path, seconds
        self.deadline = time.monotonic() + seconds

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def check(self, where: str) -> None:
        if self.remaining() <= 0:
            raise LoadError(
                self.path,
                f"reading the PDF took longer than {self.seconds:g} s (KAKEHASHI_MAX_PDF_SECONDS), stopped {where}; "
                "split the file or raise the limit",
            )


def _pdf_page_text(
    path: Path,
    data: bytes,
    reader: Any,
    index: int,
    lang_hint: str | None,
    options: LoadOptions,
    warnings: list[str],
    budget: "_Budget | None" = None,
) -> str:
    page_no = index + 1
    try:
        text = reader.pages[index].extract_text() or ""
    except Exception as exc:
        text, reason = "", f"pypdf failed ({type(exc).__name__})"
    else:
        reason = garbled_reason(text)
    if reason:
        text = _pdfium_text(data, index)
        note = f"page {page_no}: {reason}; re-extracted with PDFium"
        if garbled_reason(text):
            note = f"page {page_no}: {reason}, and PDFium's text is garbled too; page skipped"
            text = ""
        log.warning("%s: %s", path, note)
        warnings.append(note)
    if text.strip():
        return rejoin_wrapped_lines(normalize_text(text))
    # No text layer: a scanned page.
    langs = ocr.ocr_languages(lang_hint, options.ocr_langs)
    if not langs:
        note = f"page {page_no}: no text layer and Tesseract OCR is not installed; page needs OCR"
        log.warning("%s: %s", path, note)
        warnings.append(note)
        return ""
    timeout = None
    if budget is not None:
        budget.check(f"before OCR of page {page_no}")
        timeout = budget.remaining()
    try:
        ocr_notes: list[str] = []
        text = ocr.ocr_pdf_page(data, index, langs, timeout=timeout, notes=ocr_notes)
    except ocr.OCRTimeout:
        if budget is not None:
            budget.check(f"during OCR of page {page_no}")
        raise LoadError(path, f"OCR of page {page_no} timed out; split the file or raise KAKEHASHI_MAX_PDF_SECONDS") from None
    except Exception as exc:  # PDFium cannot render a page pypdf could open: damaged, not a scan
        note = f"page {page_no}: no text layer, and it cannot be rendered for OCR ({_why(exc, True)}); page skipped"
        log.warning("%s: %s", path, note)
        warnings.append(note)
        return ""
    warnings.append(f"page {page_no}: text recognised by OCR ({langs})")
    for note in ocr_notes:
        log.warning("%s: page %d: %s", path, page_no, note)
        warnings.append(f"page {page_no}: {note}")
    return rejoin_wrapped_lines(text)


def _pdfium_text(data: bytes, index: int) -> str:
    try:
        import pypdfium2

        pdf = pypdfium2.PdfDocument(data)
        try:
            return pdf[index].get_textpage().get_text_range()
        finally:
            pdf.close()
    except Exception:
        return ""


def _pdf_meta(reader: Any) -> dict[str, Any]:
    info = {}
    try:
        info = {str(k).lstrip("/"): str(v) for k, v in (reader.metadata or {}).items()}
    except Exception:
        pass
    return _clean_meta(
        {
            "doc_id": info.get("DocId"),
            "title": info.get("Title"),
            "lang": info.get("Lang"),
            "date": info.get("AsOf"),
            "translation_of": info.get("TranslationOf"),
            "visibility": info.get("Visibility"),
            "tags": info.get("Keywords"),
            "source_ref": info.get("Source"),
        }
    )


# --------------------------------------------------------------------------- DOCX
def load_docx(path: Path, data: bytes, options: LoadOptions) -> LoadedFile:
    """Sections by heading; tables read row by row in document order."""
    import io

    import docx

    _require_zip(path, data, "word/document.xml", "DOCX", options.max_unzipped_mb)
    try:
        document = docx.Document(io.BytesIO(data))
    except Exception as exc:
        raise LoadError(path, f"the DOCX is damaged and cannot be opened ({_why(exc, True)})") from exc
    core = document.core_properties
    meta = _office_meta(core)
    sections: list[tuple[str, list[str]]] = [("", [])]
    body = document.element.body
    for child in body.iterchildren():
        tag = child.tag.rsplit("}", 1)[-1]
        if tag == "p":
            paragraph = docx.text.paragraph.Paragraph(child, document)
            text = paragraph.text.strip()
            if not text:
                continue
            style = (paragraph.style.name if paragraph.style is not None else "") or ""
            if style.startswith("Heading") or style == "Title":
                if style in ("Title", "Heading 1"):
                    meta.setdefault("title", text)
                sections.append((text, []))
            else:
                sections[-1][1].append(text)
        elif tag == "tbl":
            table = docx.table.Table(child, document)
            for row in table.rows:
                cells = [cell.text.strip() for cell in row.cells]
                sections[-1][1].append(" | ".join(_dedupe_merged(cells)))
    units = [
        Document(page_content=normalize_text("\n".join([heading, *lines]) if heading else "\n".join(lines)),
                 metadata={"section": heading} if heading else {})
        for heading, lines in sections
        if lines or heading
    ]
    units = [u for u in units if u.page_content]
    return LoadedFile(path, "docx", meta, units)


def _dedupe_merged(cells: list[str]) -> list[str]:
    """python-docx repeats a merged cell's text once per grid column."""
    out: list[str] = []
    for cell in cells:
        if not out or cell != out[-1]:
            out.append(cell)
    return out


def _office_meta(core: Any) -> dict[str, Any]:
    """DOCX/PPTX core properties; ``comments`` may hold a JSON object of extras."""
    extras: dict[str, Any] = {}
    comments = (getattr(core, "comments", "") or "").strip()
    if comments.startswith("{"):
        try:
            extras = json.loads(comments)
        except ValueError:
            extras = {}
    return _clean_meta(
        {
            "doc_id": getattr(core, "identifier", None),
            "title": getattr(core, "title", None),
            "lang": getattr(core, "language", None),
            "visibility": extras.get("visibility") or getattr(core, "category", None),
            "tags": getattr(core, "keywords", None),
            "date": extras.get("as_of") or extras.get("date"),
            "translation_of": extras.get("translation_of"),
            "source_ref": extras.get("source"),
        }
    )


# --------------------------------------------------------------------------- PPTX
def load_pptx(path: Path, data: bytes, options: LoadOptions) -> LoadedFile:
    """One unit per slide: its title, body, tables and speaker notes."""
    import io

    from pptx import Presentation

    _require_zip(path, data, "ppt/presentation.xml", "PPTX", options.max_unzipped_mb)
    try:
        deck = Presentation(io.BytesIO(data))
    except Exception as exc:
        raise LoadError(path, f"the PPTX is damaged and cannot be opened ({_why(exc, True)})") from exc
    meta = _office_meta(deck.core_properties)
    units: list[Document] = []
    for number, slide in enumerate(deck.slides, start=1):
        title = ""
        if slide.shapes.title is not None and slide.shapes.title.has_text_frame:
            title = slide.shapes.title.text_frame.text.strip()
        lines: list[str] = [title] if title else []
        for shape in slide.shapes:
            if shape == slide.shapes.title:
                continue
            if shape.has_text_frame:
                lines.extend(p.text for p in shape.text_frame.paragraphs if p.text.strip())
            if getattr(shape, "has_table", False) and shape.has_table:
                for row in shape.table.rows:
                    lines.append(" | ".join(cell.text.strip() for cell in row.cells))
        if slide.has_notes_slide:
            notes = slide.notes_slide.notes_text_frame.text.strip()
            if notes:
                lines.extend(["", notes])
        text = normalize_text("\n".join(lines))
        if text:
            units.append(Document(page_content=text, metadata={"page": number, "section": title}))
    if not meta.get("title") and units:
        meta["title"] = units[0].metadata.get("section")
    return LoadedFile(path, "pptx", meta, units, pages=len(deck.slides))


# --------------------------------------------------------------------------- HTML
_DROP_TAGS = "script, style, noscript, template, nav, header, footer, aside, form, svg, iframe, object, embed, button"
_BLOCKS = "h1, h2, h3, h4, h5, h6, p, li, dt, dd, blockquote, pre, figcaption, caption, tr"


def load_html(path: Path, data: bytes, options: LoadOptions) -> LoadedFile:
    """Main text only: the ``<main>``/``<article>`` when present, page chrome dropped."""
    from selectolax.lexbor import LexborHTMLParser as HTMLParser

    text, _, warnings = _decode(path, data)
    tree = HTMLParser(text)
    meta = _html_meta(tree)
    for node in tree.css(_DROP_TAGS):
        node.decompose()
    root = tree.css_first("main article") or tree.css_first("article") or tree.css_first("main") or tree.body
    if root is None:
        raise LoadError(path, "the HTML page has no body text")
    sections: list[tuple[str, list[str]]] = [("", [])]
    for node in root.css(_BLOCKS):
        if _inside_other_block(node, root):
            continue
        if node.tag == "tr":
            line = " | ".join(c.text(deep=True, separator=" ").strip() for c in node.css("th, td"))
        else:
            line = node.text(deep=True, separator=" ").strip()
        if not line:
            continue
        if node.tag in ("h1",):
            meta.setdefault("title", line)
            continue
        if node.tag in ("h2", "h3"):
            sections.append((line, []))
        else:
            sections[-1][1].append(line)
    if not any(lines for _, lines in sections):
        fallback = root.text(deep=True, separator="\n").strip()
        sections = [("", [fallback])] if fallback else []
    units = [
        Document(page_content=normalize_text("\n".join([heading, *lines]) if heading else "\n".join(lines)),
                 metadata={"section": heading} if heading else {})
        for heading, lines in sections
        if lines
    ]
    units = [u for u in units if u.page_content.strip()]
    if not units:
        raise LoadError(path, "the HTML page has no readable text")
    return LoadedFile(path, "html", meta, units, warnings)


def _inside_other_block(node: Any, root: Any) -> bool:
    block_tags = {t.strip() for t in _BLOCKS.split(",")}
    parent = node.parent
    while parent is not None and parent is not root and parent.tag != "html":
        if parent.tag in block_tags:
            return True
        parent = parent.parent
    return False


def _html_meta(tree: Any) -> dict[str, Any]:
    metas = {}
    for node in tree.css("meta[name]"):
        name = (node.attributes.get("name") or "").lower()
        metas[name] = node.attributes.get("content") or ""
    html = tree.css_first("html")
    title = tree.css_first("title")
    return _clean_meta(
        {
            "doc_id": metas.get("doc_id"),
            "title": title.text().strip() if title is not None else None,
            "lang": html.attributes.get("lang") if html is not None else None,
            "date": metas.get("date"),
            "translation_of": metas.get("translation_of"),
            "visibility": metas.get("visibility"),
            "tags": metas.get("keywords"),
            "source_ref": metas.get("source"),
        }
    )


# --------------------------------------------------------------------------- Markdown / TXT
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)---[ \t]*(\n|\Z)", re.S)
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_MD_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MD_EMPHASIS = re.compile(r"(\*\*|__|\*|`)(?=\S)(.+?)(?<=\S)\1")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")


def load_markdown(path: Path, data: bytes, options: LoadOptions) -> LoadedFile:
    """Sections by heading; YAML front matter supplies the document metadata."""
    text, encoding, warnings = _decode(path, data)
    meta: dict[str, Any] = {}
    match = _FRONT_MATTER.match(text)
    if match:
        try:
            front = yaml.safe_load(match.group(1)) or {}
        except yaml.YAMLError as exc:
            raise LoadError(path, f"the YAML front matter is invalid: {str(exc).splitlines()[0]}") from exc
        if not isinstance(front, dict):
            raise LoadError(path, "the front matter must be a YAML mapping (key: value lines)")
        meta = _clean_meta(
            {
                "doc_id": front.get("id") or front.get("doc_id"),
                "title": front.get("title"),
                "lang": front.get("lang"),
                "date": front.get("date"),
                "translation_of": front.get("translation_of"),
                "visibility": front.get("visibility"),
                "tags": front.get("tags"),
                "source_ref": front.get("source"),
            }
        )
        text = text[match.end():]
    sections: list[tuple[str, list[str]]] = [("", [])]
    for raw in text.split("\n"):
        heading = _HEADING.match(raw)
        if heading:
            title = _MD_EMPHASIS.sub(r"\2", _MD_LINK.sub(r"\1", heading.group(2))).strip()
            if len(heading.group(1)) == 1:
                meta.setdefault("title", title)
                continue
            sections.append((title, []))
            continue
        if _TABLE_RULE.match(raw) or raw.strip().startswith("<!--"):
            continue
        line = raw.strip()
        if line.startswith("|"):
            line = " | ".join(cell.strip() for cell in line.strip("|").split("|"))
        sections[-1][1].append(_strip_inline(line))
    units = []
    for heading, lines in sections:
        body = normalize_text("\n".join(lines))
        if body:
            units.append(
                Document(page_content=f"{heading}\n{body}" if heading else body,
                         metadata={"section": heading} if heading else {})
            )
    if not units:
        raise LoadError(path, "the file has no text")
    return LoadedFile(path, "md", meta, units, warnings)


def load_text(path: Path, data: bytes, options: LoadOptions) -> LoadedFile:
    text, encoding, warnings = _decode(path, data)
    text = normalize_text(text)
    if not text:
        raise LoadError(path, "the file has no text")
    return LoadedFile(path, "txt", {}, [Document(page_content=text, metadata={})], warnings)


def _strip_inline(text: str) -> str:
    text = _MD_LINK.sub(r"\1", text)
    text = _MD_EMPHASIS.sub(r"\2", text)
    return re.sub(r"^\s*(?:[-*+]|\d+[.)])\s+", "• ", text) if text.strip() else ""


def _decode(path: Path, data: bytes) -> tuple[str, str, list[str]]:
    try:
        return decode_bytes(data)
    except UndecodableText as exc:
        raise LoadError(path, str(exc)) from exc


# --------------------------------------------------------------------------- shared
MAX_ZIP_MEMBERS = 10000


def _require_zip(path: Path, data: bytes, member: str, kind: str, max_unzipped_mb: float = 250.0) -> None:
    """Office files are ZIP packages; check before a parser trips over a fake or a bomb.

    python-docx and python-pptx read every part into memory, so the declared
    uncompressed sizes (which :mod:`zipfile` enforces while reading) bound
    what parsing can cost.
    """
    import io

    if not data.startswith(b"PK"):
        raise LoadError(path, f"not a {kind} file: its content is not an Office (ZIP) package")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            infos = package.infolist()
            if len(infos) > MAX_ZIP_MEMBERS:
                raise LoadError(path, f"the {kind} package has {len(infos)} parts (limit {MAX_ZIP_MEMBERS}): refused")
            if member not in package.namelist():
                raise LoadError(path, f"not a {kind} file: the package has no {member}")
            biggest = max(infos, key=lambda info: info.file_size)
            total = sum(info.file_size for info in infos)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError) as exc:
        raise LoadError(path, f"the {kind} file is damaged ({_why(exc)})") from exc
    if total > max_unzipped_mb * 1024 * 1024:
        raise LoadError(
            path,
            f"the {kind} unpacks to {total / 2**20:.0f} MB (largest part {biggest.filename}: "
            f"{biggest.file_size / 2**20:.0f} MB), over the {max_unzipped_mb:g} MB limit "
            "(KAKEHASHI_MAX_UNZIPPED_MB): refused as a possible ZIP bomb",
        )


def _why(exc: BaseException, with_type: bool = False, limit: int = 160) -> str:
    """A parser's complaint, fit for a person: one line, printable, short.

    Exceptions from parsers fed hostile bytes quote those bytes (a ZIP header,
    a PDF token); the reason is shown in the UI and the CLI, so it is cut and
    escaped instead of passed through.
    """
    text = str(exc).splitlines()[0] if str(exc) else ""
    text = "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" if ord(ch) < 256 else "?" for ch in text)
    text = re.sub(r"b'(?:[^'\\]|\\.){40,}'?", "b'…'", text)  # byte dumps
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    if with_type:
        return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text or type(exc).__name__


def _clean_meta(meta: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in meta.items():
        if value is None:
            continue
        if key == "tags":
            if isinstance(value, str):
                value = [t.strip() for t in re.split(r"[,;]", value) if t.strip()]
            value = [str(t) for t in value if str(t).strip()]
            if not value:
                continue
        elif key == "date":
            value = str(value)[:10]
        else:
            value = str(value).strip()
            if not value:
                continue
        out[key] = value
    return out


_EXPECTED = {".pdf": ("a PDF document", "PDF"), ".docx": ("a Word document (DOCX)", "DOCX"),
             ".pptx": ("a PowerPoint presentation (PPTX)", "PPTX")}


def check_content(path: Path, suffix: str, data: bytes) -> None:
    """The content must be what the extension claims (see :mod:`ingest.sniff`)."""
    kind = sniff.describe(data)
    if suffix in _EXPECTED:
        wanted, label = _EXPECTED[suffix]
        if kind is not None and kind != wanted:
            raise LoadError(path, f"not a {label} file: its content is {kind}; give it the right extension or export it again")
    elif sniff.is_binary_kind(kind):
        raise LoadError(path, f"not a text file: its content is {kind}; give it the right extension")


LOADERS: dict[str, Loader] = {
    ".pdf": load_pdf,
    ".docx": load_docx,
    ".pptx": load_pptx,
    ".html": load_html,
    ".htm": load_html,
    ".md": load_markdown,
    ".markdown": load_markdown,
    ".txt": load_text,
}


def load_file(path: Path, data: bytes, options: LoadOptions = LoadOptions()) -> LoadedFile:
    """Dispatch on the extension; every failure becomes a :class:`LoadError`."""
    suffix = path.suffix.lower()
    loader = LOADERS.get(suffix)
    if loader is None:
        raise LoadError(
            path, f"unsupported file type {path.suffix or '(none)'}; supported: {', '.join(sorted(LOADERS))}"
        )
    try:
        check_content(path, suffix, data)
        return loader(path, data, options)
    except LoadError:
        raise
    except RecursionError as exc:
        raise LoadError(path, "the file is nested too deeply to parse") from exc
    except Exception as exc:  # a parser bug on hostile input must not stop the batch
        log.exception("unexpected error loading %s", path)
        raise LoadError(path, f"could not be read ({_why(exc, True)})") from exc

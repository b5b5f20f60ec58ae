"""What a file really is, from its first bytes: the extension is only a claim.

An upload named ``report.pdf`` may be an HTML error page saved by a browser, a
``.docx`` may be a PDF, a ``.md`` may be an image. Parsing such a file with the
wrong parser gives either a confusing error or, worse, garbage indexed as
text, so the loader checks the content against the extension first and the
error names what the file actually is.
"""

from __future__ import annotations

import io
import re
import zipfile

_MAGIC: list[tuple[bytes, str]] = [
    (b"%PDF-", "a PDF document"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"\x7fELF", "a program (ELF executable)"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"\xfd7zXZ\x00", "an xz archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "a legacy Office file (DOC/PPT/XLS; save it as DOCX or PPTX)"),
    (b"{\\rtf", "an RTF document (save it as DOCX)"),
    (b"%!PS", "a PostScript file"),
    (b"\x00\x00\x00\x0cjP  ", "a JPEG 2000 image"),
    (b"SQLite format 3\x00", "an SQLite database"),
]
_HTML = re.compile(rb"^\s*(<!--.*?-->\s*)*<(!doctype\s+html|html[\s>]|head[\s>]|body[\s>])", re.I | re.S)

_PDF_OBJECT = re.compile(rb"\d+\s+\d+\s+obj\b")

_OFFICE_PARTS = {
    "word/document.xml": "a Word document (DOCX)",
    "ppt/presentation.xml": "a PowerPoint presentation (PPTX)",
    "xl/workbook.xml": "an Excel workbook (XLSX; not supported)",
    "content.xml": "an OpenDocument file (ODT/ODP; save it as DOCX or PPTX)",
}


def describe(data: bytes) -> str | None:
    """A short description of a recognised binary or HTML format, or None (plain text or unknown)."""
    head = data[:64]
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return _describe_zip(data)
    # PDF allows junk before the header (within the first KB); a text that merely mentions
    # "%PDF-" has no "N 0 obj" objects after it.
    if head.lstrip().startswith(b"%PDF-") or (b"%PDF-" in data[:1024] and _PDF_OBJECT.search(data[:65536])):
        return "a PDF document"
    if head.startswith(b"MZ") and data[0x3C:0x40] and _is_pe(data):
        return "a Windows program (EXE/DLL)"
    if re.match(rb"BZh[1-9]1AY&SY", head):
        return "a bzip2 archive"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "a WebP image"
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return what
    if _HTML.match(data[:4096].lstrip(b"\xef\xbb\xbf")):
        return "an HTML page"
    return None


def _is_pe(data: bytes) -> bool:
    offset = int.from_bytes(data[0x3C:0x40], "little")
    return 0 < offset < len(data) - 4 and data[offset : offset + 4] == b"PE\x00\x00"


def _describe_zip(data: bytes) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as package:
            names = set(package.namelist())
    except Exception:  # zipfile raises NotImplementedError, ValueError, … on damaged directories
        return "a ZIP archive (damaged)"
    for part, what in _OFFICE_PARTS.items():
        if part in names:
            return what
    return "a ZIP archive"


def is_binary_kind(kind: str | None) -> bool:
    return kind is not None and kind != "an HTML page"

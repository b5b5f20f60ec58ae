"""Decide whether extracted text can be trusted, and clean it for indexing.

PDF text extraction fails quietly: a font without a ToUnicode map yields NUL
bytes, replacement characters or private-use code points that look like text
to a program and like rubbish to a reader. Such a page must be re-extracted,
not indexed.
"""

from __future__ import annotations

import re
import unicodedata

from kb.text import CJK_CHAR, normalize_text

__all__ = ["garbled_reason", "normalize_text", "rejoin_wrapped_lines"]

_SENTENCE_END = tuple(".!?:;。！？：；」』)")
_LIST_ITEM = re.compile(r"^\s*(?:[-•●▪*]|\d+[.)]|[a-z][.)]|\(\d+\))\s")


def garbled_reason(text: str, max_bad_share: float = 0.05) -> str | None:
    """Why this extracted text is unusable, or ``None`` if it looks like text."""
    if not text.strip():
        return None
    if "\x00" in text:
        return "NUL bytes in the extracted text"
    bad = 0
    for ch in text:
        if ch == "\ufffd":
            return "replacement characters (U+FFFD) in the extracted text"
        category = unicodedata.category(ch)
        if category == "Co" or (category == "Cc" and ch not in "\n\t\r"):
            bad += 1
    share = bad / max(len(text), 1)
    if share > max_bad_share:
        return f"{share:.0%} control or private-use characters in the extracted text"
    return None



def display_width(text: str) -> int:
    """Columns a line occupies: CJK characters are twice as wide as Latin ones."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def rejoin_wrapped_lines(text: str) -> str:
    """Undo the line wrapping of a PDF page or an OCR'd scan.

    A line that reaches (nearly) the page's usual full width and does not end
    a sentence was wrapped by the layout: join it to the next line, with no
    space between two CJK characters and one space otherwise. Short lines
    (headings, the last line of a paragraph) and list items stay as they are.
    """
    lines = text.split("\n")
    widths = sorted(display_width(line.strip()) for line in lines if line.strip())
    if len(widths) < 2:
        return text
    full = widths[int(len(widths) * 0.9)]
    out: list[str] = [lines[0].rstrip()]
    for line in lines[1:]:
        previous, current = out[-1], line.strip()
        wrapped = (
            previous
            and current
            and display_width(previous.strip()) >= 0.75 * full
            and not previous.endswith(_SENTENCE_END)
            and not _LIST_ITEM.match(current)
        )
        if wrapped:
            # Japanese puts no space next to a CJK character, even before "(" or a Latin name.
            glue = "" if CJK_CHAR.match(previous[-1]) or CJK_CHAR.match(current[0]) else " "
            out[-1] = previous + glue + current
        else:
            out.append(current)
    return "\n".join(out)

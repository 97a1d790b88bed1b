"""PDF articles: the text layer (pypdf), reflowed into paragraphs, with a title and a date.

People save web articles as PDF ("Print > Save as PDF") or get them from publishers. pypdf gives
the text line by line as laid out on the page; a line that fills the column was wrapped, so it is
joined to the next, and a line well short of the column ends its paragraph. Lines repeated at
the top or bottom of every page (running headers and footers) and bare page numbers are dropped.

- Title: the document information's /Title (what a browser writes from the page's <title>),
  unless it is a file name; else the first short paragraph (as for plain text).
- Date: a full date written in a short line near the top of the first page (a dateline, read
  by index.dateline.full_date); else the document's /CreationDate.
- Author: /Author.

A PDF this cannot read raises `PdfProblem` with a reason for the user: encrypted with a password,
no text layer (a scanned image: run OCR first), or not a readable PDF at all.
"""

from __future__ import annotations

import io
import logging
import re
import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from index.dateline import full_date
from index.wording import plural

# pypdf logs every repaired cross-reference table as a warning; a damaged-but-readable file is
# not the user's concern, and an unreadable one is reported as a LoadProblem.
logging.getLogger("pypdf").setLevel(logging.ERROR)

MAX_PAGES = 200  # an article is a few pages; a longer PDF is a book or a report
MARGIN_LINES = 2  # where a page's running header or footer can be: its first and last lines
# A line shorter than this share of the page's typical line width ended its paragraph.
SHORT_LINE_RATIO = 0.75
# The first page's paragraphs searched for a dateline, and how long such a line may be.
DATELINE_PARAGRAPHS = 8
DATELINE_MAX_CHARS = 80
_PAGE_NUMBER = re.compile(r"^(?:page\s+)?\d{1,4}(?:\s*(?:/|of)\s*\d{1,4})?$", re.IGNORECASE)
_FILE_NAME = re.compile(r"\.[A-Za-z0-9]{2,5}$|^Microsoft Word - ", re.IGNORECASE)


class PdfProblem(ValueError):
    """This PDF cannot be read as an article; the message says why, in the user's terms."""


@dataclass
class PdfArticle:
    """What a PDF gives: a loader record (title, body, date, author) and non-fatal notes."""

    record: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


def read_pdf(raw: bytes) -> PdfArticle:
    """The article in a PDF's bytes, or PdfProblem."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(raw))
        _unlock(reader)
        pages = reader.pages
        warnings = []
        if len(pages) > MAX_PAGES:
            warnings.append(f"read the first {MAX_PAGES} of {len(pages)} pages")
        texts = [pages[i].extract_text() or "" for i in range(min(len(pages), MAX_PAGES))]
        info = _document_info(reader)
    except PdfProblem:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError) as error:
        # pypdf raises its own errors for most damage and plain ones for the rest.
        raise PdfProblem(f"not a readable PDF ({type(error).__name__}: {error})"[:300]) from error
    paragraphs = reflow_pages(texts)
    if not paragraphs:
        raise PdfProblem(
            f"no text layer in its {plural(len(pages), 'page')}: a scanned image? "
            "Run OCR on it (e.g. ocrmypdf) and ingest the result"
        )
    return PdfArticle(_record(paragraphs, info), warnings)


def _unlock(reader: Any) -> None:
    """Open an encrypted PDF that needs no password to read (owner-password restrictions)."""
    from pypdf.errors import DependencyError

    if not reader.is_encrypted:
        return
    try:
        opened = reader.decrypt("")
    except DependencyError as error:
        raise PdfProblem(f"encrypted PDF that this install cannot decrypt ({error})") from error
    if not opened:
        raise PdfProblem(
            "encrypted PDF: it needs a password to open; save an unencrypted copy and ingest that"
        )


def _document_info(reader: Any) -> dict[str, Any]:
    meta = reader.metadata
    if meta is None:
        return {}
    try:
        created = meta.creation_date
    except ValueError:  # a malformed D:… date is only a missing date
        created = None
    return {"title": meta.title, "author": meta.author, "created": created}


# --- text ------------------------------------------------------------------------------------


def reflow_pages(texts: list[str]) -> list[str]:
    """Paragraphs of the pages' text: wrapped lines joined, running headers/footers dropped."""
    pages = [[line.strip() for line in text.splitlines()] for text in texts]
    running = _running_lines(pages)
    lines: list[str] = []
    for page in pages:
        margins = _margin_indices(page)
        lines += [
            line
            for n, line in enumerate(page)
            if not (n in margins and line in running) and not _PAGE_NUMBER.match(line)
        ]
    return _paragraphs(lines)


def _running_lines(pages: list[list[str]]) -> set[str]:
    """Running headers and footers: lines among the first or last few of every page of a
    multi-page PDF (a line the article text repeats elsewhere on the pages is kept)."""
    if len(pages) < 2:
        return set()
    counts = Counter(line for page in pages for line in {page[n] for n in _margin_indices(page)})
    return {line for line, n in counts.items() if n == len(pages)}


def _margin_indices(page: list[str]) -> set[int]:
    """Positions of a page's first and last few non-empty lines."""
    filled = [n for n, line in enumerate(page) if line]
    return set(filled[:MARGIN_LINES] + filled[-MARGIN_LINES:])


def _paragraphs(lines: list[str]) -> list[str]:
    widths = [len(line) for line in lines if line]
    if not widths:
        return []
    full = _typical_width(widths)
    paragraphs: list[str] = []
    current = ""
    for line in lines:
        if not line:
            paragraphs.append(current)
            current = ""
            continue
        current = _join(current, line)
        if len(line) < SHORT_LINE_RATIO * full:
            paragraphs.append(current)
            current = ""
    paragraphs.append(current)
    return [p for p in paragraphs if p.strip()]


def _typical_width(widths: list[int]) -> float:
    """The width of a full line: the upper quartile of line lengths (most lines are full)."""
    if len(widths) < 4:
        return float(max(widths))
    return statistics.quantiles(widths, n=4)[2]


def _join(text: str, line: str) -> str:
    """Append a wrapped line: a word hyphenated at the line end is joined back together."""
    if not text:
        return line
    if re.search(r"[a-z]-$", text) and line[:1].islower():
        return text[:-1] + line
    return f"{text} {line}"


# --- metadata --------------------------------------------------------------------------------


def _record(paragraphs: list[str], info: dict[str, Any]) -> dict[str, Any]:
    title = " ".join(str(info.get("title") or "").split())
    if _FILE_NAME.search(title):
        title = ""
    if title and paragraphs[0].casefold() == title.casefold() and len(paragraphs) > 1:
        paragraphs = paragraphs[1:]  # the page heading repeats the document title
    elif not title and len(paragraphs) > 1 and len(paragraphs[0]) <= 150:
        title, paragraphs = paragraphs[0], paragraphs[1:]
    record: dict[str, Any] = {"body": "\n\n".join(paragraphs), "author": info.get("author")}
    if title:
        record["title"] = title
    published = dateline(paragraphs) or info.get("created")
    if published:
        record["published"] = published
    return record


def dateline(paragraphs: list[str]) -> datetime | None:
    """The first full date (day, month and year all written) in a short line near the top:
    "March 2, 2024", "By Jane Doe, 14 June 2021 10:32"; None when there is none."""
    for paragraph in paragraphs[:DATELINE_PARAGRAPHS]:
        if len(paragraph) <= DATELINE_MAX_CHARS:
            moment = full_date(paragraph)
            if moment is not None:
                return moment
    return None

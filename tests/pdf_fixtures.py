"""PDFs the tests make themselves: pages of text in a standard font (a real text layer), pages
with no text (what a scan looks like to a text extractor), password-protected and broken ones.

    raw = text_pdf([["Title", "", "Body line one", ...], [...page 2...]], title="…")
"""

from __future__ import annotations

import io

from pypdf import PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

PAGE_WIDTH, PAGE_HEIGHT = 612, 792  # US Letter, points


def _escape(line: str) -> str:
    return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _add_text_page(writer: PdfWriter, lines: list[str]) -> None:
    """One page showing `lines` top-down in 11 pt Helvetica; "" leaves an empty line."""
    page = writer.add_blank_page(PAGE_WIDTH, PAGE_HEIGHT)
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
            NameObject("/Encoding"): NameObject("/WinAnsiEncoding"),
        }
    )
    fonts = DictionaryObject({NameObject("/F1"): writer._add_object(font)})
    page[NameObject("/Resources")] = DictionaryObject({NameObject("/Font"): fonts})
    ops = ["BT", "/F1 11 Tf", "14 TL", f"72 {PAGE_HEIGHT - 72} Td"]
    ops += [f"({_escape(line)}) Tj T*" if line else "T*" for line in lines]
    ops.append("ET")
    content = DecodedStreamObject()
    content.set_data("\n".join(ops).encode("cp1252"))
    page[NameObject("/Contents")] = writer._add_object(content)


def text_pdf(
    pages: list[list[str]],
    *,
    title: str | None = None,
    author: str | None = None,
    created: str | None = None,
    password: str | None = None,
    owner_password: str | None = None,
) -> bytes:
    """A PDF with a text layer. `created` is a PDF date ("D:20240302120000Z"). `password`
    locks it; `owner_password` alone restricts it but opens without a password."""
    writer = PdfWriter()
    for lines in pages:
        _add_text_page(writer, lines)
    info = {
        key: value
        for key, value in (("/Title", title), ("/Author", author), ("/CreationDate", created))
        if value is not None
    }
    if info:
        writer.add_metadata(info)
    if password is not None or owner_password is not None:
        writer.encrypt(
            user_password=password or "", owner_password=owner_password, algorithm="AES-128"
        )
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def image_only_pdf(pages: int = 2) -> bytes:
    """Pages with nothing to extract: to a text extractor, a scan without OCR."""
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(PAGE_WIDTH, PAGE_HEIGHT)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def broken_pdf() -> bytes:
    """A PDF header and then garbage: no objects, no cross-reference table."""
    return b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog /Pages 2 0 R >>\nthis is not"


def wrapped(text: str, width: int = 80) -> list[str]:
    """`text` wrapped at `width` characters, as a page lays out a paragraph."""
    lines, current = [], ""
    for word in text.split():
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    return [*lines, current] if current else lines

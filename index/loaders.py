"""Turn files and JSON records into Articles, reporting bad inputs instead of raising.

Everything here yields a stream of `Article | LoadProblem` so that ingestion goes on past a
bad file, record or line. A `LoadProblem` always names its input (`path`, and `line` for
JSONL / malformed JSON) and says why; `fatal=False` marks a warning where the article was
still loaded (fallback decode, unparseable date).

Formats: the seed `.txt` format (first line ` date YYYY-MM-DD <caption>`), plain `.txt` and
`.md` (optional `---` front matter), `.html`/`.htm` (trafilatura, offline), `.json` (one
record or a list, MultiHop-RAG corpus shape), `.jsonl` (one record per line) and `.pdf` (the
text layer, see index/pdf.py).
"""

from __future__ import annotations

import email.utils
import json
import os
import re
import stat
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from index.dateline import read_dateline
from index.limits import (
    MAX_FILE_BYTES,
    SUPPORTED_SUFFIXES,
    InputError,
    check_file_size,
    check_file_type,
)
from index.models import Article, LoadProblem
from index.wording import plural

_SUPPORTED_LIST = ", ".join(sorted(SUPPORTED_SUFFIXES))
# Formats read as bytes, not decoded as text first.
BINARY_SUFFIXES: frozenset[str] = frozenset({".pdf"})
HEADLINE_MAX_CHARS = 120
TOO_DEEP = "JSON nested too deeply (hundreds of levels); not an article record"

Loaded = Article | LoadProblem

# Record field aliases, in order of preference (first non-empty wins).
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "title": ("title", "headline"),
    "body": ("body", "text", "content", "article"),
    "published": (
        "published_at",
        "published",
        "publishedAt",
        "date",
        "pubDate",
        "datePublished",
        "published_date",
    ),
    "url": ("url", "link", "canonical_url"),
    "author": ("author", "byline", "authors"),
    "source": ("source", "publisher", "site", "sitename", "site_name"),
    "caption": ("caption",),
    "category": ("category", "section"),
}
# Strings that mean "no value" in scraped data (the MultiHop corpus has author null/"None").
NULL_STRINGS = frozenset({"none", "null", "nan", "n/a"})
# Keys under which a JSON object may wrap its list of articles (e.g. NewsAPI's "articles").
WRAPPER_KEYS = ("articles", "records", "items", "data")

# Seed format first line; the date must look like one so "Date night ideas" stays a title.
SEED_FIRST_LINE = re.compile(
    r"^[ \t]*date[ \t]+(\d{4}-\d{1,2}-\d{1,2})\b[ \t]*(.*)$", re.IGNORECASE
)
MD_HEADING = re.compile(r"^[ \t]{0,3}#{1,6}[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
# `[ \t]`, not `\s`: in MULTILINE mode `\s` would swallow the blank lines between paragraphs.
MD_HEADING_LINES = re.compile(MD_HEADING.pattern, re.MULTILINE)


# --- public API ------------------------------------------------------------------------------


# A URL of another scheme than http(s), as a path may have kept it ("file:/etc/passwd").
_OTHER_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:/")


def load_paths(paths: Iterable[str | Path]) -> Iterator[Loaded]:
    """Load files and (recursively) directories, in a deterministic order.

    Hidden files/dirs and unsupported suffixes inside directories are skipped silently; a
    file named explicitly with an unsupported suffix, or a missing path, is a LoadProblem.
    """
    if isinstance(paths, str | Path):  # a bare str would otherwise iterate by character
        paths = [paths]
    for raw_path in paths:
        path = Path(raw_path)
        try:
            if path.is_dir():
                yield from _load_directory(path)
            elif path.is_file():
                try:
                    check_file_type(path.name)
                except InputError as refused:
                    yield _problem(path, str(refused))
                else:
                    yield from _load_tracked_file(path)
            elif path.exists():
                yield _problem(path, "not a regular file or directory")
            elif _OTHER_SCHEME.match(str(raw_path)):  # "file:///etc/passwd", "ftp://…"
                yield _problem(path, "only http(s) URLs are fetched; give a local file as a path")
            else:
                yield _problem(path, "no such file or directory")
        except OSError as error:  # permission denied, broken mount, ...
            yield _problem(path, f"cannot read: {error.strerror or error}")


def load_records(records: Iterable[Mapping[str, Any]], origin: str) -> Iterator[Loaded]:
    """Load already-parsed JSON records (e.g. from the HTTP API). `origin` names the batch."""
    if isinstance(records, Mapping):
        records = [records]
    try:
        items = list(records) if not isinstance(records, str | bytes) else None
    except TypeError:
        items = None
    if items is None:
        yield LoadProblem(
            path=origin, reason=f"expected a list of record objects, got {type(records).__name__}"
        )
        return
    for index, record in enumerate(items):
        yield from _record_to_article(
            record, path=origin, origin=f"{origin}#{index}", where=f"record at index {index}"
        )


def _load_tracked_file(path: Path) -> Iterator[Loaded]:
    """`load_file`, with each article that is the file's only one keyed by the file's resolved
    path, so an edited file replaces its earlier version (index.ingest)."""
    yield from with_file_key(load_file(path), path.name, str(path.resolve()))


def with_file_key(items: Iterable[Loaded], name: str, key: str) -> Iterator[Loaded]:
    """Key the articles loaded alone from the file `name` (origin == name: not a JSON list's
    record, whose origin adds its index or line) by `key`."""
    for item in items:
        if isinstance(item, Article) and item.origin == name:
            item = item.model_copy(update={"file_key": key})
        yield item


def load_file(path: Path) -> Iterator[Loaded]:
    """Load one regular file of a supported type (chosen by suffix), reading at most
    MAX_FILE_BYTES + 1 bytes of it: a device or a file growing while read cannot hold us."""
    # O_NONBLOCK: opening a FIFO would otherwise wait for a writer; no effect on regular files.
    with os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as handle:
        status = os.fstat(handle.fileno())
        if not stat.S_ISREG(status.st_mode):
            yield _problem(path, "not a regular file or directory")
            return
        raw = handle.read(MAX_FILE_BYTES + 1)
    try:  # the size on disk: what was read stops one byte past the limit
        check_file_size(path.name, max(status.st_size, len(raw)))
    except InputError as refused:
        yield _problem(path, str(refused))
        return
    if not raw.strip():
        yield _problem(path, "empty file")
        return
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        yield from _parse_pdf(raw, path)
        return
    text, warning = decode_bytes(raw)
    if text is None:
        yield _problem(path, warning or "not a text file")
        return
    if warning:
        yield _problem(path, warning, fatal=False)
    if suffix in (".json",):
        yield from _parse_json(text, path)
    elif suffix in (".jsonl", ".ndjson"):
        yield from _parse_jsonl(text, path)
    elif suffix in (".html", ".htm"):
        yield from _parse_html(text, path)
    else:
        yield from _parse_text(text, path, markdown=suffix in (".md", ".markdown"))


# --- decoding --------------------------------------------------------------------------------


def decode_bytes(raw: bytes) -> tuple[str | None, str | None]:
    """Return (text, warning). text is None when the bytes are not text at all."""
    for bom, codec in ((b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if raw.startswith(bom):
            try:
                return raw.decode(codec), "decoded as UTF-16 (byte-order mark found)"
            except UnicodeDecodeError:
                return None, "binary file: UTF-16 byte-order mark but undecodable content"
    if b"\x00" in raw:
        return None, "binary file (contains NUL bytes), not text"
    try:
        text, warning = raw.decode("utf-8-sig"), None
    except UnicodeDecodeError as error:
        bad = f"byte 0x{raw[error.start]:02x} at offset {error.start}"
        try:
            text, codec = raw.decode("cp1252"), "cp1252"
        except UnicodeDecodeError:
            text, codec = raw.decode("latin-1"), "latin-1"
        warning = f"not valid UTF-8 ({bad}); decoded as {codec}"
    if _looks_binary(text):
        return None, "binary file (mostly control characters), not text"
    return text, warning


def _looks_binary(text: str) -> bool:
    sample = text[:8192]
    controls = sum(1 for ch in sample if ord(ch) < 32 and ch not in "\t\n\r\f\v")
    return controls > max(8, len(sample) // 20)


# --- text and markdown -----------------------------------------------------------------------


def _parse_text(text: str, path: Path, *, markdown: bool) -> Iterator[Loaded]:
    text = normalise_body(text)
    meta, text = _split_front_matter(text)
    lead = "the front matter" if meta else ""  # what the file holds before its text
    first_line, _, rest = text.partition("\n")
    seed = SEED_FIRST_LINE.match(first_line)
    if seed and not meta:
        meta = {"date": seed.group(1), "caption": seed.group(2).strip()}
        body, title, lead = rest, "", "the date line"
    elif _first_value(meta, FIELD_ALIASES["title"]):  # front matter already names the title
        title, body = "", text
    else:
        title, body = _title_and_body(text, markdown=markdown)
        lead = "the title" if title else lead
    if markdown:
        body = strip_markdown(body)
    if not body.strip() and not _first_value(meta, FIELD_ALIASES["body"]):
        # Said here: the record's reason ("looked for body/text/…") names JSON fields.
        yield _problem(path, f"no article text after {lead}" if lead else "no article text")
        return
    record: dict[str, Any] = {**_dateline_fields(body, meta), **meta, "body": body}
    if title:
        record["title"] = title
    yield from _record_to_article(record, path=str(path), origin=path.name, where="")


def _dateline_fields(body: str, meta: Mapping[str, Any]) -> dict[str, Any]:
    """The date and outlet of the dateline opening the body ("SANTIAGO, March 4, 2024
    (Reuters) - …"), each only where the front matter or seed date line gives none: a plain
    news file would otherwise have no date, and date filters would leave it out. The body keeps
    its dateline (citations quote it with offsets)."""
    found = read_dateline(body)
    fields: dict[str, Any] = {}
    if found.published and _first_value(meta, FIELD_ALIASES["published"]) is None:
        fields["published"] = found.published
    if found.outlet and _first_value(meta, FIELD_ALIASES["source"]) is None:
        fields["source"] = found.outlet
    return fields


def _split_front_matter(text: str) -> tuple[dict[str, str], str]:
    """Parse a simple `---` block of `key: value` lines (no nesting, no yaml dependency)."""
    if not text.startswith("---\n"):
        return {}, text
    end = re.search(r"^(?:---|\.\.\.)[ \t]*$", text[4:], flags=re.MULTILINE)
    if not end:
        return {}, text
    block, rest = text[4 : 4 + end.start()], text[4 + end.end() :]
    meta: dict[str, str] = {}
    for line in block.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() and not key.startswith((" ", "\t", "#")):
            meta[key.strip()] = value.strip().strip("\"'")
    return meta, rest.strip("\n")


def _title_and_body(text: str, *, markdown: bool) -> tuple[str, str]:
    """Title from the first markdown heading (if it leads the text) or first non-empty line.

    A first line too long to be a title (or the only line) stays in the body, and the title
    becomes a headline made from it, so no text is lost.
    """
    lines = text.split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        return "", ""
    line = lines[first]
    heading = MD_HEADING.match(line)
    candidate = heading.group(1) if heading else line.strip()
    if markdown:
        candidate = strip_markdown(candidate)
    rest = "\n".join(lines[first + 1 :]).strip()
    if heading or (len(candidate) <= 150 and rest):
        return candidate, rest
    return "", text


_MD_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    (MD_HEADING_LINES, r"\1"),  # headings
    (re.compile(r"^[ \t]{0,3}(?:[-*_][ \t]*){3,}$", re.MULTILINE), ""),  # horizontal rules
    (re.compile(r"^[ \t]{0,3}>[ \t]?", re.MULTILINE), ""),  # blockquote markers
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),  # images -> alt text
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),  # links -> link text
    (re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1"), r"\2"),  # strong
    (re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?![\w*])"), r"\1"),  # *em*
    (re.compile(r"(?<![\w_])_(?=\S)(.+?)(?<=\S)_(?![\w_])"), r"\1"),  # _em_ (not snake_case)
    (re.compile(r"`([^`\n]+)`"), r"\1"),  # inline code
)


def strip_markdown(text: str) -> str:
    """Light markdown removal: keep the words, drop the markup that would pollute search."""
    for pattern, replacement in _MD_RULES:
        text = pattern.sub(replacement, text)
    return normalise_body(text)


# --- HTML ------------------------------------------------------------------------------------


def _parse_html(text: str, path: Path) -> Iterator[Loaded]:
    for item in parse_html(text, origin=str(path)):  # problems name the path, origins the name
        yield item.model_copy(update={"origin": path.name}) if isinstance(item, Article) else item


def parse_html(html: str | bytes, origin: str, url: str = "") -> Iterator[Loaded]:
    """One HTML page -> an Article (trafilatura: main text, title, author, site, date).

    `origin` names the input in problems; `url`, when given (a fetched page), is the article's
    url and identity whatever the page declares, and helps trafilatura name the site. Bytes are
    decoded by trafilatura (it reads the page's own charset declaration).
    """
    import trafilatura  # heavy import; only pay for it when there is HTML

    try:
        document = trafilatura.bare_extraction(
            html, url=url or None, with_metadata=True, include_comments=False, include_tables=True
        )
    except Exception as error:  # trafilatura/lxml raise many types on odd markup
        document = None
        yield _problem(origin, f"HTML extraction failed ({error}); using plain text", fatal=False)
    # bare_extraction returns a Document (or a dict with as_dict=True, which we never ask for).
    data: dict[str, Any] = {}
    if document is not None and not isinstance(document, dict):
        data = document.as_dict()
    body = data.get("text") or ""
    if not body.strip():
        body = trafilatura.html2txt(html) or ""
    if not body.strip():
        yield _problem(origin, "no article text found in HTML")
        return
    # trafilatura puts one block per line; make them paragraphs like the other formats.
    body = re.sub(r"\n+", "\n\n", normalise_body(body))
    title = _clean(data.get("title"))
    if title:  # the page heading usually repeats the title as the first block
        head, _, rest = body.partition("\n\n")
        if head.strip() == title and rest.strip():
            body = rest
    record = {
        "title": title,
        "body": body,
        "date": data.get("date"),
        "author": data.get("author"),
        "source": data.get("sitename"),
        "url": url or data.get("url"),
        "category": ", ".join(data.get("categories") or []),
    }
    yield from _record_to_article(record, path=origin, origin=origin, where="")


# --- PDF -------------------------------------------------------------------------------------


def _parse_pdf(raw: bytes, path: Path) -> Iterator[Loaded]:
    from index.pdf import PdfProblem, read_pdf  # pypdf is imported only when there is a PDF

    try:
        pdf = read_pdf(raw)
    except PdfProblem as problem:
        yield _problem(path, str(problem))
        return
    for warning in pdf.warnings:
        yield _problem(path, warning, fatal=False)
    yield from _record_to_article(pdf.record, path=str(path), origin=path.name, where="")


# --- JSON and JSONL --------------------------------------------------------------------------


def _parse_json(text: str, path: Path) -> Iterator[Loaded]:
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError as error:
        yield LoadProblem(
            path=str(path),
            line=error.lineno,
            reason=f"malformed JSON: {error.msg} (line {error.lineno}, column {error.colno})",
        )
        return
    except RecursionError:  # json raises it past ~1000 levels; it must not end the stream
        yield _problem(path, TOO_DEEP)
        return
    if isinstance(parsed, dict):
        wrapped = _wrapped_records(parsed)
        if wrapped is None:
            yield from _record_to_article(parsed, path=str(path), origin=path.name, where="")
            return
        parsed = wrapped
    if not isinstance(parsed, list):
        yield _problem(
            path, f"top-level JSON must be an object or a list of objects, got {_json_type(parsed)}"
        )
        return
    if not parsed:
        yield _problem(path, "JSON list contains no records")
    for index, record in enumerate(parsed):
        yield from _record_to_article(
            record, path=str(path), origin=f"{path.name}#{index}", where=f"record at index {index}"
        )


def _wrapped_records(obj: dict) -> list | None:
    """NewsAPI-style {"articles": [...]} wrappers; None when obj is itself one record."""
    if _first_value(obj, FIELD_ALIASES["body"]):
        return None
    for key in WRAPPER_KEYS:
        if isinstance(obj.get(key), list):
            return obj[key]
    return None


def _parse_jsonl(text: str, path: Path) -> Iterator[Loaded]:
    for line_number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            yield LoadProblem(
                path=str(path),
                line=line_number,
                reason=f"malformed JSON on this line: {error.msg} (column {error.colno})",
            )
            continue
        except RecursionError:
            yield LoadProblem(path=str(path), line=line_number, reason=TOO_DEEP)
            continue
        yield from _record_to_article(
            record, path=str(path), origin=f"{path.name}:{line_number}", where="", line=line_number
        )


def _json_type(value: Any) -> str:
    names = {
        dict: "object",
        list: "array",
        str: "string",
        bool: "boolean",
        int: "number",
        float: "number",
        type(None): "null",
    }
    return names.get(type(value), type(value).__name__)


# --- records -> Article ----------------------------------------------------------------------


def _record_to_article(
    record: Any, *, path: str, origin: str, where: str, line: int | None = None
) -> Iterator[Loaded]:
    """Map one record (aliases, nulls, dates) to an Article; problems name path/line/where."""
    try:
        yield from _record_fields_to_article(
            record, path=path, origin=origin, where=where, line=line
        )
    except RecursionError:  # a field nested hundreds of lists deep (the text helpers recurse)
        yield LoadProblem(path=path, line=line, reason=f"{where or 'record'}: {TOO_DEEP}")


def _record_fields_to_article(
    record: Any, *, path: str, origin: str, where: str, line: int | None = None
) -> Iterator[Loaded]:
    prefix = f"{where}: " if where else ""
    if not isinstance(record, dict):
        yield LoadProblem(
            path=path,
            line=line,
            reason=f"{where or 'record'} is not a JSON object (got {_json_type(record)})",
        )
        return
    fields = {name: _first_value(record, aliases) for name, aliases in FIELD_ALIASES.items()}
    body = normalise_body(_as_text(fields["body"], joiner="\n\n"))
    if not body:
        yield LoadProblem(
            path=path,
            line=line,
            reason=f"{prefix}missing or empty body (looked for {'/'.join(FIELD_ALIASES['body'])})",
        )
        return
    published = None
    raw_date = fields["published"]
    if not _is_null(raw_date):
        try:
            published = parse_date(raw_date)
        except ValueError:
            yield LoadProblem(
                path=path,
                line=line,
                fatal=False,
                reason=f"{prefix}unparseable date {str(raw_date)[:60]!r}; "
                "article kept without a date",
            )
    caption = _clean(fields["caption"])
    title = _clean(fields["title"])
    # A caption describes a photo, not the story: with no title of its own the article is
    # titled by its body (dateline left out). Its id stays the one it had when the title was
    # the headline of its caption (or body), so an index built before keeps its ids and
    # updates such an article in place, once.
    identity = "" if title else headline(caption or body)
    title = title or body_title(body)
    yield Article(
        title=title,
        body=body,
        source=_source_name(fields["source"]),
        url=_clean(fields["url"]),
        author=_clean(fields["author"]),
        published=published,
        caption=caption,
        category=_clean(fields["category"]),
        origin=origin,
        identity=identity,
    )


def _first_value(record: Mapping[str, Any], aliases: tuple[str, ...]) -> Any:
    for key in aliases:
        value = record.get(key)
        if not _is_null(value) and value != [] and value != {}:
            return value
    return None


def _is_null(value: Any) -> bool:
    if value is None:
        return True
    return isinstance(value, str) and (not value.strip() or value.strip().lower() in NULL_STRINGS)


def _as_text(value: Any, joiner: str = ", ") -> str:
    if _is_null(value):
        return ""
    if isinstance(value, list | tuple):
        return joiner.join(part for part in (_as_text(item, joiner) for item in value) if part)
    if isinstance(value, dict):  # e.g. authors as [{"name": ...}]
        return _as_text(value.get("name"), joiner)
    return str(value)


def _clean(value: Any) -> str:
    """One-line metadata value: nulls to "", whitespace collapsed, no bidi controls."""
    return " ".join(without_bidi_controls(_as_text(value)).split())


def _source_name(value: Any) -> str:
    """NewsAPI gives source as {"id": ..., "name": ...}; everything else is a plain string."""
    if isinstance(value, dict):
        return _clean(value.get("name") or value.get("id"))
    return _clean(value)


# --- dates -----------------------------------------------------------------------------------

_EXTRA_DATE_FORMATS = (
    "%Y/%m/%d",
    "%Y/%m/%d %H:%M:%S",
    "%B %d, %Y",
    "%b %d, %Y",
    "%d %B %Y",
    "%d %b %Y",
    "%B %d, %Y %H:%M",
    "%b %d, %Y %H:%M",
)


def parse_date(value: Any) -> datetime:
    """ISO dates/datetimes, "2023-10-07 12:00:00", RFC 2822, epoch seconds; naive -> UTC.

    Raises ValueError for anything else.
    """
    moment = _parse_date_any(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _parse_date_any(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if abs(value) > 1e11 else value  # milliseconds from JS
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError) as error:
            raise ValueError(f"timestamp out of range: {value}") from error
    if not isinstance(value, str):
        raise ValueError(f"not a date: {value!r}")
    text = value.strip()
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        pass
    try:
        return email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        pass
    for fmt in _EXTRA_DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt)
        except ValueError:
            continue
    raise ValueError(f"unparseable date: {value!r}")


# --- text helpers ----------------------------------------------------------------------------


# Bidi embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069): they make text
# display in another order than its characters, so a quote "said \u202egnorw si siht\u202c"
# would read "said this is wrong". Dropped from article text and metadata at load, so what is
# stored, cited and shown is the same. The marks LRM/RLM (U+200E/U+200F), which Arabic and
# Hebrew text uses, order nothing around them and are kept.
_BIDI_CONTROLS = dict.fromkeys([*range(0x202A, 0x202F), *range(0x2066, 0x206A)])


def without_bidi_controls(text: str) -> str:
    return text.translate(_BIDI_CONTROLS)


def normalise_body(text: str) -> str:
    """\\n line endings, no trailing spaces, at most one blank line between paragraphs, no bidi
    controls, stripped.

    Chunk offsets index into the result, so this runs once, before the Article is built.
    """
    text = without_bidi_controls(text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


_ABBREVIATIONS = frozenset(
    {
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "sr",
        "jr",
        "st",
        "mt",
        "gen",
        "gov",
        "sen",
        "rep",
        "lt",
        "col",
        "capt",
        "sgt",
        "inc",
        "co",
        "corp",
        "ltd",
        "vs",
        "etc",
        "no",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "approx",
        "est",
        "dept",
    }
)
_SENTENCE_END = re.compile(r"[.!?][\"'”’)]*(?=\s+[\"'“‘(]?[A-Z0-9])")


def first_sentence(text: str) -> str:
    """Up to the first sentence end that is not an abbreviation ("U.S.", "Mr.") or initial."""
    text = " ".join(text.split())
    for match in _SENTENCE_END.finditer(text):
        words = text[: match.start()].split()
        last = words[-1] if words else ""
        if "." in last or last.lower() in _ABBREVIATIONS or (len(last) == 1 and last.isupper()):
            continue
        return text[: match.end()]
    return text


def headline(text: str, limit: int = HEADLINE_MAX_CHARS) -> str:
    """A headline-sized title: the first sentence, cut at a word boundary to `limit` chars."""
    sentence = first_sentence(text)
    if re.search(r"[a-z0-9]\.$", sentence):  # headlines carry no full stop
        sentence = sentence[:-1]
    if len(sentence) <= limit:
        return sentence
    cut = sentence[:limit].rsplit(" ", 1)[0] if " " in sentence[:limit] else sentence[:limit]
    return cut.rstrip(" ,;:-–—") + "…"


def body_title(body: str) -> str:
    """A title for an article that has none: the headline of its first sentence, without the
    dateline ("UNITED NATIONS -- Venezuela's political showdown moves …")."""
    return headline(read_dateline(body).rest)


def _problem(path: Path | str, reason: str, *, fatal: bool = True) -> LoadProblem:
    return LoadProblem(path=str(path), reason=reason, fatal=fatal)


def _load_directory(root: Path) -> Iterator[Loaded]:
    """Every supported file under `root`. Files of other types are named in one warning, and a
    folder that holds files but none of a supported type is an error (nothing was ingested)."""
    supported: list[Path] = []
    skipped: Counter[str] = Counter()
    for path in _walk_visible(root):
        if path.suffix.lower() in SUPPORTED_SUFFIXES:
            supported.append(path)
        else:
            skipped[path.suffix.lower() or "(no suffix)"] += 1
    if skipped:
        reason = _skipped_reason(skipped, nothing_else=not supported)
        yield _problem(root, reason, fatal=not supported)
    if not supported:
        if not skipped:
            yield _problem(root, "directory contains no files", fatal=False)
        return
    for path in sorted(supported, key=lambda p: p.relative_to(root).parts):
        try:
            yield from _load_tracked_file(path)
        except OSError as error:
            yield _problem(path, f"cannot read: {error.strerror or error}")


def _skipped_reason(skipped: Counter[str], *, nothing_else: bool) -> str:
    kinds = ", ".join(f"{count} {suffix}" for suffix, count in sorted(skipped.items()))
    files = plural(sum(skipped.values()), "file")
    if nothing_else:
        return f"no supported files: {files} of other types ({kinds}); supported: {_SUPPORTED_LIST}"
    return f"skipped {files} of unsupported types ({kinds}); supported: {_SUPPORTED_LIST}"


def _walk_visible(root: Path) -> Iterator[Path]:
    """Regular files under `root`, hidden files and folders left out."""
    for directory, subdirs, names in os.walk(root):
        subdirs[:] = [name for name in subdirs if not name.startswith(".")]
        for name in names:
            path = Path(directory) / name
            if not name.startswith(".") and path.is_file():
                yield path

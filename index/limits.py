"""What every entry point accepts: the one place for input limits and their messages.

The CLI, the Python `Assistant`, the HTTP API and the chat window all call these checks, so a
question, a conversation or an uploaded file is refused for the same reason with the same words
wherever it arrives. It lives in `index/` (the lowest layer) because the file loaders use the
file checks too; `qa` and `ui` import it from here.

Each check returns the cleaned value or raises `InputError`, a `ValueError` that names the
request field, the HTTP status an API should answer with, and a short machine-readable code.
File names are metadata: they are checked so they can be shown and stored, never used as paths.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from datetime import date
from pathlib import PurePosixPath
from typing import Any

from index.models import parse_day

MAX_QUESTION_CHARS = 2_000
MAX_HISTORY_TURNS = 50
MAX_TURN_CHARS = 20_000  # an earlier answer with its citations fits easily
# Messages of one OpenAI-compatible request (/v1): a client sends the whole conversation each
# time, and the server reads its most recent MAX_HISTORY_TURNS turns (follow-ups are rewritten
# from the last few), so this only bounds the work of one request: 500 questions and answers.
MAX_CHAT_MESSAGES = 1_000
MAX_K = 50  # passages handed to the answerer
MAX_SOURCES = 100  # publisher names in one filter
MAX_FILE_BYTES = 10 * 1024 * 1024  # per file, whoever reads it (upload, UI, CLI)
MAX_UPLOAD_FILES = 50  # files in one upload or one ingest
# A whole request body: one maximal file plus multipart framing and a few small fields.
MAX_BODY_BYTES = MAX_FILE_BYTES + 256 * 1024
# One chat-window upload: Gradio's browser client sends all the files of a batch in one request,
# and a file over MAX_FILE_BYTES is refused on its own (its bytes counted, not kept).
MAX_UPLOAD_BODY_BYTES = MAX_UPLOAD_FILES * MAX_FILE_BYTES + 256 * 1024
# Bodies that carry no file: chat-window events (a question and a few controls), login forms.
MAX_FORM_BYTES = 64 * 1024
MAX_FILE_NAME_BYTES = 255  # what a Linux file system allows in one name
# One article's body. The longest of MultiHop-RAG's 609 news articles is 71,034 characters; a
# 9 MB one-article upload (10,371 chunks) kept a core busy for 24 minutes and grew the server
# by 2 GB (round 19 sweep). A million characters is ~1,200 chunks, about a minute to embed.
MAX_ARTICLE_CHARS = 1_000_000
SUPPORTED_SUFFIXES: frozenset[str] = frozenset(
    {".txt", ".md", ".markdown", ".html", ".htm", ".json", ".jsonl", ".ndjson", ".pdf"}
)


class InputError(ValueError):
    """Input refused by a limit. `str(error)` is the message every entry point shows."""

    def __init__(self, message: str, *, field: str, status: int = 422, code: str = "invalid_value"):
        super().__init__(message)
        self.field = field
        self.status = status
        self.code = code


# --- questions and conversations -------------------------------------------------------------
def check_text(text: str, field: str) -> str:
    """JSON "\\ud800" decodes to a lone surrogate: not text, and a crash when echoed back."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise InputError(
            f"{field} is not valid Unicode (lone surrogate at character {error.start})",
            field=field,
        ) from None
    return text


def check_question(question: Any, field: str = "question") -> str:
    """The question without surrounding white space; 1 to MAX_QUESTION_CHARS characters."""
    if not isinstance(question, str):
        raise InputError(f"{field} must be text, not {type(question).__name__}", field=field)
    if len(question) > MAX_QUESTION_CHARS:  # before any other work on a huge string
        raise InputError(
            f"{field} is {len(question)} characters; the limit is {MAX_QUESTION_CHARS}",
            field=field,
            code="too_long",
        )
    if not question.strip():
        raise InputError(f"{field} must not be empty", field=field)
    return check_text(question, field).strip()


TURN_SHAPE = '{"role": "user" or "assistant", "content": text}'


def check_history(turns: Sequence[Any], field: str = "history") -> Sequence[Any]:
    """A list of at most MAX_HISTORY_TURNS earlier turns, each at most MAX_TURN_CHARS
    characters. (Python callers may pass any sequence; text is not a list of turns.)"""
    if isinstance(turns, str | bytes) or not isinstance(turns, Sequence):
        raise InputError(
            f"{field} must be a list of turns, each {TURN_SHAPE} (or a qa.types.Turn), not "
            f"{type(turns).__name__}: {shown_value(turns)}",
            field=field,
        )
    if len(turns) > MAX_HISTORY_TURNS:
        raise InputError(
            f"{field} has {len(turns)} turns; the limit is {MAX_HISTORY_TURNS} (send the most "
            "recent ones: a follow-up is read with the last few turns)",
            field=field,
            code="too_long",
        )
    for index, turn in enumerate(turns):
        content = turn.get("content") if isinstance(turn, dict) else getattr(turn, "content", "")
        if isinstance(content, str):
            check_turn_length(content, f"{field}.{index}.content")
    return turns


def shown_value(value: Any, limit: int = 60) -> str:
    """A wrong value as a message quotes it after its type: its repr, cut to `limit`."""
    shown = repr(value)
    return shown if len(shown) <= limit else shown[:limit] + "…"


def check_turn_length(content: str, field: str) -> str:
    """One earlier turn of a conversation (a question or an answer): at most MAX_TURN_CHARS."""
    if len(content) > MAX_TURN_CHARS:
        raise InputError(
            f"{field} is {len(content)} characters; the limit is {MAX_TURN_CHARS} per turn",
            field=field,
            code="too_long",
        )
    return content


def check_k(k: int | None, field: str = "k") -> int | None:
    if k is not None and not 1 <= k <= MAX_K:
        raise InputError(f"{field} must be between 1 and {MAX_K}, not {k}", field=field)
    return k


def check_sources(sources: Sequence[str] | None, field: str = "sources") -> Sequence[str] | None:
    if sources is None:
        return None
    if isinstance(sources, str):  # iterating it would filter on its single characters
        raise InputError(
            f"{field} must be a list of publisher names, not text ({sources[:40]!r})", field=field
        )
    if len(sources) > MAX_SOURCES:
        raise InputError(
            f"{field} names {len(sources)} publishers; the limit is {MAX_SOURCES}", field=field
        )
    for source in sources:
        if not isinstance(source, str):  # the chat window's API passes whatever JSON it got
            raise InputError(
                f"{field} must be publisher names as text, not {type(source).__name__}",
                field=field,
            )
        check_text(source, field)
    return sources


def check_day(value: Any, field: str) -> str | None:
    """A publication-day bound as text: YYYY-MM-DD or an ISO datetime (a `date` or `datetime`
    in ISO form); None when empty."""
    if value is None:
        return None
    if isinstance(value, date):  # datetime is a date too
        return value.isoformat()
    if not isinstance(value, str):
        raise InputError(f"{field} must be a date as text, not {type(value).__name__}", field=field)
    text = value.strip()
    if not text:
        return None
    try:
        parse_day(text)
    except ValueError:
        raise InputError(
            f"{field} must be a date like 2019-01-26 (YYYY-MM-DD or an ISO datetime), "
            f"not {text[:40]!r}",
            field=field,
        ) from None
    return text


def check_period(since: Any, until: Any) -> tuple[str | None, str | None]:
    """Both bounds checked, and the first not after the last."""
    first, last = check_day(since, "since"), check_day(until, "until")
    start, end = parse_day(first), parse_day(last)
    if start is not None and end is not None and start.date() > end.date():
        raise InputError(
            f"since ({start.date()}) is after until ({end.date()}): no day is in that range",
            field="since",
        )
    return first, last


# --- files ---------------------------------------------------------------------------------------
def shown_name(name: str, limit: int = 80) -> str:
    """A file name as messages quote it: repr (so control bytes are visible), cut to `limit`."""
    return repr(name if len(name) <= limit else name[:limit] + "…")


def check_file_name(name: Any, field: str = "files") -> str:
    """A plain file name (no directory, no control character, at most 255 UTF-8 bytes) of a
    supported type. Returns it unchanged: it is shown and stored, never opened as a path."""
    if not isinstance(name, str) or not name.strip():
        raise InputError("an uploaded file has no file name", field=field, status=400)
    shown = shown_name(name)
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:  # undecodable bytes (surrogate escapes) are not a name to show
        raise InputError(
            f"file name {shown} is not valid UTF-8", field=field, status=400, code="bad_file_name"
        ) from None
    if size > MAX_FILE_NAME_BYTES:
        raise InputError(
            f"file name {shown} is {size} bytes; the limit is {MAX_FILE_NAME_BYTES}",
            field=field,
            status=400,
            code="bad_file_name",
        )
    # With no separator in it, a name can only point elsewhere by being "." or "..": refuse
    # names of dots alone (and spaces, which Windows drops), not "report..final.txt".
    if not name.strip(". ") or "/" in name or "\\" in name or _has_control_character(name):
        raise InputError(
            f"refusing file name {shown}: it must not contain '/', '\\' or control characters, "
            "nor be only dots",
            field=field,
            status=400,
            code="bad_file_name",
        )
    check_file_type(name, field)
    return name


def _has_control_character(name: str) -> bool:
    return any(unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp") for char in name)


def check_file_type(name: str, field: str = "files") -> str:
    """The lower-case suffix of `name`, if it is one the loaders read."""
    suffix = PurePosixPath(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise InputError(
            f"unsupported file type {suffix or '(none)'!r} for {shown_name(name)}; "
            f"supported: {', '.join(sorted(SUPPORTED_SUFFIXES))}",
            field=field,
            status=415,
            code="unsupported_file_type",
        )
    return suffix


def check_file_size(name: str, size: int, field: str = "files") -> int:
    if size > MAX_FILE_BYTES:
        raise InputError(
            f"{shown_name(name)} is too large: {size / 2**20:.1f} MB; "
            f"the limit is {MAX_FILE_BYTES // 2**20} MB per file",
            field=field,
            status=413,
            code="too_large",
        )
    return size


def article_too_long(body: str) -> str | None:
    """Why an article body is refused for its length, or None."""
    if len(body) <= MAX_ARTICLE_CHARS:
        return None
    return (
        f"the article is {len(body):,} characters; the limit is {MAX_ARTICLE_CHARS:,} per "
        "article (a news article is far shorter): split it into articles"
    )


def check_file_count(count: int, field: str = "files") -> int:
    if count > MAX_UPLOAD_FILES:
        raise InputError(
            f"{count} files; the limit is {MAX_UPLOAD_FILES} per upload",
            field=field,
            status=413,
            code="too_many_files",
        )
    return count


def too_large_body(size: int, limit: int) -> str:
    """The message for a request body over its limit."""
    return f"request body is {size / 1e6:.1f} MB; the limit is {limit / 1e6:.1f} MB"

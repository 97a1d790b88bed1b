"""Uploaded files, from the HTTP API or the chat window, into articles.

A client names its files; the name is metadata (checked by `index.limits.check_file_name`,
shown and stored as the article's origin, and what an edited re-upload is matched by) and is
never opened as a path. The chat window's
files arrive through Gradio's upload route into Gradio's upload folder; `read_received` reads
only files inside that folder, only regular ones, and never more than the size limit, so a
client-supplied path (`/etc/…`, `/dev/zero`, a FIFO, a symlink out) is refused unread.

Gradio's browser client sends all the files of one upload in one request, so a file that breaks
a per-file limit (name, type, size) cannot be refused there without refusing its batch: the
access door (`qa.access.gradio_guard.filter_upload`) replaces it with a small placeholder
(`refusal_placeholder`) that Gradio stores like any file, and `load_received` reports it, by
its name and with the shared message, while the rest of the batch is ingested.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from index.limits import (
    MAX_FILE_BYTES,
    InputError,
    check_file_count,
    check_file_name,
    check_file_size,
    check_file_type,
    shown_name,
)
from index.loaders import load_file, with_file_key
from index.models import Article, LoadProblem

NOT_RECEIVED = "refusing a file path the server did not receive as an upload"
# What the door stores instead of a refused file. Its suffix is no supported type, so a client's
# own file of this name is itself refused and replaced: a file of this name was written by us.
REFUSED_NAME = "refused-upload.newsqa"
MAX_PLACEHOLDER_BYTES = 64 * 1024


@dataclass(frozen=True)
class Upload:
    name: str  # the client's file name: metadata only
    data: bytes


def check_uploads(uploads: Sequence[Upload]) -> None:
    """Count, names, types and sizes: InputError for the first that breaks a limit."""
    check_file_count(len(uploads))
    for upload in uploads:
        check_file_name(upload.name)
        check_file_size(upload.name, len(upload.data))


def load_uploads(uploads: Sequence[Upload]) -> list[Article | LoadProblem]:
    """Parse each upload from a private temp file named by us, reporting by the client's name."""
    check_uploads(uploads)
    items: list[Article | LoadProblem] = []
    with tempfile.TemporaryDirectory(prefix="newsqa-upload-") as folder:
        for index, upload in enumerate(uploads):
            path = Path(folder) / f"{index}{check_file_type(upload.name)}"
            path.write_bytes(upload.data)
            # An upload is known by its name only: a re-upload of an edited file replaces the
            # earlier version (under the same guard as a file: same outlet, a near-duplicate).
            for item in with_file_key(load_file(path), path.name, f"upload:{upload.name}"):
                if isinstance(item, Article):
                    where = item.origin.removeprefix(path.name)  # "#3" or ":7" or ""
                    items.append(item.model_copy(update={"origin": f"upload:{upload.name}{where}"}))
                else:
                    items.append(item.model_copy(update={"path": upload.name}))
    return items


def refusal_placeholder(name: str, reason: str) -> bytes:
    """The content of the placeholder stored for a refused file: its name (as messages quote
    it when it is long or holds control characters) and why."""
    shown = name if name.isprintable() and 0 < len(name) <= 80 else shown_name(name)
    return json.dumps({"name": shown, "reason": reason}).encode("utf-8")


def load_received(paths: Sequence[str], upload_root: str | Path) -> list[Article | LoadProblem]:
    """The files Gradio received, loaded; each one refused (by the door's placeholder, or for
    its name, type or size here) is a LoadProblem naming it, and the others go on. InputError
    for the batch only when it is too many files or names a path the server did not receive."""
    check_file_count(len(paths))
    uploads: list[Upload] = []
    refused: list[LoadProblem] = []
    for path in paths:
        if not is_received(path, upload_root):
            raise InputError(NOT_RECEIVED, field="files", status=400, code="not_an_upload")
        if Path(path).name == REFUSED_NAME:
            refused.append(_placeholder_problem(path))
            continue
        try:
            uploads.append(read_received(path, upload_root))
        except InputError as problem:
            if problem.code == "not_an_upload":
                raise
            refused.append(LoadProblem(path=Path(path).name, reason=str(problem)))
    return [*refused, *load_uploads(uploads)]


def _placeholder_problem(path: str) -> LoadProblem:
    try:
        with open(path, "rb") as handle:
            note = json.loads(handle.read(MAX_PLACEHOLDER_BYTES))
        return LoadProblem(path=str(note["name"]), reason=str(note["reason"]))
    except (OSError, ValueError, TypeError, KeyError):
        return LoadProblem(path="upload", reason="the server refused this file")


def read_received(path: str, upload_root: str | Path) -> Upload:
    """The bytes of a file Gradio received into `upload_root`; InputError for anything else.

    The path is resolved first (so a symlink pointing out of the folder is outside it), opened
    without following a final symlink and without blocking, and checked to be a regular file
    before a single byte is read; at most MAX_FILE_BYTES + 1 bytes are read."""
    real = _inside(path, upload_root)
    if real is None:
        raise InputError(NOT_RECEIVED, field="files", status=400, code="not_an_upload")
    name = check_file_name(real.name)
    try:
        fd = os.open(real, os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW)
    except OSError:
        raise InputError(NOT_RECEIVED, field="files", status=400, code="not_an_upload") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise InputError(NOT_RECEIVED, field="files", status=400, code="not_an_upload")
        check_file_size(name, info.st_size)
        data = handle.read(MAX_FILE_BYTES + 1)
    check_file_size(name, len(data))
    return Upload(name=name, data=data)


def is_received(path: str, upload_root: str | Path) -> bool:
    """Does `path` name a regular file inside `upload_root` (without reading it)?"""
    real = _inside(path, upload_root)
    if real is None:
        return False
    try:
        return stat.S_ISREG(os.lstat(real).st_mode)
    except OSError:
        return False


def discard_received(path: str, upload_root: str | Path) -> None:
    """Delete a received file, and its folder when that is left empty (never the root)."""
    real = _inside(path, upload_root)
    if real is None:
        return
    real.unlink(missing_ok=True)
    if real.parent != Path(os.path.realpath(upload_root)):
        with contextlib.suppress(OSError):  # not empty: another file with the same hash
            real.parent.rmdir()


def _inside(path: object, upload_root: str | Path) -> Path | None:
    """`path` resolved (symlinks followed), if that lies strictly inside `upload_root`."""
    if not isinstance(path, str) or not path or not os.path.isabs(path):
        return None
    try:
        root = Path(os.path.realpath(upload_root))
        real = Path(os.path.realpath(path))
    except (ValueError, OSError):  # NUL byte, symlink loop
        return None
    return real if real != root and real.is_relative_to(root) else None

"""What a Gradio request asks for, read from its body before Gradio sees it.

Gradio's event routes (`/gradio_api/queue/join`, `run/`, `api/`, `call/`) run the handler that
`fn_index` in the body or the `api_name` in the path names, so their permission is the one that
handler declared (`qa.access.policy.requires`). Their bodies may also carry file objects
(`{"path": …}`) that Gradio would copy and hash from anywhere on disk, because a mounted app
never runs Gradio's own path check (`blocks.has_launched` stays false): every such path must
be a regular file Gradio received in its upload folder. Uploads (`/gradio_api/upload`) meet
the API's limits (`index.limits`): the count for the whole upload, names, types and sizes per
file, a refused file being replaced by a placeholder so the rest of the batch goes on
(`UploadFilter`).
"""

from __future__ import annotations

import io
import json
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from index.limits import (
    MAX_FILE_BYTES,
    MAX_FORM_BYTES,
    MAX_UPLOAD_FILES,
    InputError,
    check_file_count,
    check_file_name,
    check_file_size,
)
from qa.access.policy import GRADIO_API, Permission, permission_of
from qa.uploads import NOT_RECEIVED, REFUSED_NAME, is_received, refusal_placeholder

MAX_UPLOAD_FIELDS = 100  # non-file parts of one upload (Gradio's client sends none)
SPOOL_BYTES = 1024 * 1024  # kept in memory; beyond that a temporary file


@dataclass
class GradioEvents:
    """The event handlers of one mounted gr.Blocks: permission by fn id, ids by api name."""

    upload_dir: str
    permissions: dict[int, Permission] = field(default_factory=dict)
    by_api_name: dict[str, list[int]] = field(default_factory=dict)

    @classmethod
    def of(cls, blocks: Any, upload_dir: str) -> GradioEvents:
        events = cls(upload_dir=upload_dir)
        for fn_id, block_fn in blocks.fns.items():
            events.permissions[fn_id] = permission_of(block_fn.fn)
            if block_fn.api_name:
                events.by_api_name.setdefault(str(block_fn.api_name), []).append(fn_id)
        return events

    def needed(self, path: str, body: Any) -> Permission:
        """The strictest permission among the handlers this request could run. InputError
        when the body is not an event request or carries a path Gradio did not receive."""
        if not isinstance(body, dict):
            raise InputError("an event request body must be a JSON object", field="body")
        fn_ids = self._handlers(path, body)
        for value in _file_paths(body):
            if not is_received(value, self.upload_dir):
                raise InputError(NOT_RECEIVED, field="data", status=400, code="not_an_upload")
        if not fn_ids:  # names no handler: Gradio refuses it ("No function index provided")
            return Permission.ASK
        return max(self.permissions[fn_id] for fn_id in fn_ids)

    def _handlers(self, path: str, body: dict) -> list[int]:
        fn_ids = []
        fn_index = body.get("fn_index")
        if fn_index is not None:
            if not isinstance(fn_index, int) or fn_index not in self.permissions:
                raise InputError(
                    f"fn_index {str(fn_index)[:20]} is not an event of this app",
                    field="fn_index",
                    status=404,
                    code="no_such_event",
                )
            fn_ids.append(fn_index)
        api_name = _api_name(path)
        if api_name is not None:
            if api_name not in self.by_api_name:
                raise InputError(
                    f"no event of this app is named {api_name[:40]!r}",
                    field="api_name",
                    status=404,
                    code="no_such_event",
                )
            fn_ids += self.by_api_name[api_name]
        return fn_ids


def _api_name(path: str) -> str | None:
    """`chat` for /gradio_api/run/chat, /api/chat, /call/chat and /call/v2/chat."""
    rest = path.removeprefix(GRADIO_API).strip("/")
    for prefix in ("call/v2/", "run/", "api/", "call/"):
        if rest.startswith(prefix):
            return rest.removeprefix(prefix).split("/")[0]
    return None


def _file_paths(value: Any, depth: int = 0) -> Iterator[Any]:
    """Every `path` of a dict anywhere in the body (Gradio file objects, any version)."""
    if depth > 64:  # deeper than any component's value: refuse rather than recurse on
        raise InputError("event data nested too deeply", field="data")
    if isinstance(value, dict):
        if "path" in value:
            yield value["path"]
        for item in value.values():
            yield from _file_paths(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            yield from _file_paths(item, depth + 1)


def parse_event_body(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise InputError("request body is not valid JSON", field="body") from None


class UploadFilter:
    """A Gradio upload body, re-encoded part by part as it arrives: a file that breaks a
    per-file limit (name, type, size) is replaced by a placeholder naming it and the reason
    (`qa.uploads.refusal_placeholder`), so Gradio stores the rest and the batch goes on.

    What still refuses the whole request (InputError): a body that is no multipart, more
    than MAX_UPLOAD_FILES files or MAX_UPLOAD_FIELDS other fields, a body over
    MAX_UPLOAD_BODY_BYTES. A file's bytes beyond MAX_FILE_BYTES are counted, never kept; the
    output is spooled to disk past 1 MB."""

    def __init__(self, content_type: str, charset: str = "utf-8") -> None:
        _, params = parse_options_header(content_type)
        boundary = params.get(b"boundary")
        if not boundary:
            raise _unparsable("no boundary in the Content-Type")
        self.boundary = boundary
        self.charset = params.get(b"charset", charset.encode()).decode("latin-1")
        self.out = _spool()
        self.files = self.fields = 0
        self.ended = False
        self._part: _Part | None = None
        self._header_name = self._header_value = b""
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._begin,
                "on_header_field": self._header_field,
                "on_header_value": self._header_value_data,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._data,
                "on_part_end": self._end_part,
                "on_end": self._end,
            },
        )

    def write(self, chunk: bytes) -> None:
        try:
            self._parser.write(chunk)
        except MultipartParseError as exc:
            raise _unparsable(str(exc) or type(exc).__name__) from None

    def finish(self) -> IO[bytes]:
        """The re-encoded body, rewound; InputError when the body ended early."""
        self._parser.finalize()
        if not self.ended:
            raise _unparsable("the body ends before its closing boundary")
        self.out.seek(0)
        return self.out

    def close(self) -> None:
        self.out.close()
        if self._part is not None:
            self._part.data.close()

    # --- python_multipart callbacks ----------------------------------------------------------
    def _begin(self) -> None:
        self._part = _Part()

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _header_value_data(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        assert self._part is not None
        self._part.headers.append((self._header_name, self._header_value))
        if self._header_name.lower() == b"content-disposition":
            self._part.disposition = self._header_value
        self._header_name = self._header_value = b""

    def _headers_finished(self) -> None:
        assert self._part is not None
        _, options = parse_options_header(self._part.disposition)
        self._part.field_name = options.get(b"name", b"files")
        if b"filename" in options:
            self.files += 1
            if self.files > MAX_UPLOAD_FILES:
                check_file_count(self.files)  # raises, with the shared message
            self._part.name = _decode(options[b"filename"], self.charset)
        else:
            self.fields += 1
            if self.fields > MAX_UPLOAD_FIELDS:
                raise _unparsable(f"more than {MAX_UPLOAD_FIELDS} fields")

    def _data(self, data: bytes, start: int, end: int) -> None:
        part = self._part
        assert part is not None
        part.size += end - start
        if part.name is None and part.size > MAX_FORM_BYTES:
            raise _unparsable(f"a field is over {MAX_FORM_BYTES} bytes")
        if part.size <= MAX_FILE_BYTES:
            part.data.write(data[start:end])

    def _end_part(self) -> None:
        part, self._part = self._part, None
        assert part is not None
        with part.data:
            reason = None if part.name is None else _refusal(part.name, part.size)
            if reason is None:
                self._emit(part.headers, part.data)
            else:
                note = refusal_placeholder(part.name or "", reason)
                disposition = b'form-data; name="%s"; filename="%s"' % (
                    part.field_name.replace(b'"', b""),
                    REFUSED_NAME.encode(),
                )
                headers = [
                    (b"Content-Disposition", disposition),
                    (b"Content-Type", b"application/json"),
                ]
                self._emit(headers, io.BytesIO(note))

    def _end(self) -> None:
        self.out.write(b"--" + self.boundary + b"--\r\n")
        self.ended = True

    def _emit(self, headers: list[tuple[bytes, bytes]], data: IO[bytes]) -> None:
        self.out.write(b"--" + self.boundary + b"\r\n")
        for name, value in headers:
            self.out.write(name + b": " + value + b"\r\n")
        self.out.write(b"\r\n")
        data.seek(0)
        shutil.copyfileobj(data, self.out)
        self.out.write(b"\r\n")


@dataclass
class _Part:
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    disposition: bytes = b""
    field_name: bytes = b"files"
    name: str | None = None  # a file's name; None for another field
    size: int = 0
    data: IO[bytes] = field(default_factory=lambda: _spool())


def _spool() -> IO[bytes]:
    """Bytes in memory up to SPOOL_BYTES, then in a temporary file (closed by its owner)."""
    return tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)


def _refusal(name: str, size: int) -> str | None:
    """Why one uploaded file is refused (the shared message), or None."""
    try:
        check_file_name(name)
        check_file_size(name, size)
    except InputError as refused:
        return str(refused)
    return None


def _decode(raw: bytes, charset: str) -> str:
    """A header value as Gradio decodes it (its charset, else Latin-1)."""
    try:
        return raw.decode(charset)
    except (UnicodeDecodeError, LookupError):
        return raw.decode("latin-1")


def _unparsable(detail: str) -> InputError:
    return InputError(f"cannot parse the multipart body: {detail}", field="files", status=400)

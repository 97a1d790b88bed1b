"""What a Gradio request asks for, read from its body before Gradio sees it.

Gradio's event routes (`/gradio_api/queue/join`, `run/`, `api/`, `call/`) run the handler that
`fn_index` in the body or the `api_name` in the path names, so their permission is the one that
handler declared (`qa.access.policy.requires`). Their bodies may also carry file objects
(`{"path": …}`) that Gradio would copy and hash from anywhere on disk, because a mounted app
never runs Gradio's own path check (`blocks.has_launched` stays false): every such path must
be a regular file Gradio received in its upload folder. Uploads (`/gradio_api/upload`) are
checked like the API's: count, names, types and sizes (`index.limits`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import UploadFile
from starlette.requests import Request

from index.limits import (
    InputError,
    check_file_count,
    check_file_name,
    check_file_size,
)
from qa.access.policy import GRADIO_API, Permission, permission_of
from qa.uploads import NOT_RECEIVED, is_received


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


async def check_upload_form(request: Request) -> None:
    """An upload to Gradio meets the API's limits: count, names, types, sizes."""
    try:
        form = await request.form(max_files=1000, max_fields=100)
    except Exception as exc:  # malformed multipart, too many parts
        detail = getattr(exc, "detail", None) or type(exc).__name__
        raise InputError(
            f"cannot parse the multipart body: {detail}", field="files", status=400
        ) from None
    try:
        files = [value for _, value in form.multi_items() if isinstance(value, UploadFile)]
        check_file_count(len(files))
        for upload in files:
            check_file_name(upload.filename)
            check_file_size(upload.filename or "", upload.size or 0)
    finally:
        await form.close()

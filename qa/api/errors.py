"""Errors as JSON (the OpenAI error shape plus the request `field`), the request body size
limit. (Who may call what is `qa.access`, in front of every route.)"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from chromadb.errors import InternalError, NotFoundError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match, Mount

from index.limits import MAX_BODY_BYTES, InputError, too_large_body
from index.store import (
    LexicalDirError,
    VectorIndexDamagedError,
    unavailable_errors,
    vector_damage,
)
from qa.assistant import AssistantError
from qa.error_shape import ErrorBody, ErrorResponse, error_body, error_response

__all__ = ["ErrorBody", "ErrorResponse", "error_body", "error_response"]

log = logging.getLogger("qa.api")  # the name it logged under before the package split


# --- errors -------------------------------------------------------------------------------------
# The shape lives in qa.error_shape so that qa.access (in front of the API) answers in it too.
class ApiError(HTTPException):
    """An HTTPException that names the request field at fault."""

    def __init__(
        self, status: int, message: str, field: str | None = None, code: str | None = None
    ) -> None:
        super().__init__(status, message)
        self.field = field
        self.code = code


def _field_name(location: tuple[Any, ...]) -> str:
    parts = [str(p) for p in location if p not in ("body", "query", "path")]
    return ".".join(parts) or "body"


def _error_field(error: dict[str, Any]) -> str:
    """The field an error is about; for malformed JSON the body (its location is an offset)."""
    return "body" if error.get("type") == "json_invalid" else _field_name(tuple(error["loc"]))


def _validation_message(errors: list[dict[str, Any]]) -> tuple[str, str, str]:
    """(field, message, code) of the first error."""
    first = errors[0]
    refused = (first.get("ctx") or {}).get("error")
    if isinstance(refused, InputError):  # a shared limit: its message and code, as everywhere
        return refused.field, str(refused), refused.code
    field = _field_name(tuple(first.get("loc", ())))
    msg = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    if first.get("type") == "json_invalid":
        return "body", f"request body is not valid JSON: {msg}", "invalid_value"
    if first.get("type") == "missing":
        return field, f"{field}: field required", "invalid_value"
    return field, f"{field}: {msg}", "invalid_value"


async def _on_lexical_dir(_: Request, exc: Exception) -> JSONResponse:
    """QA_BM25_DIR broke under a write (stored in Chroma, not indexed): 503, no server path."""
    assert isinstance(exc, LexicalDirError)  # registered for LexicalDirError only
    log.error("%s", exc)  # the operator's line, with the path
    return error_response(503, exc.public, code="index_unavailable")


async def _on_chroma_internal(request: Request, exc: Exception) -> JSONResponse:
    """A vector index damaged by a crash (index.repair): 503 naming the fix, no server path;
    the index is marked so the server repairs it when it next starts. Anything else: a 500."""
    damaged = exc if isinstance(exc, VectorIndexDamagedError) else None
    damaged = damaged or vector_damage(exc, request.app.state.settings)
    if damaged is None:
        log.error("Chroma failed: %s", exc, exc_info=exc)
        return error_response(500, f"the article index failed: {type(exc).__name__}")
    log.error("%s", damaged)  # the operator's line, with the path
    return error_response(503, damaged.public, code="index_unavailable")


def install_error_handlers(app: FastAPI) -> None:
    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)  # registered for RequestValidationError only
        errors = list(exc.errors())
        content_type = request.headers.get("content-type", "").lower()
        first = errors[0] if errors else {}
        sent = tuple(first.get("loc", ())) == ("body",) and first.get("type") != "missing"
        if sent and "json" not in content_type:
            return error_response(  # as /api/v1/articles says it: the body is not JSON at all
                415,
                f"content type {content_type or '(none)'!r}: send the request as application/json",
                field="Content-Type",
                code="unsupported_media_type",
            )
        field, message, code = (
            _validation_message(errors) if errors else ("body", "invalid request", "invalid_value")
        )
        body = error_body(422, message, field, code)
        body["errors"] = [
            {"field": _error_field(e), "message": str(e.get("msg", ""))} for e in errors
        ]
        return JSONResponse(body, status_code=422)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, HTTPException)  # registered for HTTPException only
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:  # starlette names only the first route's methods
            headers = {**(headers or {}), "Allow": ", ".join(_allowed_methods(request))}
        return error_response(
            exc.status_code,
            str(exc.detail),
            field=getattr(exc, "field", None),
            code=getattr(exc, "code", None),
            headers=headers,
        )

    async def on_input(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, InputError)  # registered for InputError only
        return error_response(exc.status, str(exc), field=exc.field, code=exc.code)

    async def on_assistant(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, AssistantError)  # registered for AssistantError only
        return error_response(400, str(exc), field="mode" if "mode" in str(exc) else None)

    async def on_unavailable(request: Request, exc: Exception) -> JSONResponse:
        settings = request.app.state.settings
        where = settings.chroma_url or "the embedded index"
        log.warning("Chroma unavailable: %s: %s", type(exc).__name__, exc)
        if isinstance(exc, NotFoundError):  # e.g. "Collection [articles-articles] does not exist"
            message = (
                f"the article index is unavailable: the Chroma server at {where} answers, but "
                f"{str(exc).rstrip('.')} (QA_COLLECTION={settings.collection!r}; restarted on "
                "another --path, or the collection deleted?); retry in a few seconds"
            )
        else:
            message = (
                f"the article index is unavailable (Chroma server at {where} cannot be "
                f"reached: {type(exc).__name__}); retry in a few seconds"
            )
        return error_response(503, message, code="index_unavailable", headers={"Retry-After": "5"})

    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(LexicalDirError, _on_lexical_dir)
    app.add_exception_handler(InternalError, _on_chroma_internal)
    app.add_exception_handler(VectorIndexDamagedError, _on_chroma_internal)
    app.add_exception_handler(HTTPException, on_http)
    app.add_exception_handler(InputError, on_input)
    app.add_exception_handler(AssistantError, on_assistant)
    for error_type in unavailable_errors():
        app.add_exception_handler(error_type, on_unavailable)


HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
UNKNOWN_ROUTE = "unknown_api_route"  # the name of the /api/v1 and /v1 catch-all routes


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app serves at this path: asked of each route's own
    `matches` (routers included by FastAPI are routes too), leaving out mounts (the chat
    window at "/" matches every path) and the catch-all that answers 404/405."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Mount) or getattr(route, "name", None) == UNKNOWN_ROUTE:
            continue
        for method in HTTP_METHODS:
            match, _ = route.matches({**request.scope, "method": method})
            if match == Match.FULL:
                methods.add(method)
    return sorted(methods)


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": text}
    for code, text in {
        400: "The request cannot be served as asked (or its body cannot be parsed).",
        401: "No credential, or a wrong bearer key (when QA_API_KEY or QA_UI_USERS is set).",
        422: "A request field is invalid; `error.field` names it.",
        503: "The Chroma server cannot be reached, or the index's collection is gone from it.",
    }.items()
}


def _responses(*extra: int) -> dict[int | str, dict[str, Any]]:
    texts = {
        403: "The credential may not change articles (a UI user not in QA_UI_EDITORS).",
        404: "No such article.",
        413: "Upload too large.",
        415: "Unsupported file or content type.",
    }
    return {
        **ERROR_RESPONSES,
        **{code: {"model": ErrorResponse, "description": texts[code]} for code in extra},
    }


# --- errors after the response started ---------------------------------------------------------
class LateErrorMiddleware:
    """An HTTP error raised after the response started can no longer be sent: the client has
    the status line and part of the body. Gradio's event stream does this on purpose: for an
    unknown session, /gradio_api/queue/data sends its `session_not_found` event and then
    re-raises the 404, which Starlette turns into "response already started" and uvicorn
    logs with a ~100-line traceback, for anyone who sends such a request. Here the response
    is ended and one line is logged; any other exception is left to propagate."""

    def __init__(self, app: Callable[..., Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = {"start": False, "end": False}

        async def watched_send(message: dict) -> None:
            if message["type"] == "http.response.start":
                sent["start"] = True
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                sent["end"] = True
            await send(message)

        try:
            await self.app(scope, receive, watched_send)
        except Exception as exc:
            late = _http_error(exc)
            if late is None or not sent["start"]:
                raise
            log.info(
                "%s %s: HTTP %s after the response started; response ended",
                scope.get("method"),
                scope.get("path", "")[:200],
                late.status_code,
            )
            if not sent["end"]:
                await send({"type": "http.response.body", "body": b"", "more_body": False})


def _http_error(exc: BaseException) -> HTTPException | None:
    """The HTTPException itself, or the one Starlette wrapped in "response already started"."""
    if isinstance(exc, HTTPException):
        return exc
    return exc.__cause__ if isinstance(exc.__cause__, HTTPException) else None


# --- body size --------------------------------------------------------------------------------
class BodyLimitMiddleware:
    """413 for /api and /v1 request bodies over `limit` bytes, declared or streamed."""

    def __init__(self, app: Callable[..., Awaitable[None]], limit: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(("/api/", "/v1/")):
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared and declared.isdigit() and int(declared) > self.limit:
            await self._reject(scope, receive, send, int(declared))
            return
        seen = 0

        async def counting_receive() -> dict:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise ApiError(413, _too_large(seen, self.limit), field="body", code="too_large")
            return message

        await self.app(scope, counting_receive, send)

    async def _reject(self, scope: dict, receive: Callable, send: Callable, size: int) -> None:
        response = error_response(413, _too_large(size, self.limit), field="body", code="too_large")
        await response(scope, receive, send)


def _too_large(size: int, limit: int) -> str:
    return too_large_body(size, limit)

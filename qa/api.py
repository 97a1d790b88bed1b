"""The HTTP API: a FastAPI app over one `Assistant`, built by `create_app` (no module-level app).

Routes (all JSON unless said otherwise; OpenAPI docs at /docs):

    POST   /api/v1/answer               Answer (or SSE `delta`… then `answer` with stream=true)
    POST   /api/v1/search               SearchResult
    GET    /api/v1/articles?q=          article summaries, newest first (q: title words)
    GET    /api/v1/articles/{id}        one article with its body (ids are URLs: `{id:path}`,
                                        URL-encoding the id also works)
    POST   /api/v1/articles             ingest: multipart files, or JSON {"records": [...]}
    DELETE /api/v1/articles/{id}        delete an article and its chunks
    GET    /api/v1/health               index size, model names, LLM configured/reachable
    POST   /v1/chat/completions         OpenAI-compatible chat (stream and not) + "citations"
    GET    /v1/models                   OpenAI-compatible model list

Auth: with `QA_API_KEY` set every /api and /v1 route needs `Authorization: Bearer <key>` except
GET /api/v1/health, which stays open so load balancers and uptime checks need no secret; it
reveals counts and model names only, never article text.

Errors are JSON `{"detail": msg, "error": {"message", "type", "field", "code"}}` — the OpenAI
error shape plus the offending request `field` — with 401 (key), 404 (no such article),
413 (upload too large), 415 (file type), 400 (bad upload, unservable request), 422 (invalid
field) and 503 (Chroma server unreachable). Bad input never yields a 500.

Every Assistant call blocks (embedding, Chroma, LLM), so it runs in the threadpool; streams are
iterated in the threadpool too, one `next()` at a time, so the event loop stays free.
"""

from __future__ import annotations

import json
import logging
import secrets
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Literal

import anyio
import httpx
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from index.ingest import IngestReport
from index.loaders import SUPPORTED_SUFFIXES, decode_bytes, load_file
from index.models import Article, LoadProblem, parse_day
from index.settings import Settings
from index.store import ArticleRecord, StoreUnavailableError
from qa.assistant import Assistant, AssistantError
from qa.types import Answer, Citation, SearchResult, Turn

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
MAX_QUESTION_CHARS = 2_000
MAX_HISTORY_TURNS = 50
MAX_TURN_CHARS = 20_000  # an earlier answer with its citations fits easily
MAX_SOURCES = 100
MAX_UPLOAD_BYTES = 10 * 1024 * 1024  # per uploaded file, and per JSON records body
# A whole request body: one maximal file plus multipart framing and a few small fields.
MAX_BODY_BYTES = MAX_UPLOAD_BYTES + 256 * 1024
MAX_UPLOAD_FILES = 50
MAX_RECORDS = 10_000
LLM_PROBE_TTL_S = 30.0
LLM_PROBE_TIMEOUT_S = 2.0
MODEL_ID = "newsqa"
# OpenAI `model` names: the plain id answers like the default mode; the suffixed ones pin a mode.
MODEL_MODES: dict[str, Literal["extractive", "llm"] | None] = {
    MODEL_ID: None,
    f"{MODEL_ID}-extractive": "extractive",
    f"{MODEL_ID}-llm": "llm",
}
# Chroma server unreachable (httpx under chromadb's HttpClient), or our store saying so.
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    StoreUnavailableError,
    httpx.TransportError,
    ConnectionError,
)

Mode = Literal["extractive", "llm"]


# --- request and response schemas --------------------------------------------------------------
class ErrorBody(BaseModel):
    message: str
    type: str = Field(description="invalid_request_error, authentication_error, …")
    field: str | None = Field(default=None, description="The request field at fault.")
    code: str | None = None


class ErrorResponse(BaseModel):
    detail: str
    error: ErrorBody


def _check_unicode(text: str) -> str:
    """JSON "\\ud800" decodes to a lone surrogate: not text, and a 500 when echoed back."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise ValueError(f"is not valid Unicode (lone surrogate at character {error.start})"
                         ) from None
    return text


def _check_question(text: str) -> str:
    if not text.strip():
        raise ValueError("must not be empty")
    _check_unicode(text)
    if len(text) > MAX_QUESTION_CHARS:
        raise ValueError(f"is {len(text)} characters; the limit is {MAX_QUESTION_CHARS}")
    return text.strip()


def _check_day(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    try:
        parse_day(value)
    except ValueError:
        raise ValueError(f"{value[:40]!r} is not a date (YYYY-MM-DD or ISO datetime)") from None
    return value.strip()


class HistoryTurn(Turn):
    model_config = ConfigDict(strict=True)  # JSON types as documented: no "0" for 0

    content: str = Field(max_length=MAX_TURN_CHARS)


class Filters(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    k: int | None = Field(default=None, ge=1, le=50, description="Passages to use (default 8).")
    since: str | None = Field(default=None, description="Earliest publication day, YYYY-MM-DD.")
    until: str | None = Field(default=None, description="Latest publication day, YYYY-MM-DD.")
    sources: list[str] | None = Field(
        default=None, max_length=MAX_SOURCES, description="Only these publishers."
    )

    _days = field_validator("since", "until")(_check_day)

    @field_validator("sources")
    @classmethod
    def _sources_are_text(cls, sources: list[str] | None) -> list[str] | None:
        for source in sources or ():
            _check_unicode(source)
        return sources

    def options(self) -> dict[str, Any]:
        return {"k": self.k, "since": self.since, "until": self.until, "sources": self.sources}


class SearchRequest(Filters):
    question: str = Field(description=f"1 to {MAX_QUESTION_CHARS} characters.")

    _question = field_validator("question")(_check_question)


class AnswerRequest(SearchRequest):
    history: list[HistoryTurn] = Field(
        default_factory=list,
        max_length=MAX_HISTORY_TURNS,
        description="Earlier turns, oldest first; the server keeps no conversation state.",
    )
    mode: Mode | None = Field(default=None, description="Default: llm when configured.")
    stream: bool = Field(
        default=False,
        description="Server-sent events: `delta` events ({\"text\"}), then one `answer` event "
        "(the Answer JSON). A `replace` event ({\"text\"}) means the final text differs from "
        "the deltas so far (e.g. LLM fallback) and replaces them.",
    )


class RecordsRequest(BaseModel):
    model_config = ConfigDict(strict=True)

    records: list[dict[str, Any]] = Field(
        max_length=MAX_RECORDS,
        description="Article objects: title, body (or text/content), url, source, "
        "published_at, author, category.",
    )
    origin: str = Field(default="api", max_length=200, description="Names this batch.")


class ArticleSummary(BaseModel):
    article_id: str
    title: str
    source: str
    url: str
    author: str
    published: str
    published_ts: int
    category: str
    caption: str
    content_hash: str
    n_chunks: int
    near_duplicates: list[str]
    origin: str

    @classmethod
    def of(cls, record: ArticleRecord) -> ArticleSummary:
        return cls(
            **record.summary(),
            published_ts=record.published_ts,
            caption=record.caption,
            content_hash=record.content_hash,
        )


class ArticleDetail(ArticleSummary):
    body: str


class ArticleList(BaseModel):
    total: int = Field(description="Articles matching `q` (before limit/offset).")
    articles: list[ArticleSummary]


class Problem(BaseModel):
    path: str
    line: int | None = None
    reason: str


class IngestResponse(BaseModel):
    added: int
    updated: int
    unchanged: int
    failed: int
    chunks: int
    embedded: int
    seconds: float
    errors: list[Problem]
    warnings: list[Problem]
    article_ids: list[str] = Field(description="Ids of every article in the upload.")

    @classmethod
    def of(cls, report: IngestReport) -> IngestResponse:
        return cls(**report.to_dict(), article_ids=report.article_ids)


class Deleted(BaseModel):
    deleted: str


class LLMHealth(BaseModel):
    configured: bool
    model: str | None = None
    base_url: str | None = None
    reachable: bool | None = Field(
        default=None, description="GET {base_url}/models answered 200 (cached 30 s)."
    )
    detail: str = ""


class Health(BaseModel):
    status: Literal["ok"]
    version: str
    articles: int
    chunks: int
    collection: str
    embedding_model: str
    chroma: str = Field(description="Chroma server URL, or 'embedded'.")
    llm: LLMHealth
    auth_required: bool


# --- OpenAI-compatible schemas ------------------------------------------------------------------
class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        """Plain text of the message (text parts of a multi-part content list, joined)."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "\n".join(
            str(part.get("text", "")) for part in self.content if part.get("type") == "text"
        )


class ChatCompletionRequest(Filters):
    # temperature, max_tokens, … are accepted and unused
    model_config = ConfigDict(extra="allow", strict=True)

    model: str = Field(default=MODEL_ID, description=f"{', '.join(MODEL_MODES)}; others = default.")
    _model_is_text = field_validator("model")(_check_unicode)  # echoed back in the reply
    messages: list[ChatMessage] = Field(
        min_length=1, max_length=4 * MAX_HISTORY_TURNS,
        description="The last user message is the question; earlier user/assistant messages "
        "are the history (system messages are ignored).",
    )
    stream: bool = False
    mode: Mode | None = Field(default=None, description="Overrides the mode the model implies.")


class ChatResponseMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str


class ChatChoice(BaseModel):
    index: int = 0
    message: ChatResponseMessage
    finish_reason: Literal["stop"] = "stop"


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    citations: list[Citation] = Field(description="The sources behind the [n] markers.")
    answer: Answer = Field(description="The full newsqa Answer.")


class ChatDelta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChatChunkChoice(BaseModel):
    index: int = 0
    delta: ChatDelta
    finish_reason: Literal["stop"] | None = None


class ChatCompletionChunk(BaseModel):
    """One `data:` line of a streamed completion; the last one carries citations + answer."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChatChunkChoice]
    citations: list[Citation] | None = None
    answer: Answer | None = None


class StreamText(BaseModel):
    """`data` of a `delta` (append) or `replace` (replace all text so far) SSE event."""

    text: str


class StreamError(BaseModel):
    """`data` of an `error` SSE event: the answer failed after the stream had started."""

    error: ErrorBody


def sse_event_schema(events: list[str] | None, data: str) -> dict[str, Any]:
    """OpenAPI schema of one server-sent event (what SSE-aware tools validate)."""
    properties: dict[str, Any] = {"data": {"type": "string", "description": data}}
    if events:
        properties["event"] = {"type": "string", "enum": events}
    return {"type": "object", "required": ["data"], "properties": properties}


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "newsqa"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


# --- errors -------------------------------------------------------------------------------------
def error_body(
    status: int, message: str, field: str | None = None, code: str | None = None
) -> dict[str, Any]:
    kind = {
        401: "authentication_error", 404: "not_found_error", 503: "service_unavailable"
    }.get(status, "invalid_request_error")
    error = ErrorBody(message=message, type=kind, field=field, code=code)
    return ErrorResponse(detail=message, error=error).model_dump()


def error_response(
    status: int, message: str, *, field: str | None = None, code: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(error_body(status, message, field, code), status_code=status,
                        headers=headers)


class ApiError(HTTPException):
    """An HTTPException that names the request field at fault."""

    def __init__(self, status: int, message: str, field: str | None = None,
                 code: str | None = None) -> None:
        super().__init__(status, message)
        self.field = field
        self.code = code


def _field_name(location: tuple[Any, ...]) -> str:
    parts = [str(p) for p in location if p not in ("body", "query", "path")]
    return ".".join(parts) or "body"


def _validation_message(errors: list[dict[str, Any]]) -> tuple[str, str]:
    first = errors[0]
    field = _field_name(tuple(first.get("loc", ())))
    msg = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    if first.get("type") == "json_invalid":
        return "body", f"request body is not valid JSON: {msg}"
    if first.get("type") == "missing":
        return field, f"{field}: field required"
    return field, f"{field}: {msg}"


def install_error_handlers(app: FastAPI) -> None:
    async def on_validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = list(exc.errors())
        field, message = _validation_message(errors) if errors else ("body", "invalid request")
        body = error_body(422, message, field, "invalid_value")
        body["errors"] = [
            {"field": _field_name(tuple(e.get("loc", ()))), "message": str(e.get("msg", ""))}
            for e in errors
        ]
        return JSONResponse(body, status_code=422)

    async def on_http(request: Request, exc: HTTPException) -> JSONResponse:
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:  # starlette names only the first route's methods
            headers = {**(headers or {}), "Allow": ", ".join(_allowed_methods(request))}
        return error_response(
            exc.status_code, str(exc.detail), field=getattr(exc, "field", None),
            code=getattr(exc, "code", None), headers=headers,
        )

    async def on_assistant(_: Request, exc: AssistantError) -> JSONResponse:
        return error_response(400, str(exc), field="mode" if "mode" in str(exc) else None)

    async def on_unavailable(request: Request, exc: Exception) -> JSONResponse:
        where = request.app.state.settings.chroma_url or "the embedded index"
        log.warning("Chroma unavailable: %s: %s", type(exc).__name__, exc)
        return error_response(
            503, f"the article index is unavailable (Chroma server at {where} cannot be "
            f"reached: {type(exc).__name__}); retry in a few seconds",
            code="index_unavailable", headers={"Retry-After": "5"},
        )

    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(HTTPException, on_http)
    app.add_exception_handler(AssistantError, on_assistant)
    for error_type in UNAVAILABLE_ERRORS:
        app.add_exception_handler(error_type, on_unavailable)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app serves at this path."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        regex, route_methods = getattr(route, "path_regex", None), getattr(route, "methods", None)
        if regex is not None and route_methods and regex.match(request.url.path):
            methods |= set(route_methods)
    return sorted(methods)


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse, "description": text}
    for code, text in {
        400: "The request cannot be served as asked (or its body cannot be parsed).",
        401: "Missing or wrong bearer key (when QA_API_KEY is set).",
        422: "A request field is invalid; `error.field` names it.",
        503: "The Chroma server cannot be reached.",
    }.items()
}


def _responses(*extra: int) -> dict[int | str, dict[str, Any]]:
    texts = {404: "No such article.",
             413: "Upload too large.", 415: "Unsupported file or content type."}
    return {**ERROR_RESPONSES,
            **{code: {"model": ErrorResponse, "description": texts[code]} for code in extra}}


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
                raise ApiError(413, _too_large(seen, self.limit), field="body",
                               code="too_large")
            return message

        await self.app(scope, counting_receive, send)

    async def _reject(self, scope: dict, receive: Callable, send: Callable, size: int) -> None:
        response = error_response(413, _too_large(size, self.limit), field="body",
                                  code="too_large")
        await response(scope, receive, send)


def _too_large(size: int, limit: int) -> str:
    return f"request body is {size / 1e6:.1f} MB; the limit is {limit / 1e6:.1f} MB"


# --- auth ---------------------------------------------------------------------------------------
def _auth_dependency(api_key: str) -> Callable[..., None]:
    bearer = HTTPBearer(auto_error=False, description="QA_API_KEY")

    def require_key(
        credentials: HTTPAuthorizationCredentials | None = Depends(bearer),  # noqa: B008
    ) -> None:
        given = credentials.credentials if credentials else ""
        if not secrets.compare_digest(given.encode(), api_key.encode()):
            error = ApiError(
                401,
                "missing bearer key" if not given else "wrong bearer key",
                field="Authorization", code="invalid_api_key",
            )
            error.headers = {"WWW-Authenticate": "Bearer"}
            raise error

    return require_key


# --- streaming helpers ------------------------------------------------------------------------
_END = object()


async def _first_event(events: Iterator[Any]) -> Any:
    """Run the stream up to its first event before answering, so that bad requests and an
    unreachable index become proper 4xx/503 responses instead of a broken 200 stream."""
    return await run_in_threadpool(next, events, _END)


async def _iterate_in_thread(first: Any, events: Iterator[Any]) -> AsyncIterator[Any]:
    """`first` then the rest of `events`, each `next()` in the threadpool; closes `events` when
    the client goes away (an LLM stream then stops instead of generating into the void)."""
    try:
        item = first
        while item is not _END:
            yield item
            item = await run_in_threadpool(next, events, _END)
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            with anyio.CancelScope(shield=True):
                await run_in_threadpool(close)


def _last_event(first: Any, events: Iterator[Any]) -> Answer:
    """Drain the rest of a stream (in a worker thread): its final Answer."""
    final = first
    for final in events:  # noqa: B007 - only the last event matters
        pass
    if not isinstance(final, Answer):
        raise RuntimeError("the answer stream ended without an Answer")
    return final


def _stream_error(exc: Exception) -> str:
    """JSON StreamError for a failure after the 200 went out."""
    if isinstance(exc, UNAVAILABLE_ERRORS):
        message = "the article index became unavailable during the answer; retry shortly"
    else:
        log.exception("answer stream failed")
        message = f"the answer failed: {type(exc).__name__}"
    return StreamError(error=ErrorBody(message=message, type="server_error")).model_dump_json()


class _TextTracker:
    """Turns a stream of deltas + a final Answer into deltas whose concatenation is the final
    text: the missing tail is sent as one more delta (extractive answers come whole), and a
    final text that does not extend the deltas (LLM fallback, normalised markers) is flagged."""

    def __init__(self) -> None:
        self.sent = ""

    def delta(self, text: str) -> str:
        self.sent += text
        return text

    def finish(self, final: str) -> tuple[str, bool]:
        """(tail to send, whether the sent text must be replaced by `final` instead)."""
        if final.startswith(self.sent):
            tail = final[len(self.sent):]
            self.sent = final
            return tail, False
        self.sent = final
        return final, True


# --- the app ------------------------------------------------------------------------------------
def package_version() -> str:
    try:
        return version("newsqa")
    except PackageNotFoundError:  # running from a source tree without install
        return "0.0.0"


def create_app(assistant: Assistant, settings: Settings) -> FastAPI:
    """The API over one loaded Assistant. State lives on `app.state`, nothing on the module."""
    app = FastAPI(
        title="newsqa",
        version=package_version(),
        description=(__doc__ or "").split("\n\n", 1)[0]
        + "\n\nWith QA_API_KEY set, send `Authorization: Bearer <key>` (health stays open).",
    )
    app.state.assistant = assistant
    app.state.settings = settings
    app.state.llm_probe = {"at": 0.0, "result": None}
    app.state.started = int(time.time())
    app.add_middleware(BodyLimitMiddleware)  # type: ignore[arg-type]
    install_error_handlers(app)

    key = settings.api_key.get_secret_value() if settings.api_key else ""
    guarded = [Depends(_auth_dependency(key))] if key else []
    api = APIRouter(prefix=API_PREFIX, dependencies=guarded)
    openai = APIRouter(prefix="/v1", dependencies=guarded, tags=["OpenAI-compatible"])
    open_routes = APIRouter(prefix=API_PREFIX)
    _add_question_routes(api)
    _add_article_routes(api)
    _add_health_route(open_routes)
    _add_openai_routes(openai)
    for router in (api, open_routes, openai):
        app.include_router(router)
    _document_stream_payloads(app)
    return app


def _document_stream_payloads(app: FastAPI) -> None:
    """Add the SSE `data` payload models (not any route's body) to the OpenAPI components."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in (StreamText, StreamError, ChatCompletionChunk):
            model_schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
            for name, definition in model_schema.pop("$defs", {}).items():
                components.setdefault(name, definition)
            components.setdefault(model.__name__, model_schema)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def _assistant(request: Request) -> Assistant:
    return request.app.state.assistant


def _add_question_routes(router: APIRouter) -> None:
    @router.post(
        "/answer", response_model=Answer, tags=["questions"], responses={
            **_responses(),
            200: {"description": "The Answer, or an SSE stream when `stream` is true: "
                  "`delta` and `replace` events carry StreamText, `answer` an Answer, "
                  "`error` a StreamError.",
                  "content": {"text/event-stream": {"schema": sse_event_schema(
                      ["delta", "replace", "answer", "error"],
                      "JSON: StreamText (delta, replace), Answer (answer) or StreamError.")}}},
        },
    )
    async def answer(body: AnswerRequest, request: Request) -> Any:
        """Answer a question with cited passages (SSE stream with `stream: true`)."""
        events = _assistant(request).ask_stream(
            body.question, history=body.history, mode=body.mode, **body.options()
        )
        first = await _first_event(events)
        if body.stream:
            return EventSourceResponse(_answer_sse(first, events))
        return await run_in_threadpool(_last_event, first, events)

    @router.post("/search", response_model=SearchResult, tags=["questions"],
                 responses=_responses())
    def search(body: SearchRequest, request: Request) -> SearchResult:
        """The passages retrieval finds for a question, with per-stage scores."""
        return _assistant(request).search(body.question, **body.options())


def _text_event(kind: str, text: str) -> ServerSentEvent:
    return ServerSentEvent(StreamText(text=text).model_dump_json(), event=kind)


async def _answer_sse(first: Any, events: Iterator[Any]) -> AsyncIterator[ServerSentEvent]:
    tracker = _TextTracker()
    try:
        async for event in _iterate_in_thread(first, events):
            if isinstance(event, Answer):
                tail, replace = tracker.finish(event.answer)
                if replace:
                    yield _text_event("replace", tail)
                elif tail:
                    yield _text_event("delta", tail)
                yield ServerSentEvent(event.model_dump_json(), event="answer")
            elif event:
                yield _text_event("delta", tracker.delta(event))
    except Exception as exc:  # the 200 is already sent: say what happened in-band
        yield ServerSentEvent(_stream_error(exc), event="error")


def _add_article_routes(router: APIRouter) -> None:
    @router.get("/articles", response_model=ArticleList, tags=["articles"],
                responses=_responses())
    def list_articles(
        request: Request,
        q: str | None = Query(default=None, max_length=200, description="Words in the title."),
        limit: int = Query(default=100, ge=1, le=1000),
        offset: int = Query(default=0, ge=0),
    ) -> ArticleList:
        """Stored articles, newest first; `q` keeps those whose title has every word of it."""
        records = _assistant(request).list_articles()
        words = (q or "").lower().split()
        matching = [r for r in records if all(w in r.title.lower() for w in words)]
        page = matching[offset: offset + limit]
        return ArticleList(total=len(matching), articles=[ArticleSummary.of(r) for r in page])

    @router.get("/articles/{article_id:path}", response_model=ArticleDetail, tags=["articles"],
                responses=_responses(404))
    def get_article(article_id: str, request: Request) -> ArticleDetail:
        """One article with its body. The id is usually the article URL: put it in the path
        as is, or URL-encoded (`?` and `#` in it must be encoded)."""
        record = _assistant(request).get_article(article_id)
        if record is None:
            raise ApiError(404, f"no article with id {article_id!r}", field="article_id")
        return ArticleDetail(**ArticleSummary.of(record).model_dump(), body=record.body or "")

    @router.delete("/articles/{article_id:path}", response_model=Deleted, tags=["articles"],
                   responses=_responses(404))
    def delete_article(article_id: str, request: Request) -> Deleted:
        """Delete an article and all its chunks."""
        if not _assistant(request).delete_article(article_id):
            raise ApiError(404, f"no article with id {article_id!r}", field="article_id")
        return Deleted(deleted=article_id)

    @router.post(
        "/articles", response_model=IngestResponse, tags=["articles"],
        responses=_responses(413, 415),
        openapi_extra={"requestBody": {"required": True, "content": {
            "multipart/form-data": {"schema": {
                "type": "object", "required": ["files"],
                "properties": {"files": {
                    "type": "array", "items": {"type": "string", "format": "binary"},
                    "description": f"Up to {MAX_UPLOAD_FILES} files of "
                    f"{', '.join(sorted(SUPPORTED_SUFFIXES))}, each <= 10 MB.",
                }},
            }},
            "application/json": {"schema": RecordsRequest.model_json_schema()},
        }}},
    )
    async def add_articles(request: Request) -> IngestResponse:
        """Ingest uploaded files (multipart field `files`) or JSON `{"records": [...]}`.
        Problems with single files or records are reported in `errors`, not raised."""
        content_type = request.headers.get("content-type", "").lower()
        assistant = _assistant(request)
        if content_type.startswith("multipart/form-data"):
            report = await _ingest_upload(request, assistant)
        elif content_type.startswith("application/json"):
            records = _parse_records(await request.body())
            report = await run_in_threadpool(
                assistant.ingest_records, records.records, records.origin
            )
        else:
            raise ApiError(415, f"content type {content_type or '(none)'!r}: send "
                           "multipart/form-data files or application/json records",
                           field="Content-Type", code="unsupported_media_type")
        return IngestResponse.of(report)


def _parse_records(raw: bytes) -> RecordsRequest:
    if len(raw) > MAX_UPLOAD_BYTES:
        raise ApiError(413, _too_large(len(raw), MAX_UPLOAD_BYTES), field="records",
                       code="too_large")
    try:
        return RecordsRequest.model_validate_json(raw)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        ) from None


def check_upload_name(name: str | None) -> str:
    """The bare file name of an upload, or a 4xx: no directories, no traversal, known type."""
    if not name or not name.strip():
        raise ApiError(400, "an uploaded file has no file name", field="files")
    if ".." in name or "/" in name or "\\" in name or "\x00" in name:
        raise ApiError(400, f"refusing file name {name[:100]!r}: it must not contain "
                       "'..', '/' or '\\'", field="files", code="bad_file_name")
    suffix = Path(name).suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise ApiError(415, f"unsupported file type {suffix or '(none)'!r} for {name[:100]!r}; "
                       f"supported: {', '.join(sorted(SUPPORTED_SUFFIXES))}",
                       field="files", code="unsupported_file_type")
    return name


async def _ingest_upload(request: Request, assistant: Assistant) -> IngestReport:
    try:
        form = await request.form(max_files=MAX_UPLOAD_FILES, max_fields=20)
    except HTTPException:
        raise
    except Exception as exc:  # malformed multipart (no boundary, truncated body)
        raise ApiError(400, f"cannot parse the multipart body: {exc}", field="files") from exc
    try:
        uploads = [value for _, value in form.multi_items() if isinstance(value, UploadFile)]
        if not uploads:
            raise ApiError(400, "no files: send them in the multipart field 'files'",
                           field="files")
        files = [(check_upload_name(u.filename), await _read_upload(u)) for u in uploads]
    finally:
        await form.close()
    return await run_in_threadpool(_ingest_files, assistant, files)


async def _read_upload(upload: UploadFile) -> bytes:
    raw = await upload.read(MAX_UPLOAD_BYTES + 1)
    if len(raw) > MAX_UPLOAD_BYTES:
        raise ApiError(413, f"{upload.filename!r} is over the {MAX_UPLOAD_BYTES // 2**20} MB "
                       "upload limit", field="files", code="too_large")
    if raw.strip():  # empty files are reported by the loader like any other bad input
        text, why = decode_bytes(raw)
        if text is None:
            raise ApiError(400, f"{upload.filename!r} is not text: {why}", field="files",
                           code="binary_content")
    return raw


def _ingest_files(assistant: Assistant, files: list[tuple[str, bytes]]) -> IngestReport:
    """Load each file from a private temp dir, naming it `upload:<name>` (not the temp path)."""
    with tempfile.TemporaryDirectory(prefix="newsqa-upload-") as folder:
        items: list[Article | LoadProblem] = []
        for index, (name, raw) in enumerate(files):
            path = Path(folder) / str(index) / name
            path.parent.mkdir()
            path.write_bytes(raw)
            for item in load_file(path):
                if isinstance(item, Article):
                    items.append(item.model_copy(update={"origin": f"upload:{name}"}))
                else:
                    items.append(item.model_copy(update={"path": name}))
        return assistant.ingest_items(items)


def _add_health_route(router: APIRouter) -> None:
    @router.get("/health", response_model=Health, tags=["health"],
                responses={503: ERROR_RESPONSES[503]})
    def health(request: Request) -> Health:
        """Index size, model names, LLM configured/reachable. Open even with QA_API_KEY."""
        assistant = _assistant(request)
        settings: Settings = request.app.state.settings
        store = assistant.service.store
        return Health(
            status="ok",
            version=package_version(),
            articles=store.count_articles(),
            chunks=store.count_chunks(),
            collection=store.name,
            embedding_model=store.embedding_model,
            chroma=settings.chroma_url or "embedded",
            llm=_llm_health(request.app, assistant, settings),
            auth_required=settings.api_key is not None,
        )


def _llm_health(app: FastAPI, assistant: Assistant, settings: Settings) -> LLMHealth:
    if assistant.llm is None:
        return LLMHealth(configured=False)
    base_url = (settings.llm_base_url or "https://api.openai.com/v1").rstrip("/")
    probe = app.state.llm_probe
    if time.monotonic() - probe["at"] > LLM_PROBE_TTL_S:
        probe["result"] = probe_llm(base_url, settings)
        probe["at"] = time.monotonic()
    reachable, detail = probe["result"]
    return LLMHealth(configured=True, model=settings.llm_model, base_url=base_url,
                     reachable=reachable, detail=detail)


def probe_llm(base_url: str, settings: Settings) -> tuple[bool, str]:
    """Is the LLM server up and does it take our key? One short GET /models."""
    import os

    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else None
    key = key or os.environ.get("OPENAI_API_KEY")
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        reply = httpx.get(f"{base_url}/models", headers=headers, timeout=LLM_PROBE_TIMEOUT_S)
    except httpx.HTTPError as exc:
        return False, f"{type(exc).__name__}: {exc}"[:200]
    return reply.status_code == 200, f"GET /models: HTTP {reply.status_code}"


# --- OpenAI compatibility -----------------------------------------------------------------------
def chat_question(body: ChatCompletionRequest) -> tuple[str, list[Turn]]:
    """(question, history) from OpenAI messages: the last user message and the turns before."""
    last_user = max((i for i, m in enumerate(body.messages) if m.role == "user"), default=None)
    if last_user is None:
        raise ApiError(422, "messages: there is no user message to answer", field="messages",
                       code="invalid_value")
    try:
        question = _check_question(body.messages[last_user].text())
    except ValueError as exc:
        raise ApiError(422, f"messages[{last_user}].content: question {exc}",
                       field=f"messages.{last_user}.content", code="invalid_value") from None
    history = [
        Turn(role=m.role, content=m.text()[:MAX_TURN_CHARS])  # type: ignore[arg-type]
        for m in body.messages[:last_user] if m.role in ("user", "assistant")
    ]
    if len(history) > MAX_HISTORY_TURNS:
        raise ApiError(422, f"messages: {len(history)} earlier turns; the limit is "
                       f"{MAX_HISTORY_TURNS}", field="messages", code="invalid_value")
    return question, history


def _add_openai_routes(router: APIRouter) -> None:
    @router.get("/models", response_model=ModelList, responses=_responses())
    def models(request: Request) -> ModelList:
        """The model names /v1/chat/completions accepts (`-llm` only with an LLM configured)."""
        created = request.app.state.started
        names = [n for n, mode in MODEL_MODES.items()
                 if mode != "llm" or _assistant(request).llm is not None]
        return ModelList(data=[ModelCard(id=name, created=created) for name in names])

    @router.post(
        "/chat/completions", response_model=ChatCompletion, responses={
            **_responses(),
            200: {"description": "A chat.completion, or with `stream` an SSE stream of "
                  "ChatCompletionChunk objects ending with `data: [DONE]`.",
                  "content": {"text/event-stream": {"schema": sse_event_schema(
                      None, "JSON ChatCompletionChunk, or the final `[DONE]`.")}}},
        },
    )
    async def chat_completions(body: ChatCompletionRequest, request: Request) -> Any:
        """OpenAI-compatible chat: answer markdown in choices[0].message.content, plus
        `citations` and the full `answer` as extra top-level fields."""
        question, history = chat_question(body)
        mode = body.mode or MODEL_MODES.get(body.model)
        events = _assistant(request).ask_stream(
            question, history=history, mode=mode, **body.options()
        )
        first = await _first_event(events)
        ident, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
        if body.stream:
            return EventSourceResponse(_chat_sse(first, events, ident, created, body.model))
        final = await run_in_threadpool(_last_event, first, events)
        return ChatCompletion(
            id=ident, created=created, model=body.model,
            choices=[ChatChoice(message=ChatResponseMessage(content=final.answer))],
            citations=final.citations, answer=final,
        )


async def _chat_sse(
    first: Any, events: Iterator[Any], ident: str, created: int, model: str
) -> AsyncIterator[ServerSentEvent]:
    def chunk(delta: ChatDelta, **extra: Any) -> ServerSentEvent:
        finish = "stop" if extra else None
        payload = ChatCompletionChunk(
            id=ident, created=created, model=model,
            choices=[ChatChunkChoice(delta=delta, finish_reason=finish)], **extra,
        ).model_dump(mode="json")
        payload["choices"][0]["delta"] = delta.model_dump(exclude_none=True)
        for name in ("citations", "answer"):
            if payload[name] is None:
                del payload[name]
        return ServerSentEvent(json.dumps(payload))

    tracker = _TextTracker()
    yield chunk(ChatDelta(role="assistant", content=""))
    try:
        async for event in _iterate_in_thread(first, events):
            if isinstance(event, Answer):
                # An OpenAI stream cannot retract text: a final text that does not extend the
                # deltas (LLM fallback) is only in the last chunk's `answer`.
                tail, replaced = tracker.finish(event.answer)
                if tail and not replaced:
                    yield chunk(ChatDelta(content=tail))
                yield chunk(ChatDelta(), citations=event.citations, answer=event)
            elif event:
                yield chunk(ChatDelta(content=tracker.delta(event)))
    except Exception as exc:
        yield ServerSentEvent(_stream_error(exc))
    yield ServerSentEvent("[DONE]")

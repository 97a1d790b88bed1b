"""The routes: questions (/answer, /search), articles (list, get, ingest, delete), health,
and the OpenAI-compatible /v1 routes. Each `_add_*` function registers its routes on a
router that `create_app` includes."""

from __future__ import annotations

import time
import uuid
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import httpx
from fastapi import APIRouter, FastAPI, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from sse_starlette import EventSourceResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from index.ingest import IngestReport
from index.limits import (
    SUPPORTED_SUFFIXES,
    InputError,
    check_file_count,
    check_file_name,
    check_file_size,
    check_question,
    check_turn_length,
)
from index.settings import Settings
from qa.api.errors import ERROR_RESPONSES, ApiError, ErrorResponse, _responses, _too_large
from qa.api.openai_schemas import (
    MODEL_MODES,
    ChatChoice,
    ChatCompletion,
    ChatCompletionRequest,
    ChatResponseMessage,
    ModelCard,
    ModelList,
)
from qa.api.schemas import (
    MAX_HISTORY_TURNS,
    MAX_UPLOAD_BYTES,
    MAX_UPLOAD_FILES,
    AnswerRequest,
    ArticleDetail,
    ArticleList,
    ArticleSummary,
    Deleted,
    Health,
    IngestResponse,
    LLMHealth,
    RecordsRequest,
    SearchRequest,
)
from qa.api.streaming import (
    _answer_sse,
    _chat_sse,
    _first_event,
    _last_event,
    sse_event_schema,
)
from qa.assistant import Assistant
from qa.render import notices_markdown
from qa.types import Answer, SearchResult, Turn
from qa.uploads import Upload

LLM_PROBE_TTL_S = 30.0
LLM_PROBE_TIMEOUT_S = 2.0


def _assistant(request: Request) -> Assistant:
    return request.app.state.assistant


def _add_question_routes(router: APIRouter) -> None:
    @router.post(
        "/answer",
        response_model=Answer,
        tags=["questions"],
        responses={
            **_responses(415),
            200: {
                "description": "The Answer, or an SSE stream when `stream` is true: "
                "`delta` and `replace` events carry StreamText, `answer` an Answer, "
                "`error` a StreamError.",
                "content": {
                    "text/event-stream": {
                        "schema": sse_event_schema(
                            ["delta", "replace", "answer", "error"],
                            "JSON: StreamText (delta, replace), Answer (answer) or StreamError.",
                        )
                    }
                },
            },
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

    @router.post(
        "/search", response_model=SearchResult, tags=["questions"], responses=_responses(415)
    )
    def search(body: SearchRequest, request: Request) -> SearchResult:
        """The passages retrieval finds for a question, with per-stage scores."""
        return _assistant(request).search(body.question, **body.options())


def _add_article_routes(router: APIRouter) -> None:
    @router.get("/articles", response_model=ArticleList, tags=["articles"], responses=_responses())
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
        page = matching[offset : offset + limit]
        return ArticleList(total=len(matching), articles=[ArticleSummary.of(r) for r in page])

    @router.get(
        "/articles/{article_id:path}",
        response_model=ArticleDetail,
        tags=["articles"],
        responses=_responses(404),
    )
    def get_article(article_id: str, request: Request) -> ArticleDetail:
        """One article with its body. The id is usually the article URL: put it in the path
        as is, or URL-encoded (`?` and `#` in it must be encoded)."""
        record = _assistant(request).get_article(article_id)
        if record is None:
            raise ApiError(404, f"no article with id {article_id!r}", field="article_id")
        return ArticleDetail(**ArticleSummary.of(record).model_dump(), body=record.body or "")

    @router.delete(
        "/articles/{article_id:path}",
        response_model=Deleted,
        tags=["articles"],
        responses=_responses(403, 404),
    )
    def delete_article(article_id: str, request: Request) -> Deleted:
        """Delete an article and all its chunks."""
        if not _assistant(request).delete_article(article_id):
            raise ApiError(404, f"no article with id {article_id!r}", field="article_id")
        return Deleted(deleted=article_id)

    @router.post(
        "/articles",
        response_model=IngestResponse,
        tags=["articles"],
        responses=_responses(403, 413, 415),
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "required": ["files"],
                            "properties": {
                                "files": {
                                    "type": "array",
                                    "items": {"type": "string", "format": "binary"},
                                    "description": f"Up to {MAX_UPLOAD_FILES} files of "
                                    f"{', '.join(sorted(SUPPORTED_SUFFIXES))}, each <= 10 MB.",
                                }
                            },
                        }
                    },
                    "application/json": {"schema": RecordsRequest.model_json_schema()},
                },
            }
        },
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
            raise ApiError(
                415,
                f"content type {content_type or '(none)'!r}: send "
                "multipart/form-data files or application/json records",
                field="Content-Type",
                code="unsupported_media_type",
            )
        return IngestResponse.of(report)


def _parse_records(raw: bytes) -> RecordsRequest:
    if len(raw) > MAX_UPLOAD_BYTES:
        raise ApiError(
            413, _too_large(len(raw), MAX_UPLOAD_BYTES), field="records", code="too_large"
        )
    try:
        return RecordsRequest.model_validate_json(raw)
    except ValidationError as exc:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
        ) from None


def check_upload_name(name: str | None) -> str:
    """The file name of an upload, or a 4xx (index.limits.check_file_name: the same check and
    message as every other entry point)."""
    return check_file_name(name)


async def _ingest_upload(request: Request, assistant: Assistant) -> IngestReport:
    try:
        # The body is at most MAX_BODY_BYTES (BodyLimitMiddleware), which bounds the parts;
        # the file count is checked below so its message is the shared one.
        form = await request.form(max_files=1000, max_fields=20)
    except HTTPException:
        raise
    except Exception as exc:  # malformed multipart (no boundary, truncated body)
        raise ApiError(400, f"cannot parse the multipart body: {exc}", field="files") from exc
    try:
        uploads = [value for _, value in form.multi_items() if isinstance(value, UploadFile)]
        if not uploads:
            raise ApiError(400, "no files: send them in the multipart field 'files'", field="files")
        check_file_count(len(uploads))
        files = [Upload(check_upload_name(u.filename), await _read_upload(u)) for u in uploads]
    finally:
        await form.close()
    return await run_in_threadpool(assistant.ingest_files, files)


async def _read_upload(upload: UploadFile) -> bytes:
    """The file's bytes, within the size limit. Its content is the loaders' to judge: a binary
    or empty file is reported in the ingest report like any bad input, and the rest of the
    upload goes on (as `qa ingest` does)."""
    raw = await upload.read(MAX_UPLOAD_BYTES + 1)
    check_file_size(upload.filename or "", max(upload.size or 0, len(raw)))  # read stops early
    return raw


def package_version() -> str:
    try:
        return version("newsqa")
    except PackageNotFoundError:  # running from a source tree without install
        return "0.0.0"


def _add_health_route(router: APIRouter) -> None:
    @router.get(
        "/health", response_model=Health, tags=["health"], responses={503: ERROR_RESPONSES[503]}
    )
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
    return LLMHealth(
        configured=True,
        model=settings.llm_model,
        base_url=base_url,
        reachable=reachable,
        detail=detail,
    )


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
# Response header of /v1/chat/completions: how many of the oldest user/assistant messages were
# not read because the conversation had more than MAX_HISTORY_TURNS (absent when none were).
HISTORY_DROPPED_HEADER = "X-History-Turns-Dropped"


# Instructions to a model, which this server has none of: read nowhere, wherever they stand.
IGNORED_ROLES = ("system", "developer")


def chat_question(body: ChatCompletionRequest) -> tuple[str, list[Turn], int]:
    """(question, history, dropped) from OpenAI messages: the last user message, the most
    recent MAX_HISTORY_TURNS user/assistant turns before it, and how many older ones were left
    out. An OpenAI client sends the whole conversation every time, so a long chat is trimmed
    here where the native API refuses it; every message is still held to the per-turn limit."""
    last_user = max((i for i, m in enumerate(body.messages) if m.role == "user"), default=None)
    if last_user is None:
        raise ApiError(
            422,
            "messages: there is no user message to answer",
            field="messages",
            code="invalid_value",
        )
    last = max(i for i, m in enumerate(body.messages) if m.role not in IGNORED_ROLES)
    if last != last_user:  # the question was answered already: say so, do not answer it again
        raise ApiError(
            422,
            f"messages.{last}.role: the last message must be the user's (the question to "
            f"answer), not the {body.messages[last].role}'s",
            field=f"messages.{last}.role",
            code="invalid_value",
        )
    try:
        question = check_question(body.messages[last_user].text())
    except InputError as exc:
        raise InputError(
            str(exc), field=f"messages.{last_user}.content", status=exc.status, code=exc.code
        ) from None
    history = [
        Turn(role=m.role, content=check_turn_length(m.text(), f"messages.{index}.content"))
        for index, m in enumerate(body.messages[:last_user])
        if m.role in ("user", "assistant")
    ]
    dropped = max(0, len(history) - MAX_HISTORY_TURNS)
    return question, history[dropped:], dropped


def model_ids(assistant: Assistant) -> list[str]:
    """The model names /v1/models lists and /v1/chat/completions accepts."""
    return [n for n, mode in MODEL_MODES.items() if mode != "llm" or assistant.llm is not None]


def check_model(name: str, assistant: Assistant) -> None:
    """404 model_not_found (OpenAI's answer to an unknown model) unless /v1/models lists it."""
    available = model_ids(assistant)
    if name in available:
        return
    why = (
        " (it needs an LLM: set OPENAI_API_KEY or QA_LLM_BASE_URL)"
        if MODEL_MODES.get(name) == "llm"
        else ""
    )
    raise ApiError(
        404,
        f"The model {name[:100]!r} does not exist here{why}; use one of "
        f"{', '.join(available)} (GET /v1/models).",
        field="model",
        code="model_not_found",
    )


def _add_openai_routes(router: APIRouter) -> None:
    @router.get("/models", response_model=ModelList, responses=_responses())
    def models(request: Request) -> ModelList:
        """The model names /v1/chat/completions accepts (`-llm` only with an LLM configured)."""
        created = request.app.state.started
        names = model_ids(_assistant(request))
        return ModelList(data=[ModelCard(id=name, created=created) for name in names])

    @router.post(
        "/chat/completions",
        response_model=ChatCompletion,
        responses={
            **_responses(415),
            404: {
                "model": ErrorResponse,
                "description": "model_not_found: the model is not one GET /v1/models lists.",
            },
            200: {
                "description": "A chat.completion, or with `stream` an SSE stream of "
                "ChatCompletionChunk objects ending with `data: [DONE]`.",
                "headers": {
                    HISTORY_DROPPED_HEADER: {
                        "description": "Sent when the messages hold more than "
                        f"{MAX_HISTORY_TURNS} user/assistant turns before the question: how "
                        "many of the oldest were not read.",
                        "schema": {"type": "integer", "minimum": 1},
                    }
                },
                "content": {
                    "text/event-stream": {
                        "schema": sse_event_schema(
                            None, "JSON ChatCompletionChunk, or the final `[DONE]`."
                        )
                    }
                },
            },
        },
    )
    async def chat_completions(
        body: ChatCompletionRequest, request: Request, response: Response
    ) -> Any:
        """OpenAI-compatible chat: answer markdown in choices[0].message.content (followed by
        any notice or low-confidence caution, which a plain chat client would otherwise never
        show), plus `citations`, `standalone_question` (what was searched for) and the full
        `answer` as extra top-level fields."""
        check_model(body.model, _assistant(request))
        question, history, dropped = chat_question(body)
        headers = {HISTORY_DROPPED_HEADER: str(dropped)} if dropped else {}
        mode = body.mode or MODEL_MODES.get(body.model)
        events = _assistant(request).ask_stream(
            question, history=history, mode=mode, **body.options()
        )
        first = await _first_event(events)
        ident, created = f"chatcmpl-{uuid.uuid4().hex[:24]}", int(time.time())
        if body.stream:
            usage = bool(body.stream_options and body.stream_options.include_usage)
            return EventSourceResponse(
                _chat_sse(first, events, ident, created, body.model, include_usage=usage),
                headers=headers,
            )
        final = await run_in_threadpool(_last_event, first, events)
        completion = ChatCompletion(
            id=ident,
            created=created,
            model=body.model,
            choices=[
                ChatChoice(
                    message=ChatResponseMessage(content=final.answer + notices_markdown(final))
                )
            ],
            usage=final.usage,
            citations=final.citations,
            standalone_question=final.standalone_question,
            answer=final,
        )
        response.headers.update(headers)
        return completion

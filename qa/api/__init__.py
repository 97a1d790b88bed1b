"""The HTTP API: a FastAPI app over one `Assistant`, built by `create_app` (no module-level app).

Routes (all JSON unless said otherwise; schema at /openapi.json, a page listing them at /docs):

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

Auth: one policy for every route of the process, enforced by `qa.access.AccessMiddleware`
(installed by `create_app`). With `QA_API_KEY` or `QA_UI_USERS` set, every route needs a
credential — `Authorization: Bearer <key>` or a /login session — except GET /api/v1/health (so
load balancers and uptime checks need no secret; it reveals counts and model names only, never
article text), the docs and /login; adding or deleting articles needs the key or a UI user named
in `QA_UI_EDITORS` (401 without a credential, 403 without the right one).

Errors are JSON `{"detail": msg, "error": {"message", "type", "field", "code"}}` — the OpenAI
error shape plus the offending request `field` — with 401 (key), 403 (may not edit), 404 (no
such article or route), 405 (method), 429 (sign-in throttled),
413 (upload too large), 415 (file type), 400 (bad upload, unservable request), 422 (invalid
field) and 503 (Chroma server unreachable). Bad input never yields a 500.

Every Assistant call blocks (embedding, Chroma, LLM), so it runs in the threadpool; streams are
iterated in the threadpool too, one `next()` at a time, so the event loop stays free.

Modules: `schemas` (request/response models, limits), `openai_schemas` (/v1 chat completion
models), `errors` (JSON errors, body size limit), `streaming` (SSE payloads and
threadpool-driven event streams), `routes` (every route), `app` (`create_app`). Everything
importable from `qa.api` before the split still is.
"""

from __future__ import annotations

from qa.api.app import API_PREFIX, create_app
from qa.api.errors import (
    ERROR_RESPONSES,
    ApiError,
    BodyLimitMiddleware,
    ErrorBody,
    ErrorResponse,
    error_body,
    error_response,
    install_error_handlers,
)
from qa.api.openai_schemas import (
    MODEL_ID,
    MODEL_MODES,
    ChatChoice,
    ChatChunkChoice,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatDelta,
    ChatMessage,
    ChatResponseMessage,
    ModelCard,
    ModelList,
)
from qa.api.routes import (
    LLM_PROBE_TIMEOUT_S,
    LLM_PROBE_TTL_S,
    chat_question,
    check_upload_name,
    package_version,
    probe_llm,
)
from qa.api.schemas import (
    MAX_BODY_BYTES,
    MAX_HISTORY_TURNS,
    MAX_QUESTION_CHARS,
    MAX_RECORDS,
    MAX_SOURCES,
    MAX_TURN_CHARS,
    MAX_UPLOAD_BYTES,
    MAX_UPLOAD_FILES,
    AnswerRequest,
    ArticleDetail,
    ArticleList,
    ArticleSummary,
    Deleted,
    Filters,
    Health,
    HistoryTurn,
    IngestResponse,
    LLMHealth,
    Mode,
    Problem,
    RecordsRequest,
    SearchRequest,
)
from qa.api.streaming import StreamError, StreamText, _TextTracker, sse_event_schema

__all__ = [
    "API_PREFIX",
    "ERROR_RESPONSES",
    "LLM_PROBE_TIMEOUT_S",
    "LLM_PROBE_TTL_S",
    "MAX_BODY_BYTES",
    "MAX_HISTORY_TURNS",
    "MAX_QUESTION_CHARS",
    "MAX_RECORDS",
    "MAX_SOURCES",
    "MAX_TURN_CHARS",
    "MAX_UPLOAD_BYTES",
    "MAX_UPLOAD_FILES",
    "MODEL_ID",
    "MODEL_MODES",
    "AnswerRequest",
    "ApiError",
    "ArticleDetail",
    "ArticleList",
    "ArticleSummary",
    "BodyLimitMiddleware",
    "ChatChoice",
    "ChatChunkChoice",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatCompletionRequest",
    "ChatDelta",
    "ChatMessage",
    "ChatResponseMessage",
    "Deleted",
    "ErrorBody",
    "ErrorResponse",
    "Filters",
    "Health",
    "HistoryTurn",
    "IngestResponse",
    "LLMHealth",
    "Mode",
    "ModelCard",
    "ModelList",
    "Problem",
    "RecordsRequest",
    "SearchRequest",
    "StreamError",
    "StreamText",
    "_TextTracker",
    "chat_question",
    "check_upload_name",
    "create_app",
    "error_body",
    "error_response",
    "install_error_handlers",
    "package_version",
    "probe_llm",
    "sse_event_schema",
]

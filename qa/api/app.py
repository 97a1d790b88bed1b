"""The HTTP API: a FastAPI app over one `Assistant`, built by `create_app` (no module-level app).

The first paragraph of this docstring is the app's OpenAPI description (see `create_app`);
routes, auth and errors are described in the package docstring (qa/api/__init__.py).
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, FastAPI, Request, Security
from fastapi.security import HTTPBearer

from index.settings import Settings
from qa.access import AccessMiddleware, AccessPolicy, AccessState, BrowserGuard, login_router
from qa.api.docs_page import add_docs_page
from qa.api.errors import (
    HTTP_METHODS,
    UNKNOWN_ROUTE,
    ApiError,
    BodyLimitMiddleware,
    LateErrorMiddleware,
    _allowed_methods,
    install_error_handlers,
)
from qa.api.openai_schemas import ChatCompletionChunk
from qa.api.routes import (
    _add_article_routes,
    _add_health_route,
    _add_openai_routes,
    _add_question_routes,
    package_version,
)
from qa.api.streaming import StreamError, StreamText
from qa.assistant import Assistant

API_PREFIX = "/api/v1"


# --- the app ------------------------------------------------------------------------------------
def create_app(assistant: Assistant, settings: Settings, *, loopback_only: bool = False) -> FastAPI:
    """The API over one loaded Assistant. State lives on `app.state`, nothing on the module.

    The access door (`qa.access.AccessMiddleware`) is installed here, outermost, so it guards
    every route of the app and of anything later mounted on it (the chat window);
    `app.state.access` holds its policy, sessions and (once mounted) the Gradio handlers.
    Outside it, `qa.access.BrowserGuard` refuses cross-site writes and, with `loopback_only`,
    any Host but a loopback name."""
    app = FastAPI(
        title="newsqa",
        version=package_version(),
        # Swagger UI and ReDoc load from a CDN: blank offline. /docs is our own page instead.
        docs_url=None,
        redoc_url=None,
        description=(__doc__ or "").split("\n\n", 1)[0]
        + "\n\nWith QA_API_KEY set, send `Authorization: Bearer <key>` (health stays open).",
    )
    app.state.assistant = assistant
    app.state.settings = settings
    app.state.llm_probe = {"at": 0.0, "result": None}
    app.state.started = int(time.time())
    access = AccessState(AccessPolicy.from_settings(settings))
    app.state.access = access
    app.add_middleware(LateErrorMiddleware)
    app.add_middleware(BodyLimitMiddleware)
    app.add_middleware(AccessMiddleware, state=access)
    app.add_middleware(BrowserGuard, loopback_only=loopback_only)  # added last: outermost
    install_error_handlers(app)

    # The door enforces the key; this only documents it in the OpenAPI schema.
    bearer = HTTPBearer(auto_error=False, description="QA_API_KEY")
    documented = [Security(bearer)] if settings.api_key else []
    api = APIRouter(prefix=API_PREFIX, dependencies=documented)
    openai = APIRouter(prefix="/v1", dependencies=documented, tags=["OpenAI-compatible"])
    open_routes = APIRouter(prefix=API_PREFIX)
    _add_question_routes(api)
    _add_article_routes(api)
    _add_health_route(open_routes)
    _add_openai_routes(openai)
    for router in (api, open_routes, openai):
        app.include_router(router)
    app.include_router(login_router(access.policy, access.sessions, access.throttle))
    _add_unknown_route_errors(app)
    _document_stream_payloads(app)
    add_docs_page(app)
    return app


def _add_unknown_route_errors(app: FastAPI) -> None:
    """404 / 405 in the API's error shape for any other path under /api/v1 and /v1 (without
    these the request would fall through to the chat window mounted at "/")."""

    async def unknown(request: Request) -> None:
        if _allowed_methods(request):  # the path exists, not with this method
            raise ApiError(405, f"method {request.method} not allowed", code="method_not_allowed")
        raise ApiError(404, f"no route {request.url.path[:200]}", code="no_such_route")

    for prefix in (API_PREFIX, "/v1"):
        app.add_api_route(
            prefix + "/{rest:path}",
            unknown,
            methods=list(HTTP_METHODS),
            include_in_schema=False,
            name=UNKNOWN_ROUTE,
        )


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

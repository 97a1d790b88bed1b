"""The HTTP API: a FastAPI app over one `Assistant`, built by `create_app` (no module-level app).

The first paragraph of this docstring is the app's OpenAPI description (see `create_app`);
routes, auth and errors are described in the package docstring (qa/api/__init__.py).
"""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Depends, FastAPI

from index.settings import Settings
from qa.api.errors import BodyLimitMiddleware, _auth_dependency, install_error_handlers
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

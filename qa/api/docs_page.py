"""/docs: the API's routes as one self-contained HTML page, read from the OpenAPI schema.

FastAPI's Swagger UI loads its script and styles from a CDN: offline it is a blank page, and
online it runs a third party's script in the app's origin. No installed package ships the
Swagger UI files, so this page lists the routes with no script and nothing fetched, and points
at /openapi.json for any OpenAPI viewer or client generator.
"""

from __future__ import annotations

from html import escape
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse

DOCS_PATH = "/docs"
_METHODS = ("get", "post", "put", "patch", "delete")
_STYLE = (
    "body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}"
    "td,th{text-align:left;vertical-align:top;padding:.3rem .8rem .3rem 0}"
    "code{font-size:14px}"
)


def add_docs_page(app: FastAPI) -> None:
    """Serve the page at /docs (GET and HEAD); create the app with docs_url=None."""

    async def docs(request: Request) -> HTMLResponse:
        return HTMLResponse(docs_html(app.openapi()))

    app.add_route(DOCS_PATH, docs, include_in_schema=False)


def docs_html(schema: dict[str, Any]) -> str:
    info = schema.get("info", {})
    title = escape(f"{info.get('title', 'API')} {info.get('version', '')}".strip())
    rows = "".join(_rows(schema.get("paths", {})))
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{title} API</title>"
        f"<style>{_STYLE}</style></head><body><h1>{title} API</h1>"
        f"<p>{escape(info.get('description', ''))}</p>"
        '<p>The full schema (request and response models): <a href="/openapi.json">'
        "/openapi.json</a>, for any OpenAPI viewer or client generator. Examples: README.md."
        f"</p><table><tr><th>method</th><th>path</th><th>what</th></tr>{rows}</table>"
        "</body></html>"
    )


def _rows(paths: dict[str, Any]) -> list[str]:
    return [
        f"<tr><td><code>{method.upper()}</code></td><td><code>{escape(path)}</code></td>"
        f"<td>{escape(operation.get('summary', ''))}</td></tr>"
        for path, operations in paths.items()
        for method, operation in operations.items()
        if method in _METHODS
    ]

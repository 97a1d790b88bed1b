"""Helpers for the attacker's suite: the routes a running app serves, read from the app itself
(so a route added later is probed without anyone listing it), the chat window's event handlers
read from its Gradio config, and clients holding each kind of credential."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
from starlette.routing import Mount

KEY = "attack-key-1"
ASKER = ("bob", "bob-pw")  # a UI user who may ask
EDITOR = ("alice", "alice-pw")  # a UI user named in QA_UI_EDITORS
USERS = f"{EDITOR[0]}:{EDITOR[1]},{ASKER[0]}:{ASKER[1]}"
# What the policy leaves anonymous, as documented: health, the API docs, the login page.
OPEN = {
    ("GET", "/api/v1/health"),
    ("HEAD", "/api/v1/health"),
    ("GET", "/docs"),
    ("HEAD", "/docs"),
    ("GET", "/openapi.json"),
    ("HEAD", "/openapi.json"),
    ("GET", "/login"),
    ("POST", "/login"),
    ("GET", "/logout"),
    ("POST", "/logout"),
}
# Routes that change stored articles (the chat window's handlers are classified separately).
EDITS = {("POST", "/api/v1/articles"), ("DELETE", "/api/v1/articles/probe")}
GRADIO_UPLOAD = ("POST", "/gradio_api/upload")
# Gradio POST routes a user who may only ask can use: events (each judged by the handler it
# runs), cancelling them, streams. Every other Gradio POST (upload, recordings, component
# servers, …) is refused to such a user: deny by default.
GRADIO_ASKER_POSTS = tuple(
    "/gradio_api/" + p
    for p in ("queue/join", "run/", "api/", "call/", "cancel", "reset", "stream/")
)


def changes_articles(method: str, path: str) -> bool:
    """Does the policy treat this route as one that needs a credential allowed to edit? Any
    write under /api/v1 but the two question routes (deny by default), Gradio's upload and
    the Gradio POSTs askers may not use."""
    if (method, path) in EDITS:
        return True
    if path.startswith("/api/v1/") and method not in ("GET", "HEAD", "OPTIONS"):
        return path not in ("/api/v1/answer", "/api/v1/search")
    return (
        method == "POST"
        and path.startswith("/gradio_api/")
        and not path.startswith(GRADIO_ASKER_POSTS)
    )


# Elements whose events change articles: the Articles tab's ingest and delete buttons (Delete
# asks, its Confirm deletes: both for editors only), and the feeds panel's follow, ingest-URL
# and poll buttons (each fetches and stores articles).
EDITING_ELEMENTS = {
    "qa-ingest",
    "qa-delete",
    "qa-delete-confirm",
    "qa-feed-add",
    "qa-url-ingest",
    "qa-feed-poll",
}


def _route_entries(routes: list[Any], prefix: str) -> Iterator[tuple[str, set[str]]]:
    for route in routes:
        if isinstance(route, Mount):
            yield from _route_entries(route.routes, prefix + route.path.rstrip("/"))
        elif hasattr(route, "effective_route_contexts"):  # a router FastAPI included
            for context in route.effective_route_contexts():
                methods = getattr(context.original_route, "methods", None) or {"GET"}
                yield prefix + context.path, set(methods)
        elif hasattr(route, "path"):
            yield prefix + route.path, set(getattr(route, "methods", None) or {"GET"})


def served_routes(app: Any) -> list[tuple[str, str]]:
    """(method, concrete path) for every route of the app and of everything mounted on it;
    path parameters are filled with 'probe'."""
    found = set()
    for template, methods in _route_entries(app.router.routes, ""):
        path = re.sub(r"\{[^}]+\}", "probe", template) or "/"
        found |= {(method, path) for method in methods}
    return sorted(found)


def gradio_events(config: dict) -> dict[int, bool]:
    """fn_index -> does it change articles (is it triggered by an editing element)?"""
    elements = {c["id"]: c.get("props", {}).get("elem_id") for c in config["components"]}
    events = {}
    for dependency in config["dependencies"]:
        targets = [target[0] for target in dependency.get("targets", [])]
        events[dependency["id"]] = any(elements.get(t) in EDITING_ELEMENTS for t in targets)
    return events


def refused_by_door(reply: httpx.Response) -> bool:
    """A 401, or a 403 in our error shape (Gradio answers 403 itself for files it won't serve)."""
    if reply.status_code == 401:
        return True
    if reply.status_code != 403:
        return False
    try:
        return reply.json()["error"]["type"] == "permission_error"
    except (ValueError, KeyError, TypeError):
        return False


def probe(client: httpx.Client, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """One request, reading no more than the head of a streamed reply (SSE routes never end)."""
    if method in ("POST", "PUT", "PATCH") and "json" not in kwargs and "content" not in kwargs:
        kwargs["json"] = {}
    with client.stream(method, path, **kwargs) as reply:
        if reply.headers.get("content-type", "").startswith(("application/json", "text/plain")):
            reply.read()
        return reply


def signed_in(url: str, user: str, password: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=60)
    reply = client.post("/login", data={"username": user, "password": password})
    assert reply.status_code == 200, reply.text
    return client


def event_index(client: httpx.Client, elem_id: str) -> int:
    """The fn_index of the (first) event the element with `elem_id` triggers."""
    config = client.get("/config").json()
    ids = {c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == elem_id}
    for dependency in config["dependencies"]:
        if any(target[0] in ids for target in dependency.get("targets", [])):
            return dependency["id"]
    raise LookupError(elem_id)


def file_data(path: str, name: str = "article.txt") -> dict[str, Any]:
    """A Gradio file object as the browser sends it after an upload."""
    return {"path": path, "orig_name": name, "meta": {"_type": "gradio.FileData"}}


def run_event(
    client: httpx.Client, fn_index: int, data: list[Any], session: str = "probe-session"
) -> tuple[httpx.Response, dict[str, Any] | None]:
    """Join the queue with one event; (the join reply, its process_completed message or None
    when the join was refused). Reads the session's SSE stream until the event completes."""
    import json

    body = {"data": data, "fn_index": fn_index, "session_hash": session, "trigger_id": None}
    joined = client.post("/gradio_api/queue/join", json=body)
    if joined.status_code != 200:
        return joined, None
    with client.stream("GET", "/gradio_api/queue/data", params={"session_hash": session}) as sse:
        for line in sse.iter_lines():
            if not line.startswith("data:"):
                continue
            message = json.loads(line[5:])
            if message.get("msg") == "process_completed":
                return joined, message
    return joined, None

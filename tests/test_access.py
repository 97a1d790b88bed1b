"""The attacker's suite: every route the running process serves, for each credential setting,
asked by every kind of client; and the chat window's event handlers, each by its fn_index.

The routes are read from the app (FastAPI routes, routers FastAPI included, and the mounted
Gradio app's), the handlers from the Gradio config a signed-in client gets, so a route or a
handler added later is probed without anyone listing it here. Only what the policy promises
is written down: what is anonymous (health, the docs, the login page) and what changes
articles (the API's article writes, Gradio's upload, and the ingest and delete buttons).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from tests.access_fixtures import (
    ASKER,
    EDITOR,
    KEY,
    OPEN,
    USERS,
    changes_articles,
    gradio_events,
    probe,
    refused_by_door,
    served_routes,
    signed_in,
)
from tests.api_fixtures import SEED_QUESTION, make_assistant, serve_in_thread

SETTINGS: dict[str, dict[str, Any]] = {
    "open": {},
    "key": {"api_key": SecretStr(KEY)},
    "key+users": {"api_key": SecretStr(KEY), "ui_users": SecretStr(USERS), "ui_editors": "alice"},
}


@dataclass
class Served:
    mode: str
    url: str
    app: Any
    clients: dict[str, httpx.Client]

    @property
    def closed(self) -> bool:
        return self.mode != "open"


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return make_assistant(tmp_path_factory.mktemp("access") / "data")


@pytest.fixture(scope="module", params=list(SETTINGS))
def served(request: pytest.FixtureRequest, assistant: Any) -> Iterator[Served]:
    from qa.server import build_server

    settings = assistant.settings.model_copy(update=SETTINGS[request.param])
    app = build_server(settings, assistant)
    assert not hasattr(app.state, "ui_error"), app.state.ui_error
    with serve_in_thread(app, lifespan="on") as url:
        clients = {
            "anonymous": httpx.Client(base_url=url, timeout=60),
            "wrong key": httpx.Client(
                base_url=url, timeout=60, headers={"Authorization": "Bearer not-the-key"}
            ),
        }
        if request.param != "open":
            clients["key"] = httpx.Client(
                base_url=url, timeout=60, headers={"Authorization": f"Bearer {KEY}"}
            )
        if request.param == "key+users":
            clients["asker"] = signed_in(url, *ASKER)
            clients["editor"] = signed_in(url, *EDITOR)
        yield Served(request.param, url, app, clients)
        for client in clients.values():
            client.close()


def may(served: Served, who: str, edits: bool) -> bool:
    """What the policy promises for this client: open mode lets everyone in; otherwise no
    anonymous client or wrong key, the key everywhere, an asker only where nothing changes."""
    if not served.closed:
        return True
    if who in ("anonymous", "wrong key"):
        return False
    return who != "asker" or not edits


def test_every_route_admits_exactly_whom_the_policy_says(served: Served) -> None:
    routes = served_routes(served.app)
    assert ("POST", "/gradio_api/queue/join") in routes and ("GET", "/api/v1/health") in routes
    wrong = []
    for method, path in routes:
        if (path in ("/login", "/logout") and method == "POST") or path == "/logout":
            continue  # they check a password / end the session: tested on their own below
        edits = changes_articles(method, path)
        for who, client in served.clients.items():
            reply = probe(client, method, path)
            expected_in = (method, path) in OPEN or may(served, who, edits)
            if refused_by_door(reply) == expected_in:
                wrong.append((who, method, path, reply.status_code))
    assert not wrong, wrong


def test_every_chat_window_handler_admits_exactly_whom_the_policy_says(served: Served) -> None:
    allowed = served.clients.get("key") or served.clients["anonymous"]
    config = allowed.get("/config").json()
    events = gradio_events(config)
    assert any(events.values()) and not all(events.values()), events  # ingest/delete found
    wrong = []
    for fn_index, edits in events.items():
        body = {"data": [], "fn_index": fn_index, "session_hash": "attacker", "trigger_id": None}
        for who, client in served.clients.items():
            for path in ("/gradio_api/queue/join", "/gradio_api/run/chat", "/gradio_api/call/chat"):
                reply = probe(client, "POST", path, json=body)
                if refused_by_door(reply) == may(served, who, edits):
                    wrong.append((who, path, fn_index, edits, reply.status_code))
    assert not wrong, wrong


def test_unknown_fn_index_is_a_404_not_a_crash(served: Served) -> None:
    client = served.clients.get("key") or served.clients["anonymous"]
    body = {"data": [], "fn_index": 9999, "session_hash": "attacker"}
    reply = client.post("/gradio_api/queue/join", json=body)
    assert reply.status_code == 404 and reply.json()["error"]["code"] == "no_such_event"


def test_gradio_client_needs_a_credential_for_chat(served: Served) -> None:
    gradio_client = pytest.importorskip("gradio_client")
    args = (SEED_QUESTION, "", "", [], "extractive", 8)
    if served.closed:
        with pytest.raises(Exception):  # noqa: B017 - gradio_client raises several types here
            gradio_client.Client(served.url + "/", verbose=False).predict(*args, api_name="/chat")
        with pytest.raises(Exception):  # noqa: B017
            gradio_client.Client(
                served.url + "/", verbose=False, headers={"Authorization": "Bearer nope"}
            ).predict(*args, api_name="/chat")
    credentials: list[dict[str, Any]] = [{}]
    if served.closed:
        credentials = [{"headers": {"Authorization": f"Bearer {KEY}"}}]
    if served.mode == "key+users":
        credentials.append({"auth": ASKER})
    for credential in credentials:
        client = gradio_client.Client(served.url + "/", verbose=False, **credential)
        messages, sources_html, _ = client.predict(*args, api_name="/chat")
        assert "Russia" in str(messages[-1]["content"]) and "<mark>" in sources_html


def test_a_browser_without_a_credential_is_sent_to_sign_in(served: Served) -> None:
    reply = served.clients["anonymous"].get("/", headers={"Accept": "text/html"})
    if served.closed:
        assert reply.status_code == 303 and reply.headers["location"].startswith("/login")
        page = served.clients["anonymous"].get(reply.headers["location"])
        assert page.status_code == 200 and 'name="password"' in page.text
    else:
        assert reply.status_code == 200 and "<html" in reply.text.lower()


def test_signing_out_ends_the_session(served: Served) -> None:
    if served.mode != "key+users":
        pytest.skip("needs UI users")
    client = signed_in(served.url, *ASKER)
    assert client.get("/gradio_api/info").status_code == 200
    client.get("/logout")
    assert client.get("/gradio_api/info").status_code == 401


def test_the_key_signs_in_the_chat_window_as_api(served: Served) -> None:
    if not served.closed:
        pytest.skip("needs the key")
    client = signed_in(served.url, "api", KEY)
    assert client.get("/gradio_api/info").status_code == 200
    wrong = httpx.post(served.url + "/login", data={"username": "api", "password": "nope"})
    assert wrong.status_code == 401


# --- errors in the API's shape, not the chat window's ------------------------------------------
@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("PUT", "/api/v1/health", 405),
        ("POST", "/api/v1/health", 405),
        ("PATCH", "/api/v1/answer", 405),
        ("GET", "/api/v1/x", 404),
        ("POST", "/api/v1/nothing/here", 404),
        ("GET", "/v1/x", 404),
        ("DELETE", "/v1/models", 405),
    ],
)
def test_unknown_api_routes_answer_in_the_api_error_shape(
    assistant: Any, method: str, path: str, status: int
) -> None:
    from qa.server import build_server

    with serve_in_thread(build_server(assistant.settings, assistant)) as url:
        reply = httpx.request(method, url + path, timeout=60)
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert body["error"]["message"] == body["detail"]
    if status == 405:
        assert "GET" in reply.headers["allow"] or "POST" in reply.headers["allow"]

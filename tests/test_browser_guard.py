"""Other web pages cannot use the server through the user's browser (qa.access.browser).

Found in round 19 by a new-user sweep: a page on another origin planted an article in the
default open `qa serve` with a no-preflight multipart POST; any Host was answered (DNS
rebinding); the app could be framed.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from qa.access.browser import is_loopback_name
from tests.api_fixtures import make_assistant, serve_in_thread

ARTICLE = b"Planted by a web page\n\nThe mayor of Quahog resigned on Thursday, a page said.\n"


@pytest.fixture(scope="module")
def assistant(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return make_assistant(tmp_path_factory.mktemp("guard") / "data")


@pytest.fixture(scope="module")
def open_on_loopback(assistant: Any) -> Iterator[tuple[str, httpx.Client]]:
    """Served as `qa serve` serves the default: open, on 127.0.0.1."""
    from qa.server import build_server

    app = build_server(assistant.settings, assistant, loopback_only=True)
    with serve_in_thread(app) as url, httpx.Client(base_url=url, timeout=60) as client:
        yield url, client


def _upload(client: httpx.Client, **headers: str) -> httpx.Response:
    files = {"files": ("planted.txt", ARTICLE, "text/plain")}
    return client.post("/api/v1/articles", files=files, headers=headers)


def _count(assistant: Any) -> int:
    return int(assistant.service.store.count_articles())


@pytest.mark.parametrize("origin", ["http://evil.example", "http://localhost:7909", "null"])
def test_a_write_from_another_pages_origin_is_refused_and_changes_nothing(
    open_on_loopback, assistant, origin
):
    _, client = open_on_loopback
    before = _count(assistant)

    reply = _upload(client, Origin=origin)

    assert reply.status_code == 403
    assert reply.json()["error"]["code"] == "cross_origin" and origin in reply.json()["detail"]
    assert _count(assistant) == before


def test_a_gradio_event_from_another_origin_is_refused(open_on_loopback):
    _, client = open_on_loopback
    reply = client.post(
        "/gradio_api/queue/join", json={"fn_index": 0}, headers={"Origin": "http://evil.example"}
    )
    assert reply.status_code == 403


def test_the_apps_own_pages_and_clients_without_origin_still_write(open_on_loopback, assistant):
    url, client = open_on_loopback
    before = _count(assistant)

    own_page = _upload(client, Origin=url)
    assert own_page.status_code == 200, own_page.text
    assert client.delete(f"/api/v1/articles/{own_page.json()['article_ids'][0]}").status_code in (
        200,
        204,
    )
    cli = _upload(client)  # qa.client and curl send no Origin

    assert cli.status_code == 200 and _count(assistant) == before + 1


@pytest.mark.parametrize("path", ["/", "/api/v1/articles", "/gradio_api/info"])
def test_a_rebound_host_name_is_refused_on_an_open_loopback_server(open_on_loopback, path):
    url, client = open_on_loopback
    port = url.rsplit(":", 1)[1]

    rebound = client.get(path, headers={"Host": f"rebind.evil.example:{port}"})
    local = client.get(path, headers={"Host": f"localhost:{port}"})

    assert rebound.status_code == 400 and rebound.json()["error"]["code"] == "bad_host"
    assert local.status_code == 200


def test_every_response_forbids_framing_and_sniffing(open_on_loopback):
    _, client = open_on_loopback
    for path in ("/", "/api/v1/health", "/api/v1/no-such-route"):
        headers = client.get(path).headers
        assert headers["x-frame-options"] == "DENY", path
        assert headers["content-security-policy"] == "frame-ancestors 'none'", path
        assert headers["x-content-type-options"] == "nosniff", path


def test_behind_a_proxy_the_forwarded_host_is_the_servers_own(assistant):
    """With a credential (or QA_ALLOW_OPEN) any Host is answered; a page served by the proxy
    under its public name writes with an Origin the proxy names in X-Forwarded-Host."""
    from qa.server import build_server

    settings = assistant.settings.model_copy(update={"api_key": SecretStr("k" * 24)})
    key = {"Authorization": f"Bearer {'k' * 24}", "Host": "news.example.com"}
    with serve_in_thread(build_server(settings, assistant)) as url, httpx.Client(base_url=url) as c:
        proxied = {**key, "X-Forwarded-Host": "news.example.com"}
        assert c.get("/api/v1/articles", headers=key).status_code == 200
        ok = _upload(c, Origin="https://news.example.com", **proxied)
        refused = _upload(c, Origin="https://evil.example", **proxied)
    assert ok.status_code == 200, ok.text
    assert refused.status_code == 403


def test_which_servers_answer_to_loopback_names_only():
    from index.settings import Settings
    from qa.access import AccessPolicy
    from qa.server import loopback_only

    open_policy = AccessPolicy.from_settings(Settings())
    closed = AccessPolicy.from_settings(Settings(api_key=SecretStr("k" * 24)))
    assert loopback_only("127.0.0.1", open_policy, Settings())
    assert not loopback_only("127.0.0.1", closed, Settings())
    assert not loopback_only("127.0.0.1", open_policy, Settings(allow_open=True))
    assert not loopback_only("0.0.0.0", open_policy, Settings(allow_open=True))
    assert [is_loopback_name(h) for h in ("localhost", "app.localhost", "127.0.0.2", "[::1]")] == [
        True
    ] * 4
    assert not any(is_loopback_name(h) for h in ("evil.example", "127.0.0.1.evil.example", ""))

"""Signing in: throttled failed logins (per user and per address, with back-off), sessions that
expire, and a server that will not listen off loopback with no credential (issue 16 items 1, 5).

Before: 300 wrong UI logins in 2.7 s with no slow-down; `qa serve --host 0.0.0.0` with no key
only logged a warning.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from index.settings import Settings
from qa.access.login import LoginThrottle, SessionStore
from tests.access_fixtures import ASKER, EDITOR, KEY, USERS
from tests.api_fixtures import make_assistant, serve_in_thread


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# --- the throttle, on a clock the test moves ----------------------------------------------------
def test_failures_past_the_free_ones_wait_twice_as_long_each_time() -> None:
    clock = Clock()
    throttle = LoginThrottle(free=5, base_s=1.0, max_s=60.0, clock=clock)
    for _ in range(5):
        assert throttle.retry_after("ann", "10.0.0.1") == 0
        throttle.failed("ann", "10.0.0.1")
    waits = []
    for _ in range(8):
        wait = throttle.retry_after("ann", "10.0.0.1")
        waits.append(wait)
        clock.now += wait
        assert throttle.retry_after("ann", "10.0.0.1") == 0
        throttle.failed("ann", "10.0.0.1")
    assert waits == [1, 2, 4, 8, 16, 32, 60, 60]


def test_one_address_guessing_many_names_is_slowed() -> None:
    throttle = LoginThrottle(free=5, clock=Clock())
    for n in range(6):
        throttle.failed(f"user{n}", "10.0.0.9")
    assert throttle.retry_after("someone-new", "10.0.0.9") > 0
    assert throttle.retry_after("someone-new", "10.0.0.10") == 0


def test_many_addresses_guessing_one_name_are_slowed() -> None:
    throttle = LoginThrottle(free=5, clock=Clock())
    for n in range(6):
        throttle.failed("ann", f"10.0.1.{n}")
    assert throttle.retry_after("ann", "10.0.2.1") > 0
    assert throttle.retry_after("bob", "10.0.2.1") == 0


def test_success_clears_the_user_not_the_address_and_old_failures_are_forgotten() -> None:
    clock = Clock()
    throttle = LoginThrottle(free=2, forget_s=100.0, clock=clock)
    for _ in range(3):
        throttle.failed("ann", "10.0.0.1")
    throttle.succeeded("ann")
    assert throttle.retry_after("ann", "10.0.0.2") == 0
    assert throttle.retry_after("ann", "10.0.0.1") > 0  # the address still guessed
    clock.now += 101
    assert throttle.retry_after("ann", "10.0.0.1") == 0


def test_the_throttle_keeps_a_bounded_number_of_keys() -> None:
    throttle = LoginThrottle(capacity=100, clock=Clock())
    for n in range(1000):
        throttle.failed(f"user{n}", "10.0.0.1")
    assert len(throttle._failures) <= 100
    assert throttle.retry_after("anyone", "10.0.0.1") > 0  # the busy address stays tracked


def test_sessions_expire_and_end() -> None:
    clock = Clock()
    sessions = SessionStore(ttl_s=60, capacity=3, clock=clock)
    token = sessions.create("ann")
    assert sessions.user(token) == "ann" and sessions.user("forged") is None
    clock.now += 61
    assert sessions.user(token) is None
    tokens = [sessions.create(f"u{n}") for n in range(5)]
    assert sessions.user(tokens[0]) is None and sessions.user(tokens[-1]) == "u4"
    sessions.end(tokens[-1])
    assert sessions.user(tokens[-1]) is None


# --- over HTTP ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Any]]:
    from qa.server import build_server

    assistant = make_assistant(tmp_path_factory.mktemp("login") / "data", ingest=False)
    settings = assistant.settings.model_copy(
        update={"api_key": SecretStr(KEY), "ui_users": SecretStr(USERS), "ui_editors": "alice"}
    )
    app = build_server(settings, assistant)
    with serve_in_thread(app) as base:
        yield base, app


@pytest.fixture
def url(server: tuple[str, Any]) -> str:
    """The server's URL, its throttle cleared: every test logs in from the same address."""
    base, app = server
    app.state.access.throttle._failures.clear()
    return base


def test_wrong_logins_are_refused_with_back_off(url: str) -> None:
    statuses, started = [], time.perf_counter()
    with httpx.Client(base_url=url, timeout=30) as client:
        for n in range(300):
            reply = client.post("/login", data={"username": ASKER[0], "password": f"guess{n}"})
            statuses.append(reply.status_code)
        took = time.perf_counter() - started
        right = client.post("/login", data={"username": ASKER[0], "password": ASKER[1]})
    assert statuses[:5] == [401] * 5 and statuses[5] == 429
    # Past the five free ones a password is checked once per wait (1 s, 2 s, 4 s, …): in
    # `took` seconds at most log2(took) + 1 more checks, every other try a 429.
    checked_after = statuses[5:].count(401)
    assert checked_after <= math.log2(took + 1) + 1, (checked_after, took)
    assert statuses.count(429) >= 300 - 5 - checked_after
    assert int(reply.headers["retry-after"]) >= 1
    assert right.status_code == 429, "a locked-out user is not checked, even when right"


def test_a_browser_login_returns_to_the_page_and_refusals_show_the_form(url: str) -> None:
    html = {"Accept": "text/html"}
    with httpx.Client(base_url=url, timeout=30, headers=html) as client:
        page = client.get("/login", params={"next": "//evil.example/x"})
        assert 'value="/"' in page.text, "only a local path may be returned to"
        wrong = client.post("/login", data={"username": EDITOR[0], "password": "no"})
        assert wrong.status_code == 401 and "Wrong user name or password" in wrong.text
        right = client.post(
            "/login", data={"username": EDITOR[0], "password": EDITOR[1], "next": "/?x=1"}
        )
        assert right.status_code == 303 and right.headers["location"] == "/?x=1"
        cookie = right.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=lax" in cookie


def test_a_login_form_over_the_form_limit_is_a_413(url: str) -> None:
    reply = httpx.post(url + "/login", data={"username": "x" * 100_000, "password": "y"})
    assert reply.status_code == 413


# --- who may listen where -----------------------------------------------------------------------
@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "example.org"])
def test_a_reachable_address_with_no_credential_refuses_to_start(host: str) -> None:
    from qa.server import ServeRefused, check_exposure

    with pytest.raises(ServeRefused, match="QA_ALLOW_OPEN"):
        check_exposure(host, Settings())
    check_exposure(host, Settings(allow_open=True))
    check_exposure(host, Settings(api_key=SecretStr("k")))
    check_exposure(host, Settings(ui_users=SecretStr("ann:pw")))


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "::1", "127.0.0.2"])
def test_loopback_may_start_open(host: str) -> None:
    from qa.server import check_exposure

    assert not check_exposure(host, Settings()).closed


@pytest.mark.timeout(60)  # the code before this branch went on to serve 0.0.0.0
def test_qa_serve_on_all_interfaces_with_no_credential_exits_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from qa.cli import app

    for name in ("QA_API_KEY", "QA_UI_USERS", "QA_ALLOW_OPEN"):
        monkeypatch.delenv(name, raising=False)
    started = time.perf_counter()
    result = CliRunner().invoke(app, ["serve", "--host", "0.0.0.0", "--port", "1"])
    assert result.exit_code == 2 and "refusing to serve 0.0.0.0" in result.output
    assert time.perf_counter() - started < 5, "it loaded models before refusing"


@pytest.mark.parametrize(
    ("update", "fragment"),
    [
        ({"ui_users": SecretStr("api:pw")}, "'api'"),
        ({"ui_users": SecretStr("ann:pw"), "ui_editors": "bob"}, "not in QA_UI_USERS"),
    ],
)
def test_inconsistent_credentials_refuse_to_start(update: dict[str, Any], fragment: str) -> None:
    from qa.server import ServeRefused, check_exposure

    with pytest.raises(ServeRefused, match=fragment):
        check_exposure("127.0.0.1", Settings(**update))

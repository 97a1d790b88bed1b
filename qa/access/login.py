"""Signing in: the /login page, server-side sessions, and login throttling.

Our own login replaces Gradio's so that one identity covers every route: a session cookie set
here is checked by `AccessMiddleware` for the API, the OpenAI-compatible routes and every
Gradio route alike (Gradio learns the user through `auth_dependency`), and a failed login is
throttled by user name and by client address, which Gradio's `auth` callable cannot see.

`gradio_client.Client(url, auth=(user, password))` posts the same form and keeps the cookie:
non-browser clients get JSON (200 / 401 / 429), browsers a redirect or the page again.
"""

from __future__ import annotations

import html
import math
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from qa.access.policy import KEY_USER, AccessPolicy
from qa.error_shape import error_response

SESSION_COOKIE = "newsqa_session"


class SessionStore:
    """Random tokens -> user names, expiring after `ttl_s`; at most `capacity` live sessions."""

    def __init__(
        self,
        ttl_s: float = 12 * 3600,
        capacity: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_s, self.capacity, self.clock = ttl_s, capacity, clock
        self._sessions: OrderedDict[str, tuple[str, float]] = OrderedDict()

    def create(self, user: str) -> str:
        token = secrets.token_urlsafe(32)
        self._sessions[token] = (user, self.clock() + self.ttl_s)
        while len(self._sessions) > self.capacity:
            self._sessions.popitem(last=False)
        return token

    def user(self, token: str | None) -> str | None:
        entry = self._sessions.get(token or "")
        if entry is None:
            return None
        if entry[1] < self.clock():
            self._sessions.pop(token or "", None)
            return None
        return entry[0]

    def end(self, token: str | None) -> None:
        self._sessions.pop(token or "", None)


@dataclass
class _Failures:
    count: int
    last: float


class LoginThrottle:
    """Back-off for failed logins, kept per user name and per client address.

    The first `free` failures of a key cost nothing; after that the key must wait
    `base_s * 2 ** (failures - free)` seconds (capped at `max_s`) after its last failure
    before it may try again, and a try during the wait is refused without checking the
    password. Failures older than `forget_s` are forgotten; a success clears the user's
    count (not the address's: one valid account must not reset an address's guessing).
    Per user name stops a slow guess at one account from many addresses; per address stops
    one client guessing many names. At most `capacity` keys are kept (oldest dropped).
    """

    def __init__(
        self,
        free: int = 5,
        base_s: float = 1.0,
        max_s: float = 900.0,
        forget_s: float = 3600.0,
        capacity: int = 20_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.free, self.base_s, self.max_s, self.forget_s = free, base_s, max_s, forget_s
        self.capacity, self.clock = capacity, clock
        self._failures: OrderedDict[tuple[str, str], _Failures] = OrderedDict()

    def _keys(self, user: str, address: str) -> list[tuple[str, str]]:
        return [("user", user), ("address", address)]

    def _current(self, key: tuple[str, str]) -> _Failures | None:
        entry = self._failures.get(key)
        if entry is not None and self.clock() - entry.last > self.forget_s:
            del self._failures[key]
            return None
        return entry

    def wait_s(self, failures: int) -> float:
        if failures < self.free:
            return 0.0
        return min(self.max_s, self.base_s * 2 ** (failures - self.free))

    def retry_after(self, user: str, address: str) -> float:
        """Seconds before this user may try from this address (0: now)."""
        waits = []
        for key in self._keys(user, address):
            entry = self._current(key)
            if entry is not None:
                waits.append(entry.last + self.wait_s(entry.count) - self.clock())
        return max([0.0, *waits])

    def failed(self, user: str, address: str) -> None:
        now = self.clock()
        for key in self._keys(user, address):
            entry = self._current(key) or _Failures(0, now)
            self._failures[key] = _Failures(entry.count + 1, now)
            self._failures.move_to_end(key)
        while len(self._failures) > self.capacity:
            self._failures.popitem(last=False)

    def succeeded(self, user: str) -> None:
        self._failures.pop(("user", user), None)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _wants_html(request: Request) -> bool:
    return "text/html" in request.headers.get("accept", "")


def _local_target(target: str | None) -> str:
    """Only a path on this server may be the place to return to after signing in."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def login_router(
    policy: AccessPolicy, sessions: SessionStore, throttle: LoginThrottle
) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/login")
    def login_page(request: Request) -> HTMLResponse:
        return HTMLResponse(_page(_local_target(request.query_params.get("next")), ""))

    @router.post("/login")
    async def login(request: Request) -> Response:
        form = await request.form(max_files=0, max_fields=5)
        user = str(form.get("username") or "").strip()
        password = str(form.get("password") or "")
        target = _local_target(str(form.get("next") or "/"))
        address = client_address(request)
        wait = throttle.retry_after(user, address)
        if wait > 0:
            return _refused(request, target, 429, "Too many failed sign-ins; try later.", wait)
        principal = policy.by_password(user, password)
        if principal is None:
            throttle.failed(user, address)
            return _refused(request, target, 401, "Wrong user name or password.", None)
        throttle.succeeded(user)
        token = sessions.create(principal.name)
        reply: Response = (
            RedirectResponse(target, status_code=303)
            if _wants_html(request)
            else JSONResponse({"success": True, "user": principal.name})
        )
        reply.set_cookie(
            SESSION_COOKIE,
            token,
            max_age=int(sessions.ttl_s),
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
        )
        return reply

    @router.api_route("/logout", methods=["GET", "POST"])
    def logout(request: Request) -> Response:
        sessions.end(request.cookies.get(SESSION_COOKIE))
        reply = RedirectResponse("/login", status_code=303)
        reply.delete_cookie(SESSION_COOKIE)
        return reply

    return router


def _refused(
    request: Request, target: str, status: int, message: str, retry_s: float | None
) -> Response:
    headers = {"Retry-After": str(math.ceil(retry_s))} if retry_s else None
    if _wants_html(request):
        return HTMLResponse(_page(target, message), status_code=status, headers=headers)
    return error_response(status, message, headers=headers)


def _page(target: str, message: str) -> str:
    error = f'<p class="error" role="alert">{html.escape(message)}</p>' if message else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>newsqa: sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font-family: system-ui, sans-serif; background: #f3f4f6; display: flex;
  justify-content: center; align-items: center; min-height: 100vh; margin: 0; }}
form {{ background: #fff; padding: 2em; border-radius: 8px; box-shadow: 0 1px 4px #0002;
  display: grid; gap: .8em; min-width: 18em; }}
input {{ padding: .5em; font-size: 1em; }}
button {{ padding: .6em; font-size: 1em; background: #2563eb; color: #fff; border: 0;
  border-radius: 4px; cursor: pointer; }}
.error {{ color: #991b1b; margin: 0; }}
.hint {{ color: #6b7280; font-size: .85em; margin: 0; }}
</style></head><body>
<form method="post" action="/login">
<h1 style="margin:0;font-size:1.3em">newsqa: sign in</h1>
{error}
<label>User <input name="username" autocomplete="username" required autofocus></label>
<label>Password <input name="password" type="password" autocomplete="current-password"
 required></label>
<input type="hidden" name="next" value="{html.escape(target)}">
<button type="submit">Sign in</button>
<p class="hint">With the API key, sign in as <code>{KEY_USER}</code>.</p>
</form></body></html>"""


def login_url(path: str) -> str:
    return "/login?next=" + quote(path, safe="/")

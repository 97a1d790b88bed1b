"""What a browser needs to be told so that other web pages cannot use this server through it.

The door (`qa.access.middleware`) decides who may do what; this guard stops a page from another
origin acting with the user's browser:

- **Cross-site writes.** A page anywhere may POST a form or a file to http://127.0.0.1:7860
  with no preflight (`multipart/form-data`), and in the default open mode that planted an
  article. Browsers send `Origin` on every cross-origin POST, so a write (any method but
  GET/HEAD/OPTIONS) whose Origin is not this server's own address is refused. Clients that are
  not browsers (the CLI, `qa.client`, curl) send no Origin and are not affected.
- **DNS rebinding.** A site whose name is re-pointed at 127.0.0.1 is same-origin with itself,
  so Origin cannot tell; its requests still carry its own name in `Host`. An open server bound
  to loopback answers only to loopback names (localhost, 127.x.x.x, [::1]).
- **Framing and sniffing.** No other site may frame the app (clickjacking the Delete button);
  responses are not content-sniffed; links out carry no referrer (`same-origin`).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from starlette.datastructures import Headers, MutableHeaders

from qa.access.middleware import ASGIApp, Message, Receive, Scope, Send
from qa.error_shape import error_response

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    # Not "no-referrer": with it a browser sends "Origin: null" on its own form POSTs (Fetch
    # standard), which the cross-site check above would refuse.
    "Referrer-Policy": "same-origin",
}


def is_loopback_name(host: str) -> bool:
    """localhost, *.localhost (browsers resolve it to loopback themselves), 127.x, ::1."""
    host = host.lower().rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _host_name(authority: str) -> str:
    """The host part of a Host header value ("[::1]:7860" -> "[::1]")."""
    return urlsplit(f"//{authority}").hostname or ""


def _authority(url: str) -> str:
    """An Origin's host[:port] as a Host header would give it (default ports dropped)."""
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    if not parts.hostname:
        return ""
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return host if parts.port in (None, default) else f"{host}:{parts.port}"


def _own_addresses(headers: Headers) -> set[str]:
    """Host, and X-Forwarded-Host from a proxy (a page cannot set either on a no-preflight
    request, so neither can be forged by the page this guards against)."""
    values = [headers.get("host", ""), *headers.get("x-forwarded-host", "").split(",")]
    return {value.strip().lower() for value in values if value.strip()}


class BrowserGuard:
    """ASGI middleware, outermost. `loopback_only`: refuse a Host that is not a loopback name
    (an open server bound to loopback; `qa serve` decides, see `qa.server.serve`)."""

    def __init__(self, app: ASGIApp, loopback_only: bool = False) -> None:
        self.app = app
        self.loopback_only = loopback_only

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008})
                return
            status, message, code = refusal
            await error_response(status, message, code=code)(scope, receive, _with_headers(send))
            return
        await self.app(scope, receive, _with_headers(send))

    def _refusal(self, scope: Scope, headers: Headers) -> tuple[int, str, str] | None:
        host = headers.get("host", "")
        if self.loopback_only and not is_loopback_name(_host_name(host)):
            return (
                400,
                f"Host {host!r} is not this server's: it is served open on a loopback address "
                "and answers to localhost, 127.0.0.1 or [::1] only (QA_ALLOW_OPEN=true serves "
                "it open to any address on purpose)",
                "bad_host",
            )
        method = scope.get("method", "GET") if scope["type"] == "http" else "WEBSOCKET"
        origin = headers.get("origin")
        if method in SAFE_METHODS or origin is None:
            return None
        if _authority(origin) not in _own_addresses(headers):
            return (
                403,
                f"refusing a {method} from the web page at {origin}: only this server's own "
                "pages, and clients that are not browsers, may change or ask it",
                "cross_origin",
            )
        return None


def _with_headers(send: Send) -> Send:
    async def send_with_headers(message: Message) -> None:
        if message["type"] == "http.response.start":
            headers = MutableHeaders(scope=message)
            for name, value in HEADERS.items():
                headers.setdefault(name, value)
        await send(message)

    return send_with_headers

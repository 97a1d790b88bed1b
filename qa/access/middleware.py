"""The door every request of the process goes through: FastAPI routes and the mounted Gradio
app alike (`create_app` installs it outermost, so the mount is behind it too).

For each request: who is it (bearer key, session cookie, or nobody), what does the route need
(`policy.classify`, and for Gradio events the handler the body names), and is the body within
its limit. Refusals are JSON in the API's error shape: 401 (no or wrong credential), 403 (not
allowed to change articles), 404 (no such event), 400/413/415 (bad input); a browser asking
for a page without a credential is sent to /login instead. One exception: a Gradio upload
refused as a whole (too many files, too large, not multipart) gets its message as plain text,
because Gradio's browser client shows that body as it is, in a toast. A single bad file of an
upload does not refuse it: it is replaced by a placeholder naming it and the reason
(`gradio_guard.UploadFilter`), and the ingest reports it while the rest goes on.
"""

from __future__ import annotations

import html
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from typing import IO, Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse

from index.limits import MAX_FORM_BYTES, MAX_UPLOAD_BODY_BYTES, InputError, too_large_body
from qa.access.gradio_guard import GradioEvents, UploadFilter, parse_event_body
from qa.access.login import SESSION_COOKIE, LoginThrottle, SessionStore, login_url
from qa.access.policy import EVERYONE, AccessPolicy, Permission, Principal, Route, classify
from qa.error_shape import error_response

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

PRINCIPAL_KEY = "newsqa.principal"  # where the request's Principal is left in the ASGI scope
# Bodies the middleware reads itself are MAX_FORM_BYTES at most, but a Gradio upload, which it
# re-encodes as it arrives (the API's own bodies are limited by BodyLimitMiddleware).
REPLAY_CHUNK = 64 * 1024
API_PREFIXES = ("/api/", "/v1/")


class AccessState:
    """What the door knows: the policy, the sessions and throttle of /login, and (once the UI
    is mounted) the Gradio event handlers and upload folder."""

    def __init__(self, policy: AccessPolicy) -> None:
        self.policy = policy
        self.sessions = SessionStore()
        self.throttle = LoginThrottle()
        self.gradio: GradioEvents | None = None

    def identify(self, scope: Scope) -> Principal | bool | None:
        """The principal; None for nobody; False for a wrong bearer key (always refused)."""
        if not self.policy.closed:
            return EVERYONE
        request = Request(scope)
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token:
            return self.policy.by_key(token.strip()) or False
        user = self.sessions.user(request.cookies.get(SESSION_COOKIE))
        return self.policy.principal(user) if user else None

    def gradio_user(self, request: Request) -> str | None:
        """Gradio's `auth_dependency`: the name of the principal the door let in."""
        principal = request.scope.get(PRINCIPAL_KEY)
        return principal.name if isinstance(principal, Principal) else None


class AccessMiddleware:
    def __init__(self, app: ASGIApp, state: AccessState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        method = scope.get("method", "GET") if scope["type"] == "http" else "GET"
        path = scope.get("path", "")
        route, needed = classify(method, path)
        principal = self.state.identify(scope)
        if needed == Permission.OPEN:
            scope[PRINCIPAL_KEY] = principal or None
            await self._forward(scope, receive, send, path, route)
            return
        if not isinstance(principal, Principal):
            await self._unauthenticated(scope, receive, send, wrong_key=principal is False)
            return
        scope[PRINCIPAL_KEY] = principal
        if scope["type"] == "websocket":
            await self.app(scope, receive, send)
            return
        if route == Route.GRADIO_UPLOAD:
            await self._upload(scope, receive, send, principal, needed)
            return
        try:
            body, needed = await self._read_and_classify(scope, receive, route, needed)
        except InputError as refused:
            await _refuse(scope, receive, send, refused.status, str(refused), refused)
            return
        if not principal.may(needed):
            await _forbidden(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive) if body is not None else receive, send)

    async def _upload(
        self, scope: Scope, receive: Receive, send: Send, principal: Principal, needed: Permission
    ) -> None:
        """A Gradio upload: the editor's files, each refused one replaced by a placeholder."""
        if not principal.may(needed):
            await _forbidden(scope, receive, send)
            return
        try:
            body = await _filter_upload(scope, receive)
        except InputError as refused:
            # Gradio's browser client toasts a refused upload as "HTTP 413: <the body as it
            # is>", inserted as HTML: the refusal is its one sentence, escaped.
            shown = html.escape(str(refused), quote=False)
            await PlainTextResponse(shown, status_code=refused.status)(scope, receive, send)
            return
        with body:
            size = body.seek(0, 2)
            body.seek(0)
            headers = [(k, v) for k, v in scope.get("headers", []) if k != b"content-length"]
            scope["headers"] = [*headers, (b"content-length", str(size).encode())]
            await self.app(scope, _replay_file(body, receive), send)

    async def _forward(
        self, scope: Scope, receive: Receive, send: Send, path: str, route: Route
    ) -> None:
        """An OPEN route: only /login's form is read here, and only within MAX_FORM_BYTES."""
        if scope["type"] == "http" and path == "/login" and scope.get("method") == "POST":
            try:
                body = await _read_body(scope, receive, MAX_FORM_BYTES)
            except InputError as refused:
                await _refuse(scope, receive, send, refused.status, str(refused), refused)
                return
            receive = _replay(body, receive)
        await self.app(scope, receive, send)

    async def _read_and_classify(
        self, scope: Scope, receive: Receive, route: Route, needed: Permission
    ) -> tuple[bytes | None, Permission]:
        """Read the bodies the door must see; the permission the request really needs."""
        path, method = scope.get("path", ""), scope.get("method", "GET")
        if method in ("GET", "HEAD", "OPTIONS") or path.startswith(API_PREFIXES):
            return None, needed
        body = await _read_body(scope, receive, MAX_FORM_BYTES)
        gradio = self.state.gradio
        if route == Route.GRADIO_EVENT and gradio is not None:
            return body, gradio.needed(path, parse_event_body(body))
        return body, needed

    async def _unauthenticated(
        self, scope: Scope, receive: Receive, send: Send, *, wrong_key: bool
    ) -> None:
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        request = Request(scope)
        path = scope.get("path", "")
        page = not path.startswith((*API_PREFIXES, "/gradio_api/"))
        if (
            page
            and scope.get("method") in ("GET", "HEAD")
            and "text/html" in request.headers.get("accept", "")
        ):
            await RedirectResponse(login_url(path), status_code=303)(scope, receive, send)
            return
        message = "wrong bearer key" if wrong_key else "sign in or send the API key"
        response = error_response(
            401,
            message,
            field="Authorization",
            code="invalid_api_key",
            headers={"WWW-Authenticate": "Bearer"},
        )
        await response(scope, receive, send)


async def _body_chunks(
    scope: Scope, receive: Receive, limit: int, *, whole: bool
) -> AsyncIterator[bytes]:
    """The request body's chunks, InputError 413 once it is over `limit` (what is left unread
    is discarded by the server, so the connection stays usable). `whole`: a client leaving
    early is an error, not the end of the body."""
    declared = dict(scope.get("headers", [])).get(b"content-length", b"")
    if declared.isdigit() and int(declared) > limit:
        raise _too_large(int(declared), limit)
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            if whole:
                raise InputError("the client left before the upload ended", field="files")
            return
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large(size, limit)
        yield chunk
        if not message.get("more_body", False):
            return


async def _read_body(scope: Scope, receive: Receive, limit: int) -> bytes:
    """The whole request body (see _body_chunks)."""
    return b"".join([chunk async for chunk in _body_chunks(scope, receive, limit, whole=False)])


async def _filter_upload(scope: Scope, receive: Receive) -> IO[bytes]:
    """The upload body re-encoded by UploadFilter (spooled); InputError for the whole."""
    content_type = dict(scope.get("headers", [])).get(b"content-type", b"").decode("latin-1")
    if not content_type.lower().startswith("multipart/form-data"):
        raise InputError("an upload must be multipart/form-data", field="Content-Type", status=400)
    upload = UploadFilter(content_type)
    try:
        async for chunk in _body_chunks(scope, receive, MAX_UPLOAD_BODY_BYTES, whole=True):
            upload.write(chunk)
        return upload.finish()
    except BaseException:
        upload.close()
        raise


def _replay_file(body: IO[bytes], receive: Receive) -> Receive:
    """Receive `body` in chunks, then whatever the client sends next (a disconnect)."""
    done = False

    async def receive_file() -> Message:
        nonlocal done
        if done:
            return await receive()
        chunk = body.read(REPLAY_CHUNK)
        done = len(chunk) < REPLAY_CHUNK
        return {"type": "http.request", "body": chunk, "more_body": not done}

    return receive_file


async def _forbidden(scope: Scope, receive: Receive, send: Send) -> None:
    await _refuse(
        scope,
        receive,
        send,
        403,
        "changing articles needs the API key or a UI user named in QA_UI_EDITORS",
        None,
    )


def _too_large(size: int, limit: int) -> InputError:
    return InputError(too_large_body(size, limit), field="body", status=413, code="too_large")


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def receive_again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return receive_again


async def _refuse(
    scope: Scope,
    receive: Receive,
    send: Send,
    status: int,
    message: str,
    refused: InputError | None,
) -> None:
    response = error_response(
        status,
        message,
        field=refused.field if refused else None,
        code=refused.code if refused else "forbidden",
    )
    await response(scope, receive, send)

"""Who may do what, for every route the server process answers.

Three levels: OPEN (anyone: health, the API docs, the login page), ASK (questions, search,
listing and reading articles, the chat window) and EDIT (adding and deleting articles). With no
credential configured everyone may do everything, which `qa serve` allows on loopback only.
With `QA_API_KEY` or `QA_UI_USERS` set, nothing but OPEN routes is anonymous: the bearer key
may ASK and EDIT; UI users (signed in at /login) may ASK, and EDIT when `QA_UI_EDITORS` names
them. The key also signs in at /login as the user `api`, so the chat window works with it.

`required(method, path)` classifies a request by its route; Gradio's event routes (which run a
handler chosen by `fn_index` or `api_name` in the body) are classified per handler by
`qa.access.gradio_guard`, from the permission each handler declares with `@requires`.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, TypeVar

from pydantic import SecretStr

KEY_USER = "api"  # the user name the API key signs in with at /login

F = TypeVar("F", bound=Callable[..., Any])


class Permission(IntEnum):
    OPEN = 0
    ASK = 1
    EDIT = 2


def requires(permission: Permission) -> Callable[[F], F]:
    """Declare what a chat-window handler needs; an undeclared handler needs EDIT."""

    def mark(fn: F) -> F:
        fn.permission = permission  # type: ignore[attr-defined]
        return fn

    return mark


def permission_of(fn: Any) -> Permission:
    """The permission a handler declared (bound methods read their function's); EDIT if none."""
    return getattr(fn, "permission", Permission.EDIT)


@dataclass(frozen=True)
class Principal:
    name: str
    can_edit: bool

    def may(self, needed: Permission) -> bool:
        return needed <= (Permission.EDIT if self.can_edit else Permission.ASK)


EVERYONE = Principal("anonymous", can_edit=True)  # no credential configured: loopback only

# Routes anyone may use when credentials are configured (method, exact path).
OPEN_ROUTES: frozenset[tuple[str, str]] = frozenset(
    {
        *((m, "/api/v1/health") for m in ("GET", "HEAD")),
        *((m, "/docs") for m in ("GET", "HEAD")),
        ("GET", "/openapi.json"),
        ("HEAD", "/openapi.json"),
        *((m, p) for m in ("GET", "POST") for p in ("/login", "/logout")),
    }
)
# The native API's POST routes that only ask; any other write under /api/v1 changes articles.
API_QUESTIONS = frozenset({"/api/v1/answer", "/api/v1/search"})
GRADIO_API = "/gradio_api/"
# Gradio routes that run an event handler named by `fn_index` or `api_name`.
GRADIO_EVENT_PREFIXES = tuple(
    GRADIO_API + p for p in ("queue/join", "run/", "api/", "call/", "call/v2/")
)
# Gradio POST routes that change nothing stored and run no handler.
GRADIO_ASK_POSTS = tuple(GRADIO_API + p for p in ("cancel", "reset", "stream/"))
GRADIO_UPLOAD = GRADIO_API + "upload"


class Route(IntEnum):
    """How a request is classified before its body is read."""

    FIXED = 0  # its permission is known from method and path
    GRADIO_EVENT = 1  # depends on the handler the body names
    GRADIO_UPLOAD = 2  # EDIT, and the multipart body is checked like an API upload


def classify(method: str, path: str) -> tuple[Route, Permission]:
    """The kind of route and the least permission it needs."""
    if (method, path) in OPEN_ROUTES:
        return Route.FIXED, Permission.OPEN
    if (
        path.startswith("/api/v1/")
        and method not in ("GET", "HEAD", "OPTIONS")
        and path not in API_QUESTIONS
    ):
        return Route.FIXED, Permission.EDIT  # an API write that is not a question
    if not path.startswith(GRADIO_API) or method in ("GET", "HEAD", "OPTIONS"):
        return Route.FIXED, Permission.ASK
    if path.rstrip("/") == GRADIO_UPLOAD:
        return Route.GRADIO_UPLOAD, Permission.EDIT
    if path.startswith(GRADIO_EVENT_PREFIXES):
        return Route.GRADIO_EVENT, Permission.ASK
    if path.startswith(GRADIO_ASK_POSTS):
        return Route.FIXED, Permission.ASK
    return Route.FIXED, Permission.EDIT  # any other Gradio POST: deny unless allowed to edit


def parse_ui_users(spec: str | SecretStr | None) -> list[tuple[str, str]]:
    """`user:pass[,user:pass]` -> [(user, pass), ...]; entries without ':' are ignored."""
    if isinstance(spec, SecretStr):
        spec = spec.get_secret_value()
    pairs = []
    for entry in (spec or "").split(","):
        user, sep, password = entry.strip().partition(":")
        if sep and user and password:
            pairs.append((user, password))
    return pairs


class AccessPolicy:
    """Credentials from the settings, and the checks every route goes through."""

    def __init__(
        self,
        api_key: str | None = None,
        users: list[tuple[str, str]] | None = None,
        editors: str | None = None,
    ) -> None:
        self.api_key = api_key or None
        self.users = dict(users or [])
        if KEY_USER in self.users:
            raise ValueError(
                f"QA_UI_USERS names a user {KEY_USER!r}: that name is the API key's at /login"
            )
        names = {name.strip() for name in (editors or "").split(",") if name.strip()}
        self.all_edit = "*" in names
        self.editors = frozenset(names - {"*"})
        unknown = self.editors - set(self.users)
        if unknown:
            raise ValueError(f"QA_UI_EDITORS names users not in QA_UI_USERS: {sorted(unknown)}")

    @classmethod
    def from_settings(cls, settings: Any) -> AccessPolicy:
        key = settings.api_key.get_secret_value() if settings.api_key else None
        return cls(key, parse_ui_users(settings.ui_users), getattr(settings, "ui_editors", None))

    @property
    def closed(self) -> bool:
        """Is any credential configured (so nothing but OPEN routes is anonymous)?"""
        return bool(self.api_key or self.users)

    def principal(self, name: str) -> Principal | None:
        """The principal a signed-in user name stands for (None if no longer configured)."""
        if name == KEY_USER and self.api_key:
            return Principal(KEY_USER, can_edit=True)
        if name in self.users:
            return Principal(name, can_edit=self.all_edit or name in self.editors)
        return None

    def by_key(self, token: str) -> Principal | None:
        given = token.encode("utf-8", "surrogatepass")
        if self.api_key and secrets.compare_digest(given, self.api_key.encode()):
            return Principal(KEY_USER, can_edit=True)
        return None

    def by_password(self, user: str, password: str) -> Principal | None:
        """Checks the password in constant time, also for unknown users."""
        expected = self.api_key if user == KEY_USER else self.users.get(user)
        matches = secrets.compare_digest(
            password.encode("utf-8", "surrogatepass"), (expected or secrets.token_hex(16)).encode()
        )
        return self.principal(user) if matches and expected else None

"""One access policy for every route of the server process.

policy.py        who may do what: OPEN / ASK / EDIT, credentials from the settings
login.py         /login and /logout, server-side sessions, login throttling
gradio_guard.py  what a Gradio request runs and carries, read before Gradio sees it
middleware.py    AccessMiddleware: the door in front of FastAPI and the mounted Gradio app
browser.py       BrowserGuard: no cross-site writes, no rebound Host, no framing
"""

from qa.access.browser import BrowserGuard
from qa.access.login import LoginThrottle, SessionStore, login_router
from qa.access.middleware import PRINCIPAL_KEY, AccessMiddleware, AccessState
from qa.access.policy import (
    KEY_USER,
    OPEN_ROUTES,
    AccessPolicy,
    Permission,
    Principal,
    classify,
    parse_ui_users,
    permission_of,
    requires,
)

__all__ = [
    "KEY_USER",
    "OPEN_ROUTES",
    "PRINCIPAL_KEY",
    "AccessMiddleware",
    "AccessPolicy",
    "AccessState",
    "BrowserGuard",
    "LoginThrottle",
    "Permission",
    "Principal",
    "SessionStore",
    "classify",
    "login_router",
    "parse_ui_users",
    "permission_of",
    "requires",
]

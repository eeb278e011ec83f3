"""What keeps the dashboard safe by default: security headers with a strict
Content-Security-Policy, a CSRF token on every POST, and authentication.

Everything here is plain ASGI middleware around the app, so it applies to every response,
the error pages and the static files included.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import inspect
import secrets
import time
from collections.abc import Awaitable, Callable
from http.cookies import SimpleCookie
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..errors import ConfigError

#: No inline script or style, nothing from another origin, no framing.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
    (b"cache-control", b"no-store"),
]
CSRF_COOKIE = "jobkit_csrf"
CSRF_FIELD = "csrf"

#: Decides whether a request may see the dashboard; may be a coroutine function.
AuthCheck = Callable[[Request], "bool | Awaitable[bool]"]


def basic_auth(username: str, password: str) -> AuthCheck:
    """An ``auth`` check accepting HTTP basic credentials ``username:password`` only."""
    if not username or not password:
        raise ConfigError("basic_auth needs a non-empty username and password")
    expected = f"{username}:{password}".encode()

    def check(request: Request) -> bool:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            given = base64.b64decode(value.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        return hmac.compare_digest(given, expected)

    return check


def csrf_token(request: Request) -> str:
    """The token forms must send back: the one in the visitor's cookie (set on first visit)."""
    return str(request.scope["jobkit.csrf"])


def csrf_ok(request: Request, form_value: object) -> bool:
    """Whether a POST carries the visitor's own token (double-submit: the cookie is
    ``SameSite=Strict``, so another site can neither read nor send it)."""
    cookie = request.cookies.get(CSRF_COOKIE, "")
    return (isinstance(form_value, str) and len(cookie) >= 32
            and hmac.compare_digest(cookie.encode(), form_value.encode()))


class Guard:
    """ASGI middleware: authentication, the CSRF cookie, security and timing headers."""

    def __init__(self, app: ASGIApp, *, auth: AuthCheck | None) -> None:
        self.app = app
        self.auth = auth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request = Request(scope)
        cookie = request.cookies.get(CSRF_COOKIE, "")
        fresh = len(cookie) < 32
        scope["jobkit.csrf"] = secrets.token_urlsafe(32) if fresh else cookie
        root = scope.get("root_path", "") or "/"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {name for name, _ in headers}
                headers += [h for h in HEADERS if h[0] not in names]
                took = (time.perf_counter() - started) * 1000
                headers.append((b"server-timing", f"app;dur={took:.2f}".encode()))
                if fresh:
                    morsel: SimpleCookie = SimpleCookie()
                    morsel[CSRF_COOKIE] = scope["jobkit.csrf"]
                    morsel[CSRF_COOKIE]["path"] = root
                    morsel[CSRF_COOKIE]["httponly"] = True
                    morsel[CSRF_COOKIE]["samesite"] = "Strict"
                    headers.append((b"set-cookie",
                                    morsel[CSRF_COOKIE].OutputString().encode()))
                message = {**message, "headers": headers}
            await send(message)

        if self.auth is not None and not await _allowed(self.auth, request):
            response = PlainTextResponse("authentication required", status_code=401,
                                         headers={"www-authenticate": 'Basic realm="jobkit"'})
            await response(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)


async def _allowed(auth: AuthCheck, request: Request) -> bool:
    verdict: Any = auth(request)
    if inspect.isawaitable(verdict):
        verdict = await verdict
    return verdict is True

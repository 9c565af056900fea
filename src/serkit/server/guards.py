"""Security middleware (pure ASGI): response headers, accepted Host names, same-origin writes.

* ``SecurityHeaders``: no-sniff everywhere, a strict CSP on the page and its assets.
* ``HostGuard``: only configured Host names (DNS rebinding: a page of evil.example whose name
  later resolves to 127.0.0.1 sends ``Host: evil.example``) -> 400.
* ``OriginGuard``: a browser request that changes state (POST), or opens a WebSocket (the live
  stream), from a page of another origin is refused with 403 before its body is read. Browsers send
  ``multipart/form-data`` posts
  across origins without a CORS preflight, so CORS response headers alone would not stop the
  upload from being processed. Requests without ``Origin`` (curl, scripts) are not browsers'
  cross-site requests and pass.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serkit.server.problems import error_response
from serkit.server.settings import ANY_HOST, normalise_host

logger = logging.getLogger("serkit.server")

# The page only talks to its own origin; /docs (FastAPI's Swagger UI) loads its assets from a
# CDN, so the policy is applied to the page and its static files only.
PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; worker-src 'self' blob:; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


def header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


class SecurityHeaders:
    """No-sniff and no-referrer everywhere; CSP, frame and permission policy on the page."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        page = path == "/" or path.startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-content-type-options", b"nosniff"))
                headers.append((b"referrer-policy", b"no-referrer"))
                if page:
                    headers.append((b"content-security-policy", PAGE_CSP.encode()))
                    headers.append((b"x-frame-options", b"DENY"))
                    headers.append((b"permissions-policy", b"microphone=(self)"))
                    headers.append((b"cache-control", b"no-cache"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def host_allowed(host: str, allowed: tuple[str, ...]) -> bool:
    for pattern in allowed:
        if pattern == ANY_HOST or host == pattern:
            return True
        if pattern.startswith("*.") and host.endswith(pattern[1:]):
            return True
    return False


class HostGuard:
    """400 for a Host header outside ``allowed`` (names normalised: no port, brackets or case)."""

    def __init__(self, app: ASGIApp, *, allowed: tuple[str, ...]) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in {"http", "websocket"}:
            await self.app(scope, receive, send)
            return
        raw = header(scope, b"host")
        host = normalise_host(raw) if raw else ""
        if not host_allowed(host, self.allowed):
            logger.info("refused Host %r (allowed: %s)", raw, ", ".join(self.allowed))
            shown = (raw or "")[:100]
            message = (
                f"host {shown!r} is not served here; the server's --allowed-hosts must list it"
                if raw
                else "request without a Host header"
            )
            await error_response(400, message)(scope, receive, send)
            return
        await self.app(scope, receive, send)


def origin_key(scheme: str, host: str, port: int | None) -> tuple[str, int | None]:
    """(host, port) with the scheme's default port dropped: a TLS proxy in front changes the scheme, not the site."""
    return host, None if port == DEFAULT_PORTS.get(scheme) else port


class OriginGuard:
    """403 for a state-changing request whose ``Origin`` is neither this server's nor in ``allowed``."""

    def __init__(self, app: ASGIApp, *, allowed: tuple[str, ...] = ()) -> None:
        self.app = app
        self.allowed = frozenset(allowed)

    def same_origin(self, scope: Scope, origin: str) -> bool:
        if origin.lower() in self.allowed:
            return True
        try:
            parts = urlsplit(origin)
            theirs = origin_key(parts.scheme, (parts.hostname or "").rstrip("."), parts.port)
            host = header(scope, b"host") or ""
            mine_url = urlsplit(f"{scope.get('scheme', 'http')}://{host}")
            mine = origin_key(mine_url.scheme, (mine_url.hostname or "").rstrip("."), mine_url.port)
        except ValueError:  # a port that is not a number, a malformed URL
            return False
        return bool(theirs[0]) and theirs == mine

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # A WebSocket handshake is a GET, but browsers open one from any page without CORS: checked too.
        if scope["type"] not in {"http", "websocket"} or scope["type"] == "http" and scope["method"] in SAFE_METHODS:
            await self.app(scope, receive, send)
            return
        origin = header(scope, b"origin")
        if origin is not None and not self.same_origin(scope, origin):
            method = scope.get("method", "WebSocket")
            logger.info("refused cross-origin %s %s from %r", method, scope.get("path"), origin)
            message = (
                f"cross-origin request refused: origin {origin[:100]!r} is not this server's; "
                "the server's --allowed-origins must list it"
            )
            await error_response(403, message)(scope, receive, send)
            return
        await self.app(scope, receive, send)

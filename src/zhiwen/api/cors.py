"""CORS for the chat widget: only origins that a live widget key allows, only for the API.

A preflight carries no key, so it is answered for any origin some widget key allows; the request that
follows is then checked against its own key's origins (``deps.customer_key``), and refused with 403
from any other. Origins are re-read every few seconds, so a new or revoked widget key takes effect
without a restart.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

ALLOWED_HEADERS = "authorization, content-type, x-visitor-token, last-event-id, x-request-id"
REFRESH_S = 5.0


class WidgetCors:
    def __init__(self, app: ASGIApp, origins: Callable[[], set[str]]) -> None:
        self._app = app
        self._read_origins = origins
        self._origins: set[str] = set()
        self._read_at = float("-inf")

    def _allowed(self, origin: str) -> bool:
        if time.monotonic() - self._read_at > REFRESH_S:
            self._origins = self._read_origins()
            self._read_at = time.monotonic()
        return origin.lower() in self._origins

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/v1/"):
            await self._app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        origin = headers.get("origin")
        if origin is None:
            await self._app(scope, receive, send)
            return
        allowed = self._allowed(origin)
        if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
            status = 204 if allowed else 403
            response_headers = [(b"vary", b"Origin"), (b"content-length", b"0")]
            if allowed:
                response_headers += [
                    (b"access-control-allow-origin", origin.encode("latin-1")),
                    (b"access-control-allow-methods", b"GET, POST"),
                    (b"access-control-allow-headers", ALLOWED_HEADERS.encode()),
                    (b"access-control-max-age", b"600"),
                ]
            await send({"type": "http.response.start", "status": status, "headers": response_headers})
            await send({"type": "http.response.body", "body": b""})
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start" and allowed:
                message["headers"] = [
                    *message.get("headers", []),
                    (b"access-control-allow-origin", origin.encode("latin-1")),
                    (b"access-control-expose-headers", b"x-request-id, retry-after"),
                    (b"vary", b"Origin"),
                ]
            await send(message)

        await self._app(scope, receive, send_with_cors)

"""Count request bytes as they arrive: a body sent without Content-Length (chunked) was never limited."""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from zhiwen.errors import TooLarge


class BodyLimit:
    """ASGI middleware: once a request's body passes ``limit`` bytes, whatever its headers claim, the
    application reads no more of it (it sees the client disconnect) and the client gets a 413."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        received = 0
        exceeded = False

        async def counted() -> Message:
            nonlocal received, exceeded
            if exceeded:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    exceeded = True
                    return {"type": "http.disconnect"}
            return message

        async def unless_exceeded(message: Message) -> None:
            if not exceeded:
                await send(message)

        try:
            await self.app(scope, counted, unless_exceeded)
        except Exception:
            if not exceeded:
                raise
        if exceeded:
            message = f"request body over {self.limit:,} bytes"
            refusal = JSONResponse({"error": {"code": TooLarge.code, "message": message}}, status_code=413)
            await refusal(scope, receive, send)

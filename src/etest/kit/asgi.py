"""Small pieces of pure ASGI shared by the middleware on the hot path (no per-request task, no
body copy: ``BaseHTTPMiddleware`` costs both)."""

from __future__ import annotations

from starlette.types import Message, Send


class StatusCapture:
    """A ``send`` that passes every message on and remembers the response's status: 500 until
    the application starts a response (an exception before it is what the client will get)."""

    __slots__ = ("send", "status")

    def __init__(self, send: Send) -> None:
        self.send = send
        self.status = 500

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = message["status"]
        await self.send(message)

"""Where a candidate's request came from."""

from __future__ import annotations

from typing import NamedTuple

from starlette.requests import Request


class Device(NamedTuple):
    """Where a candidate's request came from: stored with the attempt when it starts and with
    each answer; the client IP and the user agent."""

    ip: str | None = None
    user_agent: str | None = None

    def columns(self) -> dict[str, str | None]:
        """The ``ip`` and ``user_agent`` columns (of attempts and responses), cut to their
        sizes."""
        return {
            "ip": (self.ip or "")[:64] or None,
            "user_agent": (self.user_agent or "")[:500] or None,
        }


#: An answer without a request behind it (a timed-out item is stored by the server).
NO_DEVICE = Device()


def client_ip(request: Request) -> str | None:
    """The socket peer: ``X-Forwarded-For`` is not trusted (no proxy is configured by
    default)."""
    return request.client.host if request.client else None


def device_of(request: Request) -> Device:
    """The device a request came from (the API's and the pages' alike)."""
    return Device(client_ip(request), request.headers.get("user-agent"))

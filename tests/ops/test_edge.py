"""The edge's size limits (etest.ops.edge): against a real ``etest serve`` process on loopback
(its HTTP protocol is part of what is tested), over raw sockets so that the exact bytes on the
wire are the test's; and the middleware in-process for its route table.

Memory is read from ``/proc/<pid>/status`` (VmRSS) of the server: bounded growth is behaviour,
not timing. No assertion here is about time."""

from __future__ import annotations

import json
import select
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.params import File as FileParam

from etest.config import Settings
from etest.ops.edge import FORM_SLACK, ROUTE_CAPS, Edge, resolve_caps
from tests.support.server import Server, _die_with_parent

MB = 1024 * 1024
#: What an attack may cost the server in resident memory (it is 21 to 200 MB of input).
RSS_BOUND = 50 * MB


class Serve(Server):
    """``etest serve`` (not bare uvicorn): its HTTP protocol bounds the request head."""

    def spawn(self) -> float:
        import time

        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.starts += 1
        started = time.monotonic()
        etest = str(Path(sys.executable).with_name("etest"))
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [etest, "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                env=self._env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
        return started


@pytest.fixture(scope="module")
def served(
    settings: Settings, app: FastAPI, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Serve]:
    server = Serve(settings, tmp_path_factory.mktemp("edge"))
    try:
        server.start()
        yield server
    finally:
        server.kill()


def rss(server: Server) -> int:
    assert server.proc is not None
    for line in Path(f"/proc/{server.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


class Wire:
    """One raw HTTP/1.1 connection."""

    def __init__(self, server: Server) -> None:
        self.sock = socket.create_connection(("127.0.0.1", server.port), timeout=60)
        self.buf = b""

    def __enter__(self) -> Wire:
        return self

    def __exit__(self, *_: object) -> None:
        self.sock.close()

    def send(self, data: bytes) -> bool:
        """False when the server has closed the connection (the rest is not wanted)."""
        try:
            self.sock.sendall(data)
            return True
        except OSError:
            return False

    def answered(self) -> bool:
        """Whether the server has sent something (a refusal) while the client still sends."""
        return bool(select.select([self.sock], [], [], 0)[0])

    def response(self) -> tuple[int, dict[str, str], bytes]:
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            assert chunk, f"connection closed before a response: {self.buf[:200]!r}"
            self.buf += chunk
        head, _, rest = self.buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, v in (x.split(":", 1) for x in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            chunk = self.sock.recv(65536)
            assert chunk, "connection closed inside a response body"
            rest += chunk
        body, self.buf = rest[:length], rest[length:]
        return status, headers, body

    def closed(self) -> bool:
        """The server closed the connection (after its last response)."""
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True


def problem_code(body: bytes) -> str:
    data = json.loads(body)
    return str(data["type"]).rsplit("/", 1)[-1]


def get(path: str, *headers: bytes) -> bytes:
    extra = b"".join(h + b"\r\n" for h in headers)
    return b"GET " + path.encode() + b" HTTP/1.1\r\nHost: edge\r\n" + extra + b"\r\n"


# --- against a real server ------------------------------------------------------------------


def test_a_21_mb_bearer_token_is_refused_without_memory(served: Serve) -> None:
    before = rss(served)
    token = b"Authorization: Bearer " + b"x" * (21 * MB)
    with Wire(served) as wire:
        wire.send(get("/api/v1/organizations", token))  # the server stops reading after the bound
        status, headers, body = wire.response()
        assert status == 431
        assert headers["content-type"] == "application/problem+json"
        assert problem_code(body) == "header-too-large"
    assert rss(served) - before < RSS_BOUND
    with Wire(served) as wire:  # the server is fine
        wire.send(get("/health"))
        assert wire.response()[0] == 200


def test_a_long_authorization_is_refused_before_decoding_and_the_connection_lives_on(
    served: Serve, settings: Settings
) -> None:
    """Longer than ``max_auth_header_bytes`` but within the head's bound: the middleware
    answers 431 (no JWT is decoded: the token below is not even base64), and the keep-alive
    connection serves the next request."""
    too_long = b"Authorization: Bearer " + b"!" * (settings.max_auth_header_bytes + 1)
    with Wire(served) as wire:
        wire.send(get("/api/v1/organizations", too_long))
        status, _, body = wire.response()
        assert (status, problem_code(body)) == (431, "header-too-large")
        wire.send(get("/health"))
        status, _, body = wire.response()
        assert status == 200 and json.loads(body)["status"] == "ok"


def test_a_token_within_the_limit_still_reaches_authentication(served: Serve) -> None:
    with Wire(served) as wire:
        wire.send(get("/api/v1/organizations", b"Authorization: Bearer " + b"x" * 4000))
        status, _, body = wire.response()
        assert (status, problem_code(body)) == (401, "unauthorized")


def _post(path: str, *headers: bytes) -> bytes:
    extra = b"".join(h + b"\r\n" for h in headers)
    return (
        b"POST " + path.encode() + b" HTTP/1.1\r\nHost: edge\r\n"
        b"Content-Type: application/json\r\n" + extra + b"\r\n"
    )


def test_a_200_mb_declared_body_is_refused_unread(served: Serve) -> None:
    before = rss(served)
    with Wire(served) as wire:
        wire.send(_post("/api/v1/attempts", b"Content-Length: %d" % (200 * MB)))
        sent = 0
        while not wire.answered() and sent < 200 * MB:
            if not wire.send(b" " * (1 * MB)):
                break
            sent += MB
        status, headers, body = wire.response()
        assert (status, problem_code(body)) == (413, "payload-too-large")
        assert headers["connection"] == "close"
        assert wire.closed()
    assert rss(served) - before < RSS_BOUND


def test_a_200_mb_chunked_body_is_refused_as_it_passes_the_cap(served: Serve) -> None:
    before = rss(served)
    chunk = b"%x\r\n%s\r\n" % (64 * 1024, b" " * (64 * 1024))
    with Wire(served) as wire:
        wire.send(_post("/api/v1/attempts", b"Transfer-Encoding: chunked"))
        sent = 0
        while not wire.answered() and sent < 200 * MB:
            if not wire.send(chunk):
                break
            sent += 64 * 1024
        status, headers, body = wire.response()
        assert (status, problem_code(body)) == (413, "payload-too-large")
        assert headers["connection"] == "close"
    assert sent < 200 * MB, "the server read the whole body"
    assert rss(served) - before < RSS_BOUND


def test_a_body_within_the_cap_is_served_and_the_connection_lives_on(served: Serve) -> None:
    body = json.dumps({"token": "nope"}).encode()
    with Wire(served) as wire:
        wire.send(_post("/api/v1/attempts", b"Content-Length: %d" % len(body)) + body)
        status, _, answer = wire.response()
        assert status not in (413, 431)
        assert problem_code(answer) != "payload-too-large"
        wire.send(get("/health"))
        assert wire.response()[0] == 200


# --- the middleware in-process: the route table ---------------------------------------------


async def _echo(scope: Any, receive: Any, send: Any) -> None:
    """An app that reads the whole body and says how long it was."""
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    body = json.dumps({"size": size}).encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def _client(settings: Settings) -> httpx.AsyncClient:
    edge = Edge(
        _echo,
        max_auth_header_bytes=settings.max_auth_header_bytes,
        default_cap=settings.max_json_body_bytes,
        caps=resolve_caps(settings),
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=edge), base_url="http://edge")


async def _chunks(total: int, size: int = 64 * 1024) -> Any:
    for _ in range(total // size):
        yield b" " * size


@pytest.mark.parametrize(
    ("method", "path", "setting"),
    [
        ("POST", "/api/v1/attempts", "max_json_body_bytes"),
        ("POST", "/take", "max_json_body_bytes"),
        ("POST", "/console/organizations/-new", "max_json_body_bytes"),
        ("POST", "/api/v1/content/import", "max_content_bytes"),
        ("POST", "/console/content", "max_content_bytes"),
        ("POST", "/api/v1/candidates/import", "max_upload_bytes"),
        ("PUT", "/api/v1/candidates/3f0c/photo", "max_upload_bytes"),
        ("POST", "/console/candidates/import", "max_upload_bytes"),
    ],
)
async def test_each_route_has_its_cap(
    settings: Settings, method: str, path: str, setting: str
) -> None:
    cap = int(getattr(settings, setting)) + (0 if setting == "max_json_body_bytes" else FORM_SLACK)
    async with _client(settings) as client:
        within = await client.request(method, path, content=b" " * cap)
        assert within.status_code == 200 and within.json() == {"size": cap}
        over = await client.request(method, path, content=b" " * (cap + 1))
        assert over.status_code == 413
        assert over.headers["content-type"] == "application/problem+json"
        assert over.json()["type"] == "/errors/payload-too-large"
        # without a declared length: counted while it streams; the app never sees it all
        streamed = await client.request(method, path, content=_chunks(cap + 128 * 1024, 64 * 1024))
        assert streamed.status_code == 413
        assert streamed.json()["type"] == "/errors/payload-too-large"


async def test_a_streamed_body_within_the_cap_reaches_the_app(settings: Settings) -> None:
    async with _client(settings) as client:
        answer = await client.post("/api/v1/attempts", content=_chunks(512 * 1024))
        assert answer.status_code == 200 and answer.json() == {"size": 512 * 1024}


def test_every_upload_route_is_in_the_table(app: FastAPI) -> None:
    """A route that takes a file must have its cap in ROUTE_CAPS, or its uploads would be
    refused at the JSON size (or a new upload route would go unnoticed)."""
    import re

    from fastapi.routing import APIRoute, iter_route_contexts

    uploads = set()
    for context in iter_route_contexts(app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute) or context.path_format is None:
            continue
        params = route.dependant.body_params
        if any(isinstance(p.field_info, FileParam) for p in params):
            for method in route.methods or ():
                uploads.add((method, context.path_format))
    assert uploads, "no upload route found: the test cannot see them any more"
    listed = {(c.method, c.pattern) for c in ROUTE_CAPS}
    for method, path in uploads:
        concrete = re.sub(r"\{[^}]+\}", "3f0c", path)
        assert any(m == method and re.fullmatch(p, concrete) for m, p in listed), (
            f"{method} {path} takes a file but has no cap in etest.ops.edge.ROUTE_CAPS"
        )

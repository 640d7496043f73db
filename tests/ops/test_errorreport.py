"""Error reporting to a real HTTP server on loopback that receives sentry-sdk's envelopes: an
unexpected error of a request or of a worker job arrives once, with its type and the request id,
and nothing personal or secret is in the bytes that left the process."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import threading
import time
import uuid
import zlib
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import sentry_sdk
from fastapi import FastAPI
from pydantic import SecretStr

from etest.app import create_app
from etest.attempt import delivery
from etest.candidate import service as candidate_service
from etest.config import Settings
from etest.db import transaction
from etest.ops import errorreport
from etest.outbox.jobs import JobContext, enqueue
from etest.outbox.worker import drain
from etest.tasks import job_context
from tests.attempt.conftest import Taker, make_course
from tests.conftest import Headers, create_key, create_org, unique
from tests.outbox import tasks  # noqa: F401  (registers test.crash)
from tests.support.server import Server, _die_with_parent

FLUSH = 10.0


class Receiver:
    """A Sentry ingestion endpoint on loopback: keeps the raw (decompressed) envelopes."""

    def __init__(self) -> None:
        self.envelopes: list[bytes] = []
        received = self.envelopes

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                encoding = self.headers.get("Content-Encoding", "")
                if encoding == "gzip":
                    body = gzip.decompress(body)
                elif encoding == "deflate":
                    body = zlib.decompress(body)
                elif encoding:
                    raise AssertionError(f"unexpected Content-Encoding {encoding}")
                received.append(body)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.dsn = f"http://publickey@127.0.0.1:{self.server.server_address[1]}/1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def events(self) -> list[bytes]:
        """The envelopes that carry an error event (not sessions or client reports)."""
        sentry_sdk.flush(FLUSH)
        return [e for e in self.envelopes if b'"type":"event"' in e]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    found.thread.start()
    try:
        yield found
    finally:
        sentry_sdk.flush(FLUSH)
        sentry_sdk.get_client().close(timeout=FLUSH)
        sentry_sdk.get_global_scope().set_client(None)  # reporting off for the other tests
        found.server.shutdown()
        found.server.server_close()


@pytest.fixture
async def reported(
    settings: Settings, receiver: Receiver, plan_content: None
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """An app of its own whose process reports to ``receiver``."""
    app = create_app(settings.model_copy(update={"sentry_dsn": SecretStr(receiver.dsn)}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield app, c


async def test_unexpected_error_of_a_candidate_request(
    reported: tuple[FastAPI, httpx.AsyncClient],
    su: Headers,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Fault injection, not a mock: the answer route's delivery step is replaced for this test
    by one that raises a RuntimeError naming the candidate's email (a foreign library's message
    could); the request carries the attempt secret, a cookie and a token code in its query."""
    app, client = reported
    course = await make_course(app, client, su)
    code = await course.token(client, "CT", "A1")
    taker = Taker(app, client, code)
    assert (await taker.start()).status_code == 201
    secret = taker.headers["Authorization"].removeprefix("Bearer ")
    email = course.candidate["email"]

    async def broken(*_: Any, **__: Any) -> Any:
        raise RuntimeError(f"cannot store the answer of {email}")

    monkeypatch.setattr(delivery, "answer", broken)
    request_id = uuid.uuid4().hex  # the client's (a 500 is sent outside the id's middleware)
    resp = await client.post(
        f"/api/v1/attempts/{taker.attempt_id}/responses?code={code}",
        headers={
            **taker.headers,
            "Cookie": "etest_session=cookie-value-secret",
            "X-Request-ID": request_id,
        },
        json={"position": 1, "answer": f"my answer, {email}"},
    )
    assert resp.status_code == 500

    events = receiver.events()
    assert len(events) == 1, events
    raw = events[0]
    assert b"RuntimeError" in raw
    assert request_id.encode() in raw
    assert b'"request_id":"' + request_id.encode() in raw  # a tag, searchable
    assert b'"component":"api"' in raw
    for secret_bytes in (email, secret, code, "cookie-value-secret", "my answer"):
        assert secret_bytes.encode() not in raw, secret_bytes


async def test_unexpected_error_of_an_admin_request(
    reported: tuple[FastAPI, httpx.AsyncClient],
    su: Headers,
    receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Fault injection as above, in the candidate service behind ``POST /api/v1/candidates``,
    called with an admin's API key; and a client's mistake (4xx) is not reported."""
    app, client = reported
    uic = (await create_org(client, su, uic=unique("SENTRY")))["uic"]
    admin = await create_key(app, "admin", uic)
    email = f"{unique('p').lower()}@example.org"

    assert (
        await client.post("/api/v1/candidates", json={"uic": uic}, headers=admin)
    ).status_code == 422
    assert (await client.get(f"/api/v1/candidates/{unique()}", headers=admin)).status_code in (
        404,
        422,
    )

    async def broken(*_: Any, **__: Any) -> Any:
        raise ValueError(f"duplicate {email}")

    monkeypatch.setattr(candidate_service, "create", broken)
    request_id = uuid.uuid4().hex
    resp = await client.post(
        "/api/v1/candidates",
        json={"email": email, "uic": uic},
        headers={**admin, "X-Request-ID": request_id},
    )
    assert resp.status_code == 500

    events = receiver.events()
    assert len(events) == 1, events  # the 422 and the 404 are not there
    raw = events[0]
    assert b"ValueError" in raw and request_id.encode() in raw
    key = admin["Authorization"].removeprefix("Bearer ")
    for secret_bytes in (email, key, key.split("_")[-1]):
        assert secret_bytes.encode() not in raw, secret_bytes


async def test_unexpected_error_of_a_worker_job(
    settings: Settings, app: FastAPI, receiver: Receiver
) -> None:
    """``test.crash`` raises a RuntimeError naming a URL with a password: one report, with the
    topic; the password is not in it. A job's own failure (JobFailed) is not reported."""
    errorreport.init(
        settings.model_copy(update={"sentry_dsn": SecretStr(receiver.dsn)}), component="worker"
    )
    ctx: JobContext = job_context(settings, app.state.sessionmaker)
    async with transaction(ctx.sessionmaker) as session:
        crash = await enqueue(session, "test.crash", {}, key=unique())
        refused = await enqueue(session, "test.refused", {}, key=unique())
    await drain(ctx, limit=50)

    events = receiver.events()
    crashes = [e for e in events if str(crash).encode() in e]
    assert len(crashes) == 1, events
    assert b"RuntimeError" in crashes[0]
    assert b'"topic":"test.crash"' in crashes[0]
    assert b'"component":"worker"' in crashes[0]
    assert b"hunter2" not in crashes[0]
    assert not [e for e in events if str(refused).encode() in e]


#: A real server with one fault injected (not a route of the product): creating a candidate
#: raises. Started as ``python -c LAUNCHER PORT``.
LAUNCHER = """
import sys

import uvicorn

from etest.candidate import service


async def broken(*args, **kwargs):
    raise RuntimeError("injected fault")


service.create = broken
uvicorn.run(
    "etest.app:create_app", factory=True, host="127.0.0.1", port=int(sys.argv[1]),
    log_level="warning",
)
"""


class FaultyServer(Server):
    """:class:`Server` logging at INFO, with the fault of :data:`LAUNCHER`."""

    def _env(self) -> dict[str, str]:
        return {**super()._env(), "ETEST_LOG_LEVEL": "INFO"}

    def spawn(self) -> float:
        self.starts += 1
        started = time.monotonic()
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", LAUNCHER, str(self.port)],
                env=self._env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
        return started


async def test_every_log_line_of_a_request_carries_its_id(
    app: FastAPI, settings: Settings, su: Headers, tmp_path: Path
) -> None:
    """Read from a real server's log: the lines of a request that failed (the access line, the
    500 handler's, uvicorn's own report of the exception) are JSON and carry its request id;
    a request that went well has its id on its access line."""
    uic = (await _org(app, su))["uic"]
    admin = await create_key(app, "admin", uic)
    server = FaultyServer(settings, tmp_path)
    failed, fine = uuid.uuid4().hex, uuid.uuid4().hex
    try:
        await server.astart()
        async with httpx.AsyncClient(base_url=server.base, timeout=30) as c:
            resp = await c.post(
                "/api/v1/candidates",
                json={"email": "someone@example.org", "uic": uic},
                headers={**admin, "X-Request-ID": failed},
            )
            assert resp.status_code == 500
        # a new connection: uvicorn closes the one a 500 was sent on
        async with httpx.AsyncClient(base_url=server.base, timeout=30) as c:
            resp = await c.get("/health", headers={"X-Request-ID": fine})
            assert resp.headers["X-Request-ID"] == fine
    finally:
        server.stop()
    text = server.log_path.read_text()
    logged = [json.loads(line) for line in text.splitlines() if line.strip()]  # all JSON
    of_failed = [line for line in logged if line.get("request_id") == failed]
    events = {line["event"].strip() for line in of_failed}
    assert {"request", "unhandled_error", "Exception in ASGI application"} <= events, text
    about_fault = [line for line in logged if "injected fault" in json.dumps(line)]
    assert about_fault and all(line.get("request_id") == failed for line in about_fault), text
    assert [line["path"] for line in logged if line.get("request_id") == fine] == ["/health"]


async def _org(app: FastAPI, su: Headers) -> dict[str, Any]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        return await create_org(c, su, uic=unique("LOGS"))

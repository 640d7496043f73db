"""Reliability harness: a real ``uvicorn`` process on loopback against the session's test
database (SQLite or PostgreSQL), which a test may SIGKILL and start again on the same port;
candidates with tokens prepared through the in-process API.

Every server started here is killed in a ``finally`` (no orphans), every wait is bounded."""

from __future__ import annotations

import asyncio
import ctypes
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from etest.config import Settings
from etest.db import transaction
from etest.models import Candidate, Organization
from tests.attempt.conftest import Course, make_course
from tests.conftest import Headers

READY_TIMEOUT = 30.0
PEPPER = "test-pepper-not-secret"
#: One TLS context for every device client (plain HTTP here, but httpx builds a context per
#: client otherwise, ~50 ms each).
_TLS = ssl.create_default_context()


def device(server: Server, timeout: float = 30) -> httpx.AsyncClient:
    """A candidate's device: its own client and connection. (One shared httpx pool slows down
    sharply with tens of concurrent requests, which would measure the client, not the server.)"""
    return httpx.AsyncClient(base_url=server.base, timeout=timeout, verify=_TLS)


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL it when the thread that started it dies (pytest killed
    hard), so that no server outlives the test run. Linux only; elsewhere a no-op."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Server:
    """One ``uvicorn`` process of eTest; ``kill()`` is SIGKILL, ``start()`` starts a new one on
    the same port. Output goes to a log file whose tail is shown when the server fails."""

    def __init__(self, settings: Settings, log_dir: Path, port: int | None = None) -> None:
        self.settings = settings
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_dir = log_dir
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def _env(self) -> dict[str, str]:
        return {**os.environ, "ETEST_DATABASE_URL": self.settings.database_url,
                "ETEST_SECRET_KEY": PEPPER, "ETEST_SWEEP_INTERVAL": "0",
                "ETEST_LOG_LEVEL": "WARNING", "ETEST_VAR_DIR": str(self.settings.var_dir),
                "ETEST_ENV": "test"}

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"server-{self.port}-{self.starts}.log"

    def spawn(self) -> float:
        """Start the process (on the calling thread: see _die_with_parent); returns when."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.starts += 1
        started = time.monotonic()
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "uvicorn", "etest.app:create_app", "--factory",
                 "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning",
                 "--timeout-graceful-shutdown", "2"],
                env=self._env(), stdout=log, stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent)
        return started

    def wait_ready(self, started: float) -> float:
        """Wait until ``/ready`` answers 200; returns the seconds since ``started``."""
        assert self.proc is not None
        deadline = started + READY_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                if httpx.get(f"{self.base}/ready", timeout=1).status_code == 200:
                    return time.monotonic() - started
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.stop()
        pytest.fail(f"the server did not become ready in {READY_TIMEOUT:.0f} s:\n{self.log_tail()}")

    def start(self) -> float:
        return self.wait_ready(self.spawn())

    async def astart(self) -> float:
        return await asyncio.to_thread(self.wait_ready, self.spawn())

    def kill(self) -> None:
        """SIGKILL: no shutdown hook, no flush, open transactions die with the process."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


@pytest.fixture
def server_factory(settings: Settings, app: FastAPI, tmp_path: Path) -> Iterator[Any]:
    """Make servers for one test; every one is stopped (or killed) at teardown."""
    servers: list[Server] = []

    def make() -> Server:
        server = Server(settings, tmp_path)
        servers.append(server)
        return server

    try:
        yield make
    finally:
        for server in servers:
            server.kill()


@pytest.fixture(scope="module")
def live(settings: Settings, app: FastAPI, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[Server]:
    """One server for a module's tests that do not kill it."""
    server = Server(settings, tmp_path_factory.mktemp("server"))
    try:
        server.start()
        yield server
    finally:
        server.kill()


@pytest.fixture
async def http(live: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with device(live) as c:
        yield c


async def tokens_for(app: FastAPI, course: Course, n: int, type_: str = "PT",
                     level: str | None = None) -> list[str]:
    """``n`` new candidates of the course's organization, one token each, written in one
    transaction through the token service's own insert (the API would take ~0.1 s a token)."""
    from etest.cli import cli_actor
    from etest.token.service import insert_token

    async with transaction(app.state.sessionmaker) as session:
        org = await session.scalar(select(Organization).where(Organization.uic == course.uic))
        assert org is not None
        candidates = [Candidate(organization_id=org.id, email=f"{uuid.uuid4().hex}@example.org")
                      for _ in range(n)]
        session.add_all(candidates)
        await session.flush()
        codes = []
        for candidate in candidates:
            _, _, code = await insert_token(session, cli_actor(), app.state.settings, candidate,
                                            org.uic, type_, level, course.plan, None)
            codes.append(code)
    return codes


@pytest.fixture
async def pt_course(app: FastAPI, client: httpx.AsyncClient, su: Headers) -> Course:
    return await make_course(app, client, su, pt_engine="staged")


def right_answer(item: dict[str, Any], variant: int = 0) -> Any:
    """A correct answer for make_course's items, judged from the served view only (the keys
    there are fixed: single choice 'A', multiple choice A+C, text 'went'), in canonical form so
    that the stored value equals the value sent."""
    if item["type"] == "single_choice":
        return "A"
    if item["type"] == "multiple_choice":
        return ["A", "C"]
    if item["type"] == "text_entry":
        return ("went", "Went.", " WENT ", "went!")[variant % 4]
    raise AssertionError(f"make_course serves no {item['type']!r} item")


def wrong_answer(item: dict[str, Any]) -> Any:
    if item["type"] == "single_choice":
        return "B"
    if item["type"] == "multiple_choice":
        return ["B"]
    return "goed"


def fingerprint(item: dict[str, Any]) -> tuple[Any, ...]:
    """What identifies the served item in the candidate's view (the key is never shown)."""
    return (item["position"], item["type"], item["prompt"],
            tuple(o["id"] for o in item["options"]), item["served_at"])


def is_problem(resp: httpx.Response, status: int, code: str) -> bool:
    return (resp.status_code == status
            and resp.headers.get("content-type", "").startswith("application/problem+json")
            and resp.json().get("type") == f"/errors/{code}"
            and resp.json().get("status") == status)

"""A real ``uvicorn`` process of eTest on loopback, against the session's test database
(SQLite or PostgreSQL): used by the API fuzz test, the browser tests and the reliability tests.
A test may SIGKILL it and start it again on the same port. Every wait is bounded, and a server
dies with the process that started it."""

from __future__ import annotations

import asyncio
import ctypes
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from etest.config import Settings

READY_TIMEOUT = 90.0  # a loaded 2-core machine starts uvicorn slowly
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
        return {
            **os.environ,
            "ETEST_DATABASE_URL": self.settings.database_url,
            "ETEST_SECRET_KEY": PEPPER,
            "ETEST_SWEEP_INTERVAL": "0",
            "ETEST_LOG_LEVEL": "WARNING",
            "ETEST_VAR_DIR": str(self.settings.var_dir),
            "ETEST_ENV": "test",
            # delivery is driven by the tests that check it, not by every server they start
            "ETEST_WORKER_MODE": "external",
            # the rate limits of the settings it was given (the session's are out of the way)
            "ETEST_RATE_LIMIT_ENABLED": str(self.settings.rate_limit_enabled).lower(),
            "ETEST_RATE_LIMITS": json.dumps(self.settings.rate_limits),
        }

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
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "etest.app:create_app",
                    "--factory",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--log-level",
                    "warning",
                    "--timeout-graceful-shutdown",
                    "2",
                    # the protocol `etest serve` runs: httptools with the request head bounded
                    "--http",
                    "etest.ops.edge:HeadLimitedHttpTools",
                    # like `etest serve`: X-Forwarded-* only from ETEST_TRUSTED_PROXIES (in the app)
                    "--no-proxy-headers",
                    "--h11-max-incomplete-event-size",
                    str(self.settings.max_request_head_bytes),
                ],
                env=self._env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
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

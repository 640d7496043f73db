"""Schemathesis against a real ``uvicorn`` process on loopback: whatever the generated input,
no operation answers 5xx, and every 4xx is problem+json. Bounded: a dozen cases per operation."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings

from etest.config import Settings
from tests.conftest import Headers


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="session")
def live_server(settings: Settings, app: FastAPI) -> Iterator[str]:
    port = _free_port()
    env = {**os.environ, "ETEST_DATABASE_URL": settings.database_url,
           "ETEST_SECRET_KEY": "test-pepper-not-secret", "ETEST_LOG_LEVEL": "ERROR",
           "ETEST_VAR_DIR": str(settings.var_dir)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "etest.app:create_app", "--factory", "--host",
         "127.0.0.1", "--port", str(port), "--log-level", "warning"], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(f"{base}/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        else:
            pytest.fail("the server did not become ready")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_no_server_errors(app: FastAPI, live_server: str, su: Headers) -> None:
    schema = schemathesis.openapi.from_dict(app.openapi())
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20

    for operation in operations:
        @given(case=operation.as_strategy())
        @settings(max_examples=12, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case: Any) -> None:
            response = case.call(base_url=live_server, headers=su)
            where = f"{case.method} {case.formatted_path}"
            assert response.status_code < 500, f"{where}: {response.text}"
            if response.status_code >= 400:
                content_type = response.headers["content-type"]  # a list in schemathesis 4
                assert "application/problem+json" in content_type, where

        check()

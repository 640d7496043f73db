"""Schemathesis against a real ``uvicorn`` process on loopback: whatever the generated input,
no operation answers 5xx, and every 4xx is problem+json. Bounded: a dozen cases per operation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings

from etest.config import Settings
from tests.conftest import Headers
from tests.support.server import Server


@pytest.fixture(scope="session")
def live_server(settings: Settings, app: FastAPI,
                tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    server = Server(settings, tmp_path_factory.mktemp("fuzz-server"))
    try:
        server.start()
        yield server.base
    finally:
        server.stop()


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

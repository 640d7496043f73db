"""Responses that carry a secret are never cached (issue 13: a token's code and an attempt's
secret came without ``Cache-Control: no-store``)."""

from __future__ import annotations

import httpx
import pytest

from tests.attempt.conftest import Course

pytestmark = pytest.mark.asyncio


async def test_codes_and_attempt_secrets_are_no_store(
    client: httpx.AsyncClient, course: Course
) -> None:
    issued = await client.post(
        "/api/v1/tokens",
        headers=course.admin,
        json={"candidate_id": course.candidate["id"], "type": "CT", "level": "A1"},
    )
    assert issued.status_code == 201, issued.text
    assert issued.headers["cache-control"] == "no-store"
    reset = await client.post(
        f"/api/v1/tokens/{issued.json()['id']}/reset",
        headers=course.admin,
        json={"reason": "lost it"},
    )
    assert reset.status_code == 201, reset.text
    assert reset.headers["cache-control"] == "no-store"
    started = await client.post("/api/v1/attempts", json={"token": reset.json()["code"]})
    assert started.status_code == 201, started.text
    assert "secret" in started.json() and started.headers["cache-control"] == "no-store"
    listed = await client.get("/api/v1/tokens", headers=course.admin)
    assert "no-store" not in listed.headers.get("cache-control", "")  # no secret in a list

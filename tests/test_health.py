from __future__ import annotations

import httpx

from etest import migrate


async def test_health_answers(client: httpx.AsyncClient) -> None:
    resp = await client.get("/health")
    assert resp.status_code == 200
    assert resp.json()["status"] == "ok"


async def test_ready_reports_migrated_database(client: httpx.AsyncClient) -> None:
    resp = await client.get("/ready")
    assert resp.status_code == 200, resp.text
    assert resp.json()["revision"] == migrate.head_revision()


async def test_openapi_and_docs_served(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert "/api/v1/candidates" in spec["paths"]
    assert (await client.get("/docs")).status_code == 200


async def test_unknown_route_is_problem_json(client: httpx.AsyncClient) -> None:
    resp = await client.get("/api/v1/nope")
    assert resp.status_code == 404
    assert resp.headers["content-type"] == "application/problem+json"
    assert resp.json()["type"] == "/errors/not-found"
    described = await client.get(resp.json()["type"])
    assert described.status_code == 200 and described.json()["description"]


async def test_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    resp = await client.get("/health", headers={"X-Request-ID": "a" * 32})
    assert resp.headers["x-request-id"] == "a" * 32

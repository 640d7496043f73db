"""Every endpoint answers malformed input with a problem+json 4xx and a stable type: never a
500, never a stack trace. Operations come from the OpenAPI document."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.conftest import Headers
from tests.support.openapi import operations

BAD_PATH_VALUES = ["..%2F..%2Fetc%2Fpasswd", "x" * 300, "%00", "1' OR '1'='1", "-1", "%F0%9F%92%A9"]
BAD_BODIES: list[tuple[bytes, int]] = [(b"{", 400), (b"[]", 422), (b"null", 422),
                                       (b'"text"', 422), (b"\xff\xfe", 400), (b"{}" * 3, 400)]


def _check_problem(resp: httpx.Response, where: str) -> dict[str, Any]:
    assert 400 <= resp.status_code < 500, f"{where}: {resp.status_code} {resp.text[:300]}"
    assert resp.headers["content-type"] == "application/problem+json", where
    body: dict[str, Any] = resp.json()
    assert body["type"].startswith("/errors/") and body["status"] == resp.status_code, where
    assert "Traceback" not in resp.text and 'File "' not in resp.text, where
    return body


async def test_malformed_json_bodies(client: httpx.AsyncClient, su: Headers) -> None:
    doc = (await client.get("/openapi.json")).json()
    covered = 0
    for op in operations(doc):
        if op.json_body_schema(doc) is None:
            continue
        path = op.path.format(**dict.fromkeys(op.path_params, "PLACEHOLDER")).replace(
            "PLACEHOLDER", "00000000-0000-4000-8000-000000000000")
        if "{code}" in op.path:
            path = op.path.format(code="neo_plus")
        for raw, expected in BAD_BODIES:
            resp = await client.request(op.method, path, headers={
                **su, "Content-Type": "application/json"}, content=raw)
            body = _check_problem(resp, f"{op.method} {op.path} {raw!r}")
            if "{uic}" not in op.path and "_id}" not in op.path:
                assert resp.status_code == expected, (op.path, raw, body)
        covered += 1
    assert covered >= 8


async def test_unknown_fields_rejected_everywhere(client: httpx.AsyncClient,
                                                  su: Headers) -> None:
    doc = (await client.get("/openapi.json")).json()
    for op in operations(doc):
        schema = op.json_body_schema(doc)
        if schema is None or op.path_params:
            continue
        resp = await client.request(op.method, op.path, headers=su,
                                    json={"surely_not_a_field": 1})
        body = _check_problem(resp, f"{op.method} {op.path}")
        assert resp.status_code == 422
        assert any(e["loc"][-1] == "surely_not_a_field" for e in body["errors"]), body


async def test_garbage_path_and_query_values(client: httpx.AsyncClient, su: Headers) -> None:
    doc = (await client.get("/openapi.json")).json()
    for op in operations(doc):
        for value in BAD_PATH_VALUES if op.path_params else []:
            path = op.path
            for p in op.path_params:
                path = path.replace("{" + p + "}", value)
            resp = await client.request(op.method, path, headers=su,
                                        json={} if op.method != "GET" else None)
            _check_problem(resp, f"{op.method} {path}")
        if op.method == "GET":
            for param in op.query_params():
                schema = param.get("schema", {})
                kinds = json.dumps(schema)
                if '"integer"' in kinds or '"boolean"' in kinds or "uuid" in kinds:
                    resp = await client.get(op.path.format(**dict.fromkeys(op.path_params, "x")),
                                            headers=su, params={param["name"]: "not-valid!"})
                    _check_problem(resp, f"GET {op.path}?{param['name']}")


async def test_time_bounds_in_any_spelling_never_fail_the_server(client: httpx.AsyncClient,
                                                                 su: Headers) -> None:
    """A time without a zone is UTC, a bare date its midnight; a time with no UTC equivalent is
    a 422. None of them reaches the database as a naive datetime (that was a 500)."""
    doc = (await client.get("/openapi.json")).json()
    checked = 0
    for op in operations(doc):
        if op.method != "GET" or op.path_params:
            continue
        for param in op.query_params():
            if '"date-time"' not in json.dumps(param.get("schema", {})):
                continue
            for value in ("2026-01-01T00:00:00", "2026-01-01", "0001-01-01T00:00:00+01:00"):
                resp = await client.get(op.path, headers=su, params={param["name"]: value})
                assert resp.status_code < 500, f"GET {op.path}?{param['name']}={value}"
                if resp.status_code >= 400:
                    _check_problem(resp, f"GET {op.path}?{param['name']}={value}")
                checked += 1
    assert checked >= 6  # audit, results and certificates at least


async def test_wrong_method_is_problem_json(client: httpx.AsyncClient, su: Headers) -> None:
    resp = await client.delete("/api/v1/candidates", headers=su)
    assert resp.status_code == 405
    assert resp.json()["type"] == "/errors/method-not-allowed"


async def test_nul_characters_refused_on_every_database(client: httpx.AsyncClient,
                                                        su: Headers) -> None:
    resp = await client.get("/api/v1/candidates", headers=su, params={"q": "a\x00b"})
    assert resp.status_code == 422
    resp = await client.post("/api/v1/organizations", headers=su,
                             json={"uic": "NULTEST", "name": "bad\u0000name"})
    assert resp.status_code == 422
    assert "NUL" in resp.text

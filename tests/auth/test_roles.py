"""The ``content_manager`` role: global (no organization), granted by the operator, the item bank
only. Every tenant route answers it as if nothing existed: empty lists, a 404 identical to a
missing id, 403 for writes. A global superadmin reading the same rows proves each check can
fail."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import openpyxl
import pytest
from fastapi import FastAPI

from etest.apikey import create_api_key
from etest.auth.actor import Actor
from etest.auth.scope import in_subtree
from etest.cli import cli_actor
from etest.db import transaction
from etest.errors import Unprocessable
from etest.outbox.jobs import enqueue
from tests.certificate.conftest import certificate_under
from tests.conftest import Headers, Tree, create_candidate, create_key
from tests.support.openapi import operations

#: List routes of the item bank and of public reference data: not tenant-owned.
CONTENT_LISTS = {
    "/api/v1/items",
    "/api/v1/assessments",
    "/api/v1/levels",
    "/api/v1/plans",
    "/api/v1/issuer",
}


async def test_content_manager_keys_belong_to_no_organization(app: FastAPI, tree: Tree) -> None:
    async with transaction(app.state.sessionmaker) as session:
        with pytest.raises(Unprocessable, match="no organization"):
            await create_api_key(
                session, app.state.settings, cli_actor(), role="content_manager", uic=tree.uic["A"]
            )
        key = await create_api_key(
            session, app.state.settings, cli_actor(), role="content_manager", uic=None
        )
    assert key.startswith("etk_")


def test_scope_of_a_content_manager_is_empty() -> None:
    cm = Actor(subject="t", role="content_manager", organization_id=None, org_path=None)
    su = Actor(subject="t", role="superadmin", organization_id=None, org_path=None)
    assert not cm.covers("/abc/") and su.covers("/abc/")
    assert str(in_subtree(cm)) == "false" and str(in_subtree(su)) == "true"


async def _tenant_rows(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, tree: Tree
) -> dict[str, str]:
    """One row of every tenant-owned kind below A: a candidate with a token, a finished CT with
    its result and certificate, a callback delivery."""
    key = tree.key["A"]
    cand = await create_candidate(client, key, uic=tree.uic["A"])
    token = (
        await client.post(
            "/api/v1/tokens", headers=key, json={"candidate_id": cand["id"], "type": "PT"}
        )
    ).json()
    certificate_id = await certificate_under(app, client, su, tree.uic["A"])
    certificate = (await client.get(f"/api/v1/certificates/{certificate_id}", headers=su)).json()
    org_id = (await client.get(f"/api/v1/organizations/{tree.uic['A']}", headers=su)).json()["id"]
    async with transaction(app.state.sessionmaker) as session:
        delivery = await enqueue(
            session,
            "webhook.deliver",
            {"webhook_id": str(uuid.uuid4()), "type": "attempt.finished", "body": {}},
            key=str(uuid.uuid4()),
            organization_id=uuid.UUID(org_id),
        )
    return {
        "uic": tree.uic["A"],
        "candidate_id": cand["id"],
        "token_id": token["id"],
        "certificate_id": certificate_id,
        "attempt_id": certificate["attempt_id"],
        "delivery_id": str(delivery),
        "email": cand["email"],
    }


def _normalized(resp: httpx.Response, values: dict[str, str]) -> tuple[int, str]:
    text = resp.text
    for value in values.values():
        text = text.replace(value, "<id>")
    return resp.status_code, text


def _rows(body: Any) -> list[Any]:
    rows: list[Any] = body["items"] if isinstance(body, dict) else body
    return rows


async def test_content_manager_sees_no_tenant_data(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, tree: Tree
) -> None:
    cm = await create_key(app, "content_manager", None)
    rows = await _tenant_rows(app, client, su, tree)
    # the plain cases first: zero candidates, organizations, results; a known candidate is 404
    for path in (
        "/api/v1/candidates",
        "/api/v1/organizations",
        "/api/v1/results",
        "/api/v1/tokens",
        "/api/v1/certificates",
        "/api/v1/webhook-deliveries",
    ):
        mine = await client.get(path, headers=cm, params={"per_page": 200})
        assert mine.status_code == 200, (path, mine.text)
        assert mine.json()["items"] == [] and mine.json()["total"] == 0, path
        assert (await client.get(path, headers=su)).json()["total"] > 0, path
    known = f"/api/v1/candidates/{rows['candidate_id']}"
    assert (await client.get(known, headers=su)).status_code == 200
    assert (await client.get(known, headers=cm)).status_code == 404

    doc = (await client.get("/openapi.json")).json()
    checked = 0
    for op in operations(doc):
        if op.method != "GET" or not op.path.startswith("/api/v1/"):
            continue
        params = op.path_params
        if not params:  # every list of tenant rows is empty, and mentions none of them
            resp = await client.get(op.path, headers=cm, params={"per_page": 200})
            if op.path in CONTENT_LISTS:
                assert resp.status_code == 200, op.path
                continue
            assert resp.status_code in (200, 403), (op.path, resp.text)
            if resp.status_code == 200:
                assert _rows(resp.json()) == [], op.path
            assert not any(v in resp.text for v in rows.values()), op.path
            checked += 1
            continue
        if not all(p in rows for p in params):
            continue  # item ids, plan codes, media and report names: not tenant-owned
        known = {p: rows[p] for p in params}
        unknown = {
            p: f"NO{uuid.uuid4().hex[:8].upper()}" if p == "uic" else str(uuid.uuid4())
            for p in params
        }
        got = await client.get(op.path.format(**known), headers=cm)
        ref = await client.get(op.path.format(**unknown), headers=cm)
        assert got.status_code == 404, (op.path, got.text)
        assert _normalized(got, known) == _normalized(ref, unknown), op.path
        if not op.path.startswith("/api/v1/attempts/"):  # the candidate's own routes
            resp = await client.get(op.path.format(**known), headers=su)
            # a 404 of its own kind (``no-result``) found the row: not a refusal
            assert resp.status_code < 400 or resp.json()["type"] != "/errors/not-found", (
                op.path,
                resp.text,
            )
        checked += 1
    assert checked >= 12

    lookup = await client.post(
        "/api/v1/candidates/lookup", headers=cm, json={"emails": [rows["email"]]}
    )
    assert lookup.status_code == 200 and lookup.json() == []
    for path, body in (
        ("/api/v1/candidates", {"email": "x@example.org", "uic": rows["uic"]}),
        (
            "/api/v1/organizations",
            {"uic": f"CM{uuid.uuid4().hex[:8]}", "name": "x", "parent_uic": rows["uic"]},
        ),
        ("/api/v1/tokens", {"candidate_id": rows["candidate_id"], "type": "PT"}),
    ):
        assert (await client.post(path, headers=cm, json=body)).status_code == 403, path


async def test_content_manager_reports_hold_no_tenant_rows(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, tree: Tree
) -> None:
    """Reports of organizations are empty for a content manager and a UIC is a 404; the
    item statistics (aggregates over every organization, no candidate in them) are its own."""
    cm = await create_key(app, "content_manager", None)
    rows = await _tenant_rows(app, client, su, tree)
    today = datetime.now(UTC).date()
    dates = {"from": str(today - timedelta(days=1)), "to": str(today + timedelta(days=1))}

    async def sheet(headers: Headers, name: str, title: str, **params: Any) -> list[Any]:
        resp = await client.get(
            f"/api/v1/reports/{name}.xlsx", headers=headers, params={**dates, **params}
        )
        assert resp.status_code == 200, resp.text
        return list(
            openpyxl.load_workbook(io.BytesIO(resp.content))[title].iter_rows(
                min_row=2, values_only=True
            )
        )

    assert await sheet(su, "ct-log", "CT log A1", uic=rows["uic"]) != []
    for name, title in (
        ("placement", "Placements"),
        ("ct-log", "CT log"),
        ("ct-review", "CT review"),
        ("cant-do", "Can't-Do"),
    ):
        assert await sheet(cm, name, title) == [], name
    assert await sheet(cm, "responses", "Responses", emails=rows["email"]) == []
    resp = await client.get(
        "/api/v1/reports/placement.xlsx", headers=cm, params={**dates, "uic": rows["uic"]}
    )
    assert resp.status_code == 404 and resp.json()["type"] == "/errors/not-found"
    stats = await sheet(cm, "item-stats", "Item statistics")
    assert len(stats) > 0
    audit = await client.get("/api/v1/audit", headers=cm)
    assert audit.status_code == 403

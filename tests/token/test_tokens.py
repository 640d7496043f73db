from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from etest.attempt.voiding import on_token_reset
from etest.db import transaction
from etest.models import Attempt, TestToken
from etest.token import service as token_service
from etest.token.service import RESET_HOOKS
from tests.attempt.conftest import Taker, make_course
from tests.conftest import Headers, Tree, create_candidate, create_key, create_org, unique


async def test_issue_pt_returns_code_once_and_stores_digest(
    app: FastAPI, client: httpx.AsyncClient, tree: Tree
) -> None:
    cand = await create_candidate(client, tree.key["A"], uic=tree.uic["A1"])
    resp = await client.post(
        "/api/v1/tokens", headers=tree.key["A"], json={"email": cand["email"].upper(), "type": "PT"}
    )
    assert resp.status_code == 201, resp.text
    issued = resp.json()
    assert len(issued["code"]) == 22 and issued["take_url"].endswith(issued["code"])
    assert issued["status"] == "issued" and issued["plan_code"] == "neo_plus"
    got = (await client.get(f"/api/v1/tokens/{issued['id']}", headers=tree.key["A1"])).json()
    assert "code" not in got and got["status"] == "issued"
    async with transaction(app.state.sessionmaker) as session:
        stored = await session.get(TestToken, uuid.UUID(issued["id"]))
        assert stored is not None
        expected = hmac.new(
            b"test-pepper-not-secret", issued["code"].encode(), hashlib.sha256
        ).hexdigest()
        assert stored.digest == expected and issued["code"] not in stored.digest


async def test_one_live_token_per_type_and_level(client: httpx.AsyncClient, tree: Tree) -> None:
    cand = await create_candidate(client, tree.key["A"], uic=tree.uic["A"])
    first = (
        await client.post(
            "/api/v1/tokens",
            headers=tree.key["A"],
            json={"candidate_id": cand["id"], "type": "CT", "level": "A1"},
        )
    ).json()
    again = await client.post(
        "/api/v1/tokens",
        headers=tree.key["A"],
        json={"candidate_id": cand["id"], "type": "CT", "level": "a1"},
    )
    assert again.status_code == 409
    assert again.json()["type"] == "/errors/token-exists"
    assert again.json()["token_id"] == first["id"]
    other_level = await client.post(
        "/api/v1/tokens",
        headers=tree.key["A"],
        json={"candidate_id": cand["id"], "type": "CT", "level": "A1+"},
    )
    pt = await client.post(
        "/api/v1/tokens", headers=tree.key["A"], json={"candidate_id": cand["id"], "type": "PT"}
    )
    assert (other_level.status_code, pt.status_code) == (201, 201)


async def test_level_must_be_in_plan(client: httpx.AsyncClient, tree: Tree, su: Headers) -> None:
    # the operator lets A's contract include neo_jr; A's admin gives it to a new school
    assert (
        await client.patch(
            f"/api/v1/organizations/{tree.uic['ROOT']}",
            headers=su,
            json={"allowed_plans": ["neo_jr"]},
        )
    ).status_code == 200
    assert (
        await client.patch(
            f"/api/v1/organizations/{tree.uic['A']}",
            headers=tree.key["ROOT"],
            json={"allowed_plans": ["neo_jr"]},
        )
    ).status_code == 200
    jr = await create_org(
        client,
        tree.key["A"],
        parent=tree.uic["A"],
        plan_code="neo_jr",
        uic=f"{tree.uic['ROOT']}-{uuid.uuid4().hex[:8].upper()}",
    )
    cand = await create_candidate(client, tree.key["A"], uic=jr["uic"])
    resp = await client.post(
        "/api/v1/tokens",
        headers=tree.key["A"],
        json={"candidate_id": cand["id"], "type": "CT", "level": "B1"},
    )
    assert resp.status_code == 422
    assert resp.json()["type"] == "/errors/level-not-in-plan"
    ok = await client.post(
        "/api/v1/tokens",
        headers=tree.key["A"],
        json={"candidate_id": cand["id"], "type": "CT", "level": "A1+"},
    )
    assert ok.status_code == 201


async def test_bad_token_requests(client: httpx.AsyncClient, tree: Tree) -> None:
    cand = await create_candidate(client, tree.key["A"], uic=tree.uic["A"])
    for body in (
        {"candidate_id": cand["id"], "type": "CT"},
        {"candidate_id": cand["id"], "type": "PT", "level": "A1"},
        {"candidate_id": cand["id"], "email": cand["email"], "type": "PT"},
        {"type": "PT"},
        {"candidate_id": cand["id"], "type": "XT"},
        {"candidate_id": cand["id"], "type": "PT", "status": "completed"},
    ):
        resp = await client.post("/api/v1/tokens", headers=tree.key["A"], json=body)
        assert resp.status_code == 422, body


async def test_revoke_then_issue_again(client: httpx.AsyncClient, tree: Tree) -> None:
    cand = await create_candidate(client, tree.key["A"], uic=tree.uic["A"])
    tok = (
        await client.post(
            "/api/v1/tokens", headers=tree.key["A"], json={"candidate_id": cand["id"], "type": "PT"}
        )
    ).json()
    resp = await client.post(
        f"/api/v1/tokens/{tok['id']}/revoke",
        headers=tree.key["A"],
        json={"reason": "sent to wrong person"},
    )
    assert resp.status_code == 200 and resp.json()["status"] == "revoked"
    again = await client.post(f"/api/v1/tokens/{tok['id']}/revoke", headers=tree.key["A"])
    assert again.status_code == 409 and again.json()["type"] == "/errors/token-not-live"
    new = await client.post(
        "/api/v1/tokens", headers=tree.key["A"], json={"candidate_id": cand["id"], "type": "PT"}
    )
    assert new.status_code == 201


async def test_reset_voids_and_reissues_with_audit(
    app: FastAPI, client: httpx.AsyncClient, tree: Tree
) -> None:
    from tests.conftest import create_key

    support = await create_key(app, "support", tree.uic["A"])
    cand = await create_candidate(client, tree.key["A"], uic=tree.uic["A1"])
    tok = (
        await client.post(
            "/api/v1/tokens", headers=tree.key["A"], json={"candidate_id": cand["id"], "type": "PT"}
        )
    ).json()
    denied = await client.post(f"/api/v1/tokens/{tok['id']}/revoke", headers=support)
    assert denied.status_code == 403
    no_reason = await client.post(f"/api/v1/tokens/{tok['id']}/reset", headers=support, json={})
    assert no_reason.status_code == 422
    resp = await client.post(
        f"/api/v1/tokens/{tok['id']}/reset", headers=support, json={"reason": "browser crashed"}
    )
    assert resp.status_code == 201, resp.text
    new = resp.json()
    assert new["id"] != tok["id"] and new["code"] != tok["code"]
    old = (await client.get(f"/api/v1/tokens/{tok['id']}", headers=tree.key["A"])).json()
    assert old["status"] == "revoked" and old["replaced_by_id"] == new["id"]
    audit = await _reset_audit(client, tree.key["A"], tok["id"])
    assert audit["reason"] == "browser crashed" and audit["actor_role"] == "support"
    assert audit["details"]["new_token_id"] == new["id"]


async def test_expired_token_is_not_live(
    app: FastAPI, client: httpx.AsyncClient, tree: Tree
) -> None:
    cand = await create_candidate(client, tree.key["A"], uic=tree.uic["A"])
    tok = (
        await client.post(
            "/api/v1/tokens", headers=tree.key["A"], json={"candidate_id": cand["id"], "type": "PT"}
        )
    ).json()
    async with transaction(app.state.sessionmaker) as session:
        await session.execute(
            update(TestToken)
            .where(TestToken.id == uuid.UUID(tok["id"]))
            .values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
    got = (await client.get(f"/api/v1/tokens/{tok['id']}", headers=tree.key["A"])).json()
    assert got["status"] == "expired"
    listed = (
        await client.get(
            "/api/v1/tokens",
            headers=tree.key["A"],
            params={"candidate_id": cand["id"], "status": "expired"},
        )
    ).json()
    assert [t["id"] for t in listed["items"]] == [tok["id"]]
    new = await client.post(
        "/api/v1/tokens", headers=tree.key["A"], json={"candidate_id": cand["id"], "type": "PT"}
    )
    assert new.status_code == 201
    async with transaction(app.state.sessionmaker) as session:
        statuses = (
            await session.scalars(
                select(TestToken.status).where(TestToken.candidate_id == uuid.UUID(cand["id"]))
            )
        ).all()
    assert sorted(statuses) == ["expired", "issued"]


async def test_disabled_candidate_gets_no_pt_until_reset(
    client: httpx.AsyncClient, tree: Tree
) -> None:
    cand = await create_candidate(client, tree.key["A"], uic=tree.uic["A"])
    tok = (
        await client.post(
            "/api/v1/tokens", headers=tree.key["A"], json={"candidate_id": cand["id"], "type": "PT"}
        )
    ).json()
    await client.post(f"/api/v1/tokens/{tok['id']}/revoke", headers=tree.key["A"])
    await client.patch(
        f"/api/v1/candidates/{cand['id']}", headers=tree.key["A"], json={"disabled": True}
    )
    resp = await client.post(
        "/api/v1/tokens", headers=tree.key["A"], json={"candidate_id": cand["id"], "type": "PT"}
    )
    assert resp.status_code == 409 and resp.json()["type"] == "/errors/candidate-disabled"
    reset = await client.post(
        f"/api/v1/tokens/{tok['id']}/reset",
        headers=tree.key["A"],
        json={"reason": "retest allowed"},
    )
    assert reset.status_code == 201
    got = (await client.get(f"/api/v1/candidates/{cand['id']}", headers=tree.key["A"])).json()
    assert got["disabled"] is False


async def test_list_tokens_filters(client: httpx.AsyncClient, tree: Tree) -> None:
    a1 = await create_candidate(client, tree.key["A"], uic=tree.uic["A1"])
    b = await create_candidate(client, tree.key["B"], uic=tree.uic["B"])
    for cand, key in ((a1, tree.key["A"]), (b, tree.key["B"])):
        await client.post(
            "/api/v1/tokens",
            headers=key,
            json={"candidate_id": cand["id"], "type": "CT", "level": "B2"},
        )
    mine = (
        await client.get(
            "/api/v1/tokens", headers=tree.key["A"], params={"type": "CT", "level": "B2"}
        )
    ).json()
    assert [t["candidate_id"] for t in mine["items"]] == [a1["id"]]
    only_a = (
        await client.get(
            "/api/v1/tokens",
            headers=tree.key["A"],
            params={"uic": tree.uic["A"], "include_descendants": False},
        )
    ).json()
    assert only_a["total"] == 0


async def test_token_needs_a_plan_of_the_contract(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, plan_content: None
) -> None:
    jr = await create_org(client, su, plan_code="neo_jr")
    admin = await create_key(app, "admin", jr["uic"])
    # the operator gave this candidate neo_plus, which the school's contract does not hold
    cand = await create_candidate(client, su, uic=jr["uic"], plan_code="neo_plus")
    for body in ({"type": "CT", "level": "B2"}, {"type": "PT"}):
        resp = await client.post(
            "/api/v1/tokens", headers=admin, json={"candidate_id": cand["id"], **body}
        )
        assert resp.status_code == 422, resp.text
        assert resp.json()["type"] == "/errors/plan-not-allowed"
    # a level outside the (allowed) plan is refused as before
    own = await create_candidate(client, admin, uic=jr["uic"])
    resp = await client.post(
        "/api/v1/tokens",
        headers=admin,
        json={"candidate_id": own["id"], "type": "CT", "level": "B2"},
    )
    assert resp.status_code == 422 and resp.json()["type"] == "/errors/level-not-in-plan"


async def test_token_refused_when_the_plan_is_no_longer_allowed(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, plan_content: None
) -> None:
    org = await create_org(client, su, allowed_plans=["neo_pro"])
    admin = await create_key(app, "admin", org["uic"])
    cand = await create_candidate(client, admin, uic=org["uic"], plan_code="neo_pro")
    first = await client.post(
        "/api/v1/tokens",
        headers=admin,
        json={"candidate_id": cand["id"], "type": "CT", "level": "C1"},
    )
    assert first.status_code == 201, first.text
    assert first.json()["plan_code"] == "neo_pro"
    assert (
        await client.patch(
            f"/api/v1/organizations/{org['uic']}", headers=su, json={"allowed_plans": []}
        )
    ).status_code == 200
    resp = await client.post(
        "/api/v1/tokens", headers=admin, json={"candidate_id": cand["id"], "type": "PT"}
    )
    assert resp.status_code == 422 and resp.json()["type"] == "/errors/plan-not-allowed"
    reset = await client.post(
        f"/api/v1/tokens/{first.json()['id']}/reset", headers=admin, json={"reason": "retry"}
    )
    assert reset.status_code == 422 and reset.json()["type"] == "/errors/plan-not-allowed"


async def test_token_refused_for_a_test_without_content(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    code = unique("empty_").lower()
    plan = await client.put(
        f"/api/v1/plans/{code}",
        headers=su,
        json={
            "name": "No content yet",
            "pt_assessment": f"pt-{code}",
            "levels": [{"level": "A1", "ct_assessment": f"ct-{code}-a1"}],
        },
    )
    assert plan.status_code == 200, plan.text
    org = await create_org(client, su, plan_code=code)
    admin = await create_key(app, "admin", org["uic"])
    cand = await create_candidate(client, admin, uic=org["uic"])
    for body in ({"type": "PT"}, {"type": "CT", "level": "A1"}):
        resp = await client.post(
            "/api/v1/tokens", headers=admin, json={"candidate_id": cand["id"], **body}
        )
        assert resp.status_code == 422, resp.text
        assert resp.json()["type"] == "/errors/assessment-unavailable"
    listed = await client.get("/api/v1/tokens", headers=admin, params={"candidate_id": cand["id"]})
    assert listed.json()["total"] == 0


async def test_token_list_filters_by_plan_alias(client: httpx.AsyncClient, tree: Tree) -> None:
    cand = await create_candidate(client, tree.key["A"], uic=tree.uic["A"])
    tok = await client.post(
        "/api/v1/tokens", headers=tree.key["A"], json={"candidate_id": cand["id"], "type": "PT"}
    )
    assert tok.status_code == 201
    for name, total in (("neo+", 1), ("neo_plus", 1), ("professional", 0)):
        listed = await client.get(
            "/api/v1/tokens",
            headers=tree.key["A"],
            params={"candidate_id": cand["id"], "plan_code": name},
        )
        assert listed.status_code == 200 and listed.json()["total"] == total, name


async def _reset_audit(client: httpx.AsyncClient, admin: Headers, token_id: str) -> dict[str, Any]:
    """The one ``token.reset`` audit entry of the token."""
    audit = (
        await client.get("/api/v1/audit", headers=admin, params={"action": "token.reset"})
    ).json()["items"]
    mine = [e for e in audit if e["target_id"] == token_id]
    assert len(mine) == 1
    entry: dict[str, Any] = mine[0]
    return entry


async def test_reset_voids_the_attempt_in_progress_through_the_attempt_package(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    # the token package writes no attempt row: the composition registered the attempt
    # package's hook, which the reset calls in its transaction
    assert on_token_reset in RESET_HOOKS
    course = await make_course(app, client, su)
    taker = Taker(app, client, await course.token(client, "PT"))
    assert (await taker.start()).status_code == 201
    await taker.item()
    token_id = (
        await client.get(
            "/api/v1/tokens", headers=course.admin, params={"candidate_id": course.candidate["id"]}
        )
    ).json()["items"][0]["id"]
    reset = await client.post(
        f"/api/v1/tokens/{token_id}/reset", headers=course.admin, json={"reason": "tablet broke"}
    )
    assert reset.status_code == 201, reset.text
    async with transaction(app.state.sessionmaker) as session:
        attempt = await session.get(Attempt, uuid.UUID(taker.attempt_id))
        assert attempt is not None
        assert attempt.status == "voided" and attempt.finish_reason == "reset"
        assert attempt.finished_at is not None and attempt.outcome is None
    assert (await _reset_audit(client, course.admin, token_id))["details"]["voided_attempts"] == 1
    # the new token has no attempt: its reset voids nothing, and says so
    again = await client.post(
        f"/api/v1/tokens/{reset.json()['id']}/reset",
        headers=course.admin,
        json={"reason": "second thoughts"},
    )
    assert again.status_code == 201, again.text
    renewed = await _reset_audit(client, course.admin, reset.json()["id"])
    assert renewed["details"]["voided_attempts"] == 0


async def test_a_reset_without_the_attempt_hook_fails_loudly(
    app: FastAPI, client: httpx.AsyncClient, tree: Tree, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A composition that forgot the hook must not reset tokens and leave attempts running."""
    cand = await create_candidate(client, tree.key["A"], uic=tree.uic["A"])
    tok = (
        await client.post(
            "/api/v1/tokens", headers=tree.key["A"], json={"candidate_id": cand["id"], "type": "PT"}
        )
    ).json()
    monkeypatch.setattr(token_service, "RESET_HOOKS", [])
    resp = await client.post(
        f"/api/v1/tokens/{tok['id']}/reset", headers=tree.key["A"], json={"reason": "no hook"}
    )
    assert resp.status_code == 500
    kept = (await client.get(f"/api/v1/tokens/{tok['id']}", headers=tree.key["A"])).json()
    assert kept["status"] == "issued" and kept["replaced_by_id"] is None

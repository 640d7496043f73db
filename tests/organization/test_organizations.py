from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI

from tests.conftest import Headers, Tree, create_candidate, create_key, create_org, unique


async def test_tree_children_and_subtree(client: httpx.AsyncClient, tree: Tree) -> None:
    root = tree.uic["ROOT"]
    kids = (
        await client.get(f"/api/v1/organizations/{root}/children", headers=tree.key["ROOT"])
    ).json()
    assert {o["uic"] for o in kids["items"]} == {tree.uic["A"], tree.uic["B"]}
    sub = (
        await client.get(f"/api/v1/organizations/{tree.uic['A']}/subtree", headers=tree.key["A"])
    ).json()
    assert [o["uic"] for o in sub["items"]] == [tree.uic["A"], tree.uic["A1"]]
    assert sub["items"][1]["parent_uic"] == tree.uic["A"]
    listed = (await client.get("/api/v1/organizations", headers=tree.key["A"])).json()
    assert {o["uic"] for o in listed["items"]} == {tree.uic["A"], tree.uic["A1"]}
    assert listed["total"] == 2


async def test_admin_creates_below_own_only(client: httpx.AsyncClient, tree: Tree) -> None:
    child = await create_org(
        client,
        tree.key["A"],
        parent=tree.uic["A1"],
        uic=f"{tree.uic['ROOT']}-{uuid.uuid4().hex[:8]}",
    )
    assert child["plan_code"] == "neo_plus"  # inherited from the parent
    resp = await client.post(
        "/api/v1/organizations",
        headers=tree.key["A"],
        json={"uic": unique(), "name": "x", "parent_uic": tree.uic["B"]},
    )
    assert resp.status_code == 404
    resp = await client.post(
        "/api/v1/organizations", headers=tree.key["A"], json={"uic": unique(), "name": "root?"}
    )
    assert resp.status_code == 422
    assert resp.json()["type"] == "/errors/invalid-parent"
    dup = await client.post(
        "/api/v1/organizations",
        headers=tree.key["A"],
        json={"uic": child["uic"], "name": "x", "parent_uic": tree.uic["A"]},
    )
    assert dup.status_code == 409
    assert dup.json()["type"] == "/errors/uic-taken"


async def test_settings_patch_merges_and_hides_secret(
    client: httpx.AsyncClient, tree: Tree
) -> None:
    uic = tree.uic["A1"]
    resp = await client.patch(
        f"/api/v1/organizations/{uic}",
        headers=tree.key["A"],
        json={
            "settings": {"show_result_to_candidate": False, "ct_unlock_mode": "teacher"},
            "callback_url": "https://lms.example.org/hook",
            "callback_secret": "s" * 24,
            "timezone": "Asia/Tokyo",
        },
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert body["settings"]["show_result_to_candidate"] is False
    assert body["settings"]["ct_unlock_mode"] == "teacher"
    assert body["settings"]["notify_after_pt"] is True
    assert body["has_callback_secret"] is True and "callback_secret" not in body
    assert body["timezone"] == "Asia/Tokyo"
    bad = await client.patch(
        f"/api/v1/organizations/{uic}", headers=tree.key["A"], json={"timezone": "Mars/Olympus"}
    )
    assert bad.status_code == 422
    bad = await client.patch(
        f"/api/v1/organizations/{uic}",
        headers=tree.key["A"],
        json={"settings": {"ct_unlock_mode": "never"}},
    )
    assert bad.status_code == 422


async def test_own_admin_cannot_extend_own_contract(client: httpx.AsyncClient, tree: Tree) -> None:
    later = (datetime.now(UTC) + timedelta(days=900)).isoformat()
    own = await client.patch(
        f"/api/v1/organizations/{tree.uic['A']}", headers=tree.key["A"], json={"expires_at": later}
    )
    assert own.status_code == 403
    parent = await client.patch(
        f"/api/v1/organizations/{tree.uic['A']}",
        headers=tree.key["ROOT"],
        json={"expires_at": later},
    )
    assert parent.status_code == 200
    assert parent.json()["expires_at"].startswith(later[:19])
    naive = await client.patch(
        f"/api/v1/organizations/{tree.uic['A']}",
        headers=tree.key["ROOT"],
        json={"expires_at": "2030-01-01T00:00:00"},
    )
    assert naive.status_code == 422


async def test_expired_or_inactive_org_refuses_tokens(
    app: FastAPI, client: httpx.AsyncClient, tree: Tree
) -> None:
    cand = await create_candidate(client, tree.key["A1"], uic=tree.uic["A1"])
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    # the parent A expires: its whole subtree (A1) is closed
    assert (
        await client.patch(
            f"/api/v1/organizations/{tree.uic['A']}",
            headers=tree.key["ROOT"],
            json={"expires_at": past},
        )
    ).status_code == 200
    resp = await client.post(
        "/api/v1/tokens", headers=tree.key["A1"], json={"candidate_id": cand["id"], "type": "PT"}
    )
    assert resp.status_code == 403
    assert resp.json()["type"] == "/errors/organization-expired"
    assert (
        await client.patch(
            f"/api/v1/organizations/{tree.uic['A']}",
            headers=tree.key["ROOT"],
            json={"expires_at": None},
        )
    ).status_code == 200
    assert (
        await client.patch(
            f"/api/v1/organizations/{tree.uic['A1']}",
            headers=tree.key["A"],
            json={"is_active": False},
        )
    ).status_code == 200
    resp = await client.post(
        "/api/v1/tokens", headers=tree.key["A1"], json={"candidate_id": cand["id"], "type": "PT"}
    )
    assert resp.status_code == 403
    assert resp.json()["type"] == "/errors/organization-expired"


async def test_viewer_cannot_write(app: FastAPI, client: httpx.AsyncClient, tree: Tree) -> None:
    viewer = await create_key(app, "viewer", tree.uic["A"])
    assert (
        await client.get(f"/api/v1/organizations/{tree.uic['A1']}", headers=viewer)
    ).status_code == 200
    resp = await client.patch(
        f"/api/v1/organizations/{tree.uic['A1']}", headers=viewer, json={"name": "hacked"}
    )
    assert resp.status_code == 403


async def test_unknown_plan_and_fields(client: httpx.AsyncClient, su: Headers) -> None:
    resp = await client.post(
        "/api/v1/organizations",
        headers=su,
        json={"uic": unique(), "name": "x", "plan_code": "gold"},
    )
    assert resp.status_code == 422
    assert resp.json()["type"] == "/errors/unknown-plan"
    resp = await client.post(
        "/api/v1/organizations", headers=su, json={"uic": unique(), "name": "x", "path": "/"}
    )
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["loc"] == ["body", "path"]
    resp = await client.post(
        "/api/v1/organizations", headers=su, json={"uic": "bad uic!", "name": "x"}
    )
    assert resp.status_code == 422


async def test_plans_are_a_contract_set_from_above(
    client: httpx.AsyncClient, tree: Tree, su: Headers
) -> None:
    root, a = tree.uic["ROOT"], tree.uic["A"]

    async def child(headers: Headers, parent: str, **fields: object) -> httpx.Response:
        return await client.post(
            "/api/v1/organizations",
            headers=headers,
            json={
                "uic": f"{root}-{uuid.uuid4().hex[:8]}",
                "name": "x",
                "parent_uic": parent,
                **fields,
            },
        )

    async def patch(headers: Headers, uic: str, body: dict[str, object]) -> httpx.Response:
        return await client.patch(f"/api/v1/organizations/{uic}", headers=headers, json=body)

    # ROOT's contract is neo_plus: its admin cannot give a child anything else
    for fields in ({"plan_code": "neo_pro"}, {"allowed_plans": ["neo_jr"]}):
        resp = await child(tree.key["ROOT"], root, **fields)
        assert resp.status_code == 422, fields
        assert resp.json()["type"] == "/errors/plan-not-allowed"
    # nor widen a child's contract beyond its own, and no admin widens its own
    assert (await patch(tree.key["ROOT"], a, {"allowed_plans": ["neo_pro"]})).status_code == 422
    own = await patch(tree.key["A"], a, {"allowed_plans": []})
    assert own.status_code == 403
    own = await patch(tree.key["ROOT"], root, {"allowed_plans": ["neo_pro"]})
    assert own.status_code == 403
    # the operator widens ROOT; ROOT's admin hands part of it on; A's admin uses it
    widened = await patch(su, root, {"allowed_plans": ["professional", "neo_jr"]})
    assert widened.status_code == 200 and widened.json()["allowed_plans"] == ["neo_pro", "neo_jr"]
    given = await patch(tree.key["ROOT"], a, {"allowed_plans": ["neo_jr"]})
    assert given.status_code == 200, given.text
    school = await child(tree.key["A"], a, plan_code="neo_jr")
    assert school.status_code == 201 and school.json()["plan_code"] == "neo_jr"
    assert (await child(tree.key["A"], a, plan_code="neo_pro")).status_code == 422
    # a contract in use below cannot be narrowed from under it
    narrowed = await patch(tree.key["ROOT"], a, {"allowed_plans": []})
    assert narrowed.status_code == 409 and narrowed.json()["type"] == "/errors/plan-in-use"
    assert (await patch(tree.key["ROOT"], a, {"allowed_plans": ["neo_jr"]})).status_code == 200


async def test_a_language_may_name_its_script(client: httpx.AsyncClient, tree: Tree) -> None:
    """``zh-Hans`` (the emails' Simplified Chinese) is a language an organization may choose;
    a tag that is not language[-Script][-REGION] is refused."""
    uic = tree.uic["A1"]
    for tag in ("zh-Hans", "zh-Hans-CN", "ar", "pt-BR"):
        resp = await client.patch(
            f"/api/v1/organizations/{uic}",
            headers=tree.key["A"],
            json={"settings": {"language": tag}},
        )
        assert resp.status_code == 200, resp.text
        assert resp.json()["settings"]["language"] == tag
    for tag in ("zh-hans", "zh_Hans", "arabic", "zh-Hans-cn"):
        resp = await client.patch(
            f"/api/v1/organizations/{uic}",
            headers=tree.key["A"],
            json={"settings": {"language": tag}},
        )
        assert resp.status_code == 422, (tag, resp.text)

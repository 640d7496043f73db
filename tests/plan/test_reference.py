from __future__ import annotations

import httpx
from fastapi import FastAPI

from etest.db import transaction
from etest.plan.service import load_reference
from tests.conftest import Headers, create_key, unique


async def test_eleven_levels_in_scale_order(client: httpx.AsyncClient) -> None:
    levels = (await client.get("/api/v1/levels")).json()
    assert [lv["name"] for lv in levels] == [
        "Pre A1",
        "A1",
        "A1+",
        "A2",
        "A2+",
        "B1",
        "B1+",
        "B2",
        "B2+",
        "C1",
        "C1-Bridge",
    ]
    assert [lv["seq"] for lv in levels] == list(range(1, 12))


async def test_five_plans_with_pass_marks(client: httpx.AsyncClient) -> None:
    plans = {p["code"]: p for p in (await client.get("/api/v1/plans")).json()}
    assert set(plans) >= {"neo_pro", "neo_plus", "neo_prep_plus", "neo_jr", "neo_academic"}
    marks = {p: {lv["level"]: lv["pass_mark"] for lv in plans[p]["levels"]} for p in plans}
    assert marks["neo_plus"]["Pre A1"] == 60
    assert marks["neo_prep_plus"]["Pre A1"] == 60
    assert marks["neo_pro"]["Pre A1"] == 70
    assert marks["neo_plus"]["B1"] == 70
    assert list(marks["neo_jr"]) == ["Pre A1", "A1", "A1+"]
    assert plans["neo_plus"]["retake_policy"] == {"max_attempts": 3, "after_max": "needs_review"}
    assert all(lv["ct_assessment"] for lv in plans["neo_plus"]["levels"])
    # the young learners' plan asks for the young wording on the candidate's pages
    assert plans["neo_jr"]["register"] == "young" and plans["neo_plus"]["register"] == "adult"


async def test_reference_load_is_idempotent_and_keeps_edits(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    code = "neo_academic"
    plan = (await client.get(f"/api/v1/plans/{code}")).json()
    body = {
        k: plan[k]
        for k in (
            "name",
            "aliases",
            "audience",
            "pt_assessment",
            "levels",
            "retake_policy",
            "continues",
        )
    }
    body["name"] = "Academic (edited)"
    assert (await client.put(f"/api/v1/plans/{code}", json=body, headers=su)).status_code == 200
    async with transaction(app.state.sessionmaker) as session:
        assert await load_reference(session) == (0, 0)
    assert (await client.get(f"/api/v1/plans/{code}")).json()["name"] == "Academic (edited)"


async def test_put_plan_superadmin_only(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    code = unique("plan_").lower()
    body = {
        "name": "Trial",
        "pt_assessment": "pt_trial",
        "levels": [
            {"level": "Pre-A1", "pass_mark": 55, "ct_assessment": "ct_t_prea1"},
            {"level": "a1", "ct_assessment": "ct_t_a1"},
        ],
    }
    uic = unique()
    await client.post("/api/v1/organizations", json={"uic": uic, "name": "X"}, headers=su)
    admin = await create_key(app, "admin", uic)
    denied = await client.put(f"/api/v1/plans/{code}", json=body, headers=admin)
    assert denied.status_code == 403
    assert denied.json()["type"] == "/errors/forbidden"
    resp = await client.put(f"/api/v1/plans/{code}", json=body, headers=su)
    assert resp.status_code == 200, resp.text
    assert resp.json()["levels"][0] == {
        "level": "Pre A1",
        "pass_mark": 55,
        "ct_assessment": "ct_t_prea1",
    }
    assert resp.json()["levels"][1]["pass_mark"] == 70


async def test_put_plan_rejects_bad_levels(client: httpx.AsyncClient, su: Headers) -> None:
    base = {"name": "X", "pt_assessment": "pt_x"}
    for levels in (
        [{"level": "Z9", "ct_assessment": "c"}],
        [{"level": "A2", "ct_assessment": "c"}, {"level": "A1", "ct_assessment": "d"}],
        [{"level": "A1", "pass_mark": 101, "ct_assessment": "c"}],
        [],
    ):
        resp = await client.put(
            "/api/v1/plans/bad_plan", json={**base, "levels": levels}, headers=su
        )
        assert resp.status_code == 422, levels
        assert resp.json()["type"] == "/errors/validation-error"
    resp = await client.put(
        "/api/v1/plans/bad_plan",
        headers=su,
        json={**base, "levels": [{"level": "A1", "ct_assessment": "c"}], "owner": "me"},
    )
    assert resp.status_code == 422
    assert (await client.get("/api/v1/plans/bad_plan")).status_code == 404


async def test_old_plan_names_answer_with_the_canonical_code(
    client: httpx.AsyncClient, su: Headers
) -> None:
    for name in ("professional", "Professional", "neo Pro", "Professional Plan"):
        resp = await client.get(f"/api/v1/plans/{name}")
        assert resp.status_code == 200, name
        assert resp.json()["code"] == "neo_pro", name
    for name, code in (
        ("neo+", "neo_plus"),
        ("neoPrep+", "neo_prep_plus"),
        ("neoJR", "neo_jr"),
        ("neoJr+", "neo_jr"),
        ("neo Academic", "neo_academic"),
    ):
        assert (await client.get(f"/api/v1/plans/{name}")).json()["code"] == code, name
    assert (await client.get("/api/v1/plans/gold")).status_code == 404
    # a PUT through an old name edits the plan it names, not a new plan of that name
    plan = (await client.get("/api/v1/plans/neo_pro")).json()
    body = {
        k: plan[k]
        for k in (
            "name",
            "aliases",
            "audience",
            "pt_assessment",
            "levels",
            "retake_policy",
            "continues",
        )
    }
    put = await client.put("/api/v1/plans/professional", json=body, headers=su)
    assert put.status_code == 200 and put.json()["code"] == "neo_pro"
    codes = [p["code"] for p in (await client.get("/api/v1/plans")).json()]
    assert "professional" not in codes


async def test_plan_aliases_name_one_plan(client: httpx.AsyncClient, su: Headers) -> None:
    code = unique("alias_").lower()
    body = {
        "name": "Trial",
        "pt_assessment": "pt_trial",
        "aliases": ["neo+"],
        "levels": [{"level": "A1", "ct_assessment": "ct_t_a1"}],
    }
    taken = await client.put(f"/api/v1/plans/{code}", json=body, headers=su)
    assert taken.status_code == 409 and taken.json()["type"] == "/errors/plan-alias-taken"
    body["aliases"] = [f"{code} old"]
    assert (await client.put(f"/api/v1/plans/{code}", json=body, headers=su)).status_code == 200
    assert (await client.get(f"/api/v1/plans/{code} OLD")).json()["code"] == code

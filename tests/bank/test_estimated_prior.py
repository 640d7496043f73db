"""A placement test's prior ``estimated`` from its own finished placements, computed when the
version is published (etest.bank.evidence.estimated_prior)."""

from __future__ import annotations

import json
import math
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from etest.bank import evidence
from etest.db import transaction
from etest.models import Assessment, AssessmentVersion, Attempt
from tests.attempt.conftest import Taker, _items, make_course, right, wrong
from tests.conftest import Headers, create_candidate
from tests.support.flows import import_flows


def _pt(tag: str, plan: str, version: int) -> dict[str, Any]:
    return {
        "format": "etest-flow/1",
        "kind": "PT",
        "code": f"pt-{tag}",
        "version": version,
        "title": "PT",
        "plan": plan,
        "engine": {
            "type": "irt",
            "pool": [i["code"] for i in _items(tag)],
            "cut_scores": [-1.25, -0.75],
            "min_items": 4,
            "max_items": 8,
            "se_target": 0.3,
            "prior": "estimated",
        },
    }


async def _stored(app: FastAPI, code: str, version: int) -> AssessmentVersion:
    async with transaction(app.state.sessionmaker) as session:
        found = await session.scalar(
            select(AssessmentVersion)
            .join(Assessment, Assessment.id == AssessmentVersion.assessment_id)
            .where(Assessment.code == code, AssessmentVersion.version == version)
        )
    assert found is not None
    return found


async def test_too_few_placements_refuse_an_estimated_prior_unless_overridden(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    course = await make_course(app, client, su, pt_engine="irt")
    flow = _pt(course.tag, course.plan, 2)
    resp = await client.post(
        "/api/v1/content/import",
        headers=su,
        files={"file": ("f.json", json.dumps(flow), "application/json")},
    )
    assert resp.status_code == 422, resp.text
    problem = resp.json()
    assert problem["type"] == "/errors/evidence-insufficient"
    assert problem["failures"] == [
        {
            "level": "all",
            "figure": "estimated_prior_placements",
            "value": 0,
            "threshold": evidence.ESTIMATED_PRIOR_MIN,
        }
    ]
    assert "0 finished placements to estimate the prior from" in problem["detail"]


async def test_the_prior_is_estimated_from_the_tests_own_placements(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(evidence, "ESTIMATED_PRIOR_MIN", 4)
    course = await make_course(app, client, su, pt_engine="irt")
    for n in range(4):  # strong and weak candidates: a spread of placements
        candidate = await create_candidate(client, course.admin, uic=course.uic)
        taker = Taker(app, client, await course.token(client, "PT", candidate=candidate))
        await taker.start()
        await taker.run(
            lambda k, t, key, n=n: (right if k < 2 * n + 1 else wrong)(t, key)  # type: ignore[misc]
        )
    async with transaction(app.state.sessionmaker) as session:
        outcomes = [
            o
            for o in (
                await session.scalars(select(Attempt.outcome).where(Attempt.kind == "PT"))
            ).all()
            if o and o.get("assessment") == f"pt-{course.tag}" and o.get("status") == "placed"
        ]
    assert len(outcomes) == 4
    thetas = [o["theta"] for o in outcomes]
    mean = sum(thetas) / 4
    var = sum((t - mean) ** 2 for t in thetas) / 4 + sum(o["se"] ** 2 for o in outcomes) / 4

    await import_flows(client, su, _pt(course.tag, course.plan, 2))
    version = await _stored(app, f"pt-{course.tag}", 2)
    assert version.engine["prior"] == {
        "mean": round(mean, 3),
        "sd": round(min(5.0, max(0.2, math.sqrt(var))), 3),
    }
    assert version.evidence is not None
    report = version.evidence["estimated_prior"]
    assert report["placements"] == 4 and report["estimated"] is True
    # the engine serving the new version runs that prior
    taker = Taker(app, client, await course.token(client, "PT"))
    await taker.start()
    assert (await taker.item())["item"]["position"] == 1

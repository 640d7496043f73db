"""Calibration of items scored 0 … k from collected points (docs/calibration.md): cloze pilot
items beside anchored 3PL items, on the real database. The gap items get the GPCM in a second
EM that holds the 0/1 items at the run's estimates; publishing writes their steps and keeps
their body and gaps. Responses are written straight into the tables, as in
``test_calibration.py``."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from etest import irt
from etest.db import transaction
from etest.models import (
    Assessment,
    AssessmentVersion,
    Item,
)
from tests.bank.test_calibration import (
    OPERATIONAL,
    Answered,
    Bank,
    _p,
    calibrated,
    store_finished,
)
from tests.conftest import Headers, create_key, create_org, unique
from tests.support.flows import import_flows

SIMULEES = 800
#: Cloze pilot items: (true a, true steps); one gap a step.
CLOZE = [(1.2, [-1.0, -0.2, 0.6, 1.3]), (0.9, [-0.6, 0.3, 1.0])]


def _cloze(code: str, steps: int, irt_: dict[str, Any] | None = None) -> dict[str, Any]:
    gaps = [f"g{n}" for n in range(steps)]
    item: dict[str, Any] = {
        "code": code,
        "type": "cloze",
        "skill": "grammar",
        "level": "A1",
        "status": "active" if irt_ else "pilot",
        "prompt": "Fill in the gaps.",
        "body": "<p>" + " ".join(f"w [[{g}]]" for g in gaps) + "</p>",
        "gaps": [{"id": g} for g in gaps],
        "key": {"gaps": {g: {"accepted": ["x"]} for g in gaps}},
    }
    if irt_:
        item["irt"] = irt_
    return item


async def _bank(app: FastAPI, client: httpx.AsyncClient, su: Headers) -> Bank:
    """Six anchored single-choice 3PL items, the two cloze pilots, and an operational cloze
    with stored GPCM steps (held at them), in a staged PT."""
    tag = unique("g").lower()
    plan = f"p_{tag}"
    resp = await client.put(
        f"/api/v1/plans/{plan}",
        headers=su,
        json={
            "name": "GPCM plan",
            "pt_assessment": f"pt-{tag}",
            "levels": [
                {"level": "A1", "pass_mark": 70, "ct_assessment": f"ct-{tag}-0"},
                {"level": "A2", "pass_mark": 70, "ct_assessment": f"ct-{tag}-1"},
            ],
        },
    )
    assert resp.status_code == 200, resp.text
    items = [
        {
            "code": f"{tag}-op{n}",
            "type": "single_choice",
            "skill": "reading",
            "level": "A1",
            "prompt": f"Pick A ({n})",
            "options": [{"id": o, "text": o.lower()} for o in "ABCD"],
            "key": {"correct": ["A"]},
            "irt": {"model": "3PL", "a": a, "b": b, "c": c},
        }
        for n, (a, b, c) in enumerate(OPERATIONAL)
    ]
    items += [_cloze(f"{tag}-cz{n}", len(steps)) for n, (_, steps) in enumerate(CLOZE)]
    items.append(_cloze(f"{tag}-held", 2, {"model": "GPCM", "a": 1.0, "steps": [-0.5, 0.5]}))
    pt = {
        "format": "etest-flow/1",
        "kind": "PT",
        "code": f"pt-{tag}",
        "version": 1,
        "title": "PT",
        "plan": plan,
        "engine": {
            "type": "staged",
            "groups": [
                {"level": "A1", "items": [f"{tag}-op{n}" for n in range(3)] + [f"{tag}-held"]},
                {"level": "A2", "items": [f"{tag}-op{n}" for n in range(3, 6)]},
            ],
            "pilot": {"items": [f"{tag}-cz0", f"{tag}-cz1"], "rate": 0.5},
        },
    }
    bank = {
        "format": "etest-flow/1",
        "kind": "bank",
        "code": f"bank-{tag}",
        "version": 1,
        "title": "bank",
        "items": items,
    }
    await import_flows(client, su, bank, pt)
    org = await create_org(client, su, plan_code=plan)
    admin = await create_key(app, "admin", org["uic"])
    async with transaction(app.state.sessionmaker) as session:
        rows = (await session.scalars(select(Item).where(Item.code.like(f"{tag}-%")))).all()
        version_id = await session.scalar(
            select(AssessmentVersion.id)
            .join(Assessment, Assessment.id == AssessmentVersion.assessment_id)
            .where(Assessment.code == f"pt-{tag}")
        )
    assert version_id is not None
    ids = {r.code: r.id for r in rows}
    return Bank(tag, plan, org["uic"], admin, uuid.UUID(org["id"]), f"pt-{tag}", version_id, ids)


async def _simulate(app: FastAPI, client: httpx.AsyncClient, bank: Bank) -> None:
    """SIMULEES finished attempts of θ ~ N(0, 1): every item answered by its true model, the
    cloze items scored 0 … k by the GPCM (points stored, ``correct`` = full credit)."""
    rng = np.random.default_rng(3)
    theta = rng.normal(size=SIMULEES)
    scores: list[tuple[uuid.UUID, np.ndarray, int | None]] = []
    for n, (a, b, c) in enumerate(OPERATIONAL):
        right = rng.random(SIMULEES) < _p(theta, a, b, c)
        scores.append((bank.ids[f"{bank.tag}-op{n}"], right.astype(int), None))
    for code, a, steps in [
        *((f"{bank.tag}-cz{n}", a, s) for n, (a, s) in enumerate(CLOZE)),
        (f"{bank.tag}-held", 1.0, [-0.5, 0.5]),
    ]:
        p = irt.gpcm_probabilities(theta, a, steps).reshape(SIMULEES, -1)
        drawn = (np.cumsum(p, axis=-1)[:, :-1] < rng.random((SIMULEES, 1))).sum(axis=-1)
        scores.append((bank.ids[code], drawn, len(steps)))

    def answered(item_id: uuid.UUID, score: int, top: int | None) -> Answered:
        return (item_id, {"score": score}, score == (top or 1), score if top else None, top)

    await store_finished(
        app,
        client,
        bank,
        [[answered(i, int(column[s]), top) for i, column, top in scores] for s in range(SIMULEES)],
    )


@pytest.fixture(scope="module")
async def cm(app: FastAPI) -> Headers:
    return await create_key(app, "content_manager", None)


async def test_gap_items_get_the_gpcm_on_the_anchors_scale_and_publish_their_steps(
    app: FastAPI, client: httpx.AsyncClient, cm: Headers, su: Headers
) -> None:
    bank = await _bank(app, client, su)
    await _simulate(app, client, bank)
    codes = sorted(c for c in bank.ids if c.startswith(bank.tag))
    run = await calibrated(app, client, cm, {"items": codes, "min_responses": 100})
    assert run["status"] == "done", run["error"]
    report = run["report"]
    rows = {r["code"]: r for r in report["items"]}
    assert report["gpcm"]["estimated"] == 2 and report["gpcm"]["held"] == [f"{bank.tag}-held"]
    assert report["gpcm"]["converged"] and report["converged"]
    for n, (a, steps) in enumerate(CLOZE):
        row = rows[f"{bank.tag}-cz{n}"]
        assert row["model"] == "gpcm" and not row["anchored"] and row["n"] == SIMULEES
        assert len(row["steps"]) == len(steps) and len(row["se_steps"]) == len(steps)
        # on the 3PL anchors' scale: the truth within a few standard errors
        assert row["a"] == pytest.approx(a, abs=0.35), row
        for got, true, se in zip(row["steps"], steps, row["se_steps"], strict=True):
            assert abs(got - true) < max(4 * se, 0.3), row
        assert row["b"] == pytest.approx(np.mean(row["steps"]), abs=1e-5)
        assert 0 < row["p_value"] < 1 and row["icc"]["theta"]
        proposal = run["proposal"][row["code"]]
        assert proposal["model"] == "gpcm" and proposal["steps"] == row["steps"]
    held = rows[f"{bank.tag}-held"]
    assert held["anchored"] and held["steps"] == [-0.5, 0.5] and held["model"] == "gpcm"
    assert f"{bank.tag}-held" not in run["proposal"]
    assert all(rows[f"{bank.tag}-op{n}"]["anchored"] for n in range(len(OPERATIONAL)))

    # the workbook draws a gap item's expected share of points and lists its steps
    resp = await client.get(f"/api/v1/calibrations/{run['id']}/report.xlsx", headers=cm)
    assert resp.status_code == 200 and resp.content.startswith(b"PK")
    resp = await client.post(f"/api/v1/calibrations/{run['id']}/publish", headers=cm)
    assert resp.status_code == 200, resp.text
    async with transaction(app.state.sessionmaker) as session:
        items = {
            (i.code, i.version): i
            for i in await session.scalars(select(Item).where(Item.code.like(f"{bank.tag}-cz%")))
        }
    for n in range(len(CLOZE)):
        old, new = items[(f"{bank.tag}-cz{n}", 1)], items[(f"{bank.tag}-cz{n}", 2)]
        proposed = run["proposal"][f"{bank.tag}-cz{n}"]
        assert new.irt_model == "GPCM" and new.irt_steps == proposed["steps"]
        assert new.irt_b == pytest.approx(np.mean(proposed["steps"]), abs=1e-6)
        assert (new.body, new.gaps, new.key, new.type) == (old.body, old.gaps, old.key, old.type)

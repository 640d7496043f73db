"""Partial credit end to end, on the real database: a CT counts a gap item as one item earning
its share of points (the score crosses the pass mark that full credit alone would miss), and an
adaptive PT enters a GPCM item into its estimate with the points earned."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from etest import irt
from etest.attempt.engines import engine_config
from etest.db import transaction
from etest.models import Attempt
from tests.attempt.conftest import Course, Taker, make_course
from tests.attempt.test_gap_items_api import gap_flows
from tests.conftest import Headers
from tests.support.flows import import_flows

#: The GPCM cloze of the PT below: three gaps, one step each.
A, STEPS = 1.3, [-1.2, -0.4, 0.5]


@pytest.fixture
async def gap_course(app: FastAPI, client: httpx.AsyncClient, su: Headers) -> Course:
    course = await make_course(app, client, su, pt_engine="irt")
    flows = gap_flows(course)
    cloze = flows[0]["items"][0]
    cloze["irt"] = {"model": "GPCM", "a": A, "steps": STEPS}
    pt = {
        "format": "etest-flow/1",
        "kind": "PT",
        "code": f"pt-{course.tag}",
        "version": 2,
        "title": "PT of one cloze",
        "plan": course.plan,
        "engine": {
            "type": "irt",
            "pool": [cloze["code"]],
            "cut_scores": [-1.25, -0.75],
            "min_items": 1,
            "max_items": 1,
            "se_target": 0.3,
        },
    }
    await import_flows(client, su, *flows, pt)
    return course


async def _answer_all(taker: Taker, answers: dict[str, Any]) -> dict[str, Any]:
    assert (await taker.start()).status_code == 201
    while not (current := await taker.item()).get("finished"):
        item = current["item"]
        resp = await taker.answer(item["position"], answers[item["type"]])
        assert resp.status_code == 200, resp.text
    async with transaction(taker.app.state.sessionmaker) as session:
        attempt = await session.get(Attempt, uuid.UUID(taker.attempt_id))
        assert attempt is not None and attempt.outcome is not None
        return dict(attempt.outcome)  # as stored (the candidate's view shows part of it)


async def test_a_ct_counts_each_gap_item_as_one_item_with_its_share_of_points(
    app: FastAPI, client: httpx.AsyncClient, gap_course: Course
) -> None:
    taker = Taker(app, client, await gap_course.token(client, "CT", "A1"))
    outcome = await _answer_all(
        taker,
        {
            "cloze": {"g1": "went", "g2": "met"},  # 2 of 3 gaps
            "gap_match": {"p2": "on", "p1": "under"},  # 1 of 2
            "hottext": "w2",  # right
        },
    )
    # 2/3 + 1/2 + 1 = 2.17 of 3 items: 72.3 against the pass mark of 70 (full credit alone
    # would be 1 of 3, 33.3)
    assert (outcome["correct"], outcome["incorrect"], outcome["points"]) == (1, 2, 2.17)
    assert outcome["score"] == 72.3 and outcome["passed"] is True
    assert outcome["skills"]["grammar"] == {
        "served": 1,
        "correct": 0,
        "accuracy": 0.667,
        "points": 0.67,
    }
    assert outcome["skills"]["reading"] == {"served": 1, "correct": 1, "accuracy": 1.0}


async def test_a_pt_enters_a_gpcm_item_with_its_points(
    app: FastAPI, client: httpx.AsyncClient, gap_course: Course
) -> None:
    config = {
        "type": "irt",
        "pool": ["c"],
        "cut_scores": [-1.25, -0.75],
        "min_items": 1,
        "max_items": 1,
        "se_target": 0.3,
    }
    core = irt.CatEngine(
        irt.ItemBank.from_arrays(["c"], a=[A], b=[0.0], steps=[STEPS]), engine_config(config)
    )
    thetas = []
    for answer, points in (({"g1": "went", "g2": "meet"}, 1), ({"g1": "went", "g2": "met"}, 2)):
        taker = Taker(app, client, await gap_course.token(client, "PT"))
        outcome = await _answer_all(taker, {"cloze": answer})
        state = core.start(0)
        state.record(0, points)
        theta, se = state.estimate()
        assert outcome["theta"] == pytest.approx(theta) and outcome["se"] == pytest.approx(se)
        assert outcome["points"] == round(points / 3, 2) and outcome["correct"] == 0
        thetas.append(outcome["theta"])
    assert thetas[1] > thetas[0]  # a second gap right moves the estimate up

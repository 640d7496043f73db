"""Pilot items through the API: imported with a flow's ``pilot`` block, served in their slots,
stored and scored for calibration, and leaving the candidate's result exactly as it would be
without them (the same operational answers give the same outcome)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select, update

from etest.attempt.pilots import Pilots
from etest.db import transaction
from etest.models import Attempt, AttemptItem, Item, Response
from tests.attempt.conftest import Course, Taker, _items, make_course, right, wrong
from tests.conftest import Headers, create_candidate
from tests.support.flows import import_flows

#: An attempt seed whose second position is a pilot slot at rate 0.5 (found below, asserted).
SEED = next(s for s in range(1000) if Pilots((uuid.UUID(int=1),), 0.5).is_slot(s, 2))


def _pilot_items(tag: str) -> list[dict[str, Any]]:
    return [
        {
            "code": f"{tag}-pilot-{n}",
            "type": "single_choice",
            "skill": "reading",
            "level": "A1",
            "status": "pilot",
            "prompt": f"A new question #{n}",
            "options": [{"id": o, "text": o.lower()} for o in "ABCD"],
            "key": {"correct": ["A"]},
        }
        for n in range(3)
    ]


async def _with_pilots(client: httpx.AsyncClient, su: Headers, course: Course) -> list[str]:
    """Version 2 of the course's PT and CT: the same operational items, and three pilots."""
    tag = course.tag
    pilots = _pilot_items(tag)
    codes = [p["code"] for p in pilots]
    bank = {
        "format": "etest-flow/1",
        "kind": "bank",
        "code": f"pilots-{tag}",
        "version": 1,
        "title": "pilots",
        "items": pilots,
    }
    items = _items(tag)
    a1 = [i for i in items if i["level"] == "A1"]
    pt = {
        "format": "etest-flow/1",
        "kind": "PT",
        "code": f"pt-{tag}",
        "version": 2,
        "title": "PT",
        "plan": course.plan,
        "engine": {
            "type": "irt",
            "pool": [i["code"] for i in items],
            "cut_scores": [-1.25, -0.75],
            "min_items": 4,
            "max_items": 8,
            "se_target": 0.3,
            "pilot": {"items": codes, "rate": 0.5},
        },
        "evidence": {"within_one_level": 0.0, "max_mean_length": 200},
    }
    ct = {
        "format": "etest-flow/1",
        "kind": "CT",
        "code": f"ct-{tag}-a1",
        "version": 2,
        "title": "CT A1",
        "plan": course.plan,
        "level": "A1",
        "engine": {
            "type": "fixed",
            "time_limit_seconds": 1800,
            "sections": [
                {"skill": s, "count": c, "pool": [i["code"] for i in a1 if i["skill"] == s]}
                for s, c in (("reading", 2), ("grammar", 1), ("vocabulary", 1))
            ],
            "pilot": {"items": codes, "rate": 0.5},
        },
    }
    await import_flows(client, su, bank, pt, ct)
    return codes


async def _start(app: FastAPI, taker: Taker) -> Taker:
    """Start (the attempt pins the latest version now) with the seed fixed to ``SEED``."""
    await taker.start()
    async with transaction(app.state.sessionmaker) as session:
        await session.execute(
            update(Attempt).where(Attempt.id == uuid.UUID(taker.attempt_id)).values(seed=SEED)
        )
    return taker


async def _take(
    app: FastAPI, taker: Taker, pilots: set[str]
) -> tuple[dict[str, Any], list[str], int | None]:
    """Answer a started attempt to the end: operational items right at A1 and wrong above,
    pilot items wrong. Returns the outcome, the item codes served in order and the planned
    total the candidate was shown."""
    served: list[str] = []
    totals: set[int | None] = set()
    for _ in range(60):
        current = await taker.item()
        if current["finished"]:
            break
        position = current["item"]["position"]
        totals.add(current["item"]["progress"]["total"])
        async with transaction(app.state.sessionmaker) as session:
            row = await session.get(AttemptItem, (uuid.UUID(taker.attempt_id), position))
            assert row is not None
            item = await session.get(Item, row.item_id)
            assert item is not None
        served.append(item.code)
        good = item.code not in pilots and item.level == "A1"
        answer = (right if good else wrong)(item.type, item.key)
        assert (await taker.answer(position, answer)).status_code == 200
    async with transaction(app.state.sessionmaker) as session:
        attempt = await session.get(Attempt, uuid.UUID(taker.attempt_id))
        assert attempt is not None and attempt.outcome is not None
        assert len(totals) == 1
        return attempt.outcome, served, totals.pop()


async def test_the_same_operational_answers_give_the_same_result_with_pilots(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    course = await make_course(app, client, su, pt_engine="irt")
    other = await create_candidate(client, course.admin, uic=course.uic)
    plain_pt = await _start(app, Taker(app, client, await course.token(client, "PT")))
    plain_ct = await _start(app, Taker(app, client, await course.token(client, "CT", "A1")))
    pilots = set(await _with_pilots(client, su, course))  # later attempts pin version 2
    pilot_pt = await _start(
        app, Taker(app, client, await course.token(client, "PT", candidate=other))
    )
    pilot_ct = await _start(
        app, Taker(app, client, await course.token(client, "CT", "A1", candidate=other))
    )

    for plain, piloted in ((plain_pt, pilot_pt), (plain_ct, pilot_ct)):
        without, served_plain, planned_plain = await _take(app, plain, pilots)
        with_, served, planned = await _take(app, piloted, pilots)
        assert not pilots & set(served_plain)
        given = [c for c in served if c in pilots]
        assert given and served[1] in pilots  # SEED: position 2 is a pilot slot
        assert len(given) == len(set(given))
        assert [c for c in served if c not in pilots] == served_plain
        if planned_plain is not None:  # a CT: the length shown counts the pilot items
            assert planned_plain == 4 and planned == len(served)
        for field in (
            "status",
            "level",
            "position",
            "theta",
            "se",
            "level_probabilities",
            "score",
            "passed",
            "correct",
            "answered",
            "served",
            "skills",
            "cant_do",
            "review_list",
        ):
            assert with_.get(field) == without.get(field), field

    async with transaction(app.state.sessionmaker) as session:
        stored = (
            await session.scalars(
                select(Response).where(Response.attempt_id == uuid.UUID(pilot_ct.attempt_id))
            )
        ).all()
        pilot_ids = set((await session.scalars(select(Item.id).where(Item.code.in_(pilots)))).all())
    trial = [r for r in stored if r.item_id in pilot_ids]
    assert trial and all(r.correct is False for r in trial)  # scored and kept for calibration

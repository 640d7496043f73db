"""R-08/R-09 over real HTTP against a server process: two devices answering the same position at
once store exactly one answer, a burst of attempt starts succeeds without an error, and starting
or finishing one attempt from many devices at once is idempotent (no racer gets a 409 or a
500: every starter gets the same attempt, every finisher the same finished state)."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from etest.config import Settings
from etest.db import transaction
from etest.models import Attempt, OutboxEvent, Response
from tests.attempt.conftest import Course
from tests.reliability.conftest import Server, device, right_answer, tokens_for, wrong_answer

ROUNDS = 24  # per case; 6 at a time
BURST = 200
STARTERS = 20  # devices starting one token at once
FINISHERS = 10  # devices finishing one attempt at once


async def _rows(app: FastAPI, attempt_id: str, position: int) -> int:
    async with transaction(app.state.sessionmaker) as session:
        return int(
            await session.scalar(
                select(func.count())
                .select_from(Response)
                .where(Response.attempt_id == uuid.UUID(attempt_id), Response.position == position)
            )
            or 0
        )


async def _race(app: FastAPI, live: Server, token: str, same: bool) -> list[str]:
    """Two devices start (or resume) the same token, get the same item and answer it at once.
    Returns the problems found (empty when the round is correct)."""
    problems: list[str] = []
    a, b = device(live), device(live)
    try:
        first = await a.post("/api/v1/attempts", json={"token": token})
        second = await b.post("/api/v1/attempts", json={"token": token})
        assert first.status_code == 201 and second.status_code == 200, (first.text, second.text)
        attempt = first.json()["attempt_id"]
        assert second.json()["attempt_id"] == attempt and second.json()["resumed"]
        ha = {"Authorization": f"Bearer {first.json()['secret']}"}
        hb = {"Authorization": f"Bearer {second.json()['secret']}"}
        ia, ib = await asyncio.gather(
            a.get(f"/api/v1/attempts/{attempt}/item", headers=ha),
            b.get(f"/api/v1/attempts/{attempt}/item", headers=hb),
        )
        item_a, item_b = ia.json()["item"], ib.json()["item"]
        if item_a != item_b:
            problems.append(f"two devices were served different items: {item_a} / {item_b}")
        position = item_a["position"]
        answer_a = right_answer(item_a)
        answer_b = answer_a if same else wrong_answer(item_a)
        ra, rb = await asyncio.gather(
            a.post(
                f"/api/v1/attempts/{attempt}/responses",
                headers=ha,
                json={"position": position, "answer": answer_a},
            ),
            b.post(
                f"/api/v1/attempts/{attempt}/responses",
                headers=hb,
                json={"position": position, "answer": answer_b},
            ),
        )
        statuses = sorted([ra.status_code, rb.status_code])
        if same and statuses != [200, 200]:
            problems.append(f"same answer: {ra.status_code} {ra.text} / {rb.status_code} {rb.text}")
        if not same:
            if statuses != [200, 409]:
                problems.append(
                    f"different answers: {ra.status_code} {ra.text} / {rb.status_code} {rb.text}"
                )
            loser = ra if ra.status_code == 409 else rb
            if loser.status_code == 409 and loser.json()["type"] != "/errors/answer-conflict":
                problems.append(f"409 of type {loser.json()['type']}")
        state = (await a.get(f"/api/v1/attempts/{attempt}", headers=ha)).json()
        stored = [x for x in state["answers"] if x["position"] == position]
        winner = answer_a if (same or ra.status_code == 200) else answer_b
        if len(stored) != 1 or stored[0]["answer"] != winner:
            problems.append(f"stored {stored}, acknowledged {winner!r}")
        if await _rows(app, attempt, position) != 1:
            problems.append("not exactly one response row")
    finally:
        await asyncio.gather(a.aclose(), b.aclose())
    return problems


@pytest.mark.parametrize("same", [False, True], ids=["different-answers", "same-answer"])
async def test_two_devices_answering_one_position_store_exactly_one_answer(
    app: FastAPI, pt_course: Course, live: Server, same: bool
) -> None:
    tokens = await tokens_for(app, pt_course, ROUNDS)
    problems: list[str] = []
    for start in range(0, ROUNDS, 6):
        for found in await asyncio.gather(
            *(_race(app, live, t, same) for t in tokens[start : start + 6])
        ):
            problems += found
    assert not problems, f"{len(problems)} of {ROUNDS} rounds wrong:\n" + "\n".join(problems[:10])


async def test_a_burst_of_200_starts_succeeds_without_an_error(
    app: FastAPI, settings: Settings, pt_course: Course, live: Server
) -> None:
    tokens = await tokens_for(app, pt_course, BURST)
    devices = [device(live) for _ in range(BURST)]
    try:
        # connect first, so that the burst is 200 requests and not 200 TCP handshakes
        await asyncio.gather(*(d.get("/health") for d in devices))
        began = time.monotonic()
        responses: list[Any] = await asyncio.gather(
            *(
                d.post("/api/v1/attempts", json={"token": t})
                for d, t in zip(devices, tokens, strict=True)
            ),
            return_exceptions=True,
        )
        took = time.monotonic() - began
    finally:
        await asyncio.gather(*(d.aclose() for d in devices))
    failed = [
        r if isinstance(r, BaseException) else f"{r.status_code} {r.text[:200]}"
        for r in responses
        if isinstance(r, BaseException) or r.status_code != 201
    ]
    assert not failed, f"{len(failed)} of {BURST} starts failed, e.g. {failed[:3]}"
    ids = {r.json()["attempt_id"] for r in responses}
    assert len(ids) == BURST
    database = "SQLite" if settings.is_sqlite else "PostgreSQL"
    print(f"\nburst: {BURST} starts at once on {database}: {BURST} x 201 in {took:.1f} s")


async def _at_once(live: Server, n: int, send: Any) -> list[Any]:
    """``send(client)`` from ``n`` devices at the same moment (connected beforehand, so the
    requests, not the TCP handshakes, race)."""
    devices = [device(live) for _ in range(n)]
    try:
        await asyncio.gather(*(d.get("/health") for d in devices))
        return list(await asyncio.gather(*(send(d) for d in devices), return_exceptions=True))
    finally:
        await asyncio.gather(*(d.aclose() for d in devices))


def _failures(responses: list[Any], ok: tuple[int, ...]) -> list[str]:
    return [
        repr(r) if isinstance(r, BaseException) else f"{r.status_code} {r.text[:200]}"
        for r in responses
        if isinstance(r, BaseException) or r.status_code not in ok
    ]


async def test_simultaneous_starts_of_one_token_all_get_the_same_attempt(
    app: FastAPI, pt_course: Course, live: Server
) -> None:
    for token in await tokens_for(app, pt_course, 3):
        responses = await _at_once(
            live, STARTERS, lambda d, t=token: d.post("/api/v1/attempts", json={"token": t})
        )
        failed = _failures(responses, (200, 201))
        assert not failed, f"{len(failed)} of {STARTERS} starts failed, e.g. {failed[:3]}"
        assert sorted(r.status_code for r in responses) == [200] * (STARTERS - 1) + [201]
        bodies = [r.json() for r in responses]
        assert len({b["attempt_id"] for b in bodies}) == 1
        assert len({b["secret"] for b in bodies}) == 1
        assert [b["resumed"] for b in bodies if b["resumed"]] == [True] * (STARTERS - 1)
        async with transaction(app.state.sessionmaker) as session:
            attempts = await session.scalar(
                select(func.count())
                .select_from(Attempt)
                .where(Attempt.id == uuid.UUID(bodies[0]["attempt_id"]))
            )
        assert attempts == 1


async def test_simultaneous_finishes_of_one_attempt_all_get_the_same_state(
    app: FastAPI, pt_course: Course, live: Server
) -> None:
    for token in await tokens_for(app, pt_course, 3, "CT", "A1"):
        async with device(live) as d:
            started = await d.post("/api/v1/attempts", json={"token": token})
            assert started.status_code == 201, started.text
            attempt = started.json()["attempt_id"]
            headers = {"Authorization": f"Bearer {started.json()['secret']}"}
            item = (await d.get(f"/api/v1/attempts/{attempt}/item", headers=headers)).json()
            answered = await d.post(
                f"/api/v1/attempts/{attempt}/responses",
                headers=headers,
                json={"position": 1, "answer": right_answer(item["item"])},
            )
            assert answered.status_code == 200, answered.text
            await d.get(f"/api/v1/attempts/{attempt}/item", headers=headers)  # serves #2
        responses = await _at_once(
            live,
            FINISHERS,
            lambda d, a=attempt, h=headers: d.post(f"/api/v1/attempts/{a}/finish", headers=h),
        )
        failed = _failures(responses, (200,))
        assert not failed, f"{len(failed)} of {FINISHERS} finishes failed, e.g. {failed[:3]}"
        states = [r.json() for r in responses]
        assert all(s["status"] == "completed" for s in states)
        assert len({(s["finished_at"], repr(s["outcome"])) for s in states}) == 1
        assert states[0]["outcome"]["correct"] == 1 and states[0]["outcome"]["total"] == 4
        async with transaction(app.state.sessionmaker) as session:
            events = await session.scalar(
                select(func.count())
                .select_from(OutboxEvent)
                .where(
                    OutboxEvent.topic == "attempt.finished",
                    OutboxEvent.payload["attempt_id"].as_string() == attempt,
                )
            )
        assert events == 1

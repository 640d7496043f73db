"""Attempt lifecycle over the candidate API, on the real database."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select, update

from etest.attempt.service import sweep
from etest.db import transaction
from etest.models import Attempt, AttemptItem, OutboxEvent, Response
from tests.attempt.conftest import Course, Taker, key_of, make_course, right, wrong
from tests.conftest import Headers


def all_right(_: int, t: str, k: dict[str, Any]) -> Any:
    return right(t, k)


def all_wrong(_: int, t: str, k: dict[str, Any]) -> Any:
    return wrong(t, k)


async def test_ct_pass(app: FastAPI, client: httpx.AsyncClient, course: Course) -> None:
    taker = Taker(app, client, await course.token(client, "CT", "A1"))
    started = await taker.start(**{"User-Agent": "pytest-phone/1.0"})
    assert started.status_code == 201 and started.json()["resumed"] is False
    assert started.json()["state"]["progress"] == {"answered": 0, "total": 4}
    state = await taker.run(all_right)
    outcome = state["outcome"]
    assert (outcome["score"], outcome["passed"], outcome["status"]) == (100.0, True, "pass")
    assert (outcome["total"], outcome["correct"], outcome["answered"]) == (4, 4, 4)
    assert outcome["continue_package"] is True and outcome["next_level"] == "A1+"
    assert outcome["cant_do"] == [] and outcome["review_list"] == []
    again = await taker.start()
    assert again.status_code == 200 and again.json()["state"]["status"] == "completed"
    async with transaction(app.state.sessionmaker) as session:
        attempt = await session.get(Attempt, uuid.UUID(taker.attempt_id))
        assert attempt is not None
        assert attempt.user_agent == "pytest-phone/1.0" and attempt.ip
        events = (
            await session.scalars(
                select(OutboxEvent).where(OutboxEvent.topic == "attempt.finished")
            )
        ).all()
        mine = [e for e in events if e.payload["attempt_id"] == taker.attempt_id]
        assert len(mine) == 1 and mine[0].payload["outcome"]["passed"] is True
    finish_again = await client.post(
        f"/api/v1/attempts/{taker.attempt_id}/finish", headers=taker.headers
    )
    assert finish_again.status_code == 200
    async with transaction(app.state.sessionmaker) as session:
        count = await session.scalar(
            select(func.count()).select_from(OutboxEvent).where(OutboxEvent.id == mine[0].id)
        )
        assert count == 1


async def test_ct_fail_then_retakes_avoid_seen_items_then_needs_review(
    app: FastAPI, client: httpx.AsyncClient, course: Course
) -> None:
    seen: list[set[str]] = []
    for n in range(3):
        taker = Taker(app, client, await course.token(client, "CT", "A1"))
        assert (await taker.start()).status_code == 201
        state = await taker.run(all_wrong)
        outcome = state["outcome"]
        assert outcome["passed"] is False and outcome["attempt_number"] == n + 1
        assert outcome["status"] == ("needs_review" if n == 2 else "fail")
        assert {c["text"] for c in outcome["cant_do"]} >= {"Cannot yet reading at A1"}
        assert outcome["review_list"][0]["title"] == "Lesson A1"
        async with transaction(app.state.sessionmaker) as session:
            seen.append(
                {
                    str(i)
                    for i in (
                        await session.scalars(
                            select(AttemptItem.item_id).where(
                                AttemptItem.attempt_id == uuid.UUID(taker.attempt_id)
                            )
                        )
                    ).all()
                }
            )
    # 4 reading items, 2 per attempt: the second attempt serves the two not seen yet
    assert len(seen[0] | seen[1]) > len(seen[0])
    taker = Taker(app, client, await course.token(client, "CT", "A1"))
    refused = await taker.start()
    assert refused.status_code == 403 and refused.json()["type"] == "/errors/needs-review"


async def test_answers_are_idempotent_per_position(
    app: FastAPI, client: httpx.AsyncClient, course: Course
) -> None:
    taker = Taker(app, client, await course.token(client, "CT", "A1"))
    await taker.start()
    item = (await taker.item())["item"]
    assert item["position"] == 1
    assert not {"key", "irt", "irt_b", "transcript", "correct", "code"} & set(item)
    item_type, key = await key_of(app, taker.attempt_id, 1)
    first = await taker.answer(1, right(item_type, key))
    assert first.status_code == 200 and first.json()["replay"] is False
    replay = await taker.answer(1, right(item_type, key))
    assert replay.status_code == 200 and replay.json()["replay"] is True
    assert replay.json()["answered_at"] == first.json()["answered_at"]
    conflict = await taker.answer(1, wrong(item_type, key))
    assert conflict.status_code == 409 and conflict.json()["type"] == "/errors/answer-conflict"
    ahead = await taker.answer(7, "A")
    assert ahead.status_code == 409 and ahead.json()["type"] == "/errors/wrong-position"
    nxt = (await taker.item())["item"]
    assert nxt["position"] == 2
    bad = await taker.answer(2, ["Z"] if nxt["type"] != "text_entry" else 42)
    assert bad.status_code == 422 and bad.json()["type"] == "/errors/invalid-answer"
    extra = await client.post(
        f"/api/v1/attempts/{taker.attempt_id}/responses",
        headers=taker.headers,
        json={"position": 2, "answer": "A", "deadline": "2099-01-01"},
    )
    assert extra.status_code == 422


async def test_concurrent_identical_answers_store_one_row(
    app: FastAPI, client: httpx.AsyncClient, course: Course
) -> None:
    taker = Taker(app, client, await course.token(client, "CT", "A1"))
    await taker.start()
    await taker.item()
    item_type, key = await key_of(app, taker.attempt_id, 1)
    results = await asyncio.gather(*(taker.answer(1, right(item_type, key)) for _ in range(8)))
    assert {r.status_code for r in results} == {200}  # every identical repeat is a replay
    assert sum(not r.json()["replay"] for r in results) == 1
    async with transaction(app.state.sessionmaker) as session:
        rows = await session.scalar(
            select(func.count())
            .select_from(Response)
            .where(Response.attempt_id == uuid.UUID(taker.attempt_id))
        )
    assert rows == 1


async def test_resume_on_another_device(
    app: FastAPI, client: httpx.AsyncClient, course: Course
) -> None:
    token = await course.token(client, "CT", "A1")
    phone = Taker(app, client, token)
    await phone.start()
    item_type, key = await key_of(app, phone.attempt_id, (await phone.item())["item"]["position"])
    await phone.answer(1, right(item_type, key))
    current = (await phone.item())["item"]
    laptop = Taker(app, client, token)
    resumed = await laptop.start()
    assert resumed.status_code == 200 and resumed.json()["resumed"] is True
    assert laptop.attempt_id == phone.attempt_id
    state = resumed.json()["state"]
    assert [a["position"] for a in state["answers"]] == [1]
    assert state["current_position"] == 2
    assert (await laptop.item())["item"] == current


async def test_wrong_secret_looks_like_missing_attempt(
    app: FastAPI, client: httpx.AsyncClient, course: Course
) -> None:
    taker = Taker(app, client, await course.token(client, "CT", "A1"))
    await taker.start()
    other = Taker(app, client, await course.token(client, "PT"))
    await other.start()
    foreign = await client.get(f"/api/v1/attempts/{taker.attempt_id}", headers=other.headers)
    missing = await client.get(f"/api/v1/attempts/{uuid.uuid4()}", headers=other.headers)
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == missing.json()
    no_secret = await client.get(f"/api/v1/attempts/{taker.attempt_id}/item")
    assert no_secret.status_code == 404


async def test_bad_tokens(
    app: FastAPI, client: httpx.AsyncClient, course: Course, su: Headers
) -> None:
    unknown = await client.post("/api/v1/attempts", json={"token": "x" * 22})
    assert unknown.status_code == 404 and unknown.json()["type"] == "/errors/token-not-found"
    token = await course.token(client, "CT", "A1")
    listed = await client.get(
        "/api/v1/tokens",
        headers=course.admin,
        params={"candidate_id": course.candidate["id"], "level": "A1"},
    )
    token_id = listed.json()["items"][0]["id"]
    await client.post(f"/api/v1/tokens/{token_id}/revoke", headers=course.admin)
    revoked = await client.post("/api/v1/attempts", json={"token": token})
    assert revoked.status_code == 410 and revoked.json()["type"] == "/errors/token-revoked"
    # a token is not issued for a test without content (tests/token); content can still be
    # missing at the start when the plan was edited to name another assessment since
    token = await course.token(client, "CT", "A1")
    plan = (await client.get(f"/api/v1/plans/{course.plan}")).json()
    plan["levels"] = [
        {**lv, "ct_assessment": f"{lv['ct_assessment']}-gone"} for lv in plan["levels"]
    ]
    assert (
        await client.put(
            f"/api/v1/plans/{course.plan}",
            headers=su,
            json={
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
            },
        )
    ).status_code == 200
    no_content = await client.post("/api/v1/attempts", json={"token": token})
    assert no_content.status_code == 409
    assert no_content.json()["type"] == "/errors/assessment-unavailable"


async def test_expired_org_cannot_start(
    app: FastAPI, client: httpx.AsyncClient, course: Course, su: Headers
) -> None:
    token = await course.token(client, "PT")
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    await client.patch(f"/api/v1/organizations/{course.uic}", headers=su, json={"expires_at": past})
    resp = await client.post("/api/v1/attempts", json={"token": token})
    assert resp.status_code == 403 and resp.json()["type"] == "/errors/organization-expired"


async def test_deadline_finishes_with_finish_time_deadline(
    app: FastAPI, client: httpx.AsyncClient, course: Course
) -> None:
    takers = []
    for _ in range(2):
        cand_resp = await client.post(
            "/api/v1/candidates",
            headers=course.admin,
            json={"email": f"{uuid.uuid4().hex[:10]}@example.org", "uic": course.uic},
        )
        taker = Taker(
            app, client, await course.token(client, "CT", "A1", candidate=cand_resp.json())
        )
        await taker.start()
        await taker.item()
        takers.append(taker)
    past = datetime.now(UTC) - timedelta(minutes=5)
    async with transaction(app.state.sessionmaker) as session:
        await session.execute(
            update(Attempt)
            .where(Attempt.id.in_([uuid.UUID(t.attempt_id) for t in takers]))
            .values(deadline=past)
        )
    # one is finished lazily when the candidate comes back ...
    late = await takers[0].answer(1, "A")
    assert late.status_code == 409 and late.json()["type"] == "/errors/attempt-finished"
    state = (
        await client.get(f"/api/v1/attempts/{takers[0].attempt_id}", headers=takers[0].headers)
    ).json()
    assert state["status"] == "completed" and state["outcome"]["finish_reason"] == "deadline"
    assert datetime.fromisoformat(state["finished_at"]) == past
    # ... the other by the sweeper
    async with transaction(app.state.sessionmaker) as session:
        assert await sweep(session) >= 1
        attempt = await session.get(Attempt, uuid.UUID(takers[1].attempt_id))
        assert attempt is not None and attempt.status == "completed"
        assert attempt.finished_at == attempt.deadline
        assert attempt.outcome is not None and attempt.outcome["score"] == 0.0


async def test_item_timer_makes_late_answers_wrong(
    app: FastAPI, client: httpx.AsyncClient, course: Course
) -> None:
    taker = Taker(app, client, await course.token(client, "CT", "A1"))
    await taker.start()
    await taker.item()
    item_type, key = await key_of(app, taker.attempt_id, 1)
    async with transaction(app.state.sessionmaker) as session:
        await session.execute(
            update(AttemptItem)
            .where(AttemptItem.attempt_id == uuid.UUID(taker.attempt_id))
            .values(deadline=datetime.now(UTC) - timedelta(seconds=30))
        )
    ack = await taker.answer(1, right(item_type, key))
    assert ack.status_code == 200 and ack.json()["timed_out"] is True
    state = await taker.run(all_right)
    assert state["outcome"]["correct"] == 3 and state["answers"][0]["timed_out"] is True


async def test_staged_pt_places_and_disables(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    course = await make_course(
        app, client, su, "staged", settings={"disable_candidate_after_pt": True}
    )
    taker = Taker(app, client, await course.token(client, "PT"))
    await taker.start()
    state = await taker.run(all_right)
    assert state["progress"]["total"] is None
    outcome = state["outcome"]
    assert outcome["level"] == "A2" and outcome["answered"] == 12
    cand = (
        await client.get(f"/api/v1/candidates/{course.candidate['id']}", headers=course.admin)
    ).json()
    assert cand["pt_level"] == "A2" and cand["disabled"] is True
    again = await client.post(
        "/api/v1/tokens",
        headers=course.admin,
        json={"candidate_id": course.candidate["id"], "type": "PT"},
    )
    assert again.status_code == 409 and again.json()["type"] == "/errors/candidate-disabled"


async def test_staged_pt_stops_after_consecutive_wrong(
    app: FastAPI, client: httpx.AsyncClient, course: Course
) -> None:
    taker = Taker(app, client, await course.token(client, "PT"))
    await taker.start()
    state = await taker.run(lambda n, t, k: right(t, k) if n < 4 else wrong(t, k))
    assert state["outcome"]["level"] == "A1"
    assert state["outcome"]["answered"] == 7  # 4 right at A1, then three wrong in a row


async def test_irt_pt_places_with_uncertainty(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    course = await make_course(app, client, su, "irt")
    low = Taker(app, client, await course.token(client, "PT"))
    await low.start()
    state = await low.run(all_wrong)
    outcome = state["outcome"]
    assert outcome["level"] == "A1"
    assert 4 <= outcome["answered"] <= 8
    assert abs(sum(outcome["level_probabilities"].values()) - 1) < 1e-3
    assert set(outcome["areas_for_improvement"]) <= {"reading", "grammar", "vocabulary"}


async def test_reset_voids_the_unfinished_attempt(
    app: FastAPI, client: httpx.AsyncClient, course: Course
) -> None:
    taker = Taker(app, client, await course.token(client, "PT"))
    await taker.start()
    await taker.item()
    token_id = (
        await client.get(
            "/api/v1/tokens",
            headers=course.admin,
            params={"candidate_id": course.candidate["id"], "type": "PT"},
        )
    ).json()["items"][0]["id"]
    reset = await client.post(
        f"/api/v1/tokens/{token_id}/reset", headers=course.admin, json={"reason": "tablet broke"}
    )
    assert reset.status_code == 201
    state = await client.get(f"/api/v1/attempts/{taker.attempt_id}", headers=taker.headers)
    assert state.json()["status"] == "voided"
    late = await taker.answer(1, "A")
    assert late.status_code == 409 and late.json()["type"] == "/errors/attempt-finished"
    fresh = Taker(app, client, reset.json()["code"])
    started = await fresh.start()
    assert started.status_code == 201 and fresh.attempt_id != taker.attempt_id


async def test_the_clock_starts_with_the_first_item(
    app: FastAPI, client: httpx.AsyncClient, course: Course
) -> None:
    taker = Taker(app, client, await course.token(client, "CT", "A1"))
    started = await taker.start()
    assert started.json()["state"]["deadline"] is None  # start page, sound check: no clock yet
    item = (await taker.item())["item"]
    state = (await client.get(f"/api/v1/attempts/{taker.attempt_id}", headers=taker.headers)).json()
    deadline = datetime.fromisoformat(state["deadline"])
    served = datetime.fromisoformat(item["served_at"])
    assert deadline - served == timedelta(seconds=1800)


async def test_the_finished_event_keeps_its_id_through_the_outbox_api(
    app: FastAPI, client: httpx.AsyncClient, course: Course
) -> None:
    """``finish`` enqueues ``attempt.finished`` with the outbox's API: the event's id is still
    the one receivers de-duplicate on, written out here as it was before."""
    taker = Taker(app, client, await course.token(client, "CT", "A1"))
    await taker.start()
    await taker.run(all_right)
    expected = uuid.uuid5(uuid.NAMESPACE_URL, f"etest:attempt.finished:{taker.attempt_id}")
    async with transaction(app.state.sessionmaker) as session:
        event = await session.get(OutboxEvent, expected)
        attempt = await session.get(Attempt, uuid.UUID(taker.attempt_id))
    assert event is not None and attempt is not None
    assert event.topic == "attempt.finished" and event.payload["event_id"] == str(expected)
    assert event.organization_id == attempt.organization_id
    assert event.payload["attempt_id"] == taker.attempt_id

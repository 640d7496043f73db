"""Extra time (an accommodation) is honoured by the server: the attempt records the candidate's
and token's accommodations when it starts, its deadline is the limit times the factor, and an
answer after the usual limit but inside the extended one is accepted (not late), while the same
wait without extra time finds the test over.

Time "passes" by moving the attempt's recorded times back (as the deadline tests do), never by
waiting."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import update

from etest.attempt import rules
from etest.db import transaction
from etest.models import Attempt, AttemptItem
from tests.attempt.conftest import Course, Taker, key_of, right

NOW = datetime(2026, 1, 1, 12, 0)
SEC = timedelta(seconds=1)


async def _candidate(
    client: httpx.AsyncClient, course: Course, **body: object
) -> dict[str, object]:
    resp = await client.post(
        "/api/v1/candidates",
        headers=course.admin,
        json={"email": f"{uuid.uuid4().hex[:10]}@example.org", "uic": course.uic, **body},
    )
    assert resp.status_code == 201, resp.text
    data: dict[str, object] = resp.json()
    return data


async def _ct_token(
    client: httpx.AsyncClient, course: Course, candidate: dict[str, object], **body: object
) -> dict[str, object]:
    resp = await client.post(
        "/api/v1/tokens",
        headers=course.admin,
        json={"candidate_id": candidate["id"], "type": "CT", "level": "A1", **body},
    )
    assert resp.status_code == 201, resp.text
    data: dict[str, object] = resp.json()
    return data


async def _time_passes(app: FastAPI, attempt_id: str, seconds: int) -> None:
    """Move the attempt's clock ``seconds`` into the past (its deadline and its served item's)."""
    shift = timedelta(seconds=seconds)
    async with transaction(app.state.sessionmaker) as session:
        attempt = await session.get(Attempt, uuid.UUID(attempt_id))
        assert attempt is not None and attempt.deadline is not None
        await session.execute(
            update(Attempt)
            .where(Attempt.id == attempt.id)
            .values(deadline=attempt.deadline - shift, started_at=attempt.started_at - shift)
        )
        served = await session.get(AttemptItem, (attempt.id, 1))
        assert served is not None
        await session.execute(
            update(AttemptItem)
            .where(AttemptItem.attempt_id == attempt.id, AttemptItem.position == 1)
            .values(
                served_at=served.served_at - shift,
                deadline=None if served.deadline is None else served.deadline - shift,
            )
        )


async def test_extra_time_is_recorded_and_honoured(
    app: FastAPI, client: httpx.AsyncClient, course: Course
) -> None:
    # the candidate's standing accommodation, and a token that adds a play limit of its own
    candidate = await _candidate(client, course, accommodations={"extra_time": 1.5})
    assert candidate["accommodations"] == {"extra_time": 1.5}
    token = await _ct_token(client, course, candidate, accommodations={"clip_plays": 2})
    assert token["accommodations"] == {"clip_plays": 2}
    taker = Taker(app, client, str(token["code"]))
    assert (await taker.start()).status_code == 201
    current = await taker.item()
    # the deadline the API shows is the extended one: 1800 s x 1.5
    served_at = datetime.fromisoformat(current["item"]["served_at"])
    deadline = datetime.fromisoformat(current["item"]["deadline"])
    assert deadline - served_at == timedelta(seconds=2700)
    state = (await client.get(f"/api/v1/attempts/{taker.attempt_id}", headers=taker.headers)).json()
    assert datetime.fromisoformat(state["deadline"]) == deadline
    async with transaction(app.state.sessionmaker) as session:
        row = await session.get(Attempt, uuid.UUID(taker.attempt_id))
        assert row is not None
        assert row.accommodations == {"extra_time": 1.5, "clip_plays": 2}
    # 31 minutes later: past the usual 30, inside the extended 45
    await _time_passes(app, taker.attempt_id, 31 * 60)
    item_type, key = await key_of(app, taker.attempt_id, 1)
    ack = await taker.answer(1, right(item_type, key))
    assert ack.status_code == 200, ack.text
    assert ack.json()["timed_out"] is False
    # staff read what the attempt ran under in its result
    done = await client.post(f"/api/v1/attempts/{taker.attempt_id}/finish", headers=taker.headers)
    assert done.status_code == 200, done.text
    result = await client.get(f"/api/v1/results/{taker.attempt_id}", headers=course.admin)
    assert result.status_code == 200, result.text
    assert result.json()["accommodations"] == {
        "extra_time": 1.5,
        "clip_plays": 2,
        "theme": None,
        "pause_allowed": None,
    }


async def test_without_extra_time_the_same_wait_ends_the_test(
    app: FastAPI, client: httpx.AsyncClient, course: Course
) -> None:
    candidate = await _candidate(client, course)
    assert candidate["accommodations"] is None
    token = await _ct_token(client, course, candidate)
    taker = Taker(app, client, str(token["code"]))
    await taker.start()
    current = await taker.item()
    served_at = datetime.fromisoformat(current["item"]["served_at"])
    assert datetime.fromisoformat(current["item"]["deadline"]) - served_at == 1800 * SEC
    await _time_passes(app, taker.attempt_id, 31 * 60)
    item_type, key = await key_of(app, taker.attempt_id, 1)
    late = await taker.answer(1, right(item_type, key))
    assert late.status_code == 409 and late.json()["type"] == "/errors/attempt-finished"


async def test_a_token_overrides_the_candidates_extra_time_and_bounds_hold(
    client: httpx.AsyncClient, course: Course
) -> None:
    candidate = await _candidate(client, course, accommodations={"extra_time": 2.0})
    token = await _ct_token(client, course, candidate, accommodations={"extra_time": 1.25})
    assert token["accommodations"] == {"extra_time": 1.25}
    for bad in ({"extra_time": 0.5}, {"extra_time": 4}, {"theme": "neon"}, {"clip_plays": 0}):
        resp = await client.post(
            "/api/v1/candidates",
            headers=course.admin,
            json={"email": f"{uuid.uuid4().hex[:10]}@example.org", "accommodations": bad},
        )
        assert resp.status_code == 422, (bad, resp.text)
    patched = await client.patch(
        f"/api/v1/candidates/{candidate['id']}",
        headers=course.admin,
        json={"accommodations": {"theme": "large-contrast", "pause_allowed": True}},
    )
    assert patched.status_code == 200, patched.text
    assert patched.json()["accommodations"] == {"theme": "large-contrast", "pause_allowed": True}


def test_the_factor_lengthens_the_test_and_each_question_in_one_place() -> None:
    assert rules.attempt_deadline(None, 600, 1, NOW, 1.5) == NOW + 900 * SEC
    assert rules.attempt_deadline(None, 600, 1, NOW) == NOW + 600 * SEC
    assert rules.item_deadline(40, NOW, None, 1.5) == NOW + 60 * SEC
    # the question's extended time still ends with the test's
    assert rules.item_deadline(40, NOW, NOW + 50 * SEC, 1.5) == NOW + 50 * SEC
    assert rules.extended(61, 1.0) == 61 and rules.extended(61, 1.1) == 67

"""A placement needs evidence: a PT finished with fewer answers than its flow's minimum ends
``unplaced`` (no level, ``pt_level`` unchanged, the candidate not disabled), whoever finishes it
(the candidate, the engine, the deadline, the sweeper); and a CT finished early shows the same
totals to the candidate and to staff."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select, update

from etest.attempt.secret import attempt_secret
from etest.attempt.service import sweep
from etest.db import transaction
from etest.models import Attempt, AttemptItem, Item, OutboxEvent
from etest.outbox.jobs import JobContext
from etest.outbox.worker import drain
from tests.attempt.conftest import Course, Taker, key_of, make_course, right, wrong
from tests.conftest import Headers, create_candidate
from tests.webhook import conftest as webhook
from tests.webhook.conftest import QUIET, configure
from tests.webhook.receiver import Receiver

# the callback test's fixtures: an app that may call loopback, a worker context, a receiver
ctx, hook_app, hook_client, hook_settings, receiver = (
    webhook.ctx,
    webhook.hook_app,
    webhook.hook_client,
    webhook.hook_settings,
    webhook.receiver,
)


def all_right(_: int, t: str, k: dict[str, Any]) -> Any:
    return right(t, k)


def all_wrong(_: int, t: str, k: dict[str, Any]) -> Any:
    return wrong(t, k)


async def _answer(app: FastAPI, taker: Taker, n: int, good: bool = True) -> None:
    """Answer the next ``n`` items (fewer when the engine stops first)."""
    for _ in range(n):
        current = await taker.item()
        if current["finished"]:
            return
        position = current["item"]["position"]
        item_type, key = await key_of(app, taker.attempt_id, position)
        answer = right(item_type, key) if good else wrong(item_type, key)
        assert (await taker.answer(position, answer)).status_code == 200


async def _finish(client: httpx.AsyncClient, taker: Taker) -> dict[str, Any]:
    resp = await client.post(f"/api/v1/attempts/{taker.attempt_id}/finish", headers=taker.headers)
    assert resp.status_code == 200, resp.text
    state: dict[str, Any] = resp.json()
    return state


async def _candidate(client: httpx.AsyncClient, course: Course) -> dict[str, Any]:
    resp = await client.get(f"/api/v1/candidates/{course.candidate['id']}", headers=course.admin)
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def _unplaced(outcome: dict[str, Any], answered: int, needed: int) -> None:
    assert outcome["status"] == "unplaced" and outcome["level"] is None, outcome
    assert (outcome["answered"], outcome["min_answers"]) == (answered, needed)
    assert outcome["position"] is None and outcome["level_probabilities"] == {}


async def test_a_pt_finished_without_answers_is_unplaced(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    course = await make_course(app, client, su, "irt")
    placed = Taker(app, client, await course.token(client, "PT"))
    await placed.start()
    first = (await placed.run(all_right))["outcome"]
    assert first["status"] == "placed" and first["level"] == "A2"
    assert (await _candidate(client, course))["pt_level"] == "A2"

    taker = Taker(app, client, await course.token(client, "PT"))
    await taker.start()
    state = await _finish(client, taker)
    _unplaced(state["outcome"], 0, 4)  # the irt flow's min_items
    again = (await client.get(f"/api/v1/attempts/{taker.attempt_id}", headers=taker.headers)).json()
    assert again["outcome"] == state["outcome"]
    assert (await _candidate(client, course))["pt_level"] == "A2"  # unchanged

    # staff see it as it is
    detail = (await client.get(f"/api/v1/results/{taker.attempt_id}", headers=course.admin)).json()
    assert (detail["level"], detail["status"], detail["position"], detail["theta"]) == (
        None,
        "unplaced",
        None,
        None,
    )
    assert detail["totals"] == {
        "correct": 0,
        "incorrect": 0,
        "answered": 0,
        "served": 0,
        "planned": None,
        "points": None,
    }
    listed = (
        await client.get("/api/v1/results", headers=course.admin, params={"type": "PT"})
    ).json()["items"]
    by_id = {i["attempt_id"]: i for i in listed}
    assert by_id[taker.attempt_id]["status"] == "unplaced"
    assert by_id[placed.attempt_id]["status"] == "placed"
    assert by_id[taker.attempt_id]["level"] is None
    assert by_id[taker.attempt_id]["min_answers"] == 4

    async def ids(**params: str) -> list[str]:
        resp = await client.get("/api/v1/results", headers=course.admin, params=params)
        assert resp.status_code == 200, resp.text
        return [i["attempt_id"] for i in resp.json()["items"]]

    assert await ids(status="unplaced") == [taker.attempt_id]
    assert await ids(status="placed") == [placed.attempt_id]
    assert await ids(type="PT", level="A2") == [placed.attempt_id]
    assert await ids(status="fail") == []
    async with transaction(app.state.sessionmaker) as session:
        event = await session.scalar(
            select(OutboxEvent).where(
                OutboxEvent.topic == "attempt.finished",
                OutboxEvent.payload["attempt_id"].as_string() == taker.attempt_id,
            )
        )
        attempt = await session.get(Attempt, uuid.UUID(taker.attempt_id))
    # the callback's data is this payload: level null, status unplaced
    assert event is not None and event.payload["outcome"]["level"] is None
    assert event.payload["outcome"]["status"] == "unplaced"
    assert attempt is not None and attempt.level_result is None


async def test_fewer_answers_than_the_minimum_is_unplaced_and_the_minimum_places(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    course = await make_course(app, client, su, "irt")
    short = Taker(app, client, await course.token(client, "PT"))
    await short.start()
    await _answer(app, short, 3)
    _unplaced((await _finish(client, short))["outcome"], 3, 4)

    enough = Taker(app, client, await course.token(client, "PT"))
    await enough.start()
    await _answer(app, enough, 4)
    outcome = (await _finish(client, enough))["outcome"]
    assert outcome["status"] == "placed" and outcome["level"] in ("A1", "A1+", "A2")
    assert outcome["answered"] >= 4 and outcome["min_answers"] == 4
    assert (await _candidate(client, course))["pt_level"] == outcome["level"]


async def test_timed_out_items_are_no_evidence(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    course = await make_course(app, client, su, "irt")
    taker = Taker(app, client, await course.token(client, "PT"))
    await taker.start()
    await _answer(app, taker, 3)
    await taker.item()
    async with transaction(app.state.sessionmaker) as session:  # the 4th item times out
        await session.execute(
            update(AttemptItem)
            .where(AttemptItem.attempt_id == uuid.UUID(taker.attempt_id), AttemptItem.position == 4)
            .values(deadline=datetime.now(UTC) - timedelta(minutes=1))
        )
    item_type, key = await key_of(app, taker.attempt_id, 4)
    assert (await taker.answer(4, right(item_type, key))).json()["timed_out"] is True
    _unplaced((await _finish(client, taker))["outcome"], 3, 4)


async def test_the_deadline_and_the_sweeper_leave_it_unplaced(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    course = await make_course(app, client, su, "irt")
    takers = []
    for _ in range(2):
        candidate = await create_candidate(client, course.admin, uic=course.uic)
        taker = Taker(app, client, await course.token(client, "PT", candidate=candidate))
        await taker.start()
        await _answer(app, taker, 1)
        await taker.item()
        takers.append(taker)
    past = datetime.now(UTC) - timedelta(minutes=5)
    async with transaction(app.state.sessionmaker) as session:
        await session.execute(
            update(Attempt)
            .where(Attempt.id.in_([uuid.UUID(t.attempt_id) for t in takers]))
            .values(deadline=past)
        )
    lazily = (
        await client.get(f"/api/v1/attempts/{takers[0].attempt_id}", headers=takers[0].headers)
    ).json()
    assert lazily["status"] == "completed" and lazily["outcome"]["finish_reason"] == "deadline"
    _unplaced(lazily["outcome"], 1, 4)
    async with transaction(app.state.sessionmaker) as session:
        assert await sweep(session) >= 1
        swept = await session.get(Attempt, uuid.UUID(takers[1].attempt_id))
    assert swept is not None and swept.outcome is not None
    _unplaced(swept.outcome, 1, 4)
    assert swept.level_result is None
    assert (await _candidate(client, course))["pt_level"] is None


async def test_an_unplaced_candidate_is_not_disabled(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    course = await make_course(
        app, client, su, "irt", settings={"disable_candidate_after_pt": True}
    )
    taker = Taker(app, client, await course.token(client, "PT"))
    await taker.start()
    _unplaced((await _finish(client, taker))["outcome"], 0, 4)
    candidate = await _candidate(client, course)
    assert candidate["disabled"] is False and candidate["pt_level"] is None
    placed = Taker(app, client, await course.token(client, "PT"))  # a new token is allowed
    await placed.start()
    assert (await placed.run(all_right))["outcome"]["status"] == "placed"
    assert (await _candidate(client, course))["disabled"] is True


async def _import_pt(
    client: httpx.AsyncClient, su: Headers, course: Course, engine: dict[str, Any], version: int = 2
) -> httpx.Response:
    """A new version of the course's PT with ``engine`` (item codes of the course's bank)."""
    flow = {
        "format": "etest-flow/1",
        "kind": "PT",
        "code": f"pt-{course.tag}",
        "version": version,
        "title": "PT",
        "plan": course.plan,
        "engine": engine,
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("pt.json", json.dumps(flow))
    return await client.post(
        "/api/v1/content/import",
        headers=su,
        files={"file": ("pt.zip", buf.getvalue(), "application/zip")},
    )


async def _codes(app: FastAPI, course: Course, level: str) -> list[str]:
    slug = level.replace("+", "p").lower()
    async with transaction(app.state.sessionmaker) as session:
        return sorted(
            (
                await session.scalars(
                    select(Item.code).where(Item.code.like(f"{course.tag}-{slug}-%"))
                )
            ).all()
        )


async def test_the_flow_sets_the_minimum(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    course = await make_course(app, client, su, "staged")
    # staged default: the shortest test the engine can stop on by itself, here three wrong
    # answers in a row (max_consecutive_wrong 3 < the 4 items of the first group)
    default = Taker(app, client, await course.token(client, "PT"))
    await default.start()
    outcome = (await default.run(all_wrong))["outcome"]
    assert (outcome["status"], outcome["level"], outcome["answered"], outcome["min_answers"]) == (
        "placed",
        "A1",
        3,
        3,
    )

    groups = [
        {"level": lv, "items": (await _codes(app, course, lv))[:4]} for lv in ("A1", "A1+", "A2")
    ]
    resp = await _import_pt(
        client, su, course, {"type": "staged", "groups": groups, "min_answers": 5}
    )
    assert resp.status_code == 200, resp.text
    stricter = Taker(app, client, await course.token(client, "PT"))
    await stricter.start()
    _unplaced((await stricter.run(all_wrong))["outcome"], 3, 5)

    refused = await _import_pt(
        client,
        su,
        course,
        {
            "type": "irt",
            "pool": await _codes(app, course, "A1"),
            "cut_scores": [-1.25, -0.75],
            "min_items": 4,
            "max_items": 8,
            "min_answers": 9,
        },
        version=3,
    )
    assert refused.status_code == 422, refused.text
    assert any("min_answers" in str(e) for e in refused.json()["errors"])


async def test_a_ct_without_answers_shows_the_same_totals_to_candidate_and_staff(
    app: FastAPI, client: httpx.AsyncClient, course: Course
) -> None:
    for answers in (0, 1):
        taker = Taker(app, client, await course.token(client, "CT", "A1"))
        await taker.start()
        await _answer(app, taker, answers, good=True)
        if answers:
            await taker.item()  # a second item served, never answered
        finished = (await _finish(client, taker))["outcome"]
        state = (
            await client.get(f"/api/v1/attempts/{taker.attempt_id}", headers=taker.headers)
        ).json()["outcome"]
        admin = (
            await client.get(f"/api/v1/results/{taker.attempt_id}", headers=course.admin)
        ).json()
        assert finished == state
        assert finished["score"] == admin["score"] == 25.0 * answers
        assert finished["passed"] is admin["passed"] is False
        totals = admin["totals"]
        candidate_totals = {
            k: finished[k] for k in ("total", "correct", "incorrect", "answered", "served")
        }
        assert candidate_totals == {
            "total": totals["planned"],
            "correct": totals["correct"],
            "incorrect": totals["incorrect"],
            "answered": totals["answered"],
            "served": totals["served"],
        }
        assert candidate_totals == {
            "total": 4,
            "correct": answers,
            "incorrect": answers,
            "answered": answers,
            "served": 2 * answers,
        }


async def test_the_take_page_says_no_level_honestly(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    course = await make_course(app, client, su, "irt")
    token = await course.token(client, "PT")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as browser:
        entered = await browser.get("/take", params={"token": token})  # the invitation link
        assert entered.status_code == 303, entered.text
        path = entered.headers["location"]
        attempt_id = path.rsplit("/", 1)[1]
        secret = attempt_secret(app.state.settings.pepper(), uuid.UUID(attempt_id))
        finished = await client.post(
            f"/api/v1/attempts/{attempt_id}/finish", headers={"Authorization": f"Bearer {secret}"}
        )
        assert finished.json()["outcome"]["status"] == "unplaced"
        page = await browser.get(path)
    assert page.status_code == 200, page.text
    html = page.text
    assert "Not placed" in html and "at least 4 answers are needed" in html
    assert "You answered 0 questions" in html and "new test token" in html
    assert "your lessons can start here" not in html and "None" not in html


async def test_the_callback_says_unplaced(
    hook_app: FastAPI,
    hook_client: httpx.AsyncClient,
    ctx: JobContext,
    receiver: Receiver,
    su: Headers,
) -> None:
    course = await make_course(hook_app, hook_client, su, "irt", settings=QUIET)
    await configure(hook_client, course, receiver.url, "secret-" + uuid.uuid4().hex)
    taker = Taker(hook_app, hook_client, await course.token(hook_client, "PT"))
    await taker.start()
    await _answer(hook_app, taker, 2)
    await _finish(hook_client, taker)
    await drain(ctx)
    [got] = [
        r for r in receiver.requests if json.loads(r.body)["data"]["attempt_id"] == taker.attempt_id
    ]
    data = json.loads(got.body)["data"]
    assert (data["kind"], data["level"]) == ("PT", None)
    _unplaced(data["outcome"], 2, 4)
    assert (data["outcome"]["theta"], data["outcome"]["se"]) == (None, None)

"""Outcomes stored by earlier versions (a PT without ``status`` or ``min_answers``, a CT whose
``incorrect`` counted the planned items) still load, and every view of them reads as it did:
the staff results, the candidate's state and the email."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI

from etest.attempt.outcome import CtOutcome, PtOutcome, load
from etest.db import transaction
from etest.kit.logo import bundled_logo
from etest.models import Attempt
from etest.notification.render import EmailContent, render
from tests.attempt.conftest import Taker, key_of, make_course, right, wrong
from tests.conftest import Headers


async def _stored(app: FastAPI, attempt_id: str) -> dict[str, Any]:
    async with transaction(app.state.sessionmaker) as session:
        attempt = await session.get(Attempt, uuid.UUID(attempt_id))
        assert attempt is not None and attempt.outcome is not None
        return dict(attempt.outcome)


async def _store(app: FastAPI, attempt_id: str, outcome: dict[str, Any]) -> None:
    async with transaction(app.state.sessionmaker) as session:
        attempt = await session.get(Attempt, uuid.UUID(attempt_id))
        assert attempt is not None
        attempt.outcome = outcome


async def _views(
    client: httpx.AsyncClient, admin: Headers, taker: Taker
) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    detail = await client.get(f"/api/v1/results/{taker.attempt_id}", headers=admin)
    listed = await client.get(
        "/api/v1/results", headers=admin, params={"candidate_id": detail.json()["candidate"]["id"]}
    )
    state = await client.get(f"/api/v1/attempts/{taker.attempt_id}", headers=taker.headers)
    assert detail.status_code == listed.status_code == state.status_code == 200
    [summary] = [i for i in listed.json()["items"] if i["attempt_id"] == taker.attempt_id]
    return detail.json(), summary, state.json()


async def test_outcomes_stored_before_the_type_read_as_before(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    course = await make_course(
        app, client, su, settings={"notify_after_pt": True, "notify_after_ct": True}
    )
    pt = Taker(app, client, await course.token(client, "PT"))
    assert (await pt.start()).status_code == 201
    await pt.run(lambda _, t, k: right(t, k))
    ct = Taker(app, client, await course.token(client, "CT", "A1"))
    assert (await ct.start()).status_code == 201
    first = (await ct.item())["item"]["position"]
    assert (
        await ct.answer(first, wrong(*await key_of(app, ct.attempt_id, first)))
    ).status_code == 200
    assert (
        await client.post(f"/api/v1/attempts/{ct.attempt_id}/finish", headers=ct.headers)
    ).status_code == 200  # early: 1 of 4

    before = {t.attempt_id: await _views(client, course.admin, t) for t in (pt, ct)}
    new_pt, new_ct = await _stored(app, pt.attempt_id), await _stored(app, ct.attempt_id)
    assert isinstance(load(new_pt), PtOutcome) and isinstance(load(new_ct), CtOutcome)
    assert new_pt["status"] == "placed" and new_ct["served"] < new_ct["total"]

    # the shapes of the first delivery core: no status and no min_answers on a PT; a CT's
    # incorrect counted against its planned length
    await _store(
        app, pt.attempt_id, {k: v for k, v in new_pt.items() if k not in ("status", "min_answers")}
    )
    await _store(app, ct.attempt_id, {**new_ct, "incorrect": new_ct["total"] - new_ct["correct"]})

    detail, summary, state = await _views(client, course.admin, pt)
    old_detail, old_summary, old_state = before[pt.attempt_id]
    assert detail["status"] == summary["status"] == state["outcome"]["status"] == "placed"
    assert detail["min_answers"] is None and state["outcome"]["min_answers"] is None
    assert {**detail, "min_answers": old_detail["min_answers"]} == old_detail
    assert {**summary, "min_answers": old_summary["min_answers"]} == old_summary
    assert {
        **state,
        "outcome": {**state["outcome"], "min_answers": old_state["outcome"]["min_answers"]},
    } == old_state
    assert await _views(client, course.admin, ct) == before[ct.attempt_id]
    assert before[ct.attempt_id][2]["outcome"]["incorrect"] == new_ct["served"] - new_ct["correct"]

    # the emails render them too
    for taker, kind in ((pt, "pt_result"), (ct, "ct_fail")):
        outcome = load(await _stored(app, taker.attempt_id))
        level = outcome.level if isinstance(outcome, PtOutcome) else "A1"
        message = render(
            EmailContent(
                kind=kind,
                to="ana@example.org",
                first_name="Ana",
                last_name="Ruiz",
                organization="School",
                language="en",
                timezone="UTC",
                finished_at=outcome.finished_at,
                level=str(level),
                outcome=outcome,
            ),
            sender="eTest <no-reply@etest.invalid>",
            msg_id="<1@etest.invalid>",
            logo=bundled_logo(),
            now=datetime.now(UTC),
        )
        text = message.get_body(("plain",))
        assert text is not None and str(level) in text.get_content()

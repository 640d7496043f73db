"""The reports show what the issue "Trust" added: a placement test without a level is a row
with Level "Unplaced" (and counted so on the summary sheet), and every answer in the CT log and
the responses report carries the IP and user agent it came from."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from etest.db import transaction
from etest.models import Response
from tests.attempt.conftest import Taker, key_of, make_course, right
from tests.conftest import Headers, create_candidate
from tests.report.conftest import table, workbook


async def test_placement_report_shows_unplaced_and_ct_log_shows_devices(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    course = await make_course(app, client, su, pt_engine="irt")
    placed = Taker(app, client, await course.token(client, "PT"))
    await placed.start()
    level = (await placed.run(lambda _, t, k: right(t, k)))["outcome"]["level"]
    other = await create_candidate(client, course.admin, uic=course.uic)
    unplaced = Taker(app, client, await course.token(client, "PT", candidate=other))
    await unplaced.start()
    finished = await client.post(
        f"/api/v1/attempts/{unplaced.attempt_id}/finish", headers=unplaced.headers
    )
    assert finished.json()["outcome"]["status"] == "unplaced"

    ct = Taker(app, client, await course.token(client, "CT", "A1"))
    assert (await ct.start()).status_code == 201
    phone = {"User-Agent": "phone/1.0"}
    for n in range(2):
        current = await ct.item()
        position = current["item"]["position"]
        item_type, key = await key_of(app, ct.attempt_id, position)
        resp = await client.post(
            f"/api/v1/attempts/{ct.attempt_id}/responses",
            headers={**ct.headers, **(phone if n else {})},
            json={"position": position, "answer": right(item_type, key)},
        )
        assert resp.status_code == 200, resp.text
    await ct.item()  # a third item served, never answered
    assert (
        await client.post(f"/api/v1/attempts/{ct.attempt_id}/finish", headers=ct.headers)
    ).status_code == 200

    today = datetime.now(UTC).date()
    dates: dict[str, Any] = {
        "from": str(today - timedelta(days=1)),
        "to": str(today + timedelta(days=1)),
        "uic": course.uic,
    }
    book = await workbook(client, course.admin, "placement", **dates)
    _, rows = table(book, "Placements")
    levels = {r["Attempt"]: r["Level"] for r in rows}
    assert levels == {placed.attempt_id: level, unplaced.attempt_id: "Unplaced"}
    summary = {r[0]: r[1] for r in book["Summary"].iter_rows(min_row=2, values_only=True) if r[0]}
    assert summary["Unplaced"] == 1 and summary[level] == 1 and summary["Total"] == 2
    names = [r[0] for r in book["Summary"].iter_rows(min_row=2, values_only=True) if r[0]]
    assert names.index("Unplaced") == names.index("Total") - 1  # after the levels

    headers, log = table(await workbook(client, course.admin, "ct-log", **dates), "CT log A1")
    assert headers[-4:] == ["IP", "User agent", "Points", "Max points"]
    async with transaction(app.state.sessionmaker) as session:
        stored = {
            r.position: r
            for r in (
                await session.scalars(
                    select(Response).where(Response.attempt_id == uuid.UUID(ct.attempt_id))
                )
            ).all()
        }
    by_position = {r["Position"]: r for r in log}
    assert len(by_position) == 3
    for position in (1, 2):
        row, response = by_position[position], stored[position]
        assert row["IP"] == response.ip and row["IP"]
        assert row["User agent"] == response.user_agent
    assert by_position[2]["User agent"] == "phone/1.0"
    assert by_position[1]["User agent"].startswith("python-httpx/")
    assert by_position[3]["IP"] is None and by_position[3]["User agent"] is None

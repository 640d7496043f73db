"""Each report downloaded through the API and read back with openpyxl: sheets, headers, rows,
typed cells, the chart, scoping, formula escaping and bad input."""

from __future__ import annotations

import tempfile
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from etest.db import transaction
from etest.models import AttemptItem, Item, Response
from tests.conftest import Headers
from tests.report.conftest import (
    HOSTILE_FIRST,
    Seed,
    about,
    download,
    table,
    workbook,
)

SERVED_HEADERS = [
    "First name",
    "Last name",
    "Email",
    "UIC",
    "Organization",
    "Attempt",
    "Kind",
    "CT level",
    "Attempt number",
    "Started (UTC)",
    "Status",
    "Result",
    "Position",
    "Item code",
    "Item version",
    "Item id",
    "Skill",
    "Item level",
    "Item type",
    "Served (UTC)",
    "Answer",
    "Correct",
    "Timed out",
    "Time spent (s)",
    "Answered (UTC)",
    "IP",
    "User agent",
    "Points",
    "Max points",
]


async def test_placement(client: httpx.AsyncClient, seed: Seed) -> None:
    book = await workbook(client, seed.key["R"], "placement", uic=seed.uic["R"], **seed.range)
    assert book.sheetnames == ["Summary", "Placements", "About"]
    headers, rows = table(book, "Placements")
    assert headers == [
        "First name",
        "Last name",
        "Email",
        "UIC",
        "Organization",
        "Date taken (UTC)",
        "Level",
        "Position in level",
        "Theta",
        "SE",
        "Duration (s)",
        "Items served",
        "Correct",
        "Registered from",
        "Finish reason",
        "Attempt",
    ]
    assert len(rows) == 3
    by_email = {r["Email"]: r for r in rows}
    for who, outcome in ((c, o) for c, k, o in seed.attempts.values() if k == "PT"):
        row = by_email[seed.candidates[who]["email"]]
        assert row["Level"] == outcome["level"]
        assert row["Theta"] == pytest.approx(outcome["theta"])
        assert row["SE"] == pytest.approx(outcome["se"])
        assert row["Items served"] == outcome["served"] and row["Correct"] == outcome["correct"]
        assert row["UIC"] == seed.uic["Y" if who == "plain" else "X"]
        assert isinstance(row["Date taken (UTC)"], datetime)
    bulk = by_email[seed.candidates["bulk"]["email"]]
    assert bulk["Registered from"] == "bulk"

    ws = book["Placements"]
    for cell in ws[2] + ws[3] + ws[4]:  # numbers are numeric cells, text is never a formula
        assert cell.data_type in ("n", "s", "b", "d"), (cell.coordinate, cell.data_type)
    theta = ws.cell(row=2, column=headers.index("Theta") + 1)
    assert theta.data_type == "n" and isinstance(theta.value, float)

    summary = book["Summary"]
    levels = {r[0]: r[1] for r in summary.iter_rows(min_row=2, values_only=True) if r[0]}
    counts: dict[str, int] = {}
    for outcome in seed.of("PT"):
        counts[outcome["level"]] = counts.get(outcome["level"], 0) + 1
    assert levels.pop("Total") == 3
    assert {k: v for k, v in levels.items() if v} == counts
    assert len(summary._charts) == 1  # the native column chart over the level cells
    assert about(book)["Data rows"] == 3 and about(book)["Placements"] == 3


async def test_formula_injection_is_text(client: httpx.AsyncClient, seed: Seed) -> None:
    book = await workbook(client, seed.key["R"], "placement", uic=seed.uic["X"], **seed.range)
    ws = book["Placements"]
    names = {}
    for row in ws.iter_rows(min_row=2):
        assert row[0].data_type == "s" and row[1].data_type == "s"
        names[row[2].value] = (row[0].value, row[1].value)
    assert names[seed.candidates["hostile"]["email"]] == ("'" + HOSTILE_FIRST, "'+1")
    assert names[seed.candidates["bulk"]["email"]] == ("'@SUM(1)", "'-2")
    assert not any(
        isinstance(c.value, str) and c.data_type == "f" for row in ws.iter_rows() for c in row
    )


async def test_scoping(client: httpx.AsyncClient, seed: Seed) -> None:
    # the parent sees its children's rows; a child sees its own; a sibling is a 404
    _, parent = table(
        await workbook(client, seed.key["R"], "placement", uic=seed.uic["R"], **seed.range),
        "Placements",
    )
    _, own = table(
        await workbook(client, seed.key["X"], "placement", uic=seed.uic["X"], **seed.range),
        "Placements",
    )
    _, default = table(
        await workbook(client, seed.key["X"], "placement", **seed.range), "Placements"
    )
    assert len(parent) == 3 and len(own) == 2
    assert {r["UIC"] for r in own} == {seed.uic["X"]} and default == own
    for key, uic in (("X", "Y"), ("Y", "X"), ("X", "R")):
        resp = await download(client, seed.key[key], "ct-log", uic=seed.uic[uic], **seed.range)
        assert resp.status_code == 404 and resp.json()["type"] == "/errors/not-found"
    # a viewer may read reports
    _, viewed = table(
        await workbook(client, seed.key["viewer"], "placement", uic=seed.uic["R"], **seed.range),
        "Placements",
    )
    assert len(viewed) == 3


async def test_responses(app: FastAPI, client: httpx.AsyncClient, seed: Seed, su: Headers) -> None:
    hostile, bulk = seed.candidates["hostile"]["email"], seed.candidates["bulk"]["email"]
    other = f"{uuid.uuid4().hex}@nowhere.example"  # unknown emails simply match nothing
    # a superadmin: answers to live items are the keys, hidden from the organization's staff
    # (tests/content/test_keys.py)
    for emails in ([f"{hostile.upper()}, {bulk}", other], [hostile, bulk, other]):
        book = await workbook(
            client, su, "responses", uic=seed.uic["R"], emails=emails, **seed.range
        )
        assert book.sheetnames == ["Responses", "About"]
        headers, rows = table(book, "Responses")
        assert headers == SERVED_HEADERS
        mine = [a for a, (c, _, _) in seed.attempts.items() if c in ("hostile", "bulk")]
        served = sum(o["served"] for a, (_, _, o) in seed.attempts.items() if a in mine)
        assert len(rows) == served
        assert {r["Attempt"] for r in rows} == set(mine)
        assert {r["Kind"] for r in rows} == {"PT", "CT"}
    async with transaction(app.state.sessionmaker) as session:
        stored = {
            (str(r.attempt_id), r.position): r
            for r in (
                await session.scalars(
                    select(Response).where(Response.attempt_id.in_([uuid.UUID(a) for a in mine]))
                )
            ).all()
        }
    ws = book["Responses"]
    for n, row in enumerate(rows, start=2):
        response = stored[(row["Attempt"], row["Position"])]
        assert row["Correct"] is response.correct and row["Timed out"] is response.timed_out
        assert row["Time spent (s)"] == pytest.approx(response.time_spent_ms / 1000)
        answer = ws.cell(row=n, column=headers.index("Answer") + 1)
        assert answer.data_type == "s"
        if isinstance(response.answer, str):
            assert row["Answer"] == response.answer
    # the hostile candidate's CT: every item wrong, answered as text or JSON text
    ct = [r for r in rows if r["Kind"] == "CT"]
    assert ct and all(r["Correct"] is False for r in ct) and {r["CT level"] for r in ct} == {"A1"}
    resp = await download(client, seed.key["R"], "responses", uic=seed.uic["R"], **seed.range)
    assert resp.status_code == 422 and resp.json()["type"] == "/errors/report-emails"


async def test_ct_review(client: httpx.AsyncClient, seed: Seed) -> None:
    book = await workbook(client, seed.key["R"], "ct-review", uic=seed.uic["R"], **seed.range)
    headers, rows = table(book, "CT review")
    assert headers[-3:] == ["Can't-Do count", "Can't-Do", "Review lessons"]
    (row,) = rows  # only the failed CT
    (failed,) = [o for o in seed.of("CT") if not o["passed"]]
    assert row["Email"] == seed.candidates["hostile"]["email"]
    assert row["Score"] == failed["score"] and row["Pass mark"] == failed["pass_mark"]
    assert row["Status"] == failed["status"] and row["Level"] == "A1"
    assert row["Can't-Do count"] == len(failed["cant_do"]) > 0
    assert row["Can't-Do"].split("\n") == [
        f"{c['text']} ({c['skill']}, {c['level']})" for c in failed["cant_do"]
    ]
    assert row["Review lessons"].split("\n") == [r["title"] for r in failed["review_list"]]
    # the passed CT's organization alone has no failed CT
    _, none = table(await workbook(client, seed.key["Y"], "ct-review", **seed.range), "CT review")
    assert none == []


async def test_ct_log(client: httpx.AsyncClient, seed: Seed) -> None:
    book = await workbook(client, seed.key["R"], "ct-log", uic=seed.uic["R"], **seed.range)
    assert book.sheetnames == ["CT log A1", "About"]
    headers, rows = table(book, "CT log A1")
    assert headers == SERVED_HEADERS
    assert len(rows) == sum(o["served"] for o in seed.of("CT")) == 8
    assert [r["Position"] for r in rows] == [1, 2, 3, 4, 1, 2, 3, 4]
    one = await workbook(
        client, seed.key["R"], "ct-log", uic=seed.uic["R"], level="a1", **seed.range
    )
    assert table(one, "CT log A1")[1] == rows
    empty = await workbook(
        client, seed.key["R"], "ct-log", uic=seed.uic["R"], level="B2", **seed.range
    )
    assert empty.sheetnames == ["CT log B2", "About"] and table(empty, "CT log B2")[1] == []


async def _served(app: FastAPI, seed: Seed, kinds: tuple[str, ...]) -> list[tuple[str, Item, bool]]:
    """(attempt id, item, correct) of every served item of the seed's finished attempts."""
    ids = [uuid.UUID(a) for a, (_, k, _) in seed.attempts.items() if k in kinds]
    async with transaction(app.state.sessionmaker) as session:
        rows = (
            await session.execute(
                select(AttemptItem.attempt_id, Item, Response.correct)
                .join(Item, Item.id == AttemptItem.item_id)
                .outerjoin(
                    Response,
                    (Response.attempt_id == AttemptItem.attempt_id)
                    & (Response.position == AttemptItem.position),
                )
                .where(AttemptItem.attempt_id.in_(ids))
            )
        ).all()
    return [(str(a), item, bool(correct)) for a, item, correct in rows]


async def test_cant_do(app: FastAPI, client: httpx.AsyncClient, seed: Seed) -> None:
    book = await workbook(client, seed.key["R"], "cant-do", uic=seed.uic["R"], **seed.range)
    headers, rows = table(book, "Can't-Do")
    assert headers[:3] == ["Statement", "Level", "Skill"]
    expected: dict[str, dict[str, Any]] = {}
    for attempt, item, correct in await _served(app, seed, ("PT",)):
        stats = expected.setdefault(item.can_do, {"served": 0, "missed": 0, "attempts": set()})
        stats["served"] += 1
        if not correct:
            stats["missed"] += 1
            stats["attempts"].add(attempt)
    assert {r["Statement"] for r in rows} == set(expected)
    for row in rows:
        stats = expected[row["Statement"]]
        assert (row["Times served"], row["Times missed"]) == (stats["served"], stats["missed"])
        assert row["Missed share"] == pytest.approx(stats["missed"] / stats["served"])
        assert row["Attempts missing it"] == len(stats["attempts"])
        assert row["Share of attempts"] == pytest.approx(len(stats["attempts"]) / 3)
        assert row["Can't-Do"].startswith("Cannot yet")
    missed = [r["Times missed"] for r in rows]
    assert missed == sorted(missed, reverse=True)  # most missed first
    assert about(book)["Finished placement tests"] == 3


async def test_item_stats(app: FastAPI, client: httpx.AsyncClient, seed: Seed, su: Headers) -> None:
    # a superadmin: the IRT columns are for key readers (tests/content/test_keys.py)
    book = await workbook(client, su, "item-stats", uic=seed.uic["R"], **seed.range)
    headers, rows = table(book, "Item statistics")
    assert headers == [
        "Item code",
        "Version",
        "Item id",
        "Type",
        "Skill",
        "Level",
        "Can-Do",
        "Exposures",
        "Answered",
        "Correct",
        "p-value",
        "Point-biserial",
        "Mean time (s)",
        "IRT model",
        "a",
        "b",
        "c",
    ]
    served = await _served(app, seed, ("PT", "CT"))
    totals: dict[str, int] = {}
    for attempt, _, correct in served:
        totals[attempt] = totals.get(attempt, 0) + correct
    by_item: dict[str, list[tuple[int, int]]] = {}
    items = {}
    for attempt, item, correct in served:
        by_item.setdefault(str(item.id), []).append((int(correct), totals[attempt] - correct))
        items[str(item.id)] = item
    assert {r["Item id"] for r in rows} == set(by_item)
    checked = 0
    for row in rows:
        pairs = np.array(by_item[row["Item id"]], dtype=float)
        item = items[row["Item id"]]
        assert row["Exposures"] == len(pairs) and row["Correct"] == pairs[:, 0].sum()
        assert row["p-value"] == pytest.approx(pairs[:, 0].mean())
        assert (row["a"], row["b"]) == pytest.approx((item.irt_a, item.irt_b))
        assert (row["Skill"], row["Level"], row["Item code"]) == (item.skill, item.level, item.code)
        if pairs[:, 0].std() > 0 and pairs[:, 1].std() > 0:
            assert row["Point-biserial"] == pytest.approx(np.corrcoef(pairs.T)[0, 1])
            checked += 1
        else:
            assert row["Point-biserial"] is None
    assert checked > 0


@pytest.mark.parametrize(
    ("name", "params", "status", "code"),
    [
        ("nope", {}, 404, "unknown-report"),
        ("placement", {"from": "2026-02-01", "to": "2026-01-31"}, 422, "reversed-date-range"),
        ("placement", {"from": "2000-01-01", "to": "2026-01-31"}, 422, "date-range-too-long"),
        ("placement", {"level": "Z9"}, 422, "unknown-level"),
        ("placement", {"from": "yesterday"}, 422, "validation-error"),
        ("placement", {"uic": "NO-SUCH-ORG"}, 404, "not-found"),
        ("responses", {"emails": "not-an-email"}, 422, "report-emails"),
    ],
)
async def test_bad_input(
    client: httpx.AsyncClient, seed: Seed, name: str, params: dict[str, str], status: int, code: str
) -> None:
    resp = await download(client, seed.key["R"], name, **{**seed.range, **params})
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    assert resp.json()["type"] == f"/errors/{code}"


async def test_needs_a_credential(client: httpx.AsyncClient, seed: Seed) -> None:
    resp = await client.get("/api/v1/reports/placement.xlsx", params=seed.range)
    assert resp.status_code == 401


async def test_temporary_files_are_removed(client: httpx.AsyncClient, seed: Seed) -> None:
    def leftovers() -> set[Path]:
        return set(Path(tempfile.gettempdir()).glob("etest-report-*"))

    before = leftovers()
    ok = await download(client, seed.key["R"], "placement", uic=seed.uic["R"], **seed.range)
    bad = await download(client, seed.key["X"], "placement", uic=seed.uic["Y"], **seed.range)
    assert (ok.status_code, bad.status_code) == (200, 404)
    assert leftovers() == before

"""Real finished tests to report on: a course whose organization R has two children X and Y.
Candidates in X have names a spreadsheet would read as formulas; every PT and CT is taken
through the candidate API, so the reports read rows the delivery code really wrote.

The seed is built once per module (it is read-only for the tests): reports are always asked
for with ``uic`` set to R or below, so rows of other tests never show up."""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import openpyxl
import pytest
from fastapi import FastAPI
from openpyxl.workbook import Workbook

from etest.db import transaction
from etest.models import Attempt
from tests.attempt.conftest import Course, Taker, make_course, right, wrong
from tests.conftest import Headers, create_candidate, create_key, create_org

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HOSTILE_FIRST = '=HYPERLINK("http://x","y")'


@dataclass
class Seed:
    course: Course
    uic: dict[str, str]
    key: dict[str, Headers]
    candidates: dict[str, dict[str, Any]]
    #: attempt id -> (candidate key, kind, outcome)
    attempts: dict[str, tuple[str, str, dict[str, Any]]] = field(default_factory=dict)

    @property
    def range(self) -> dict[str, str]:
        today = datetime.now(UTC).date()
        return {"from": str(today - timedelta(days=1)), "to": str(today + timedelta(days=1))}

    def of(self, kind: str, who: str | None = None) -> list[dict[str, Any]]:
        return [o for c, k, o in self.attempts.values() if k == kind and who in (None, c)]


def all_right(_: int, t: str, k: dict[str, Any]) -> Any:
    return right(t, k)


def all_wrong(_: int, t: str, k: dict[str, Any]) -> Any:
    return wrong(t, k)


def alternate(n: int, t: str, k: dict[str, Any]) -> Any:
    return right(t, k) if n % 2 == 0 else wrong(t, k)


async def take(
    seed: Seed,
    app: FastAPI,
    client: httpx.AsyncClient,
    who: str,
    kind: str,
    policy: Any,
    level: str | None = None,
) -> dict[str, Any]:
    token = await seed.course.token(client, kind, level, candidate=seed.candidates[who])
    taker = Taker(app, client, token)
    assert (await taker.start()).status_code == 201
    await taker.run(policy)
    async with transaction(app.state.sessionmaker) as session:  # the staff view, theta and all
        attempt = await session.get(Attempt, uuid.UUID(taker.attempt_id))
        assert attempt is not None and attempt.outcome is not None
        outcome = attempt.outcome
    seed.attempts[taker.attempt_id] = (who, kind, outcome)
    return outcome


@pytest.fixture(scope="module")
async def seed(app: FastAPI, client: httpx.AsyncClient, su: Headers) -> Seed:
    course = await make_course(app, client, su, pt_engine="irt")
    x = await create_org(client, su, parent=course.uic, plan_code=course.plan, name="X school")
    y = await create_org(client, su, parent=course.uic, plan_code=course.plan, name="Y school")
    uic = {"R": course.uic, "X": x["uic"], "Y": y["uic"]}
    key = {
        "R": course.admin,
        "X": await create_key(app, "admin", x["uic"]),
        "Y": await create_key(app, "admin", y["uic"]),
        "viewer": await create_key(app, "viewer", course.uic),
    }
    candidates = {
        "hostile": await create_candidate(
            client, key["X"], uic=x["uic"], first_name=HOSTILE_FIRST, last_name="+1"
        ),
        "bulk": await create_candidate(
            client,
            key["X"],
            uic=x["uic"],
            first_name="@SUM(1)",
            last_name="-2",
            registered_from="bulk",
        ),
        "plain": await create_candidate(
            client, key["Y"], uic=y["uic"], first_name="Ana", last_name="Silva"
        ),
    }
    seed = Seed(course, uic, key, candidates)
    await take(seed, app, client, "hostile", "PT", all_right)
    await take(seed, app, client, "bulk", "PT", all_wrong)
    await take(seed, app, client, "plain", "PT", alternate)
    await take(seed, app, client, "hostile", "CT", all_wrong, "A1")
    await take(seed, app, client, "plain", "CT", all_right, "A1")
    return seed


async def download(
    client: httpx.AsyncClient, headers: Headers, name: str, **params: Any
) -> httpx.Response:
    return await client.get(f"/api/v1/reports/{name}.xlsx", headers=headers, params=params)


async def workbook(
    client: httpx.AsyncClient, headers: Headers, name: str, **params: Any
) -> Workbook:
    resp = await download(client, headers, name, **params)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"] == XLSX
    assert resp.headers["content-disposition"].startswith("attachment; filename=")
    return openpyxl.load_workbook(io.BytesIO(resp.content))


def table(book: Workbook, sheet: str) -> tuple[list[str], list[dict[str, Any]]]:
    """The header row and each data row as a dict by header."""
    rows = list(book[sheet].iter_rows(values_only=True))
    headers = [str(h) for h in rows[0]]
    return headers, [dict(zip(headers, r, strict=True)) for r in rows[1:]]


def about(book: Workbook) -> dict[str, Any]:
    return {str(r[0]): r[1] for r in book["About"].iter_rows(values_only=True)}

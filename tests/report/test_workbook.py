"""The shared writer (typed cells, safe text), the point-biserial, and constant memory: the
peak does not grow with the rows, for the writer alone and for a report streamed from the
database."""

from __future__ import annotations

import math
import tracemalloc
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import httpx
import numpy as np
import openpyxl
import pytest
from fastapi import FastAPI
from sqlalchemy import insert, select

from etest.cli import cli_actor
from etest.db import transaction
from etest.models import Attempt, Organization
from etest.report import ReportParams, write_report
from etest.report.service import point_biserial
from etest.report.workbook import MAX_CELL_CHARS, Book, Column, safe_text
from tests.conftest import Headers, create_org
from tests.report.conftest import Seed


@pytest.mark.parametrize(
    "text", ["=1+1", "+1", "-2", "@SUM(1)", "\tx", "\rx", '=HYPERLINK("http://x","y")']
)
def test_formula_triggers_are_escaped(text: str) -> None:
    assert safe_text(text) == "'" + text


@pytest.mark.parametrize("text", ["", "Ana", "a=b", "'quoted", "1+1", " =x"])
def test_plain_text_is_kept(text: str) -> None:
    assert safe_text(text) == text


def test_typed_cells(tmp_path: Path) -> None:
    path = tmp_path / "t.xlsx"
    book = Book(path)
    sheet = book.sheet(
        "T",
        [
            Column("text"),
            Column("int", "int"),
            Column("float", "float"),
            Column("when", "datetime"),
            Column("day", "date"),
            Column("flag", "bool"),
            Column("answer", "json"),
            Column("lines", "lines"),
        ],
    )
    plus_two = timezone(timedelta(hours=2))
    sheet.extend(
        [
            (
                "x" * (MAX_CELL_CHARS + 5),
                3,
                Decimal("0.125"),
                datetime(2026, 3, 1, 14, 0, tzinfo=plus_two),
                date(2026, 3, 1),
                True,
                ["A", "C"],
                ["one", "=two"],
            ),
            ("=x", None, math.nan, None, None, False, "=1", []),
        ]
    )
    book.close()
    ws = openpyxl.load_workbook(path)["T"]
    first = list(ws[2])
    assert len(first[0].value) == MAX_CELL_CHARS
    assert (first[1].value, first[1].data_type) == (3, "n")
    assert (first[2].value, first[2].data_type) == (0.125, "n")
    assert first[3].value == datetime(2026, 3, 1, 12, 0)  # UTC
    assert first[4].value == datetime(2026, 3, 1)
    assert first[5].value is True and first[6].value == '["A","C"]'
    assert first[7].value == "one\n=two"
    second = [c.value for c in ws[3]]
    assert second == ["'=x", None, None, None, None, False, "'=1", None]
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:H3"


def test_point_biserial_matches_numpy() -> None:
    rng = np.random.default_rng(7)
    for _ in range(20):
        x = rng.integers(0, 2, 50).astype(float)
        y = rng.integers(0, 30, 50) + 5 * x
        r = point_biserial(len(x), x.sum(), y.sum(), (x * y).sum(), (y * y).sum())
        assert r == pytest.approx(np.corrcoef(x, y)[0, 1])
    assert point_biserial(3, 3, 6, 6, 14) is None  # everyone right: no variance
    assert point_biserial(1, 1, 2, 2, 4) is None


def peak(fn: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_writer_memory_does_not_grow_with_rows(tmp_path: Path) -> None:
    columns = [
        Column("name"),
        Column("email", width=30),
        Column("n", "int"),
        Column("x", "float"),
        Column("when", "datetime"),
    ]
    now = datetime.now(UTC)

    def write(rows: int) -> Callable[[], object]:
        def run() -> None:
            book = Book(tmp_path / f"{rows}.xlsx")
            sheet = book.sheet("Rows", columns)
            for start in range(0, rows, 1000):
                sheet.extend(
                    (f"name {n}", f"c{n}@example.org", n, n / 7, now)
                    for n in range(start, min(rows, start + 1000))
                )
            book.close()

        return run

    small, large = peak(write(2_000)), peak(write(20_000))
    assert large < small * 1.25 + 256 * 1024, (small, large)
    assert openpyxl.load_workbook(tmp_path / "20000.xlsx", read_only=True)["Rows"].max_row == 20_001


async def _clone_placements(app: FastAPI, seed: Seed, uic: str, count: int) -> None:
    """``count`` copies of a seeded finished PT, taken in the organization ``uic``."""
    async with transaction(app.state.sessionmaker) as session:
        org_id = await session.scalar(select(Organization.id).where(Organization.uic == uic))
        pt = next(a for a, (_, kind, _) in seed.attempts.items() if kind == "PT")
        source = await session.get(Attempt, uuid.UUID(pt))
        assert source is not None and org_id is not None
        columns = {c.key: getattr(source, c.key) for c in Attempt.__table__.columns}
        await session.execute(
            insert(Attempt),
            [{**columns, "id": uuid.uuid4(), "organization_id": org_id} for _ in range(count)],
        )


async def test_report_memory_does_not_grow_with_rows(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, seed: Seed, tmp_path: Path
) -> None:
    small_org = await create_org(client, su, plan_code=seed.course.plan)
    large_org = await create_org(client, su, plan_code=seed.course.plan)
    await _clone_placements(app, seed, small_org["uic"], 3_000)
    await _clone_placements(app, seed, large_org["uic"], 9_000)
    today = datetime.now(UTC).date()
    peaks = {}
    for org, rows in ((small_org, 3_000), (large_org, 9_000)):
        params = ReportParams(today - timedelta(days=1), today + timedelta(days=1), org["uic"])
        path = tmp_path / f"{rows}.xlsx"
        async with transaction(app.state.sessionmaker) as session:
            tracemalloc.start()
            try:
                written = await write_report(session, cli_actor(), "placement", params, path)
                peaks[rows] = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
        assert written == rows
    assert peaks[9_000] < peaks[3_000] * 1.3 + 512 * 1024, peaks

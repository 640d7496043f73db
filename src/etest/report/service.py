"""The six Excel reports, table-driven: each is a name, a description and a writer that streams
query rows into sheets of one :class:`~etest.report.workbook.Book`.

Every report reads through a :class:`~etest.report.repository.Window`: the subtree of an
organization the actor covers (a foreign UIC is a 404, like everywhere else) and whole UTC days
``from``..``to``, both included. Rows come from ``session.stream`` in batches and are written in
a worker thread batch by batch, so memory stays flat and the event loop keeps serving while a
large report is written. The API, ``etest report`` and the console's background task
(``report/tasks.py``) all call :func:`write_report`; the task passes ``watch`` to learn the rows
written and the rows expected (each report counts its rows first, only then), for its progress
bar.
"""

from __future__ import annotations

import asyncio
import time as clock
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from math import sqrt
from pathlib import Path
from typing import Any

import structlog
from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncSession

from etest.attempt.outcome import CantDo, CtOutcome, PtOutcome, ReviewLesson
from etest.auth.actor import Actor
from etest.candidate import repository as candidate_repository
from etest.content import repository as content_repository
from etest.errors import ReversedDateRange
from etest.kit.levels import LEVELS, require_level
from etest.models import Attempt, AttemptItem, Candidate, Item, Organization, Response
from etest.models.base import utcnow
from etest.organization import repository as org_repository
from etest.report import repository
from etest.report.errors import DateRangeTooLong, ReportEmails, UnknownReport
from etest.report.repository import AnySelect, Window
from etest.report.workbook import (
    CHART_HEIGHT_PX,
    CHART_WIDTH_PX,
    Book,
    Column,
    Kind,
    Sheet,
    print_setup,
)

log = structlog.get_logger(__name__)

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: The longest range a report covers: ten years of whole days.
MAX_DAYS = 3660
#: The most candidate emails one responses report reads.
MAX_EMAILS = 200
#: Rows fetched from the database and written per hop to the writer thread.
BATCH = 2000

#: Told (data rows written, data rows expected) once before the first row and after every
#: batch; awaited, so it may write the progress somewhere (a background task's row).
Watch = Callable[[int, int], Awaitable[None]]


@dataclass(frozen=True)
class ReportParams:
    """What the caller asks for; :func:`write_report` checks it (the same rules for the API and
    the CLI). ``uic`` None means the actor's whole subtree."""

    date_from: date
    date_to: date
    uic: str | None = None
    emails: Sequence[str] = ()
    level: str | None = None


@dataclass(frozen=True)
class SqlColumn:
    """A column of a tabular report and the SQL expression that fills it."""

    column: Column
    expr: Any


@dataclass
class _Run:
    session: AsyncSession
    book: Book
    window: Window
    params: ReportParams
    about: list[tuple[str, Any]] = field(default_factory=list)
    #: The actor may see keys (content managers, superadmins): the answers to live items and
    #: IRT parameters. Others get the answer column empty for items that can still be served.
    reads_keys: bool = False
    #: see :data:`Watch`; ``expected`` is the report's count of rows
    watch: Watch | None = None
    expected: int = 0

    async def count(self, stmt: AnySelect) -> int:
        return int((await self.session.execute(repository.count(stmt))).scalar_one())

    async def stream(
        self, sheet: Sheet, stmt: AnySelect, convert: Callable[[Any], Sequence[Any]] = tuple
    ) -> None:
        """Rows of ``stmt`` into ``sheet`` in batches: constant memory, whatever the count."""
        # Core rows straight from the connection: no ORM bookkeeping per row
        connection = await self.session.connection()
        result = await connection.stream(stmt.execution_options(yield_per=BATCH))
        async for batch in result.partitions():
            rows = [convert(row) for row in batch]
            await asyncio.to_thread(sheet.extend, rows)
            self.book.report_progress()
            if self.watch is not None:
                await self.watch(self.book.rows, max(self.expected, self.book.rows))

    async def table(
        self,
        name: str,
        fields: Sequence[SqlColumn],
        build: Callable[[Sequence[Any]], AnySelect],
        convert: Callable[[Any], Sequence[Any]] = tuple,
    ) -> Sheet:
        sheet = self.book.sheet(name, [f.column for f in fields])
        exprs = [
            _ANSWER_UNLESS_LIVE if f is _ANSWER and not self.reads_keys else f.expr for f in fields
        ]
        await self.stream(sheet, build(exprs), convert)
        return sheet


@dataclass(frozen=True)
class Report:
    name: str
    description: str
    write: Callable[[_Run], Awaitable[None]]
    #: the data rows ``write`` will write (counted before writing, for a progress bar)
    count: Callable[[_Run], Awaitable[int]]
    needs_emails: bool = False
    #: Aggregates over items, no row of a tenant: a content manager reads it over every
    #: organization (every other report is empty for it).
    across_tenants: bool = False


# -- columns shared by several reports ---------------------------------------------------------


def _col(header: str, expr: Any, kind: Kind = "text", width: float = 14) -> SqlColumn:
    return SqlColumn(Column(header, kind, width), expr)


_CANDIDATE = [
    _col("First name", Candidate.first_name, width=16),
    _col("Last name", Candidate.last_name, width=16),
    _col("Email", Candidate.email, width=30),
]
_ORGANIZATION = [_col("UIC", Organization.uic), _col("Organization", Organization.name, width=24)]
_ATTEMPT = [
    _col("Attempt", Attempt.id, width=36),
    _col("Kind", Attempt.kind, width=6),
    _col("CT level", Attempt.level, width=9),
    _col("Attempt number", Attempt.attempt_number, "int", 9),
    _col("Started (UTC)", Attempt.started_at, "datetime", 19),
    _col("Status", Attempt.status, width=11),
    _col("Result", Attempt.level_result, width=12),
]
#: A right answer is the item's key: the answer to an item that can still be served (pilot,
#: active) is shown to content managers and superadmins only; correctness to every role.
_ANSWER = _col("Answer", Response.answer, "json", 20)
_ANSWER_UNLESS_LIVE = content_repository.answer_unless_live()
_SERVED = [
    _col("Position", AttemptItem.position, "int", 9),
    _col("Item code", Item.code, width=24),
    _col("Item version", Item.version, "int", 8),
    _col("Item id", Item.id, width=36),
    _col("Skill", Item.skill, width=11),
    _col("Item level", Item.level, width=9),
    _col("Item type", Item.type, width=15),
    _col("Served (UTC)", AttemptItem.served_at, "datetime", 19),
    _ANSWER,
    _col("Correct", Response.correct, "bool", 8),
    _col("Timed out", Response.timed_out, "bool", 9),
    _col("Time spent (s)", Response.time_spent_ms / 1000.0, "float", 12),
    _col("Answered (UTC)", Response.answered_at, "datetime", 19),
    # the device the answer came from (empty for a timed-out or unanswered item)
    _col("IP", Response.ip, width=16),
    _col("User agent", Response.user_agent, width=40),
    # an item scored per gap (cloze, gap_match): the points earned of the most it gives (Correct
    # is full marks); empty for an item scored right or wrong. Last, so earlier columns keep
    # their places.
    _col("Points", Response.points, "int", 8),
    _col("Max points", Response.max_points, "int", 8),
]
_SERVED_ROWS = [*_CANDIDATE, *_ORGANIZATION, *_ATTEMPT, *_SERVED]


def _key(name: str) -> str:
    """A field of the stored outcome (:mod:`etest.attempt.outcome`): a typo fails at import."""
    if name not in PtOutcome.model_fields and name not in CtOutcome.model_fields:
        raise ValueError(f"the outcome has no field {name!r}")
    return name


def _outcome(key: str, kind: str) -> Any:
    value = Attempt.outcome[_key(key)]
    return value.as_integer() if kind == "int" else value.as_float()


# -- the reports -------------------------------------------------------------------------------

_PLACEMENT = [
    *_CANDIDATE,
    *_ORGANIZATION,
    _col("Date taken (UTC)", Attempt.finished_at, "datetime", 19),
    _col("Level", Attempt.level_result, width=9),
    _col("Position in level", _outcome("position", "float"), "float", 10),
    _col("Theta", _outcome("theta", "float"), "float", 9),
    _col("SE", _outcome("se", "float"), "float", 9),
    _col("Duration (s)", _outcome("duration_seconds", "float"), "float", 10),
    _col("Items served", _outcome("served", "int"), "int", 8),
    _col("Correct", _outcome("correct", "int"), "int", 8),
    _col("Registered from", Candidate.registered_from, width=12),
    _col("Finish reason", Attempt.finish_reason, width=12),
    _col("Attempt", Attempt.id, width=36),
]
_LEVEL_AT = next(n for n, f in enumerate(_PLACEMENT) if f.column.header == "Level")
#: The Level of a PT finished with too few answers for a level (docs/placement.md).
UNPLACED = "Unplaced"


async def _placement(run: _Run) -> None:
    summary = run.book.sheet(
        "Summary",
        [
            Column("Level", width=10),
            Column("Placements", "int", 12),
            Column("Share", "percent", 10),
        ],
        counted=False,
    )
    levels: Counter[str] = Counter()

    def count(row: Any) -> Sequence[Any]:
        values = list(row)
        values[_LEVEL_AT] = values[_LEVEL_AT] or UNPLACED  # no level_result: unplaced
        levels[values[_LEVEL_AT]] += 1
        return values

    await run.table(
        "Placements", _PLACEMENT, partial(repository.finished_attempts, run.window, "PT"), count
    )
    _level_summary(run.book, summary, levels)
    run.about.append(("Placements", sum(levels.values())))


def _level_summary(book: Book, sheet: Sheet, levels: Counter[str]) -> None:
    """Counts per level, from the lowest to the highest level placed (every level when none),
    and a native column chart over those cells."""
    known = [lv for lv in LEVELS if levels[lv]]
    shown = (
        list(LEVELS[LEVELS.index(known[0]) : LEVELS.index(known[-1]) + 1])
        if known
        else list(LEVELS)
    )
    # then Unplaced, and any level name we do not know
    shown += sorted((lv for lv in levels if lv not in LEVELS), key=lambda lv: (lv != UNPLACED, lv))
    total = sum(levels.values())
    sheet.extend((lv, levels[lv], levels[lv] / total if total else 0.0) for lv in shown)
    ws = sheet.worksheet
    ws.write_string(len(shown) + 2, 0, "Total", book.bold)
    ws.write_number(len(shown) + 2, 1, total, book.bold)
    chart = book.workbook.add_chart({"type": "column"})
    chart.add_series(
        {
            "name": "Placements",
            "categories": [sheet.name, 1, 0, len(shown), 0],
            "values": [sheet.name, 1, 1, len(shown), 1],
            "data_labels": {"value": True},
        }
    )
    chart.set_title({"name": "Level distribution"})
    chart.set_x_axis({"name": "Level"})
    chart.set_y_axis({"name": "Placements"})
    chart.set_legend({"none": True})
    # one printed page: the table and, beside it, the chart at a size that fits A4 landscape
    chart.set_size({"width": CHART_WIDTH_PX, "height": CHART_HEIGHT_PX})
    ws.insert_chart(1, 4, chart, {"x_offset": 8, "y_offset": 0, "object_position": 3})
    print_setup(ws, pages_tall=1)
    sheet.fixed_print_area = True
    last_row = max(len(shown) + 2, 1 + CHART_HEIGHT_PX // 20 + 1)
    ws.print_area(0, 0, last_row, 4 + (8 + CHART_WIDTH_PX) // 64 + 1)


async def _responses(run: _Run) -> None:
    await run.table(
        "Responses",
        _SERVED_ROWS,
        partial(repository.served_items, run.window, emails=run.params.emails),
    )
    run.about.append(("Emails", ", ".join(run.params.emails)))
    _about_answers(run)


def _about_answers(run: _Run) -> None:
    if not run.reads_keys:
        run.about.append(
            (
                "Answers",
                "empty for items still in use (a right answer is the "
                "key); Correct is shown for every item",
            )
        )


def _lines(entries: Any, fmt: Callable[[dict[str, Any]], str]) -> str | None:
    return "\n".join(fmt(e) for e in entries) if entries else None


_CANT_DO_LIST: TypeAdapter[list[CantDo]] = TypeAdapter(list[CantDo])
_REVIEW_LIST: TypeAdapter[list[ReviewLesson]] = TypeAdapter(list[ReviewLesson])


def _review_row(row: Any) -> Sequence[Any]:
    *head, cant_do_json, review_json = row
    cant_do = _CANT_DO_LIST.validate_python(cant_do_json or [])
    review = _REVIEW_LIST.validate_python(review_json or [])
    return (
        *head,
        len(cant_do),
        [f"{c.text} ({c.skill}, {c.level})" for c in cant_do],
        [" ".join(v for v in (r.title, r.url) if v) for r in review],
    )


_CT_REVIEW = [
    *_CANDIDATE,
    *_ORGANIZATION,
    _col("Date taken (UTC)", Attempt.finished_at, "datetime", 19),
    _col("Level", Attempt.level, width=9),
    _col("Attempt number", Attempt.attempt_number, "int", 9),
    _col("Score", Attempt.score, "float", 8),
    _col("Pass mark", _outcome("pass_mark", "int"), "int", 8),
    _col("Status", Attempt.level_result, width=12),
    _col("Attempt", Attempt.id, width=36),
]
#: Filled by :func:`_review_row` from the outcome's ``cant_do`` and ``review_list``.
_CT_REVIEW_LISTS = [
    Column("Can't-Do count", "int", 9),
    Column("Can't-Do", "lines", 60),
    Column("Review lessons", "lines", 40),
]


async def _ct_review(run: _Run) -> None:
    sheet = run.book.sheet("CT review", [f.column for f in _CT_REVIEW] + _CT_REVIEW_LISTS)
    columns = [
        *(f.expr for f in _CT_REVIEW),
        Attempt.outcome[_key("cant_do")],
        Attempt.outcome[_key("review_list")],
    ]
    await run.stream(
        sheet,
        repository.finished_attempts(run.window, "CT", columns, failed_only=True),
        _review_row,
    )


async def _ct_log(run: _Run) -> None:
    levels = [
        lv
        for lv in (await run.session.scalars(repository.ct_levels(run.window))).all()
        if lv is not None
    ]
    levels.sort(key=lambda lv: LEVELS.index(lv) if lv in LEVELS else len(LEVELS))
    if not levels:  # a workbook needs a sheet: the headers say what would be there
        run.book.sheet(f"CT log {run.window.level or ''}".strip(), [f.column for f in _SERVED_ROWS])
    for level in levels:
        await run.table(
            f"CT log {level}",
            _SERVED_ROWS,
            partial(repository.served_items, run.window, ct_level=level),
        )
    run.about.append(("Levels", ", ".join(levels) or "none"))
    _about_answers(run)


_CANT_DO = [
    Column("Statement", width=24),
    Column("Level", width=9),
    Column("Skill", width=11),
    Column("Can-Do", width=40),
    Column("Can't-Do", width=40),
    Column("Times served", "int", 9),
    Column("Times missed", "int", 9),
    Column("Missed share", "percent", 9),
    Column("Attempts missing it", "int", 10),
    Column("Share of attempts", "percent", 10),
    Column("Candidates missing it", "int", 10),
    Column("Share of candidates", "percent", 10),
]


async def _cant_do(run: _Run) -> None:
    attempts, candidates = (await run.session.execute(repository.pt_totals(run.window))).one()

    def shares(row: Any) -> Sequence[Any]:
        served, missed = int(row.served), int(row.missed or 0)
        return (
            row.code,
            row.level,
            row.skill,
            row.text,
            row.cannot_text,
            served,
            missed,
            _share(missed, served),
            row.attempts,
            _share(row.attempts, attempts),
            row.candidates,
            _share(row.candidates, candidates),
        )

    sheet = run.book.sheet("Can't-Do", _CANT_DO)
    await run.stream(sheet, repository.cant_do(run.window), shares)
    run.about += [("Finished placement tests", attempts), ("Candidates", candidates)]


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


_ITEM_STATS = [
    Column("Item code", width=24),
    Column("Version", "int", 8),
    Column("Item id", width=36),
    Column("Type", width=15),
    Column("Skill", width=11),
    Column("Level", width=9),
    Column("Can-Do", width=20),
    Column("Exposures", "int", 10),
    Column("Answered", "int", 10),
    Column("Correct", "int", 10),
    Column("p-value", "float", 9),
    Column("Point-biserial", "float", 10),
    Column("Mean time (s)", "float", 10),
    Column("IRT model", width=8),
    Column("a", "float", 8),
    Column("b", "float", 8),
    Column("c", "float", 8),
]


def point_biserial(n: float, sx: float, sy: float, sxy: float, syy: float) -> float | None:
    """Pearson's r between a 0/1 item score and the rest score, from their sums (None when
    either does not vary: every candidate right, or every rest score equal)."""
    denominator = (n * sx - sx * sx) * (n * syy - sy * sy)
    if n < 2 or denominator <= 0:
        return None
    return (n * sxy - sx * sy) / sqrt(denominator)


def _item_row(row: Any) -> Sequence[Any]:
    n, sx, sy, sxy, syy = (float(v or 0) for v in (row.n, row.sx, row.sy, row.sxy, row.syy))
    return (
        row.code,
        row.version,
        str(row.id),
        row.type,
        row.skill,
        row.level,
        row.can_do,
        int(n),
        int(row.answered or 0),
        int(sx),
        sx / n if n else None,
        point_biserial(n, sx, sy, sxy, syy),
        float(row.ms) / 1000 if row.ms is not None else None,
        row.irt_model,
        row.irt_a,
        row.irt_b,
        row.irt_c,
    )


#: IRT parameters are for content managers and superadmins: others get no such columns.
_IRT_HEADERS = frozenset({"IRT model", "a", "b", "c"})


async def _item_stats(run: _Run) -> None:
    keep = [n for n, c in enumerate(_ITEM_STATS) if run.reads_keys or c.header not in _IRT_HEADERS]
    sheet = run.book.sheet("Item statistics", [_ITEM_STATS[n] for n in keep])

    def row(values: Any) -> Sequence[Any]:
        full = _item_row(values)
        return [full[n] for n in keep]

    await run.stream(sheet, repository.item_stats(run.window), row)
    if not run.reads_keys:
        run.about.append(("IRT parameters", "shown to content managers and superadmins only"))


# -- the rows each report will write (the same statements, counted) ---------------------------


async def _count_placement(run: _Run) -> int:
    return await run.count(repository.finished_attempts(run.window, "PT", [Attempt.id]))


async def _count_responses(run: _Run) -> int:
    return await run.count(
        repository.served_items(run.window, [AttemptItem.position], emails=run.params.emails)
    )


async def _count_ct_review(run: _Run) -> int:
    return await run.count(
        repository.finished_attempts(run.window, "CT", [Attempt.id], failed_only=True)
    )


async def _count_ct_log(run: _Run) -> int:
    total = 0
    for level in (await run.session.scalars(repository.ct_levels(run.window))).all():
        if level is not None:
            stmt = repository.served_items(run.window, [AttemptItem.position], ct_level=level)
            total += await run.count(stmt)
    return total


async def _count_cant_do(run: _Run) -> int:
    return await run.count(repository.cant_do(run.window))


async def _count_item_stats(run: _Run) -> int:
    return await run.count(repository.item_stats(run.window))


REPORTS: dict[str, Report] = {
    r.name: r
    for r in (
        Report(
            "placement",
            "One row per finished placement test, and a summary sheet with the "
            "level distribution as a chart",
            _placement,
            _count_placement,
        ),
        Report(
            "responses",
            "Every served PT and CT item of the candidates given by email",
            _responses,
            _count_responses,
            needs_emails=True,
        ),
        Report(
            "ct-review",
            "Failed certification tests with their Can't-Do statements and review lessons",
            _ct_review,
            _count_ct_review,
        ),
        Report("ct-log", "One row per served CT item, one sheet per level", _ct_log, _count_ct_log),
        Report(
            "cant-do",
            "Can-Do statements most often missed on placement tests",
            _cant_do,
            _count_cant_do,
        ),
        Report(
            "item-stats",
            "Per item: exposures, p-value, point-biserial, IRT parameters",
            _item_stats,
            _count_item_stats,
            across_tenants=True,
        ),
    )
}


# -- entry point -------------------------------------------------------------------------------


def get_report(name: str) -> Report:
    report = REPORTS.get(name)
    if report is None:
        raise UnknownReport(f"No report {name!r}; reports are {', '.join(REPORTS)}.")
    return report


def normalize_emails(values: Iterable[str]) -> list[str]:
    """Emails from repeated and comma-separated values: trimmed, lower-cased, de-duplicated."""
    emails = list(
        dict.fromkeys(e.strip().lower() for v in values for e in v.split(",") if e.strip())
    )
    bad = [e for e in emails if "@" not in e or len(e) > 320 or not e.isprintable()]
    if bad:
        raise ReportEmails(f"Not an email: {bad[0][:80]!r}.")
    return emails


async def _window(
    session: AsyncSession, actor: Actor, report: Report, params: ReportParams
) -> tuple[Window, ReportParams]:
    if params.date_to < params.date_from:
        raise ReversedDateRange(f"'to' ({params.date_to}) is before 'from' ({params.date_from}).")
    if (params.date_to - params.date_from).days >= MAX_DAYS:
        raise DateRangeTooLong(f"A report covers at most {MAX_DAYS} days.")
    level = require_level(params.level)
    emails = normalize_emails(params.emails)
    if report.needs_emails and not 1 <= len(emails) <= MAX_EMAILS:
        raise ReportEmails(
            f"The {report.name} report needs 1 to {MAX_EMAILS} candidate "
            f"emails (got {len(emails)})."
        )
    path = actor.org_path
    organization = None
    if params.uic is not None:
        organization = await org_repository.get_by_uic(session, actor, params.uic)
        path = organization.path
    # a global caller may see one email in several customers' trees: never mix two people
    await candidate_repository.require_one_tree(session, actor, emails, organization)
    nowhere = not actor.sees_tenants and not report.across_tenants
    start = datetime.combine(params.date_from, time(), UTC)
    end = (
        datetime.combine(params.date_to, time(), UTC) + timedelta(days=1)
        if params.date_to < date.max
        else datetime.max.replace(tzinfo=UTC)
    )
    checked = ReportParams(params.date_from, params.date_to, params.uic, tuple(emails), level)
    return Window(path, start, end, level, nowhere=nowhere), checked


async def check(
    session: AsyncSession, actor: Actor, name: str, params: ReportParams
) -> ReportParams:
    """The checks :func:`write_report` makes before writing (role, name, dates, emails, level,
    an organization the actor covers), without writing: the console asks before it starts a
    background task, so a bad form is answered at once. Returns the params as normalised."""
    actor.require("read")
    _, checked = await _window(session, actor, get_report(name), params)
    return checked


def filename(name: str, params: ReportParams) -> str:
    return f"{name}_{params.uic or 'all'}_{params.date_from}_{params.date_to}.xlsx"


async def write_report(
    session: AsyncSession,
    actor: Actor,
    name: str,
    params: ReportParams,
    path: Path,
    progress: Callable[[int], None] | None = None,
    *,
    watch: Watch | None = None,
) -> int:
    """Write report ``name`` to ``path`` as seen by ``actor``; returns the data rows written.
    Reads only: nothing to flush. Raises before creating the file when the request is bad.
    ``progress`` is told the rows written after every batch; ``watch`` (awaited) also the rows
    expected, which costs one count of the report's rows first."""
    actor.require("read")
    report = get_report(name)
    window, params = await _window(session, actor, report, params)
    started = clock.perf_counter()
    book = Book(path, progress)
    run = _Run(session, book, window, params, reads_keys=actor.reads_keys)
    try:
        if watch is not None:
            run.expected = await report.count(run)
            await watch(0, run.expected)
            run.watch = watch
        await report.write(run)
    finally:
        _about(run, report)
        await asyncio.to_thread(book.close)
    log.info(
        "report_written",
        report=name,
        uic=params.uic,
        rows=book.rows,
        seconds=round(clock.perf_counter() - started, 2),
        actor=actor.subject,
    )
    return book.rows


def _about(run: _Run, report: Report) -> None:
    """A last sheet saying what the workbook holds, so a forwarded file explains itself."""
    p = run.params
    run.book.key_values(
        "About",
        [
            ("Report", report.name),
            ("Description", report.description),
            ("Organization (UIC)", p.uic or "every organization the caller covers"),
            ("From (UTC day)", p.date_from),
            ("To (UTC day, included)", p.date_to),
            ("Level", p.level or "all"),
            ("Generated (UTC)", utcnow()),
            ("Data rows", run.book.rows),
            *run.about,
        ],
    )

"""Console pages: reports (docs/console/reports.md).

``/console/reports`` picks a report, an organization of the staff member's subtree, a date range
and the report's own inputs; the form is checked by the report service (the same rules as the
API) and, when right, starts a ``report.build`` background task (``report/tasks.py``). The task's
page shows its progress: it refreshes itself every two seconds without JavaScript and, with it,
htmx polls the status fragment instead. When done, the workbook is downloaded from the task.
Who sees a task (its page, its file) is ``background.service.get``'s rule; a task of someone else
outside the staff member's reach is the same 404 page as a missing one."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, Response

from etest.background import service as tasks
from etest.console import fields
from etest.console.i18n import N_
from etest.console.pages import ConsoleRoute, redirect, render
from etest.console.session import StaffDep
from etest.deps import SessionDep, SettingsDep
from etest.errors import EtestError, NotFound
from etest.kit.levels import LEVELS
from etest.kit.pagination import Pagination, paginate
from etest.models import BackgroundTask, Organization
from etest.organization import repository as org_repository
from etest.report import repository
from etest.report.service import MAX_EMAILS, REPORTS, ReportParams, check
from etest.report.tasks import params_of, start_report
from etest.staff.service import SignedIn

router = APIRouter(route_class=ConsoleRoute)

#: The organizations offered in the picker (the subtree, in tree order); a larger subtree gets
#: a UIC field instead of a list.
PICKER_LIMIT = 300
#: The default date range: the last 30 days, today included.
DEFAULT_DAYS = 30

#: The reports' names and descriptions as the page shows them (the service's table decides
#: which reports exist; these are their words in the console's catalog).
TITLES: dict[str, tuple[str, str]] = {
    "placement": (
        N_("Placement results"),
        N_("One row per finished placement test, and a summary with the level distribution."),
    ),
    "responses": (
        N_("Responses of candidates"),
        N_("Every item served to the candidates you name by email, with their answers."),
    ),
    "ct-review": (
        N_("Certification review"),
        N_("Failed certification tests with their Can't-Do statements and review lessons."),
    ),
    "ct-log": (
        N_("Certification log"),
        N_("One row per item served in certification tests, one sheet per level."),
    ),
    "cant-do": (
        N_("Can't-Do statements"),
        N_("The Can-Do statements most often missed on placement tests."),
    ),
    "item-stats": (
        N_("Item statistics"),
        N_("Per item: exposures, p-value, point-biserial (IRT parameters for content staff)."),
    ),
}
assert set(TITLES) == set(REPORTS), "every report needs its words on the console"

STATUS_WORDS = {
    "queued": N_("Waiting to start"),
    "running": N_("Being written"),
    "done": N_("Ready"),
    "failed": N_("Failed"),
}


async def _organizations(session: Any, staff: SignedIn) -> tuple[list[tuple[str, str]], bool]:
    """(UIC, label) of the subtree in tree order, and whether the list is complete."""
    total, rows = await paginate(
        session,
        org_repository.filtered(staff.actor),
        Pagination(1, PICKER_LIMIT),
        Organization.path,
    )
    base = staff.actor.org_path.count("/") if staff.actor.org_path else 2
    options = []
    for (org,) in rows:
        depth = max(org.path.count("/") - base, 0)
        options.append((org.uic, f"{'– ' * depth}{org.name} ({org.uic})"))
    return options, total <= PICKER_LIMIT


async def _page(
    request: Request,
    session: Any,
    staff: SignedIn,
    *,
    form: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    today = datetime.now(UTC).date()
    organizations, complete = await _organizations(session, staff)
    recent = await repository.recent_tasks(session, staff.actor.subject)
    return render(
        request,
        staff,
        "console/reports/index.html",
        status=status,
        title=N_("Reports"),
        reports=[(name, *TITLES[name]) for name in REPORTS],
        organizations=organizations,
        picker=complete,
        levels=[(lv, lv) for lv in LEVELS],
        form=form
        or {
            "report": "placement",
            "uic": "",
            "from": (today - timedelta(days=DEFAULT_DAYS - 1)).isoformat(),
            "to": today.isoformat(),
            "level": "",
            "emails": "",
        },
        errors=errors or {},
        max_emails=MAX_EMAILS,
        recent=[_row(task) for task in recent],
        status_words=STATUS_WORDS,
    )


def _row(task: BackgroundTask) -> dict[str, Any]:
    name, params = params_of(task.params)
    return {
        "task": task,
        "report_title": TITLES.get(name, (name, ""))[0],
        "params": params,
    }


@router.get("/reports")
async def reports_page(request: Request, session: SessionDep, staff: StaffDep) -> Response:
    return await _page(request, session, staff)


@router.post("/reports")
async def start(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    staff: StaffDep,
    report: Annotated[str, Form(max_length=40)] = "",
    uic: Annotated[str, Form(max_length=64)] = "",
    date_from: Annotated[str, Form(alias="from", max_length=20)] = "",
    date_to: Annotated[str, Form(alias="to", max_length=20)] = "",
    level: Annotated[str, Form(max_length=32)] = "",
    emails: Annotated[str, Form(max_length=70_000)] = "",
) -> Response:
    form = {
        "report": report,
        "uic": uic.strip(),
        "from": date_from,
        "to": date_to,
        "level": level,
        "emails": emails,
    }
    errors: dict[str, str] = {}
    if report not in REPORTS:
        errors["report"] = N_("Choose a report.")
    first, last = fields.day(date_from), fields.day(date_to)
    if first is None:
        errors["from"] = N_("Give the first day as a date.")
    if last is None:
        errors["to"] = N_("Give the last day as a date.")
    if errors or first is None or last is None:
        return await _page(request, session, staff, form=form, errors=errors, status=422)
    wanted = ReportParams(
        first,
        last,
        form["uic"] or None,
        tuple(e for e in emails.replace(",", "\n").splitlines() if e.strip()),
        level or None,
    )
    try:
        params = await check(session, staff.actor, report, wanted)
        organization = (
            await org_repository.get_by_uic(session, staff.actor, params.uic)
            if params.uic
            else None
        )
    except NotFound as exc:
        # a UIC outside the subtree reads exactly like a missing one
        errors["uic" if form["uic"] else "report"] = exc.detail
    except EtestError as exc:
        if exc.status == 403:
            raise
        errors[_field_of(exc.code)] = exc.detail
    if errors:
        return await _page(request, session, staff, form=form, errors=errors, status=422)
    task = await start_report(
        session,
        settings,
        staff.actor,
        report,
        params,
        organization.id if organization else staff.actor.organization_id,
    )
    return redirect(
        f"/console/reports/tasks/{task.id}",
        N_("The report is being written. This page shows how far it is."),
    )


def _field_of(code: str) -> str:
    return {
        "reversed-date-range": "to",
        "date-range-too-long": "from",
        "report-emails": "emails",
        "unknown-level": "level",
    }.get(code, "report")


async def _task(session: Any, staff: SignedIn, task_id: str) -> BackgroundTask:
    try:
        found = uuid.UUID(task_id)
    except ValueError:
        raise NotFound("No such task.") from None
    task = await tasks.get(session, staff.actor, found)
    if task.kind != repository.TASK_KIND:
        raise NotFound("No such task.")
    return task


def _task_context(task: BackgroundTask) -> dict[str, Any]:
    row = _row(task)
    return {
        **row,
        "title": row["report_title"],
        "status_words": STATUS_WORDS,
        "working": task.status in ("queued", "running"),
        "download": f"/console/reports/tasks/{task.id}/download",
        "here_url": f"/console/reports/tasks/{task.id}",
    }


@router.get("/reports/tasks/{task_id}")
async def task_page(
    request: Request, session: SessionDep, staff: StaffDep, task_id: str
) -> Response:
    task = await _task(session, staff, task_id)
    return render(
        request,
        staff,
        "console/reports/task.html",
        **_task_context(task),
    )


@router.get("/reports/tasks/{task_id}/status")
async def task_status(
    request: Request, session: SessionDep, staff: StaffDep, task_id: str
) -> Response:
    """The status part of the task page alone (htmx polls it while the task works)."""
    task = await _task(session, staff, task_id)
    return render(request, staff, "console/reports/_status.html", **_task_context(task))


@router.get("/reports/tasks/{task_id}/download")
async def task_download(
    session: SessionDep, settings: SettingsDep, staff: StaffDep, task_id: str
) -> Response:
    task = await _task(session, staff, task_id)
    path = tasks.output(settings, task)
    if path is None:
        return redirect(
            f"/console/reports/tasks/{task.id}", N_("The report is not ready to download yet.")
        )
    return FileResponse(
        path,
        media_type=task.media_type or "application/octet-stream",
        filename=task.file_name,
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )

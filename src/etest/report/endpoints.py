"""``GET /api/v1/reports/{name}.xlsx``: the workbook is written to a temporary file (constant
memory), sent, then deleted. ``POST /api/v1/reports/{name}/tasks`` writes it in the background
instead (``report/tasks.py``), followed by ``GET /tasks/{id}`` and downloaded from
``GET /tasks/{id}/download``. Deleting it after the response is housekeeping, not work that must
not be lost, so a background task is the right place for it."""

from __future__ import annotations

import contextlib
import os
import tempfile
import uuid
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import FileResponse
from pydantic import Field
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.background import BackgroundTask

from etest.auth.actor import Actor
from etest.background import service as background
from etest.deps import ActorDep, ReadSessionDep, SessionDep, SettingsDep
from etest.errors import Conflict, NotFound
from etest.kit.schemas import TEXT_QUERY, Input, Output, Uic
from etest.models import BackgroundTask as TaskRow
from etest.organization import repository as org_repository
from etest.report.repository import TASK_KIND
from etest.report.service import (
    MAX_EMAILS,
    REPORTS,
    XLSX,
    ReportParams,
    check,
    filename,
    write_report,
)
from etest.report.tasks import start_report

router = APIRouter(prefix="/api/v1/reports", tags=["reports"])


@router.get(
    "/{name}.xlsx",
    response_class=FileResponse,
    description=f"Reports: {', '.join(REPORTS)} (see docs/reports.md).",
    responses={200: {"content": {XLSX: {}}, "description": "The workbook"}},
)
async def download_report(
    name: str,
    actor: ActorDep,
    session: SessionDep,
    reader: ReadSessionDep,
    date_from: Annotated[date, Query(alias="from", description="first UTC day, included")],
    date_to: Annotated[date, Query(alias="to", description="last UTC day, included")],
    uic: Annotated[
        Uic | None,
        Query(
            description="an organization you cover (with the organizations below it); default: all"
        ),
    ] = None,
    emails: Annotated[
        list[str],
        Query(
            max_length=MAX_EMAILS,
            description=("responses: candidate emails, repeated or comma-separated"),
        ),
    ] = [],  # noqa: B006
    level: Annotated[str | None, Query(pattern=TEXT_QUERY, max_length=32)] = None,
) -> FileResponse:
    """A report as an Excel workbook, scoped to the caller's subtree (any role may read)."""
    params = ReportParams(date_from, date_to, uic, tuple(emails), level)
    fd, tmp = tempfile.mkstemp(prefix="etest-report-", suffix=".xlsx")
    os.close(fd)
    path = Path(tmp)
    # End the request's transaction (the actor's API key bookkeeping) before the long read:
    # on SQLite it holds the write lock, and candidates' answers must not wait for a report.
    await session.commit()
    try:
        await write_report(reader, actor, name, params, path)
    except BaseException:
        _remove(path)
        raise
    return FileResponse(
        path,
        media_type=XLSX,
        filename=filename(name, params),
        background=BackgroundTask(_remove, path),
    )


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


# -- reports written in the background ---------------------------------------------------------


class ReportTaskCreate(Input):
    """What a background report covers: the parameters of ``GET /{name}.xlsx``."""

    date_from: date = Field(alias="from", description="first UTC day, included")
    date_to: date = Field(alias="to", description="last UTC day, included")
    uic: Uic | None = Field(
        None, description="an organization you cover (with the organizations below it)"
    )
    emails: list[Annotated[str, Field(max_length=320)]] = Field(
        default_factory=list, max_length=MAX_EMAILS, description="responses: candidate emails"
    )
    level: str | None = Field(None, max_length=32)


class ReportTaskOut(Output):
    """A report being written: ``queued`` → ``running`` → ``done`` | ``failed``; ``done`` of
    ``total`` data rows; ``download`` once done."""

    id: uuid.UUID
    report: str
    status: str
    done: int
    total: int | None
    params: dict[str, Any]
    rows: int | None = None
    error: str | None = None
    created_at: datetime
    finished_at: datetime | None = None
    download: str | None = None


def _task_out(task: TaskRow) -> ReportTaskOut:
    done = task.status == "done" and task.file_name is not None
    return ReportTaskOut(
        id=task.id,
        report=str(task.params.get("name")),
        status=task.status,
        done=task.done,
        total=task.total,
        params={k: v for k, v in task.params.items() if k != "name"},
        rows=task.result.get("rows") if task.result else None,
        error=task.error,
        created_at=task.created_at,
        finished_at=task.finished_at,
        download=f"{router.prefix}/tasks/{task.id}/download" if done else None,
    )


async def _report_task(session: AsyncSession, actor: Actor, task_id: uuid.UUID) -> TaskRow:
    task = await background.get(session, actor, task_id)
    if task.kind != TASK_KIND:
        raise NotFound("No such task.")
    return task


@router.post(
    "/{name}/tasks",
    response_model=ReportTaskOut,
    status_code=status.HTTP_202_ACCEPTED,
    responses={202: {"description": "The task; GET its status, then its download"}},
)
async def start_report_task(
    name: str,
    actor: ActorDep,
    session: SessionDep,
    settings: SettingsDep,
    body: ReportTaskCreate,
    response: Response,
) -> ReportTaskOut:
    """Write a report in the background (large reports): the same checks and workbook as
    ``GET /{name}.xlsx``, answered at once with a task to follow (its ``done`` of ``total``
    rows) and, once ``done``, to download. Who sees the task: its caller and the admins of the
    organization's subtree."""
    params = await check(
        session,
        actor,
        name,
        ReportParams(body.date_from, body.date_to, body.uic, tuple(body.emails), body.level),
    )
    organization = (
        await org_repository.get_by_uic(session, actor, params.uic) if params.uic else None
    )
    task = await start_report(
        session,
        settings,
        actor,
        name,
        params,
        organization.id if organization else actor.organization_id,
    )
    response.headers["Location"] = f"{router.prefix}/tasks/{task.id}"
    return _task_out(task)


@router.get("/tasks/{task_id}", response_model=ReportTaskOut)
async def get_report_task(
    actor: ActorDep, session: SessionDep, task_id: uuid.UUID
) -> ReportTaskOut:
    """A background report's status and progress (404 for a task you may not see)."""
    return _task_out(await _report_task(session, actor, task_id))


@router.get(
    "/tasks/{task_id}/download",
    response_class=FileResponse,
    responses={200: {"content": {XLSX: {}}, "description": "The workbook"}},
)
async def download_report_task(
    actor: ActorDep, session: SessionDep, settings: SettingsDep, task_id: uuid.UUID
) -> FileResponse:
    """The workbook of a finished background report (409 ``conflict`` before it is done)."""
    task = await _report_task(session, actor, task_id)
    path = background.output(settings, task)
    if path is None:
        raise Conflict(f"The report is {task.status}: no workbook to download.")
    return FileResponse(path, media_type=XLSX, filename=task.file_name)

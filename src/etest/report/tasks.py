"""Background work of the report package (registered by ``etest.tasks``): ``report.build``
writes one report as the staff member who asked, with its progress (rows written of rows
expected) on the task, and keeps the workbook as the task's file (``background.service``)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from etest.auth.actor import Actor
from etest.background.service import runner, start, task_dir
from etest.background.tasks import TaskRun
from etest.config import Settings
from etest.db import create_read_sessionmaker
from etest.models import BackgroundTask
from etest.report.repository import TASK_KIND
from etest.report.service import XLSX, ReportParams, filename, write_report


def params_record(name: str, params: ReportParams) -> dict[str, Any]:
    """What a task keeps of the request (JSON): enough to run it and to show what it is."""
    return {
        "name": name,
        "from": params.date_from.isoformat(),
        "to": params.date_to.isoformat(),
        "uic": params.uic,
        "emails": list(params.emails),
        "level": params.level,
    }


def params_of(record: dict[str, Any]) -> tuple[str, ReportParams]:
    return str(record["name"]), ReportParams(
        date.fromisoformat(record["from"]),
        date.fromisoformat(record["to"]),
        record.get("uic"),
        tuple(record.get("emails") or ()),
        record.get("level"),
    )


async def start_report(
    session: AsyncSession,
    settings: Settings,
    actor: Actor,
    name: str,
    params: ReportParams,
    organization_id: uuid.UUID | None,
) -> BackgroundTask:
    """A ``report.build`` task for ``params`` (already checked by ``service.check``): the
    organization's subtree admins may see it as well as its asker (``background.service``)."""
    return await start(
        session,
        settings,
        actor,
        TASK_KIND,
        params=params_record(name, params),
        organization_id=organization_id,
    )


@runner(TASK_KIND)
async def build(run: TaskRun) -> None:
    name, params = params_of(run.params)
    partial = task_dir(run.settings) / f"{run.id}.partial"

    async def watch(done: int, total: int) -> None:
        await run.progress(done, total, force=done == 0)

    # a read-only snapshot, as the API's report: no write lock held while the rows stream
    reader = create_read_sessionmaker(run.ctx.sessionmaker.kw["bind"])
    try:
        async with reader() as session:
            rows = await write_report(session, run.actor, name, params, partial, watch=watch)
        await run.progress(rows, rows, force=True)
        await run.finish(
            {"report": name, "rows": rows},
            data=partial.read_bytes(),
            file_name=filename(name, params),
            media_type=XLSX,
        )
    finally:
        partial.unlink(missing_ok=True)

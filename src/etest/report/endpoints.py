"""``GET /api/v1/reports/{name}.xlsx``: the workbook is written to a temporary file (constant
memory), sent, then deleted. Deleting it after the response is housekeeping, not work that must
not be lost, so a background task is the right place for it."""

from __future__ import annotations

import contextlib
import os
import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from etest.deps import ActorDep, ReadSessionDep, SessionDep
from etest.kit.schemas import TEXT_QUERY, Uic
from etest.report.service import MAX_EMAILS, REPORTS, XLSX, ReportParams, filename, write_report

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

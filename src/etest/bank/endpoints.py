"""Calibration API (content managers and global superadmins): request a run (a background
job), follow it, download its report as Excel, publish it."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from fastapi import APIRouter, Response, status

from etest.bank import calibration
from etest.bank.errors import CalibrationNotReady
from etest.bank.report import XLSX, workbook
from etest.bank.schemas import (
    CalibrationCreate,
    CalibrationOut,
    CalibrationPublish,
    PublishedOut,
)
from etest.deps import ActorDep, SessionDep, SettingsDep

router = APIRouter(prefix="/api/v1/calibrations", tags=["calibration"])


@router.post("", response_model=CalibrationOut, status_code=status.HTTP_202_ACCEPTED)
async def create_calibration(
    actor: ActorDep, session: SessionDep, body: CalibrationCreate
) -> CalibrationOut:
    """Queue a calibration of an assessment's items or of items by code from the scored
    responses of finished attempts; ``GET`` it for progress and the report. 422
    ``not-enough-responses`` when no item has ``min_responses``."""
    run = await calibration.request(session, actor, body)
    return CalibrationOut.model_validate(run)


@router.get("/{calibration_id}", response_model=CalibrationOut)
async def get_calibration(
    actor: ActorDep, session: SessionDep, calibration_id: uuid.UUID
) -> CalibrationOut:
    """Status (queued, running, done, failed, published), progress 0..1, the JSON report and
    the proposed parameters once done."""
    return CalibrationOut.model_validate(await calibration.get(session, actor, calibration_id))


@router.get(
    "/{calibration_id}/report.xlsx",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}, "description": "The workbook"}},
)
async def download_calibration_report(
    actor: ActorDep, session: SessionDep, calibration_id: uuid.UUID
) -> Response:
    """The report as Excel: a sheet of items with the numbers and a sheet of item
    characteristic curves (409 ``calibration-not-ready`` before the run is done)."""
    run = await calibration.get(session, actor, calibration_id)
    if run.report is None:
        raise CalibrationNotReady(
            f"The calibration is {run.status}: no report yet.", run_status=run.status
        )
    data: dict[str, Any] = CalibrationOut.model_validate(run).model_dump(mode="json")
    body = await asyncio.to_thread(workbook, data)
    return Response(
        body,
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="calibration-{run.id}.xlsx"'},
    )


@router.post("/{calibration_id}/publish", response_model=PublishedOut)
async def publish_calibration(
    actor: ActorDep,
    session: SessionDep,
    settings: SettingsDep,
    calibration_id: uuid.UUID,
    body: CalibrationPublish | None = None,
) -> PublishedOut:
    """Write the proposed parameters as new item versions, and new versions of the assessments
    that serve those items (a placement test's evidence is checked as on import). Attempts in
    progress keep their versions. 409 ``calibration-not-ready`` unless done (and once
    published)."""
    reason = body.override_reason if body else None
    written = await calibration.publish(session, actor, settings, calibration_id, reason)
    run = await calibration.get(session, actor, calibration_id)
    return PublishedOut(calibration=CalibrationOut.model_validate(run), **written)

"""Console pages: assessments and their versions (docs/console/assessments.md). Content
managers and superadmins only. The list shows every placement and certification test with the
version new attempts get; an assessment's page shows each version: its engine, items, the
evidence a placement-test version was published with (simulated placement per level, length,
exposure, thresholds, a superadmin's override reason) and its pilot items."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from etest.auth.actor import Actor
from etest.console.pages import ConsoleRoute, render
from etest.console.session import StaffDep
from etest.content import repository
from etest.deps import SessionDep
from etest.errors import NotFound
from etest.models import AssessmentVersion

router = APIRouter(route_class=ConsoleRoute)


def _content_staff(staff: Any) -> Actor:
    actor: Actor = staff.actor
    actor.require("manage_content")
    return actor


@router.get("/assessments")
async def assessments_list(request: Request, staff: StaffDep, session: SessionDep) -> Response:
    _content_staff(staff)
    assessments = await repository.assessments(session)
    by_assessment: dict[uuid.UUID, list[AssessmentVersion]] = {}
    for v in await repository.versions_newest_first(session):
        by_assessment.setdefault(v.assessment_id, []).append(v)
    return render(
        request,
        staff,
        "console/assessments/list.html",
        rows=[(a, by_assessment.get(a.id, [])) for a in assessments],
    )


def _pilot_ids(version: AssessmentVersion) -> list[str]:
    pilot = version.engine.get("pilot") or {}
    return [str(i) for i in pilot.get("items") or []]


@router.get("/assessments/{assessment_id}")
async def assessment_page(
    request: Request, staff: StaffDep, session: SessionDep, assessment_id: uuid.UUID
) -> Response:
    _content_staff(staff)
    assessment = await repository.assessment(session, assessment_id)
    if assessment is None:
        raise NotFound("No such assessment.")
    versions = await repository.versions_of_assessment(session, assessment.id)
    pilot_ids = {uuid.UUID(i) for v in versions for i in _pilot_ids(v)}
    items = await repository.items_by_ids(session, sorted(pilot_ids))
    return render(
        request,
        staff,
        "console/assessments/assessment.html",
        assessment=assessment,
        versions=versions,
        pilots={v.id: [items[uuid.UUID(i)] for i in _pilot_ids(v)] for v in versions},
        pilot_rate={v.id: (v.engine.get("pilot") or {}).get("rate") for v in versions},
    )

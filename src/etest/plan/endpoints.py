from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from etest.audit.service import record
from etest.deps import ActorDep, SessionDep
from etest.models import Level, Plan
from etest.plan import repository, service
from etest.plan.schemas import LevelOut, PlanOut, PlanUpdate

router = APIRouter(prefix="/api/v1", tags=["reference"])
#: A plan's code or one of its old names (``professional``, ``neo+``): see plan.service.
PlanCode = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_+ .\-]{0,63}$")]


@router.get("/levels", response_model=list[LevelOut])
async def list_levels(session: SessionDep) -> list[Level]:
    """The eleven levels in scale order (public reference data)."""
    return await repository.levels(session)


@router.get("/plans", response_model=list[PlanOut])
async def list_plans(session: SessionDep) -> list[Plan]:
    """Every plan with its levels, pass marks, assessments and retake policy."""
    return await repository.plans(session)


@router.get("/plans/{code}", response_model=PlanOut)
async def get_plan(session: SessionDep, code: PlanCode) -> Plan:
    """The plan a code or an old name names (``professional`` answers ``neo_pro``)."""
    return await service.get_plan(session, code)


@router.put("/plans/{code}", response_model=PlanOut)
async def put_plan(actor: ActorDep, session: SessionDep, code: PlanCode, body: PlanUpdate) -> Plan:
    """Create or replace a plan (superadmin only); an old name edits the plan it names."""
    actor.require("manage_plans")
    plan = await service.put_plan(session, code, body)
    record(
        session,
        actor,
        "plan.update",
        target_type="plan",
        target_id=plan.code,
        organization_id=None,
        details=body.model_dump(by_alias=True),
    )
    return plan

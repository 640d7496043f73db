"""Reference data: loading the levels and plans file, and reading plans."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from etest.errors import NotFound, Unprocessable
from etest.models import Level, Plan
from etest.plan.schemas import PlanUpdate


def reference_data() -> dict[str, Any]:
    text = resources.files("etest.data").joinpath("reference.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


async def load_reference(session: AsyncSession) -> tuple[int, int]:
    """Insert the levels and plans of the data file that are missing; edited rows are kept.

    Returns how many levels and plans were inserted."""
    data = reference_data()
    have_levels = set((await session.scalars(select(Level.name))).all())
    new_levels = [Level(**lv) for lv in data["levels"] if lv["name"] not in have_levels]
    session.add_all(new_levels)
    await session.flush()
    have_plans = set((await session.scalars(select(Plan.code))).all())
    new_plans = []
    for raw in data["plans"]:
        if raw["code"] in have_plans:
            continue
        spec = PlanUpdate.model_validate({k: v for k, v in raw.items() if k != "code"})
        new_plans.append(Plan(code=raw["code"], **spec.model_dump()))
    session.add_all(new_plans)
    await session.flush()
    return len(new_levels), len(new_plans)


async def get_plan(session: AsyncSession, code: str) -> Plan:
    plan = await session.get(Plan, code)
    if plan is None:
        raise NotFound(f"No plan {code!r}.", code="unknown-plan")
    return plan


async def require_plan_code(session: AsyncSession, code: str | None) -> str | None:
    """Check that ``code`` names a plan (None passes), raising a 422 naming it otherwise."""
    if code is not None and await session.get(Plan, code) is None:
        raise Unprocessable(f"No plan {code!r}.", code="unknown-plan")
    return code


def plan_levels(plan: Plan) -> list[str]:
    return [str(lv["level"]) for lv in plan.levels]


async def put_plan(session: AsyncSession, code: str, body: PlanUpdate) -> Plan:
    plan = await session.get(Plan, code)
    values = body.model_dump()
    if plan is None:
        plan = Plan(code=code, **values)
        session.add(plan)
    else:
        for key, value in values.items():
            setattr(plan, key, value)
    await session.flush()
    return plan

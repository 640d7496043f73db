"""Reference data: loading the levels and plans file, reading plans, and resolving the plan
names of the old service (``professional`` → ``neo_pro``).

A plan is named by its code or by one of its ``aliases`` (from ``data/reference.json``, editable
with ``PUT /api/v1/plans/{code}``), compared by :func:`plan_key`: case, spaces, ``_``, ``-`` and
``.`` aside and ``+`` read as "plus", so ``neo+``, ``Neo Plus`` and ``neo_plus`` are one name.
Every API that accepts a plan code resolves it here and answers with the canonical code."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from importlib import resources
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from etest.errors import InvalidValue
from etest.models import Level, Plan
from etest.plan import repository
from etest.plan.errors import PlanAliasTaken, PlanNotFound, UnknownPlan
from etest.plan.schemas import PlanUpdate

#: What a new plan's code looks like (old names are accepted as aliases, not as codes).
PLAN_CODE = re.compile(r"^[a-z0-9_]{1,64}$")


def plan_key(name: str) -> str:
    """The form two plan names are compared in: ``neo+`` and ``NEO_PLUS`` are ``neoplus``."""
    return re.sub(r"[^a-z0-9]", "", name.lower().replace("+", "plus"))


def reference_data() -> dict[str, Any]:
    text = resources.files("etest.data").joinpath("reference.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


async def load_reference(session: AsyncSession) -> tuple[int, int]:
    """Insert the levels and plans of the data file that are missing; edited rows are kept.

    Returns how many levels and plans were inserted."""
    data = reference_data()
    have_levels = await repository.level_names(session)
    new_levels = [Level(**lv) for lv in data["levels"] if lv["name"] not in have_levels]
    session.add_all(new_levels)
    await session.flush()
    have_plans = {p.code: p for p in await repository.plans(session)}
    new_plans = []
    for raw in data["plans"]:
        if raw["code"] in have_plans:
            _add_aliases(have_plans[raw["code"]], raw.get("aliases", []), have_plans.values())
            if raw.get("register") == "young" and have_plans[raw["code"]].register == "adult":
                # an upgrade gives the young learners' plan its wording (it had none before)
                have_plans[raw["code"]].register = "young"
            continue
        spec = PlanUpdate.model_validate({k: v for k, v in raw.items() if k != "code"})
        new_plans.append(Plan(code=raw["code"], **spec.model_dump(by_alias=True)))
    session.add_all(new_plans)
    await session.flush()
    return len(new_levels), len(new_plans)


def _add_aliases(plan: Plan, aliases: Iterable[str], plans: Iterable[Plan]) -> None:
    """Give an existing plan the reference file's aliases it lacks, unless another plan is
    already called that: an upgrade teaches old names, it never re-points one."""
    claimed = {key for other in plans for key in _keys(other)}
    missing = [a for a in aliases if plan_key(a) not in claimed]
    if missing:
        plan.aliases = [*plan.aliases, *missing]


def _keys(plan: Plan) -> set[str]:
    return {plan_key(plan.code), *(plan_key(a) for a in plan.aliases)}


async def find_plan(session: AsyncSession, name: str) -> Plan | None:
    """The plan a code or an old name (alias) names, or None."""
    plan = await session.get(Plan, name)
    if plan is not None:
        return plan
    key = plan_key(name)
    if not key:
        return None
    for candidate in await repository.plans(session):
        if key in _keys(candidate):
            return candidate
    return None


async def get_plan(session: AsyncSession, code: str) -> Plan:
    """The plan named by a code or alias (404 ``unknown-plan`` otherwise)."""
    plan = await find_plan(session, code)
    if plan is None:
        raise PlanNotFound(f"No plan {code!r}.")
    return plan


async def require_plan_code(session: AsyncSession, code: str | None) -> str | None:
    """The canonical code of the plan ``code`` names (None passes), or a 422 naming it."""
    if code is None:
        return None
    plan = await find_plan(session, code)
    if plan is None:
        raise UnknownPlan(f"No plan {code!r}.")
    return plan.code


async def require_plan_codes(session: AsyncSession, codes: Iterable[str]) -> list[str]:
    """The canonical codes of several plan names, in order, without repeats."""
    out: list[str] = []
    for code in codes:
        canonical = await require_plan_code(session, code)
        if canonical is not None and canonical not in out:
            out.append(canonical)
    return out


def plan_levels(plan: Plan) -> list[str]:
    return [str(lv["level"]) for lv in plan.levels]


async def put_plan(session: AsyncSession, code: str, body: PlanUpdate) -> Plan:
    """Replace the plan ``code`` names (a code or an alias), or create a plan with that code.
    No two plans may answer to one name (409 ``plan-alias-taken``)."""
    plan = await find_plan(session, code)
    if plan is None and not PLAN_CODE.match(code):
        raise InvalidValue(
            f"{code!r} names no plan, and a new plan's code is lower-case letters, digits and '_'."
        )
    canonical = plan.code if plan is not None else code
    names = {plan_key(canonical): canonical, **{plan_key(a): a for a in body.aliases}}
    others = await repository.plans_except(session, canonical)
    clashes = sorted(
        f"{names[k]!r} ({other.code})" for other in others for k in _keys(other) & names.keys()
    )
    if clashes:
        raise PlanAliasTaken(f"These names already name another plan: {', '.join(clashes)}.")
    values = body.model_dump(by_alias=True)
    if plan is None:
        plan = Plan(code=code, **values)
        session.add(plan)
    else:
        for key, value in values.items():
            setattr(plan, key, value)
    await session.flush()
    return plan

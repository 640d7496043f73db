"""What the result pages say beyond the outcome itself: how sure a placement is (from its level
probabilities), the "can do" statements of the placed level, and what to do next (the
organization's configured step, else the Certification Test of that level when the plan has
one).

The wording rules are pure functions (:func:`confidence`, :func:`next_step`) so the thresholds
are tested without a page; :func:`placement_context` loads what they need."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from etest.attempt import repository as attempt_repository
from etest.attempt.outcome import PtOutcome
from etest.models import Attempt, Organization, Plan

#: The probability of the placed level at or above which a placement is "very sure", "fairly
#: sure"; below the second it is a best estimate.
VERY_SURE = 0.8
FAIRLY_SURE = 0.6
#: A neighbouring level is named when at least this likely.
NEIGHBOUR_SHOWN = 0.1


@dataclass(frozen=True)
class Confidence:
    """How sure the placement is: ``band`` is ``very``, ``fairly`` or ``estimate``; ``percent``
    the placed level's probability; ``other`` the likelier neighbouring level with its percent
    (``None`` when no neighbour reaches :data:`NEIGHBOUR_SHOWN`)."""

    band: str
    percent: int
    other: str | None = None
    other_percent: int | None = None


def confidence(probabilities: dict[str, float], level: str, order: list[str]) -> Confidence | None:
    """The confidence of a placement at ``level`` (``order``: the plan's levels, lowest first,
    to find the neighbours). ``None`` when the engine gave no probabilities (a staged test)."""
    p = probabilities.get(level)
    if p is None:
        return None
    band = "very" if p >= VERY_SURE else "fairly" if p >= FAIRLY_SURE else "estimate"
    other, other_p = None, 0.0
    if level in order:
        at = order.index(level)
        for n in (at - 1, at + 1):
            if 0 <= n < len(order):
                q = probabilities.get(order[n], 0.0)
                if q >= NEIGHBOUR_SHOWN and q > other_p:
                    other, other_p = order[n], q
    return Confidence(
        band, round(p * 100), other, round(other_p * 100) if other is not None else None
    )


@dataclass(frozen=True)
class NextStep:
    """What to do next: the organization's own words and link, or the CT of the level."""

    text: str | None = None
    url: str | None = None
    ct_level: str | None = None


def next_step(settings: dict[str, Any], level: str, plan: Plan | None) -> NextStep | None:
    """The organization's configured next step (``settings["next_step"]``: one ``{"text",
    "url"}``, or one per level under ``"levels"``), else "take the CT of this level" when the
    plan has a CT for it, else nothing."""
    configured = settings.get("next_step") or {}
    per_level = (configured.get("levels") or {}).get(level) or {}
    chosen = per_level or configured
    if chosen.get("text"):
        return NextStep(text=str(chosen["text"]), url=chosen.get("url") or None)
    if plan is not None and any(
        lv.get("level") == level and lv.get("ct_assessment") for lv in plan.levels
    ):
        return NextStep(ct_level=level)
    return None


async def placement_context(
    session: AsyncSession, attempt: Attempt, outcome: PtOutcome
) -> dict[str, Any]:
    """The PT result page's extra context: ``can_do``, ``confidence``, ``next_step``."""
    level = outcome.level
    if not level:
        return {"can_do": [], "confidence": None, "next_step": None}
    plan = await session.get(Plan, attempt.plan_code)
    org = await session.get(Organization, attempt.organization_id)
    order = [str(lv["level"]) for lv in plan.levels] if plan else []
    statements = await attempt_repository.can_do_at_level(session, level)
    return {
        "can_do": [s.text for s in statements],
        "confidence": confidence(outcome.level_probabilities, level, order),
        "next_step": next_step(org.settings if org else {}, level, plan),
    }

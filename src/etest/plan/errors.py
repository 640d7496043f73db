"""Errors of plans and of the plan contract of organizations (each a stable problem type)."""

from __future__ import annotations

from etest.errors import Conflict, NotFound, Unprocessable


class PlanNotAllowed(Unprocessable):
    """A plan outside an organization's contract (its ``plan_code`` and ``allowed_plans``):
    given to a candidate or a child organization, or named by a token."""

    code = "plan-not-allowed"
    title = "Plan not allowed"


class PlanInUse(Conflict):
    """Narrowing a contract would leave an organization below it with a plan it no longer has."""

    code = "plan-in-use"
    title = "Plan in use"


class PlanAliasTaken(Conflict):
    """A plan code or alias that already names another plan (case, spaces and ``+`` aside)."""

    code = "plan-alias-taken"
    title = "Plan name taken"


class PlanNotFound(NotFound):
    """A path names no plan (by code or alias)."""

    code = "unknown-plan"


class UnknownPlan(Unprocessable):
    """A body names no plan (by code or alias)."""

    code = "unknown-plan"

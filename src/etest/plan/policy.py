"""A plan's pass marks and retake policy, read with their defaults written once: the plan
schemas, the outcome of a CT, the review rules and certificates all use these."""

from __future__ import annotations

from etest.models import Plan

#: Percent correct a CT needs when the plan's level names no pass mark.
DEFAULT_PASS_MARK = 70
#: Automatic CT attempts at a level before the next failure needs a review.
DEFAULT_MAX_ATTEMPTS = 3


def pass_mark(plan: Plan, level: str | None) -> int:
    """The pass mark of ``level`` in ``plan`` (the default when the plan does not say)."""
    return next(
        (int(lv["pass_mark"]) for lv in plan.levels if lv["level"] == level), DEFAULT_PASS_MARK
    )


def max_attempts(plan: Plan) -> int:
    """The automatic CT attempts ``plan``'s retake policy allows at one level."""
    return int(plan.retake_policy.get("max_attempts", DEFAULT_MAX_ATTEMPTS))

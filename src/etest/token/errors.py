"""Errors of issuing tokens (each a stable problem type)."""

from __future__ import annotations

from etest.errors import Conflict, Forbidden, Unprocessable


class AssessmentMissing(Unprocessable):
    """No content is loaded for the test a token would open. The same code as the 409 of
    starting an attempt (``etest.attempt.errors.AssessmentUnavailable``), which can still
    happen when a plan is edited to name another assessment after the token was issued."""

    code = "assessment-unavailable"
    title = "Assessment unavailable"


class NoPlan(Unprocessable):
    """Neither the candidate nor its organization names a plan, so no test can be chosen."""

    code = "no-plan"


class LevelNotInPlan(Unprocessable):
    """A CT token for a level the plan does not test."""

    code = "level-not-in-plan"


class CandidateDisabled(Conflict):
    """A placement token for a candidate disabled for further placement tests."""

    code = "candidate-disabled"


class TokenExists(Conflict):
    """A live token of this scope exists (the problem carries its ``token_id`` when known)."""

    code = "token-exists"


class TokenNotLive(Conflict):
    """Only a live token can be revoked."""

    code = "token-not-live"


class TokenNotYetValid(Forbidden):
    """The token has a test window that has not begun (``not_before``); the problem carries
    ``opens_at``. Raised by the one rule of what a token opens (``etest.attempt.rules``)."""

    code = "token-not-yet-valid"
    title = "Token not yet valid"

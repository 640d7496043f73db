"""Errors of issuing tokens (each a stable problem type)."""

from __future__ import annotations

from etest.errors import Unprocessable


class AssessmentMissing(Unprocessable):
    """No content is loaded for the test a token would open. The same code as the 409 of
    starting an attempt (``etest.attempt.errors.AssessmentUnavailable``), which can still
    happen when a plan is edited to name another assessment after the token was issued."""

    code = "assessment-unavailable"
    title = "Assessment unavailable"

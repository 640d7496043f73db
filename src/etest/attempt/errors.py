"""Errors of test delivery (each a stable problem type)."""

from __future__ import annotations

from etest.errors import Conflict, Forbidden, NotFound


class TokenNotFound(NotFound):
    code = "token-not-found"
    title = "Unknown token"


class TokenExpired(Forbidden):
    status, code, title = 410, "token-expired", "Token expired"


class TokenRevoked(Forbidden):
    status, code, title = 410, "token-revoked", "Token revoked"


class AssessmentUnavailable(Conflict):
    code = "assessment-unavailable"
    title = "Assessment unavailable"


class AnswerConflict(Conflict):
    code = "answer-conflict"
    title = "Position already answered"


class AttemptFinished(Conflict):
    code = "attempt-finished"
    title = "Attempt finished"


class WrongPosition(Conflict):
    code = "wrong-position"
    title = "Not the current position"

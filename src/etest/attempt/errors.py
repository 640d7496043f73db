"""Errors of test delivery (each a stable problem type)."""

from __future__ import annotations

from etest.errors import Conflict, Forbidden, NotFound, Unprocessable


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


class CandidateDisabledAtStart(Forbidden):
    """A disabled candidate opens a placement token issued before it was disabled (403; issuing
    one now is the 409 :class:`etest.token.errors.CandidateDisabled`)."""

    code = "candidate-disabled"


class InvalidAnswer(Unprocessable):
    """An answer of the wrong shape, or naming an option the item does not have: refused rather
    than scored as wrong."""

    code = "invalid-answer"
    title = "Invalid answer"

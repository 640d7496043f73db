"""Errors of the item bank's life cycle (each a stable problem type)."""

from __future__ import annotations

from etest.errors import Conflict, NotFound, Unprocessable


class EvidenceInsufficient(Unprocessable):
    """A placement test's simulation falls below the thresholds of its flow or the settings;
    a superadmin may publish it anyway with a reason (audited)."""

    code = "evidence-insufficient"
    title = "Placement evidence below the thresholds"


class CalibrationNotFound(NotFound):
    code = "calibration-not-found"
    title = "No such calibration"


class CalibrationNotReady(Conflict):
    """The calibration is still running, failed, or was published already."""

    code = "calibration-not-ready"
    title = "Calibration not ready"


class NotEnoughResponses(Unprocessable):
    """No item of the request has enough scored responses to calibrate."""

    code = "not-enough-responses"
    title = "Not enough responses"

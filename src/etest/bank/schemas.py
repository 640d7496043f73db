"""Calibration API in and out: what to calibrate, a run as the API shows it, publishing."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, model_validator

from etest.kit.schemas import Input, Output

#: How items are modelled: ``auto`` fits choice items (single and multiple choice) with the
#: 3PL and its guessing prior and every other type with the 2PL; ``2pl`` and ``1pl`` fit all.
ModelChoice = Literal["auto", "2pl", "1pl"]
Code = Annotated[str, StringConstraints(min_length=1, max_length=120)]


class CalibrationCreate(Input):
    """What to calibrate: one assessment (every version of it) or a set of items by code, from
    the scored responses of attempts that finished between ``date_from`` and ``date_to``
    (UTC days, both included; open when omitted)."""

    assessment: Code | None = Field(None, description="an assessment code (all its versions)")
    items: list[Code] | None = Field(None, min_length=1, max_length=5000, description="codes")
    date_from: date | None = None
    date_to: date | None = None
    model: ModelChoice = "auto"
    free: bool = Field(
        False,
        description="estimate operational items too (default: anchored at their stored "
        "parameters, so new estimates land on the bank's scale)",
    )
    min_responses: int = Field(
        200, ge=1, le=1_000_000, description="items with fewer are reported, not estimated"
    )

    @model_validator(mode="after")
    def _one_scope(self) -> CalibrationCreate:
        if (self.assessment is None) == (self.items is None):
            raise ValueError("give either assessment or items")
        if self.date_from and self.date_to and self.date_to < self.date_from:
            raise ValueError("date_to lies before date_from")
        return self


class CalibrationOut(Output):
    """A calibration run: queued, running, done, failed or published; ``report`` and
    ``proposal`` once done."""

    id: uuid.UUID
    status: str
    progress: float
    requested_by: str
    params: dict[str, Any]
    created_at: datetime
    report: dict[str, Any] | None = None
    proposal: dict[str, Any] | None = None
    error: str | None = None
    published_at: datetime | None = None
    published_by: str | None = None


class CalibrationPublish(Input):
    """Publishing: ``override_reason`` lets a superadmin publish a placement test version whose
    evidence falls below the thresholds (audited)."""

    override_reason: str | None = Field(None, min_length=3, max_length=2000)


class PublishedOut(Output):
    """What publishing wrote: the new item versions and assessment versions."""

    calibration: CalibrationOut
    items: list[dict[str, Any]]
    assessments: list[dict[str, Any]]

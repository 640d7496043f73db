from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import EmailStr, Field, StringConstraints, field_validator

from etest.candidate.accommodations import Accommodations
from etest.kit.levels import validate_level
from etest.kit.schemas import Input, Output, Uic, omittable
from etest.kit.text import NameText
from etest.organization.schemas import LanguageTag

# Dial codes and phones are strings: "+", leading zeros and spaces must survive a round trip.
DialCode = Annotated[str, StringConstraints(pattern=r"^\+?[0-9][0-9 \-]{0,9}$")]
Phone = Annotated[str, StringConstraints(pattern=r"^[0-9+][0-9 ()\-]{0,39}$")]
RegisteredFrom = Literal["etest", "dashboard", "bulk", "api"]


class _CandidateFields(Input):
    username: NameText | None = Field(None, min_length=1, max_length=150)
    first_name: NameText | None = Field(None, max_length=150)
    last_name: NameText | None = Field(None, max_length=150)
    dial_code: DialCode | None = None
    phone: Phone | None = None
    plan_code: str | None = Field(None, max_length=64, examples=["neo_plus"])
    current_level: str | None = Field(None, examples=["B1"])
    language: LanguageTag | None = Field(
        None,
        examples=["es"],
        description="The language of the candidate's pages, certificate and emails, after the "
        "token's and before the organization's (docs/take.md, Languages)",
    )
    accommodations: Accommodations | None = Field(
        None, description="Standing accommodations; a token's own win over these (docs/take.md)"
    )

    _lvl = field_validator("current_level")(validate_level)


class CandidateCreate(_CandidateFields):
    email: EmailStr
    first_name: NameText = Field("", max_length=150)
    last_name: NameText = Field("", max_length=150)
    uic: Uic | None = Field(None, description="Defaults to the caller's organization")
    registered_from: RegisteredFrom = "api"


class CandidateUpdate(_CandidateFields):
    first_name: NameText = omittable(max_length=150)  # "" clears it; null is no name
    last_name: NameText = omittable(max_length=150)
    email: EmailStr = omittable()
    hidden: bool = omittable()
    disabled: bool = omittable()


class CandidateOut(Output):
    id: uuid.UUID
    uic: str
    email: str
    username: str | None
    first_name: str
    last_name: str
    dial_code: str | None
    phone: str | None
    registered_from: str
    plan_code: str | None
    hidden: bool
    disabled: bool
    pt_level: str | None
    current_level: str | None
    #: The certificate photo's digest: set with ``PUT …/photo``, read with ``GET …/photo`` (only
    #: by those who may see the candidate; ``/media`` does not serve photos).
    photo_sha256: str | None
    language: str | None
    accommodations: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime


class CandidateLookup(Input):
    emails: list[EmailStr] = Field(min_length=1, max_length=500)


class CandidateTransferIn(Input):
    uic: Uic
    reason: str | None = Field(None, max_length=1000)


class TransferOut(Output):
    id: uuid.UUID
    from_uic: str
    to_uic: str
    actor: str
    created_at: datetime


class ImportRow(Output):
    row: int
    status: Literal["imported", "error"]
    email: str | None = None
    candidate_id: uuid.UUID | None = None
    error: str | None = None


class ImportReport(Output):
    imported: int
    failed: int
    rows: list[ImportRow]

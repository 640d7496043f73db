"""The open links API's bodies (``/api/v1/open-links``) and the registration a ``/join`` page
posts."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, EmailStr, Field, field_validator, model_validator

from etest.kit.levels import validate_level
from etest.kit.schemas import Input, Output, Uic
from etest.kit.text import NameText
from etest.organization.schemas import LanguageTag

#: The candidate fields a link may ask for besides name and email.
RequiredField = Literal["username", "phone"]
LinkStatus = Literal["open", "not_open", "closed", "full", "revoked"]


class OpenLinkCreate(Input):
    uic: Uic | None = Field(None, description="Defaults to the caller's organization")
    title: NameText = Field(min_length=1, max_length=300, description="Shown on the join page")
    type: Literal["PT", "CT"]
    level: str | None = Field(None, description="Required for CT, absent for PT")
    max_uses: int | None = Field(None, ge=1, le=100_000, description="None: no cap")
    opens_at: AwareDatetime | None = None
    closes_at: AwareDatetime | None = None
    access_code: str | None = Field(
        None,
        min_length=4,
        max_length=64,
        description="Write-only: candidates must type it; only a keyed digest is kept",
    )
    required_fields: list[RequiredField] = Field(default_factory=list, max_length=2)
    language: LanguageTag | None = Field(
        None, description="The language of the join page and of the test for its candidates"
    )

    _lvl = field_validator("level")(validate_level)

    @model_validator(mode="after")
    def _consistent(self) -> OpenLinkCreate:
        if self.type == "CT" and self.level is None:
            raise ValueError("a CT link needs a level")
        if self.type == "PT" and self.level is not None:
            raise ValueError("a PT link has no level")
        if self.opens_at and self.closes_at and self.closes_at <= self.opens_at:
            raise ValueError("closes_at must come after opens_at")
        self.required_fields = list(dict.fromkeys(self.required_fields))
        return self


class OpenLinkOut(Output):
    id: uuid.UUID
    uic: str
    slug: str
    url: str = Field(description="The page candidates open: /join/<slug>")
    qr_svg_url: str
    qr_png_url: str
    title: str
    type: Literal["PT", "CT"]
    level: str | None
    plan_code: str
    max_uses: int | None
    uses: int
    opens_at: datetime | None
    closes_at: datetime | None
    has_access_code: bool
    required_fields: list[str]
    language: str | None
    status: LinkStatus
    created_by: str
    created_at: datetime
    revoked_at: datetime | None


class Registration(Input):
    """What a candidate types on ``/join/<slug>``."""

    first_name: NameText = Field(min_length=1, max_length=150)
    last_name: NameText = Field(min_length=1, max_length=150)
    email: EmailStr
    username: NameText | None = Field(None, min_length=1, max_length=150)
    phone: str | None = Field(None, pattern=r"^[0-9+][0-9 ()\-]{0,39}$")
    access_code: str | None = Field(None, max_length=64)

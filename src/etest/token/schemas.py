from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, EmailStr, Field, field_validator, model_validator

from etest.candidate.accommodations import Accommodations
from etest.kit.levels import validate_level
from etest.kit.schemas import Input, Output, Uic
from etest.organization.schemas import LanguageTag

TokenType = Literal["PT", "CT"]
TokenStatus = Literal["issued", "started", "completed", "expired", "revoked"]


class TokenIssue(Input):
    candidate_id: uuid.UUID | None = None
    email: EmailStr | None = None
    uic: Uic | None = Field(
        None,
        description="With email: look in this organization's subtree "
        "(needed when the email names candidates of "
        "several trees: 409 email-ambiguous)",
    )
    type: TokenType
    level: str | None = Field(None, description="Required for CT, absent for PT")
    expires_in_days: int | None = Field(None, ge=1, le=365)
    not_before: AwareDatetime | None = Field(
        None,
        description="A test window: the token opens no test before this time (403 "
        "token-not-yet-valid); it must come before the token expires",
    )
    language: LanguageTag | None = Field(
        None,
        examples=["vi"],
        description="The language of this test's pages, first in the chain: token, candidate, "
        "organization, browser (docs/take.md, Languages)",
    )
    accommodations: Accommodations | None = Field(
        None, description="For this test only; its keys win over the candidate's (docs/take.md)"
    )

    _lvl = field_validator("level")(validate_level)

    @model_validator(mode="after")
    def _consistent(self) -> TokenIssue:
        if (self.candidate_id is None) == (self.email is None):
            raise ValueError("give exactly one of candidate_id and email")
        if self.uic is not None and self.email is None:
            raise ValueError("uic narrows an email lookup; give it with email")
        if self.type == "CT" and self.level is None:
            raise ValueError("a CT token needs a level")
        if self.type == "PT" and self.level is not None:
            raise ValueError("a PT token has no level")
        return self


class TokenReason(Input):
    reason: str | None = Field(None, max_length=1000)


class TokenReset(Input):
    reason: str = Field(min_length=1, max_length=1000)


class TokenOut(Output):
    id: uuid.UUID
    candidate_id: uuid.UUID
    uic: str
    type: TokenType
    level: str | None
    plan_code: str
    status: TokenStatus
    expires_at: datetime
    not_before: datetime | None = None
    issued_by: str
    created_at: datetime
    revoked_at: datetime | None
    revoke_reason: str | None
    replaced_by_id: uuid.UUID | None
    language: str | None
    accommodations: dict[str, Any] | None


class TokenIssued(TokenOut):
    code: str = Field(description="Shown once; only a digest is stored")
    take_url: str

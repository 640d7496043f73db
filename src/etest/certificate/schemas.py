"""Certificate API shapes: the admin view, revocation, and the public verification answer
(which says only what a person holding the code needs to see)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import Field

from etest.kit.schemas import Input, Output


class CertificateOut(Output):
    id: uuid.UUID
    code: str
    verify_url: str
    attempt_id: uuid.UUID
    candidate_id: uuid.UUID
    uic: str
    holder_name: str
    level: str
    plan_code: str
    score: float | None
    issued_at: datetime
    revoked_at: datetime | None
    revocation_reason: str | None


class CertificateRevoke(Input):
    reason: str = Field(min_length=1, max_length=500)


class CredentialOut(Output):
    """The Open Badges 3.0 credential: the VC-JWT and, for convenience, its decoded content
    (verify the JWT, not the copy: the keys are at ``jwks_url``)."""

    format: Literal["vc+jwt"] = "vc+jwt"
    jwt: str
    credential: dict[str, object]
    jwks_url: str


class Verification(Output):
    """``valid``, ``revoked`` or ``unknown``; holder, level and date only for a known code."""

    status: Literal["valid", "revoked", "unknown"]
    code: str
    holder_name: str | None = None
    level: str | None = None
    plan: str | None = None
    issued_at: datetime | None = None
    #: The issue date as the certificate prints it (in the organization's time zone).
    issued_on: date | None = None
    revoked_at: datetime | None = None

"""Certificate rules: one certificate per passed CT attempt (issued by the outbox after the
attempt finishes, or on the candidate's first download, whichever comes first), an unguessable
verification code, an Open Badges 3.0 credential signed once at issue, the PDF rendered on
demand, revocation by an admin, and public verification by code.

Services flush, never commit; the edge (request, outbox job) commits."""

from __future__ import annotations

import base64
import secrets
import uuid
import zoneinfo
from datetime import date, datetime
from typing import Any

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from etest.attempt.outcome import CtOutcome, Kind, load_optional
from etest.audit.service import record
from etest.auth.actor import Actor
from etest.certificate import credential, pdf, repository
from etest.certificate.errors import CertificateDownloadDisabled, CertificateRevoked
from etest.certificate.keys import signing_key
from etest.certificate.schemas import Verification
from etest.config import Settings
from etest.content.media import MediaStore
from etest.errors import NotFound
from etest.models import Attempt, Candidate, Certificate, Organization, Plan
from etest.models.base import utcnow
from etest.organization import brand
from etest.outbox.jobs import enqueue, outbox_id
from etest.plan.policy import DEFAULT_PASS_MARK

log = structlog.get_logger(__name__)

ISSUED = "certificate.issued"
CODE_LENGTH = 20


def new_code() -> str:
    """20 base32 characters (100 random bits): unguessable, and easy to read out or type."""
    return base64.b32encode(secrets.token_bytes(15)).decode()[:CODE_LENGTH]


def base_url(settings: Settings) -> str:
    return settings.base_url.rstrip("/")


def verify_url(settings: Settings, code: str) -> str:
    return f"{base_url(settings)}/verify/{code}"


def holder_name(candidate: Candidate) -> str:
    """First and last name as the candidate gave them, else the local part of the email."""
    name = " ".join(p.strip() for p in (candidate.first_name, candidate.last_name) if p.strip())
    return name or candidate.email.partition("@")[0]


def _pass_mark(attempt: Attempt) -> int:
    outcome = load_optional(attempt.outcome)
    return outcome.pass_mark if isinstance(outcome, CtOutcome) else DEFAULT_PASS_MARK


async def issue(
    session: AsyncSession, settings: Settings, attempt_id: uuid.UUID
) -> Certificate | None:
    """The certificate of a passed CT attempt, issued now if it does not exist yet (with its
    ``certificate.issued`` event, in the same transaction). None for any other attempt.
    Idempotent, also under a race: ``attempt_id`` is unique, the loser reads the winner's."""
    certificate = await repository.by_attempt(session, attempt_id)
    attempt = await session.get(Attempt, attempt_id)
    if attempt is None:
        return None
    if certificate is None:
        if (
            attempt.kind != Kind.CT
            or attempt.passed is not True
            or attempt.level is None
            or attempt.finished_at is None
        ):
            return None
        certificate = await _create(session, settings, attempt)
    org = await session.get(Organization, certificate.organization_id)
    assert org is not None
    event_id = outbox_id(ISSUED, str(certificate.id))
    await enqueue(
        session,
        ISSUED,
        {
            "event_id": str(event_id),
            "certificate_id": str(certificate.id),
            "code": certificate.code,
            "attempt_id": str(certificate.attempt_id),
            "candidate_id": str(certificate.candidate_id),
            "uic": org.uic,
            "level": certificate.level,
            "plan": certificate.plan_code,
            "issued_at": certificate.issued_at.isoformat(),
            "verify_url": verify_url(settings, certificate.code),
        },
        key=str(certificate.id),
        organization_id=org.id,
    )
    return certificate


async def _create(session: AsyncSession, settings: Settings, attempt: Attempt) -> Certificate:
    candidate = await session.get(Candidate, attempt.candidate_id)
    org = await session.get(Organization, attempt.organization_id)
    plan = await session.get(Plan, attempt.plan_code)
    assert candidate is not None and org is not None and plan is not None
    assert attempt.level is not None and attempt.finished_at is not None
    code = new_code()
    certificate = Certificate(
        id=uuid.uuid4(),
        code=code,
        attempt_id=attempt.id,
        candidate_id=candidate.id,
        organization_id=org.id,
        level=attempt.level,
        plan_code=plan.code,
        holder_name=holder_name(candidate),
        score=attempt.score,
        issued_at=attempt.finished_at,
    )
    badge = credential.build(
        base_url=base_url(settings),
        verify_url=verify_url(settings, code),
        candidate_id=candidate.id,
        holder_name=certificate.holder_name,
        email=candidate.email,
        level=attempt.level,
        plan_code=plan.code,
        plan_name=plan.name,
        pass_mark=_pass_mark(attempt),
        organization_uic=org.uic,
        organization_name=org.name,
        issued_at=attempt.finished_at,
    )
    certificate.credential_jwt = credential.sign(badge, signing_key(settings))
    try:
        async with session.begin_nested():
            session.add(certificate)
    except IntegrityError:
        # another transaction issued it between our read and our insert: theirs stands
        winner = await repository.by_attempt(session, attempt.id)
        if winner is None:
            raise
        return winner
    log.info(
        "certificate.issued",
        certificate_id=str(certificate.id),
        attempt_id=str(attempt.id),
        level=certificate.level,
    )
    return certificate


def _local_date(moment: datetime, timezone: str) -> date:
    """The date the organization's people would write for ``moment``."""
    try:
        zone = zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = zoneinfo.ZoneInfo("UTC")
    return moment.astimezone(zone).date()


def _photo(settings: Settings, sha256: str | None) -> bytes | None:
    if sha256 is None:
        return None
    try:
        return MediaStore(settings.media_path).path(sha256).read_bytes()
    except OSError:
        log.warning("certificate.photo_missing", sha256=sha256)
        return None


async def certificate_view(
    session: AsyncSession, settings: Settings, certificate_id: uuid.UUID
) -> pdf.CertificateView:
    """What the PDF of a certificate prints (a revoked certificate is marked as such): read in
    the caller's transaction, drawn by a :class:`~etest.certificate.pdf.PdfRenderer` after it.
    No scope check: callers have authorized the id (admin scope, attempt secret, outbox)."""
    certificate = await session.get(Certificate, certificate_id)
    if certificate is None:
        raise NotFound("No such certificate.")
    org = await session.get(Organization, certificate.organization_id)
    plan = await session.get(Plan, certificate.plan_code)
    candidate = await session.get(Candidate, certificate.candidate_id)
    assert org is not None and plan is not None and candidate is not None
    return pdf.CertificateView(
        holder_name=certificate.holder_name,
        level=certificate.level,
        plan_name=plan.name,
        organization_name=org.name,
        date=_local_date(certificate.issued_at, org.timezone).isoformat(),
        code=certificate.code,
        verify_url=verify_url(settings, certificate.code),
        logo=brand.logo(settings, org).data,
        accent=brand.accent(org),
        photo=_photo(settings, candidate.photo_sha256),
        revoked=certificate.revoked_at is not None,
    )


def credential_of(certificate: Certificate) -> tuple[str, dict[str, Any]]:
    if certificate.credential_jwt is None:
        raise NotFound("This certificate has no Open Badges credential.")
    return certificate.credential_jwt, credential.unverified_credential(certificate.credential_jwt)


async def revoke(
    session: AsyncSession, actor: Actor, certificate: Certificate, reason: str
) -> Certificate:
    """Revoke (audited). Revoking again keeps the first time and reason."""
    actor.require("write")
    if certificate.revoked_at is None:
        certificate.revoked_at = utcnow()
        certificate.revocation_reason = reason
        record(
            session,
            actor,
            "certificate.revoke",
            target_type="certificate",
            target_id=certificate.id,
            organization_id=certificate.organization_id,
            reason=reason,
        )
        await session.flush()
    return certificate


async def verify(session: AsyncSession, code: str) -> Verification:
    """What anyone holding a code may learn: valid or revoked, and whose, which level, when."""
    certificate = await repository.by_code(session, code.strip().upper())
    if certificate is None:
        return Verification(status="unknown", code=code)
    plan = await session.get(Plan, certificate.plan_code)
    org = await session.get(Organization, certificate.organization_id)
    return Verification(
        status="revoked" if certificate.revoked_at is not None else "valid",
        code=certificate.code,
        holder_name=certificate.holder_name,
        level=certificate.level,
        plan=plan.name if plan else certificate.plan_code,
        issued_at=certificate.issued_at,
        issued_on=_local_date(certificate.issued_at, org.timezone if org else "UTC"),
        revoked_at=certificate.revoked_at,
    )


async def candidate_download_allowed(session: AsyncSession, attempt: Attempt) -> bool:
    """True when the attempt passed and its organization lets candidates download their
    certificate (the CT result page shows the link then)."""
    if attempt.kind != Kind.CT or attempt.passed is not True:
        return False
    org = await session.get(Organization, attempt.organization_id)
    return bool(org is not None and org.settings.get("allow_candidate_certificate_download"))


async def for_candidate(session: AsyncSession, settings: Settings, attempt: Attempt) -> Certificate:
    """The certificate of the candidate's own attempt (issued now if the outbox has not got
    to it yet), when the organization allows candidates to download it."""
    org = await session.get(Organization, attempt.organization_id)
    if org is None or not org.settings.get("allow_candidate_certificate_download"):
        raise CertificateDownloadDisabled(
            "Your organization does not offer certificate downloads; ask it for your certificate."
        )
    certificate = await issue(session, settings, attempt.id)
    if certificate is None:
        raise NotFound("This attempt has no certificate.")
    if certificate.revoked_at is not None:
        raise CertificateRevoked("This certificate was revoked.")
    return certificate

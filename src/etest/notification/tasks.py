"""Result emails through the outbox.

Events → jobs (database only, in the event's transaction):

* ``attempt.finished`` of a PT → ``email.send`` kind ``pt_result`` when the organization has
  ``notify_after_pt`` (a PT without a level, ``unplaced``, too: rendered with the
  ``pt_unplaced`` words, it tells the candidate why and to ask for a new token);
* ``attempt.finished`` of a failed CT → ``ct_fail`` when it has ``notify_after_ct``;
* ``certificate.issued`` → ``ct_pass`` when it has ``notify_after_ct`` and
  ``send_certificate_email`` (a pass is mailed once its certificate exists, so the PDF can go
  with it).

And one job written by a staff action: ``token_invite`` (:func:`enqueue_invite`, the console's
tokens handed out by email), keyed by the token, in the organization's language. Its payload
keeps the take link sealed (``etest.kit.sealed``, bound to the token id), never the code in
clear; the handler unseals it and sends only while the token is still live (a revoked, reset or
expired token cancels the job).

Each job's key is ``f"{kind}:{attempt_id}"``: a re-run subscriber finds the row it wrote, so one
finished attempt gives exactly one email job. The organization is the attempt's (where the test
was taken), even if the candidate has moved since. Hidden and disabled candidates are mailed like
any other: ``disable_candidate_after_pt`` disables a candidate at the very moment its PT result
is due, and ``hidden`` only keeps a candidate out of admin lists.

The ``email.send`` handler reads what it needs in one short transaction, renders outside it (the
certificate PDF through ``ctx.render_pdf``, off the event loop) and sends through
``ctx.mailer``; with no SMTP server configured it does not run at all (``requires``: the rows
wait). The switches are read again at send time: an organization that turns
emails off stops the ones still waiting (the job is cancelled, not retried).
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from etest.attempt.outcome import Kind, PtOutcome, load
from etest.certificate.pdf import CertificateView, render_off_loop
from etest.certificate.service import certificate_view, verify_url
from etest.config import Settings
from etest.kit import language as chain
from etest.kit.logo import Logo
from etest.kit.sealed import seal, unseal
from etest.models import Attempt, Candidate, Certificate, Organization, TestToken
from etest.models.token import LIVE_STATUSES
from etest.notification.mailer import smtp_missing
from etest.notification.render import (
    INVITE,
    EmailContent,
    InviteContent,
    message_id,
    render,
    render_invite,
)
from etest.notification.texts import language_of
from etest.organization import brand
from etest.organization.schemas import OrganizationSettings
from etest.outbox.jobs import Event, Job, JobCancelled, JobContext, enqueue, job, subscriber
from etest.outbox.worker import requires
from etest.token.service import effective_status

TOPIC = "email.send"

# no SMTP server: the emails wait (no try used up), and the worker says why once
requires(TOPIC)(smtp_missing)


def _switches(org: Organization) -> OrganizationSettings:
    known = {
        k: v for k, v in (org.settings or {}).items() if k in OrganizationSettings.model_fields
    }
    return OrganizationSettings.model_validate(known)


def wanted(org: Organization, kind: str) -> bool:
    """Whether ``org``'s settings ask for emails of ``kind``."""
    switches = _switches(org)
    if kind == INVITE:  # asked for by a staff member, for this candidate, now
        return True
    if kind == "pt_result":
        return switches.notify_after_pt
    if kind == "ct_pass":
        return switches.notify_after_ct and switches.send_certificate_email
    return switches.notify_after_ct


async def _enqueue_email(
    session: AsyncSession, kind: str, attempt_id: str, certificate_id: str | None = None
) -> None:
    attempt = await session.get(Attempt, uuid.UUID(attempt_id))
    if attempt is None:
        return
    org = await session.get(Organization, attempt.organization_id)
    candidate = await session.get(Candidate, attempt.candidate_id)
    if org is None or candidate is None or not candidate.email or not wanted(org, kind):
        return
    payload: dict[str, Any] = {"kind": kind, "attempt_id": attempt_id, "to": candidate.email}
    if certificate_id is not None:
        payload["certificate_id"] = certificate_id
    await enqueue(session, TOPIC, payload, key=f"{kind}:{attempt_id}", organization_id=org.id)


@subscriber("attempt.finished")
async def email_after_attempt(session: AsyncSession, event: Event) -> None:
    """PT result, or CT fail; a CT pass waits for its certificate."""
    if event.payload["kind"] == Kind.PT:
        await _enqueue_email(session, "pt_result", event.payload["attempt_id"])
    elif not event.payload["outcome"].get("passed"):
        await _enqueue_email(session, "ct_fail", event.payload["attempt_id"])


@subscriber("certificate.issued")
async def email_certificate(session: AsyncSession, event: Event) -> None:
    await _enqueue_email(
        session,
        "ct_pass",
        event.payload["attempt_id"],
        certificate_id=event.payload["certificate_id"],
    )


async def _content(
    session: AsyncSession, settings: Settings, payload: dict[str, Any]
) -> tuple[EmailContent, CertificateView | None, Logo]:
    """The email without its certificate PDF, what that PDF prints (ct_pass), and the
    organization's logo."""
    kind = payload["kind"]
    attempt = await session.get(Attempt, uuid.UUID(payload["attempt_id"]))
    if attempt is None or attempt.outcome is None or attempt.finished_at is None:
        raise JobCancelled("the attempt is gone or unfinished")
    org = await session.get(Organization, attempt.organization_id)
    candidate = await session.get(Candidate, attempt.candidate_id)
    assert org is not None and candidate is not None
    if not wanted(org, kind):
        raise JobCancelled(f"{kind} emails are switched off for organization {org.uic}")
    extra: dict[str, Any] = {}
    view = None
    if kind == "ct_pass":
        certificate = await session.get(Certificate, uuid.UUID(payload["certificate_id"]))
        if certificate is None or certificate.revoked_at is not None:
            raise JobCancelled("the certificate is gone or revoked")
        extra = {
            "certificate_code": certificate.code,
            "verify_url": verify_url(settings, certificate.code),
        }
        view = await certificate_view(session, settings, certificate.id)
    token = await session.get(TestToken, attempt.token_id)
    # the language chain (kit.language): the attempt's own first, the language it was taken in
    language = language_of(
        chain.choose(
            attempt.language,
            token.language if token else None,
            candidate.language,
            chain.organization_language(org.settings),
        )
    )
    if view is not None:  # the attached certificate in the email's language
        view = replace(view, language=language)
    outcome = load(attempt.outcome)
    level = outcome.level if isinstance(outcome, PtOutcome) else attempt.level
    return (
        EmailContent(
            kind=kind,
            to=payload["to"],
            first_name=candidate.first_name,
            last_name=candidate.last_name,
            organization=org.name,
            language=language,
            timezone=org.timezone,
            finished_at=attempt.finished_at,
            level=str(level or ""),
            outcome=outcome,
            accent=brand.accent(org),
            **extra,
        ),
        view,
        brand.logo(settings, org),
    )


def _invite_purpose(token_id: uuid.UUID | str) -> str:
    return f"token-invite:{token_id}"


async def enqueue_invite(
    session: AsyncSession, settings: Settings, token: TestToken, candidate: Candidate, link: str
) -> uuid.UUID:
    """An ``email.send`` job inviting ``candidate`` to take the test of ``token`` (just issued
    or reset, in the caller's transaction); ``link`` (the take link with the code) is kept
    sealed. Idempotent per token."""
    payload = {
        "kind": INVITE,
        "token_id": str(token.id),
        "to": candidate.email,
        "link": seal(settings.pepper(), _invite_purpose(token.id), link),
    }
    return await enqueue(
        session,
        TOPIC,
        payload,
        key=f"{INVITE}:{token.id}",
        organization_id=candidate.organization_id,
    )


async def _invite(
    session: AsyncSession, settings: Settings, payload: dict[str, Any]
) -> tuple[InviteContent, Logo]:
    token = await session.get(TestToken, uuid.UUID(payload["token_id"]))
    if token is None:
        raise JobCancelled("the token is gone")
    if effective_status(token) not in LIVE_STATUSES:
        raise JobCancelled(f"the token is {effective_status(token)}: its link no longer opens")
    link = unseal(settings.pepper(), _invite_purpose(token.id), payload["link"])
    if link is None:
        raise JobCancelled("the sealed link cannot be opened (the server's secret key changed)")
    candidate = await session.get(Candidate, token.candidate_id)
    assert candidate is not None
    org = await session.get(Organization, candidate.organization_id)
    assert org is not None
    content = InviteContent(
        to=payload["to"],
        first_name=candidate.first_name,
        last_name=candidate.last_name,
        organization=org.name,
        language=language_of(
            chain.choose(
                token.language, candidate.language, chain.organization_language(org.settings)
            )
        ),
        timezone=org.timezone,
        type=token.type,
        level=token.level,
        link=link,
        expires_at=token.expires_at,
        accent=brand.accent(org),
    )
    return content, brand.logo(settings, org)


@job(TOPIC)
async def send_email(ctx: JobContext, job: Job) -> dict[str, Any]:
    """Render and send one email; the Message-ID is the job's, so a repeated delivery is
    recognisably the same message."""
    if job.payload["kind"] == INVITE:
        async with ctx.transaction() as session:
            invite, logo = await _invite(session, ctx.settings, job.payload)
        return await ctx.mailer.send(
            render_invite(
                invite,
                sender=ctx.settings.email_from,
                msg_id=message_id(job.id, ctx.settings.email_from),
                logo=logo,
                now=ctx.clock(),
            )
        )
    async with ctx.transaction() as session:
        content, view, logo = await _content(session, ctx.settings, job.payload)
    if view is not None:  # drawn after the transaction: no lock is held meanwhile
        render_pdf = ctx.render_pdf or render_off_loop
        content = replace(content, certificate_pdf=await render_pdf(view))
    message = render(
        content,
        sender=ctx.settings.email_from,
        msg_id=message_id(job.id, ctx.settings.email_from),
        logo=logo,
        now=ctx.clock(),
    )
    return await ctx.mailer.send(message)

"""Outbox wiring of certificates: a passed CT's ``attempt.finished`` event enqueues the job
``certificate.issue``, whose handler issues the certificate and writes ``certificate.issued``
(see :func:`etest.certificate.service.issue`).

Issuing is a job rather than work inside the subscriber because it needs the settings (base URL
for the verification link, the signing key's folder) that only a :class:`JobContext` carries;
it does no network I/O. Both steps are idempotent (stable job key, unique ``attempt_id``)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from etest.attempt.outcome import Kind
from etest.certificate import service
from etest.outbox.jobs import Event, Job, JobCancelled, JobContext, enqueue, job, subscriber

ISSUE = "certificate.issue"


@subscriber("attempt.finished")
async def certificate_after_attempt(session: AsyncSession, event: Event) -> None:
    payload = event.payload
    # the event's outcome as it was stored (etest.attempt.outcome.CtOutcome.passed)
    if payload.get("kind") == Kind.CT and (payload.get("outcome") or {}).get("passed") is True:
        await enqueue(
            session,
            ISSUE,
            {"attempt_id": payload["attempt_id"]},
            key=payload["attempt_id"],
            organization_id=event.organization_id,
        )


@job(ISSUE)
async def issue_certificate(ctx: JobContext, job: Job) -> dict[str, Any]:
    async with ctx.transaction() as session:
        certificate = await service.issue(
            session, ctx.settings, uuid.UUID(job.payload["attempt_id"])
        )
        if certificate is None:
            raise JobCancelled("the attempt is gone or did not pass")
        return {"certificate_id": str(certificate.id)}

"""A passed CT gets exactly one certificate and one ``certificate.issued`` event, however often
the outbox runs; a failed CT gets none."""

from __future__ import annotations

import asyncio
import uuid

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from etest.certificate import service
from etest.certificate.tasks import ISSUE, certificate_after_attempt, issue_certificate
from etest.db import transaction
from etest.models import OutboxEvent
from etest.outbox.jobs import Event, Job, outbox_id
from etest.tasks import job_context
from tests.certificate.conftest import certificates_of, drain_outbox, sit_ct
from tests.conftest import Headers


async def _rows(app: FastAPI, topic: str, key: str) -> list[OutboxEvent]:
    async with transaction(app.state.sessionmaker) as session:
        return list(
            (
                await session.scalars(
                    select(OutboxEvent).where(OutboxEvent.id == outbox_id(topic, key))
                )
            ).all()
        )


async def test_a_passed_ct_issues_one_certificate_and_one_event_even_when_run_twice(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    sitting = await sit_ct(app, client, su, first_name="Émilie", last_name="Dubois")
    assert await certificates_of(app, sitting.attempt_id) == []  # nothing before the outbox

    await drain_outbox(app)
    [certificate] = await certificates_of(app, sitting.attempt_id)
    assert certificate.holder_name == "Émilie Dubois"
    assert certificate.level == "A1" and certificate.plan_code == sitting.course.plan
    assert certificate.score == sitting.state["outcome"]["score"] == 100.0
    assert certificate.issued_at.isoformat() == sitting.state["finished_at"].replace("Z", "+00:00")
    assert len(certificate.code) == 20 and certificate.code.isalnum()
    assert certificate.credential_jwt and certificate.credential_jwt.count(".") == 2

    [issued] = await _rows(app, "certificate.issued", str(certificate.id))
    assert issued.organization_id == certificate.organization_id
    assert issued.payload == {
        "event_id": str(issued.id),
        "certificate_id": str(certificate.id),
        "code": certificate.code,
        "attempt_id": str(sitting.attempt_id),
        "candidate_id": sitting.candidate["id"],
        "uic": sitting.course.uic,
        "level": "A1",
        "plan": sitting.course.plan,
        "issued_at": certificate.issued_at.isoformat(),
        "verify_url": f"http://testserver/verify/{certificate.code}",
    }

    # the subscriber and the job again (a crash before their commit repeats them)
    event = Event(
        id=outbox_id("attempt.finished", str(sitting.attempt_id)),
        topic="attempt.finished",
        organization_id=certificate.organization_id,
        payload={"kind": "CT", "attempt_id": str(sitting.attempt_id), "outcome": {"passed": True}},
    )
    async with transaction(app.state.sessionmaker) as session:
        await certificate_after_attempt(session, event)
    ctx = job_context(app.state.settings, app.state.sessionmaker)
    for number in (1, 2):
        detail = await issue_certificate(
            ctx,
            Job(
                id=uuid.uuid4(),
                topic=ISSUE,
                try_number=number,
                payload={"attempt_id": str(sitting.attempt_id)},
            ),
        )
        assert detail == {"certificate_id": str(certificate.id)}
    await drain_outbox(app)
    [again] = await certificates_of(app, sitting.attempt_id)
    assert (again.id, again.code, again.credential_jwt) == (
        certificate.id,
        certificate.code,
        certificate.credential_jwt,
    )
    assert len(await _rows(app, "certificate.issued", str(certificate.id))) == 1
    assert len(await _rows(app, ISSUE, str(sitting.attempt_id))) == 1


async def test_a_failed_ct_gets_no_certificate(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    sitting = await sit_ct(app, client, su, passing=False)
    await drain_outbox(app)
    assert await certificates_of(app, sitting.attempt_id) == []
    assert await _rows(app, ISSUE, str(sitting.attempt_id)) == []
    async with transaction(app.state.sessionmaker) as session:
        assert await service.issue(session, app.state.settings, sitting.attempt_id) is None


async def test_the_holder_name_falls_back_to_the_email_local_part(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    email = f"learner.{uuid.uuid4().hex[:8]}@example.org"
    sitting = await sit_ct(app, client, su, email=email)
    await drain_outbox(app)
    [certificate] = await certificates_of(app, sitting.attempt_id)
    assert certificate.holder_name == email.partition("@")[0]


async def test_two_issuers_at_once_make_one_certificate(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    """The worker and a candidate's download racing: one row, both see it."""
    sitting = await sit_ct(app, client, su)

    async def issue_once() -> uuid.UUID:
        async with transaction(app.state.sessionmaker) as session:
            certificate = await service.issue(session, app.state.settings, sitting.attempt_id)
            assert certificate is not None
            return certificate.id

    first, second = await asyncio.gather(issue_once(), issue_once())
    assert first == second
    [certificate] = await certificates_of(app, sitting.attempt_id)
    assert certificate.id == first
    assert len(await _rows(app, "certificate.issued", str(first))) == 1

"""A candidate who passes (or fails) a real CT through the candidate API, and the outbox
drained by the real worker, so certificates come from the real ``attempt.finished`` event."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from etest.certificate import service
from etest.db import transaction
from etest.models import Certificate
from etest.outbox.worker import drain
from etest.tasks import job_context
from tests.attempt.conftest import Course, Taker, make_course, right, wrong
from tests.conftest import Headers, create_candidate, create_key, create_org


@dataclass
class Sitting:
    course: Course
    candidate: dict[str, Any]
    taker: Taker
    state: dict[str, Any]

    @property
    def attempt_id(self) -> uuid.UUID:
        return uuid.UUID(self.taker.attempt_id)


async def sit_ct(
    app: FastAPI,
    client: httpx.AsyncClient,
    su: Headers,
    *,
    passing: bool = True,
    allow_download: bool = True,
    course: Course | None = None,
    **names: str,
) -> Sitting:
    """A new candidate (``first_name``/``last_name``/``email`` as given) takes the A1 CT and
    answers every item right (pass) or wrong (fail)."""
    course = course or await make_course(
        app, client, su, settings={"allow_candidate_certificate_download": allow_download}
    )
    candidate = await create_candidate(client, course.admin, uic=course.uic, **names)
    taker = Taker(app, client, await course.token(client, "CT", "A1", candidate=candidate))
    resp = await taker.start()
    assert resp.status_code == 201, resp.text
    policy = right if passing else wrong
    state = await taker.run(lambda n, item_type, key: policy(item_type, key))
    assert state["outcome"]["passed"] is passing, state["outcome"]
    return Sitting(course, candidate, taker, state)


async def drain_outbox(app: FastAPI) -> int:
    return await drain(job_context(app.state.settings, app.state.sessionmaker))


async def certificates_of(app: FastAPI, attempt_id: uuid.UUID) -> list[Certificate]:
    async with transaction(app.state.sessionmaker) as session:
        return list(
            (
                await session.scalars(
                    select(Certificate).where(Certificate.attempt_id == attempt_id)
                )
            ).all()
        )


async def certificate_under(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, parent_uic: str
) -> str:
    """The id of a real certificate in a new organization below ``parent_uic`` (for the
    tenancy tests, which need one tenant-owned row of every kind)."""
    base = await make_course(app, client, su)
    org = await create_org(client, su, parent=parent_uic, plan_code=base.plan)
    course = Course(
        base.tag, base.plan, org["uic"], await create_key(app, "admin", org["uic"]), base.candidate
    )
    sitting = await sit_ct(app, client, su, course=course)
    async with transaction(app.state.sessionmaker) as session:
        certificate = await service.issue(session, app.state.settings, sitting.attempt_id)
        assert certificate is not None
        return str(certificate.id)

"""Callback fixtures: an app whose operator allow-lists loopback (the test receiver lives
there), a worker context built like ``etest worker`` builds it (short timeout, no back-off so a
retry is due at once), a real HTTP receiver on loopback, and helpers that finish real attempts."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from etest.app import create_app
from etest.config import Settings
from etest.db import transaction
from etest.models import OutboxEvent
from etest.outbox.jobs import JobContext, outbox_id
from etest.tasks import job_context
from tests.attempt.conftest import Course, Taker, make_course, right, wrong
from tests.conftest import Headers
from tests.webhook.receiver import Receiver

#: What an operator sets to let callbacks reach loopback (here: the test receiver).
ALLOW = ["127.0.0.1/32", "::1/128"]
#: Courses whose organization sends no email: these tests look at callbacks only.
QUIET = {"notify_after_pt": False, "notify_after_ct": False, "send_certificate_email": False}


@pytest.fixture(scope="session")
def hook_settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "callback_allow_networks": ALLOW,
            "callback_timeout": 1.0,
            "outbox_backoff_base": 0.0,
        }
    )


@pytest.fixture(scope="session")
async def hook_app(hook_settings: Settings, app: FastAPI) -> AsyncIterator[FastAPI]:
    # ``app`` first: it loads the reference data into the shared test database.
    application = create_app(hook_settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture(scope="session")
async def hook_client(hook_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=hook_app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@pytest.fixture
def ctx(hook_app: FastAPI, hook_settings: Settings) -> JobContext:
    return job_context(hook_settings, hook_app.state.sessionmaker)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
async def course(hook_app: FastAPI, hook_client: httpx.AsyncClient, su: Headers) -> Course:
    return await make_course(hook_app, hook_client, su, settings=QUIET)


async def configure(
    client: httpx.AsyncClient, course: Course, url: str, secret: str | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"callback_url": url}
    if secret is not None:
        body["callback_secret"] = secret
    resp = await client.patch(
        f"/api/v1/organizations/{course.uic}", headers=course.admin, json=body
    )
    assert resp.status_code == 200, resp.text
    org: dict[str, Any] = resp.json()
    return org


async def finish_ct(
    app: FastAPI, client: httpx.AsyncClient, course: Course, *, passed: bool = False
) -> str:
    """Run a CT A1 through the API to its end; returns the attempt id."""
    taker = Taker(app, client, await course.token(client, "CT", "A1"))
    assert (await taker.start()).status_code == 201
    state = await taker.run(lambda _, t, k: right(t, k) if passed else wrong(t, k))
    assert state["outcome"]["passed"] is passed
    return taker.attempt_id


def finished_event_id(attempt_id: str) -> uuid.UUID:
    """The id of the attempt's ``attempt.finished`` event (etest.attempt.service.finish)."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"etest:attempt.finished:{attempt_id}")


def delivery_id(event_type: str, event_id: uuid.UUID) -> uuid.UUID:
    return outbox_id("webhook.deliver", f"{event_type}:{event_id}")


async def deliveries_of(app: FastAPI, organization_id: str) -> list[OutboxEvent]:
    async with transaction(app.state.sessionmaker) as session:
        return list(
            (
                await session.scalars(
                    select(OutboxEvent).where(
                        OutboxEvent.topic == "webhook.deliver",
                        OutboxEvent.organization_id == uuid.UUID(organization_id),
                    )
                )
            ).all()
        )

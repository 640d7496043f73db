"""A job that cannot run because a setting is missing (emails without ``ETEST_SMTP_URL``) waits:
no try is used up, the row never goes dead, the worker says what is missing once per process, and
the mail goes out once a worker has the setting. And a row enqueued by a request runs under that
request's id (its log lines carry it). Read from the log lines of real ``etest worker``
processes."""

from __future__ import annotations

import asyncio
import json
import signal
import uuid
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
from asgi_correlation_id import correlation_id
from fastapi import FastAPI
from sqlalchemy import update

from etest.config import Settings
from etest.db import transaction
from etest.models import OutboxEvent
from etest.models.base import utcnow
from etest.notification.mailer import NOT_CONFIGURED
from etest.outbox.jobs import Job, JobContext, enqueue, job
from etest.outbox.worker import NOT_CONFIGURED_RECHECK, drain
from tests.attempt.conftest import make_course
from tests.conftest import Headers, unique
from tests.notification.conftest import (
    SmtpServer,
    context,
    email_job_id,
    email_row,
    smtp,  # noqa: F401  (the fixture)
)
from tests.notification.test_email import take
from tests.outbox.conftest import row, tries
from tests.outbox.test_processes import start_worker
from tests.support.worker import WorkerProcess

MAIL_TOPIC = "test.mail"
ECHO_TOPIC = "test.echo"
#: What ``test.echo`` saw, per row id: its payload and the request id it ran under.
ECHOED: dict[uuid.UUID, tuple[dict[str, Any], str | None]] = {}


@job(MAIL_TOPIC)
async def mail_something(ctx: JobContext, work: Job) -> dict[str, Any]:
    """A job that sends mail and registers no requirement (like ``staff.email``): the mailer
    itself says that SMTP is missing."""
    message = EmailMessage()
    message["To"], message["Subject"] = "someone@example.org", "hello"
    return await ctx.mailer.send(message)


@job(ECHO_TOPIC)
async def echo(ctx: JobContext, work: Job) -> None:
    ECHOED[work.id] = (dict(work.payload), correlation_id.get())


def lines(path: Path) -> list[dict[str, Any]]:
    """The JSON log lines of a process (every line must be one)."""
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def stop(worker: WorkerProcess) -> None:
    worker.proc.send_signal(signal.SIGTERM)
    await asyncio.to_thread(worker.proc.wait, 30)


async def wait_for(check: Any, within: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "not within the time allowed"
        await asyncio.sleep(0.1)


async def test_emails_wait_and_say_so_once(
    app: FastAPI, settings: Settings, tmp_path: Path
) -> None:
    """Three email rows: a worker without SMTP looks at them three times (made due again by
    hand, as time would), logs one sentence, no retry line, and uses up no try."""
    ctx: JobContext = context(app, settings, smtp_url=None)
    async with transaction(ctx.sessionmaker) as session:
        ids = [
            await enqueue(
                session,
                "email.send",
                {"kind": "pt_result", "attempt_id": str(uuid.uuid4()), "to": "x@example.org"},
                key=unique(),
            )
            for _ in range(3)
        ]
    worker = start_worker(settings, tmp_path)
    try:
        for _ in range(3):
            started = utcnow()

            async def waiting(since: Any = started) -> bool:
                rows = [await row(ctx, i) for i in ids]
                return all(r.status == "pending" and r.available_at > since for r in rows)

            await wait_for(waiting)
            async with transaction(ctx.sessionmaker) as session:
                await session.execute(
                    update(OutboxEvent).where(OutboxEvent.id.in_(ids)).values(available_at=utcnow())
                )
        await wait_for(waiting)
    finally:
        await stop(worker)

    logged = lines(worker.log_path)
    said = [line for line in logged if line["event"] == "outbox_not_configured"]
    assert [line["reason"] for line in said] == [NOT_CONFIGURED], said
    assert said[0]["level"] == "warning"
    assert "ETEST_SMTP_URL is not set" in NOT_CONFIGURED
    mine = {str(i) for i in ids}
    assert not [line for line in logged if line.get("id") in mine and line["level"] != "debug"]
    for row_id in ids:
        found = await row(ctx, row_id)
        assert found.status == "pending" and found.tries == 0, found
        assert found.last_error == NOT_CONFIGURED
        assert await tries(ctx, row_id) == []


async def test_a_job_that_finds_out_when_it_sends(app: FastAPI, settings: Settings) -> None:
    """No requirement registered: the unconfigured mailer's ``NotConfigured`` makes the row
    wait all the same (``staff.email`` is such a job)."""
    ctx: JobContext = context(app, settings, smtp_url=None)
    async with transaction(ctx.sessionmaker) as session:
        row_id = await enqueue(session, MAIL_TOPIC, {}, key=unique())
    await drain(ctx)
    found = await row(ctx, row_id)
    assert found.status == "pending" and found.tries == 0
    assert found.last_error == NOT_CONFIGURED
    assert await tries(ctx, row_id) == []


async def test_waiting_mail_goes_out_once_configured(
    app: FastAPI,
    client: httpx.AsyncClient,
    su: Headers,
    settings: Settings,
    smtp: SmtpServer,  # noqa: F811  (the fixture imported above)
) -> None:
    course = await make_course(app, client, su)
    state = await take(app, client, course)
    before = utcnow()
    await drain(context(app, settings, smtp_url=None))
    waiting, attempts = await email_row(app, "pt_result", state["attempt_id"])
    assert waiting is not None and waiting.status == "pending" and waiting.tries == 0
    assert attempts == []
    assert waiting.available_at >= before + timedelta(seconds=NOT_CONFIGURED_RECHECK - 5)

    await drain(context(app, settings, smtp_url=smtp.url))  # not due yet: not sent
    assert smtp.inbox.to(course.candidate["email"]) == []
    async with transaction(app.state.sessionmaker) as session:
        await session.execute(
            update(OutboxEvent)
            .where(OutboxEvent.id == email_job_id("pt_result", state["attempt_id"]))
            .values(available_at=utcnow())
        )
    await drain(context(app, settings, smtp_url=smtp.url))
    assert len(smtp.inbox.to(course.candidate["email"])) == 1
    sent, attempts = await email_row(app, "pt_result", state["attempt_id"])
    assert sent is not None and sent.status == "done"
    assert [(t.number, t.ok) for t in attempts] == [(1, True)]


async def _enqueue_in_request(
    ctx: JobContext, request_id: str, topic: str, payload: dict[str, Any]
) -> uuid.UUID:
    """Enqueue as a request with ``request_id`` would (the middleware sets the variable)."""
    token = correlation_id.set(request_id)
    try:
        async with transaction(ctx.sessionmaker) as session:
            return await enqueue(session, topic, payload, key=unique())
    finally:
        correlation_id.reset(token)


async def test_a_job_runs_under_the_id_of_its_request(app: FastAPI, settings: Settings) -> None:
    """The handler runs under the id of the request that enqueued its row, and does not find
    the id in its payload."""
    ctx: JobContext = context(app, settings)
    request_id = uuid.uuid4().hex
    row_id = await _enqueue_in_request(ctx, request_id, ECHO_TOPIC, {"n": 1})
    outside = correlation_id.get()
    await drain(ctx)
    assert ECHOED[row_id] == ({"n": 1}, request_id)
    assert correlation_id.get() == outside  # and only while it runs


async def test_a_worker_logs_a_job_under_the_id_of_its_request(
    app: FastAPI, settings: Settings, tmp_path: Path
) -> None:
    """A real ``etest worker``: its lines about a row carrying a request id carry that id, its
    other lines none."""
    ctx: JobContext = context(app, settings)
    request_id = uuid.uuid4().hex
    row_id = await _enqueue_in_request(ctx, request_id, "test.count", {})
    worker = start_worker(settings, tmp_path)
    try:

        async def done() -> bool:
            return (await row(ctx, row_id)).status == "done"

        await wait_for(done)
    finally:
        await stop(worker)
    about = [line for line in lines(worker.log_path) if line.get("id") == str(row_id)]
    assert about, worker.log_tail()
    assert all(line.get("request_id") == request_id for line in about), about
    others = [line for line in lines(worker.log_path) if line["event"] == "worker_started"]
    assert others and "request_id" not in others[0]

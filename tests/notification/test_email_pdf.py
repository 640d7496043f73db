"""The ct_pass email's certificate PDF is drawn through the job context's PDF port, after the
job's transaction has ended (on SQLite an open one would hold the write lock for the whole
drawing, and every candidate's answer would wait behind it)."""

from __future__ import annotations

import dataclasses

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from etest.certificate.pdf import CertificateView, render_off_loop
from etest.config import Settings
from etest.db import transaction
from etest.outbox.worker import drain
from tests.attempt.conftest import make_course
from tests.conftest import Headers
from tests.notification.conftest import SmtpServer, context
from tests.notification.test_email import all_right, attachments, take
from tests.support.free import database_is_free


async def test_the_probe_sees_an_open_transaction(app: FastAPI) -> None:
    assert await database_is_free(app)
    async with transaction(app.state.sessionmaker) as session:
        await session.execute(select(1))
        assert not await database_is_free(app)
    assert await database_is_free(app)


async def test_the_email_job_draws_the_pdf_outside_its_transaction(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, settings: Settings, smtp: SmtpServer
) -> None:
    course = await make_course(app, client, su)
    state = await take(app, client, course, "CT", all_right)
    free_while_drawing: dict[str, bool] = {}

    async def renderer(view: CertificateView) -> bytes:
        free_while_drawing[view.code] = await database_is_free(app)
        return await render_off_loop(view)

    ctx = dataclasses.replace(context(app, settings, smtp_url=smtp.url), render_pdf=renderer)
    await drain(ctx)

    [message] = smtp.inbox.to(course.candidate["email"])
    [pdf] = attachments(message)
    code = pdf.get_filename().removeprefix("certificate-").removesuffix(".pdf")
    assert free_while_drawing[code] is True
    assert all(free_while_drawing.values()), free_while_drawing
    assert state["outcome"]["passed"] is True

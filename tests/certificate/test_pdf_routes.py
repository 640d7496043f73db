"""The PDF routes draw the certificate through the app's PDF port (``create_app(render_pdf=)``)
after the request's transaction has ended: on SQLite an open one would hold the write lock for
the whole drawing (the candidate's own download may issue the certificate first)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from etest.app import create_app
from etest.certificate.pdf import CertificateView, render_off_loop
from etest.config import Settings
from etest.web import cookie
from tests.certificate.conftest import certificates_of, sit_ct
from tests.conftest import Headers
from tests.support.free import database_is_free

Drawn = list[tuple[str, bool]]


@pytest.fixture
async def drawing_app(settings: Settings) -> AsyncIterator[tuple[FastAPI, Drawn]]:
    """A second app on the same database whose PDF port records whether the database was free
    while it drew."""
    drawn: Drawn = []

    async def renderer(view: CertificateView) -> bytes:
        drawn.append((view.code, await database_is_free(application)))
        return await render_off_loop(view)

    application = create_app(settings, render_pdf=renderer)
    async with application.router.lifespan_context(application):
        yield application, drawn


async def test_every_pdf_route_draws_outside_the_transaction(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, drawing_app: tuple[FastAPI, Drawn]
) -> None:
    sitting = await sit_ct(app, client, su)
    other, drawn = drawing_app
    transport = httpx.ASGITransport(app=other, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        # the candidate's download issues the certificate (a write) before drawing it
        own = await c.get(
            f"/api/v1/attempts/{sitting.attempt_id}/certificate.pdf", headers=sitting.taker.headers
        )
        assert own.status_code == 200 and own.content.startswith(b"%PDF"), own.text
        [certificate] = await certificates_of(app, sitting.attempt_id)
        admin = await c.get(f"/api/v1/certificates/{certificate.id}.pdf", headers=su)
        secret = sitting.taker.headers["Authorization"].removeprefix("Bearer ")
        page = await c.get(
            f"/take/{sitting.attempt_id}/certificate.pdf",
            headers={"Cookie": f"{cookie.COOKIE}={sitting.attempt_id}:{secret}"},
        )
    assert admin.status_code == 200 and page.status_code == 200
    assert admin.content == own.content == page.content
    assert drawn == [(certificate.code, True)] * 3

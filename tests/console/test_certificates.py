"""The console's certificates: the list and its filters, a certificate's page, its PDF opened
in the browser, revocation with a reason; roles, tenancy and CSRF; and the same in Chromium."""

from __future__ import annotations

import io
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from playwright.async_api import expect
from pypdf import PdfReader

from etest.certificate import service
from etest.db import transaction
from tests.certificate.conftest import Sitting, sit_ct
from tests.conftest import Headers, create_org
from tests.console.conftest import ConsoleClient, make_staff

pytestmark = pytest.mark.asyncio


async def _certified(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, **names: str
) -> tuple[Sitting, str]:
    """A candidate who passed the A1 CT, and the id of the certificate issued for it."""
    sitting = await sit_ct(app, client, su, **names)
    async with transaction(app.state.sessionmaker) as session:
        certificate = await service.issue(session, app.state.settings, sitting.attempt_id)
        assert certificate is not None
        return sitting, str(certificate.id)


async def test_list_page_pdf_and_revoke(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, console: ConsoleClient
) -> None:
    sitting, cert_id = await _certified(app, client, su, first_name="Zoë", last_name="Certa")
    uic = sitting.course.uic
    await console.sign_in(await make_staff(app, "admin", uic))
    listing = await console.get("/console/certificates", params={"uic": uic})
    assert listing.status_code == 200
    assert "1 certificates" in listing.text and "Zoë Certa" in listing.text
    assert f"/console/certificates/{cert_id}" in listing.text
    for params, count in (
        ({"q": "zoë"}, 1),
        ({"q": "nobody-like-this"}, 0),
        ({"level": "A1", "uic": uic}, 1),
        ({"level": "B2", "uic": uic}, 0),
        ({"status": "revoked", "uic": uic}, 0),
        ({"issued_from": "2000-01-01", "issued_to": "2000-01-02", "uic": uic}, 0),
        ({"candidate": sitting.candidate["id"]}, 1),
    ):
        page = await console.get("/console/certificates", params=params)
        assert f"{count} certificates" in page.text, params
    bad_date = await console.get("/console/certificates", params={"issued_from": "31/01/2026"})
    assert bad_date.status_code == 422 and "Give a date like 2026-01-31." in bad_date.text
    typo = await console.get("/console/certificates", params={"uic": "NO-SUCH-UIC"})
    assert typo.status_code == 422 and "None of your organizations has this UIC." in typo.text

    page = await console.get(f"/console/certificates/{cert_id}")
    assert page.status_code == 200
    assert "<h1>Certificate of Zoë Certa</h1>" in page.text
    code = await _code(app, cert_id)
    assert f"http://testserver/verify/{code}" in page.text
    pdf = await console.get(f"/console/certificates/{cert_id}/pdf")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"].startswith("inline;")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "Zoë Certa" in text and code in text

    empty = await console.post(f"/console/certificates/{cert_id}/revoke", {"reason": ""})
    assert empty.status_code == 422 and "Say why the certificate is revoked" in empty.text
    done = await console.post(
        f"/console/certificates/{cert_id}/revoke", {"reason": "issued by mistake"}
    )
    assert done.status_code == 200
    assert "The certificate was revoked" in done.text and "issued by mistake" in done.text
    assert "Revoke the certificate" not in done.text
    verified = await client.get(f"/api/v1/verify/{code}")
    assert verified.json()["status"] == "revoked"
    revoked = await console.get("/console/certificates", params={"status": "revoked", "uic": uic})
    assert "1 certificates" in revoked.text


async def _code(app: FastAPI, cert_id: str) -> str:
    from etest.models import Certificate

    async with transaction(app.state.sessionmaker) as session:
        certificate = await session.get(Certificate, uuid.UUID(cert_id))
        assert certificate is not None
        return certificate.code


async def test_roles_tenancy_and_csrf(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, console: ConsoleClient
) -> None:
    sitting, cert_id = await _certified(app, client, su)
    other = await create_org(client, su)
    await console.sign_in(await make_staff(app, "admin", other["uic"]))
    missing = await console.get(f"/console/certificates/{uuid.uuid4()}")
    foreign = await console.get(f"/console/certificates/{cert_id}")
    assert missing.status_code == foreign.status_code == 404
    assert missing.text == foreign.text
    assert (await console.get(f"/console/certificates/{cert_id}/pdf")).status_code == 404
    post = await console.post(f"/console/certificates/{cert_id}/revoke", {"reason": "x"})
    assert post.status_code == 404
    assert "0 certificates" in (await console.get("/console/certificates")).text
    await console.post("/console/sign-out")

    for role in ("viewer", "support"):
        reader = ConsoleClient(console.http)
        await reader.sign_in(await make_staff(app, role, sitting.course.uic))
        page = await reader.get(f"/console/certificates/{cert_id}")
        assert page.status_code == 200 and "Open the PDF" in page.text
        assert "Revoke the certificate" not in page.text
        refused = await reader.post(f"/console/certificates/{cert_id}/revoke", {"reason": "x"})
        assert refused.status_code == 403
        await reader.post("/console/sign-out")

    admin = ConsoleClient(console.http)
    await admin.sign_in(await make_staff(app, "admin", sitting.course.uic))
    forged = await admin.http.post(
        f"/console/certificates/{cert_id}/revoke", data={"reason": "forged"}
    )
    assert forged.status_code == 403
    assert "Revoke the certificate" in (await admin.get(f"/console/certificates/{cert_id}")).text


async def test_certificates_in_the_browser(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, open_tab: Any
) -> None:
    sitting, cert_id = await _certified(app, client, su, first_name="Ada", last_name="Browser")
    admin = await make_staff(app, "admin", sitting.course.uic, name="Cert Admin")
    tab = await open_tab("certificates-")
    await tab.sign_in(admin)
    await tab.goto("/console/certificates")
    await expect(tab.page.get_by_role("heading", level=1)).to_have_text("Certificates")
    await tab.check("list")
    await tab.page.get_by_role("link", name="Ada Browser").click()
    await expect(tab.page.get_by_role("heading", level=1)).to_have_text(
        "Certificate of Ada Browser"
    )
    await tab.check("page")
    # the PDF opens in the browser: same cookies, inline
    href = await tab.page.get_by_role("link", name="Open the PDF").get_attribute("href")
    assert href is not None
    pdf = await tab.page.context.request.get(tab.base + href)
    assert pdf.status == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"].startswith("inline;")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(await pdf.body())).pages)
    assert "Ada Browser" in text
    # revoke with a reason, by keyboard
    await tab.page.get_by_label("Reason").fill("Identity could not be confirmed")
    await tab.submit("Revoke the certificate")
    await expect(tab.page.get_by_role("status")).to_contain_text("The certificate was revoked")
    await expect(tab.page.get_by_text("Identity could not be confirmed")).to_be_visible()
    await tab.check("revoked")
    # the same pages fit a phone
    phone = await open_tab("certificates-phone-", phone=True)
    await phone.sign_in(admin)
    await phone.goto(f"/console/certificates/{cert_id}")
    await phone.check("page")
    tab.assert_clean()
    phone.assert_clean()

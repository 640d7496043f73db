"""Certificate API: public verification (API and page), revocation, the candidate's own
download by organization setting, subtree scoping, list filters."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta

import httpx
from fastapi import FastAPI
from pypdf import PdfReader

from etest.web import cookie
from tests.certificate.conftest import certificates_of, drain_outbox, sit_ct
from tests.conftest import Headers, create_key, create_org


async def test_verification_says_valid_then_revoked_and_unknown_for_a_wrong_code(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    sitting = await sit_ct(app, client, su, first_name="Ann", last_name="Lee")
    await drain_outbox(app)
    [certificate] = await certificates_of(app, sitting.attempt_id)

    resp = await client.get(f"/api/v1/verify/{certificate.code}")  # public: no credential
    assert resp.status_code == 200
    assert resp.json() == {
        "status": "valid",
        "code": certificate.code,
        "holder_name": "Ann Lee",
        "level": "A1",
        "plan": "Test plan",
        "issued_at": certificate.issued_at.isoformat().replace("+00:00", "Z"),
        "issued_on": certificate.issued_at.date().isoformat(),
        "revoked_at": None,
    }
    page = await client.get(f"/verify/{certificate.code}")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "Valid certificate" in page.text and "Ann Lee" in page.text
    assert "English A1" in page.text and certificate.code in page.text
    assert page.headers["x-frame-options"] == "DENY"

    revoke = await client.post(
        f"/api/v1/certificates/{certificate.id}/revoke",
        headers=sitting.course.admin,
        json={"reason": "cheating"},
    )
    assert revoke.status_code == 200, revoke.text
    assert revoke.json()["revocation_reason"] == "cheating"
    assert revoke.json()["revoked_at"] is not None
    resp = await client.get(f"/api/v1/verify/{certificate.code}")
    assert resp.json()["status"] == "revoked" and resp.json()["revoked_at"] is not None
    page = await client.get(f"/verify/{certificate.code}")
    assert "Revoked" in page.text and "no longer valid" in page.text
    # a revoked certificate is no longer the candidate's to download
    own = await client.get(
        f"/api/v1/attempts/{sitting.attempt_id}/certificate.pdf", headers=sitting.taker.headers
    )
    assert own.status_code == 410 and own.json()["type"] == "/errors/certificate-revoked"

    unknown = "A" * 20
    resp = await client.get(f"/api/v1/verify/{unknown}")
    assert resp.status_code == 200
    assert resp.json() == {
        "status": "unknown",
        "code": unknown,
        "holder_name": None,
        "level": None,
        "plan": None,
        "issued_at": None,
        "issued_on": None,
        "revoked_at": None,
    }
    page = await client.get(f"/verify/{unknown}")
    assert page.status_code == 404 and "Unknown code" in page.text
    assert (await client.get("/api/v1/verify/not-a-code!")).status_code == 422


async def test_a_viewer_may_not_revoke(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    sitting = await sit_ct(app, client, su)
    await drain_outbox(app)
    [certificate] = await certificates_of(app, sitting.attempt_id)
    viewer = await create_key(app, "viewer", sitting.course.uic)
    resp = await client.post(
        f"/api/v1/certificates/{certificate.id}/revoke", headers=viewer, json={"reason": "no"}
    )
    assert resp.status_code == 403
    assert (await client.get(f"/api/v1/certificates/{certificate.id}", headers=viewer)).json()[
        "revoked_at"
    ] is None


async def test_the_candidate_downloads_the_certificate_when_the_organization_allows_it(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    sitting = await sit_ct(app, client, su, first_name="Ann", last_name="Lee")
    url = f"/api/v1/attempts/{sitting.attempt_id}/certificate.pdf"
    # before the outbox ran: issued on demand, the outbox later finds it
    resp = await client.get(url, headers=sitting.taker.headers)
    assert resp.status_code == 200, resp.text
    assert resp.content.startswith(b"%PDF")
    await drain_outbox(app)
    [certificate] = await certificates_of(app, sitting.attempt_id)
    assert certificate.code in resp.headers["content-disposition"]
    assert (await client.get(url, headers=sitting.taker.headers)).content == resp.content

    # the browser of the /take pages sends the attempt secret in its cookie instead
    secret = sitting.taker.headers["Authorization"].removeprefix("Bearer ")
    page = await client.get(
        f"/take/{sitting.attempt_id}/certificate.pdf",
        headers={"Cookie": f"{cookie.COOKIE}={sitting.attempt_id}:{secret}"},
    )
    assert page.status_code == 200 and page.content == resp.content
    assert (await client.get(f"/take/{sitting.attempt_id}/certificate.pdf")).status_code == 404

    # without the attempt secret: nothing
    assert (await client.get(url)).status_code == 404
    assert (await client.get(url, headers={"Authorization": "Bearer wrong"})).status_code == 404


async def test_the_candidate_may_not_download_when_the_organization_does_not_allow_it(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    sitting = await sit_ct(app, client, su, allow_download=False)
    resp = await client.get(
        f"/api/v1/attempts/{sitting.attempt_id}/certificate.pdf", headers=sitting.taker.headers
    )
    assert resp.status_code == 403
    assert resp.headers["content-type"] == "application/problem+json"
    assert resp.json()["type"] == "/errors/certificate-download-disabled"
    assert await certificates_of(app, sitting.attempt_id) == []  # refusing issues nothing


async def test_a_failed_candidate_has_no_certificate_to_download(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    sitting = await sit_ct(app, client, su, passing=False)
    resp = await client.get(
        f"/api/v1/attempts/{sitting.attempt_id}/certificate.pdf", headers=sitting.taker.headers
    )
    assert resp.status_code == 404


async def test_certificates_are_scoped_to_the_actor_subtree(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    sitting = await sit_ct(app, client, su)
    await drain_outbox(app)
    [certificate] = await certificates_of(app, sitting.attempt_id)
    other = await create_org(client, su, name="Elsewhere")
    foreign = await create_key(app, "admin", other["uic"])
    for path in (
        f"/api/v1/certificates/{certificate.id}",
        f"/api/v1/certificates/{certificate.id}.pdf",
        f"/api/v1/certificates/{certificate.id}/credential",
    ):
        resp = await client.get(path, headers=foreign)
        assert resp.status_code == 404, path
        assert resp.json()["type"] == "/errors/not-found"
    resp = await client.post(
        f"/api/v1/certificates/{certificate.id}/revoke",
        headers=foreign,
        json={"reason": "not yours"},
    )
    assert resp.status_code == 404
    listed = (await client.get("/api/v1/certificates", headers=foreign)).json()
    assert certificate.id not in {uuid.UUID(c["id"]) for c in listed["items"]}
    assert (
        await client.get(f"/api/v1/certificates?uic={sitting.course.uic}", headers=foreign)
    ).status_code == 404
    assert (
        await client.get(f"/api/v1/certificates/{uuid.uuid4()}", headers=sitting.course.admin)
    ).status_code == 404
    assert (
        await client.get(f"/api/v1/certificates/{certificate.id}", headers=sitting.course.admin)
    ).status_code == 200


async def test_the_list_filters_by_uic_level_and_issue_date(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    first = await sit_ct(app, client, su, first_name="One")
    second = await sit_ct(app, client, su, course=first.course, first_name="Two")
    await drain_outbox(app)
    [one] = await certificates_of(app, first.attempt_id)
    [two] = await certificates_of(app, second.attempt_id)
    admin, uic = first.course.admin, first.course.uic

    page = (await client.get("/api/v1/certificates", headers=admin, params={"per_page": 1})).json()
    assert page["total"] == 2 and page["per_page"] == 1 and len(page["items"]) == 1
    assert page["items"][0]["id"] == str(two.id)  # newest first
    item = page["items"][0]
    assert item["uic"] == uic and item["holder_name"] == "Two" and item["level"] == "A1"
    assert item["verify_url"] == f"http://testserver/verify/{two.code}"

    ids = {
        c["id"]
        for c in (
            await client.get(
                "/api/v1/certificates", headers=admin, params={"uic": uic, "level": "A1"}
            )
        ).json()["items"]
    }
    assert ids == {str(one.id), str(two.id)}
    assert (await client.get("/api/v1/certificates", headers=admin, params={"level": "B2"})).json()[
        "total"
    ] == 0
    after_one = (one.issued_at + timedelta(microseconds=1)).isoformat()
    dated = (
        await client.get("/api/v1/certificates", headers=admin, params={"from": after_one})
    ).json()
    assert [c["id"] for c in dated["items"]] == [str(two.id)]
    dated = (
        await client.get("/api/v1/certificates", headers=admin, params={"to": after_one})
    ).json()
    assert [c["id"] for c in dated["items"]] == [str(one.id)]


async def test_the_date_is_the_organization_s_local_date(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    sitting = await sit_ct(app, client, su)
    resp = await client.patch(
        f"/api/v1/organizations/{sitting.course.uic}",
        headers=su,
        json={"timezone": "Pacific/Kiritimati"},
    )  # UTC+14
    assert resp.status_code == 200, resp.text
    await drain_outbox(app)
    [certificate] = await certificates_of(app, sitting.attempt_id)
    local = (certificate.issued_at + timedelta(hours=14)).date().isoformat()
    verified = (await client.get(f"/api/v1/verify/{certificate.code}")).json()
    assert verified["issued_on"] == local
    pdf = await client.get(
        f"/api/v1/certificates/{certificate.id}.pdf", headers=sitting.course.admin
    )
    assert f"Date: {local}" in PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()

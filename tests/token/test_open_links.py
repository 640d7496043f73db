"""Open links through the API (create, list, read, QR codes, revoke; scoped to the admin's
subtree and audited) and the ``/join`` page in process (window, cap, access code, required
fields, an email already registered, a withdrawn link); and a token's test window
(``not_before``) on the API and on ``/take``."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from etest.app import create_app
from etest.config import Settings
from etest.db import transaction
from etest.models import AuditEntry, Candidate, Organization, TestToken
from etest.models.token import OpenLink
from etest.ops.ratelimits import JOIN_ADDRESS, JOIN_LINK
from etest.organization.service import frame_ancestors
from tests.attempt.conftest import Course, make_course
from tests.conftest import Headers, create_candidate, create_key, create_org, unique
from tests.console.conftest import ConsoleClient, make_staff


@pytest.fixture(scope="module")
async def course(app: FastAPI, client: httpx.AsyncClient, su: Headers) -> Course:
    return await make_course(app, client, su)


@pytest.fixture
async def browser_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """One browser's cookie jar, in process."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def _link(client: httpx.AsyncClient, admin: Headers, **body: Any) -> dict[str, Any]:
    resp = await client.post(
        "/api/v1/open-links", headers=admin, json={"title": "Spring intake", "type": "PT", **body}
    )
    assert resp.status_code == 201, resp.text
    data: dict[str, Any] = resp.json()
    return data


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


async def _join(
    browser: httpx.AsyncClient, slug: str, **fields: str
) -> tuple[httpx.Response, httpx.Response]:
    """Open the link's page and send its form; returns both responses (no redirect followed)."""
    page = await browser.get(f"/join/{slug}")
    if page.status_code != 200:
        return page, page
    form = {"csrf": _csrf(page.text), "first_name": "Ana", "last_name": "Lima", **fields}
    return page, await browser.post(f"/join/{slug}", data=form)


async def test_create_list_read_qr_and_revoke(
    app: FastAPI, client: httpx.AsyncClient, course: Course, su: Headers
) -> None:
    link = await _link(client, course.admin, max_uses=3, access_code="tulip-42")
    assert link["url"] == f"http://testserver/join/{link['slug']}" and len(link["slug"]) >= 16
    assert link["status"] == "open" and link["uses"] == 0 and link["has_access_code"]
    assert "access_code" not in link and link["plan_code"] == course.plan
    listed = (await client.get("/api/v1/open-links", headers=course.admin)).json()
    assert link["id"] in [i["id"] for i in listed["items"]]
    svg = await client.get(link["qr_svg_url"], headers=course.admin)
    png = await client.get(link["qr_png_url"], headers=course.admin)
    assert svg.headers["content-type"].startswith("image/svg+xml") and b"<svg" in svg.content
    assert png.content.startswith(b"\x89PNG")
    # another customer's admin sees nothing of it
    other = await create_org(client, su, plan_code=course.plan)
    stranger = await create_key(app, "admin", other["uic"])
    assert (
        await client.get(f"/api/v1/open-links/{link['id']}", headers=stranger)
    ).status_code == 404
    assert link["id"] not in [
        i["id"] for i in (await client.get("/api/v1/open-links", headers=stranger)).json()["items"]
    ]
    revoked = await client.post(f"/api/v1/open-links/{link['id']}/revoke", headers=course.admin)
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    async with transaction(app.state.sessionmaker) as session:
        actions = (
            await session.scalars(
                select(AuditEntry.action).where(AuditEntry.target_id == link["id"])
            )
        ).all()
        stored = await session.get(OpenLink, uuid.UUID(link["id"]))
        assert stored is not None and "tulip" not in (stored.access_code_digest or "")
    assert sorted(actions) == ["open_link.create", "open_link.revoke"]


async def test_a_link_no_token_could_come_from_is_refused(
    client: httpx.AsyncClient, course: Course
) -> None:
    ct = await client.post(
        "/api/v1/open-links",
        headers=course.admin,
        json={"title": "x", "type": "CT", "level": "A2"},
    )
    assert ct.status_code == 422 and ct.json()["type"] == "/errors/assessment-unavailable"
    no_level = await client.post(
        "/api/v1/open-links", headers=course.admin, json={"title": "x", "type": "CT"}
    )
    assert no_level.status_code == 422


async def test_join_registers_issues_and_starts(
    app: FastAPI, client: httpx.AsyncClient, course: Course, browser_client: httpx.AsyncClient
) -> None:
    link = await _join_link(client, course, required_fields=["phone"], access_code="tulip-42")
    email = f"{unique('j')}@example.org".lower()
    page, sent = await _join(browser_client, link["slug"], email=email, access_code="tulip-42")
    assert 'name="phone"' in page.text and 'name="access_code"' in page.text
    assert sent.status_code == 422 and "Enter a phone number" in sent.text  # required field
    assert email in sent.text and "tulip-42" not in sent.text  # kept, except the code
    _, wrong = await _join(
        browser_client, link["slug"], email=email, phone="+84 90 123", access_code="nope"
    )
    assert wrong.status_code == 403 and "access code is wrong" in wrong.text
    _, sent = await _join(
        browser_client, link["slug"], email=email, phone="+84 90 123", access_code="tulip-42"
    )
    assert sent.status_code == 303 and sent.headers["location"].startswith("/take?token=")
    started = await browser_client.get(sent.headers["location"])
    assert started.status_code == 303 and re.match(
        r"^/take/[0-9a-f-]{36}$", started.headers["location"]
    )
    async with transaction(app.state.sessionmaker) as session:
        candidate = await session.scalar(select(Candidate).where(Candidate.email == email))
        assert candidate is not None and candidate.phone == "+84 90 123"
        assert candidate.registered_from == "etest"
        token = await session.scalar(
            select(TestToken).where(TestToken.candidate_id == candidate.id)
        )
        assert token is not None and str(token.open_link_id) == link["id"]
        assert token.status == "started"
    got = (await client.get(f"/api/v1/open-links/{link['id']}", headers=course.admin)).json()
    assert got["uses"] == 1
    # the same email again: refused, and no use is counted
    _, again = await _join(
        browser_client, link["slug"], email=email.upper(), phone="1", access_code="tulip-42"
    )
    assert again.status_code == 409 and "already registered" in again.text
    got = (await client.get(f"/api/v1/open-links/{link['id']}", headers=course.admin)).json()
    assert got["uses"] == 1


async def _join_link(client: httpx.AsyncClient, course: Course, **body: Any) -> dict[str, Any]:
    return await _link(client, course.admin, **body)


async def test_window_cap_and_withdrawal(
    client: httpx.AsyncClient, course: Course, browser_client: httpx.AsyncClient
) -> None:
    soon = datetime.now(UTC) + timedelta(days=2)
    later = await _link(client, course.admin, opens_at=soon.isoformat())
    page = await browser_client.get(f"/join/{later['slug']}")
    assert page.status_code == 403 and "This link opens on" in page.text
    assert 'name="email"' not in page.text
    past = await _link(
        client,
        course.admin,
        opens_at=(datetime.now(UTC) - timedelta(days=2)).isoformat(),
        closes_at=(datetime.now(UTC) - timedelta(days=1)).isoformat(),
    )
    page = await browser_client.get(f"/join/{past['slug']}")
    assert page.status_code == 410 and "This link has closed" in page.text
    one = await _link(client, course.admin, max_uses=1)
    _, first = await _join(browser_client, one["slug"], email=f"{unique('w')}@example.org")
    assert first.status_code == 303
    page = await browser_client.get(f"/join/{one['slug']}")
    assert page.status_code == 409 and "This link is full" in page.text
    await client.post(f"/api/v1/open-links/{one['id']}/revoke", headers=course.admin)
    page = await browser_client.get(f"/join/{one['slug']}")
    assert page.status_code == 410 and "withdrawn" in page.text
    assert (await browser_client.get("/join/no-such-link")).status_code == 404


async def test_join_form_needs_its_own_page(
    client: httpx.AsyncClient, course: Course, browser_client: httpx.AsyncClient
) -> None:
    link = await _link(client, course.admin)
    form = {"csrf": "forged", "first_name": "A", "last_name": "B", "email": "a@example.org"}
    refused = await browser_client.post(f"/join/{link['slug']}", data=form)
    assert refused.status_code == 403 and "out of date" in refused.text
    cross = await browser_client.post(
        f"/join/{link['slug']}", data=form, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert cross.status_code == 403


# ---------------------------------------------------------------------------- test windows


async def test_token_window(
    client: httpx.AsyncClient, su: Headers, app: FastAPI, browser_client: httpx.AsyncClient
) -> None:
    course = await make_course(app, client, su)
    await client.patch(
        f"/api/v1/organizations/{course.uic}", headers=su, json={"timezone": "Asia/Ho_Chi_Minh"}
    )
    opens = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=30)
    too_late = await client.post(
        "/api/v1/tokens",
        headers=course.admin,
        json={
            "candidate_id": course.candidate["id"],
            "type": "PT",
            "not_before": opens.isoformat(),
            "expires_in_days": 7,
        },
    )
    assert too_late.status_code == 422  # it would open after it expires
    resp = await client.post(
        "/api/v1/tokens",
        headers=course.admin,
        json={
            "candidate_id": course.candidate["id"],
            "type": "PT",
            "not_before": opens.isoformat(),
            "expires_in_days": 60,
        },
    )
    assert resp.status_code == 201, resp.text
    assert datetime.fromisoformat(resp.json()["not_before"]) == opens
    code = resp.json()["code"]
    api = await client.post("/api/v1/attempts", json={"token": code})
    assert api.status_code == 403 and api.json()["type"] == "/errors/token-not-yet-valid"
    assert datetime.fromisoformat(api.json()["opens_at"]) == opens
    page = await browser_client.get("/take", params={"token": code})
    local = opens.astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))
    assert page.status_code == 403 and "This test opens on" in page.text
    # the organization's time (+07:00), not UTC
    assert f"{local:%-I}:{local:%M}" in page.text and "+0700" in page.text
    # a token without a window opens at once
    other = await create_candidate(client, course.admin, uic=course.uic)
    now_token = await course.token(client, "PT", candidate=other)
    assert (await client.post("/api/v1/attempts", json={"token": now_token})).status_code == 201


# ---------------------------------------------------------------------------- the console


async def test_console_creates_shows_and_withdraws_a_link(
    app: FastAPI, client: httpx.AsyncClient, course: Course
) -> None:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", follow_redirects=True
    ) as http:
        console = ConsoleClient(http)
        await console.sign_in(await make_staff(app, "admin", course.uic))
        page = await console.get("/console/open-links")
        assert page.status_code == 200 and 'href="/console/open-links"' in page.text
        refused = await console.post(
            "/console/open-links", {"uic": course.uic, "title": "", "type": "PT"}
        )
        assert refused.status_code == 422 and "Please check the form" in refused.text
        made = await console.post(
            "/console/open-links",
            {
                "uic": course.uic,
                "title": "Console intake",
                "type": "PT",
                "max_uses": "5",
                "opens_at": "2026-01-01T09:00",
                "access_code": "console-code",
                "required": "phone",
            },
        )
        assert made.status_code == 200 and "The open link was created" in made.text
        found = re.search(r'<tr id="link-([0-9a-f-]{36})">\s*<td>Console intake', made.text)
        assert found, made.text
        link_id = found.group(1)
        stored = (await client.get(f"/api/v1/open-links/{link_id}", headers=course.admin)).json()
        assert stored["max_uses"] == 5 and stored["required_fields"] == ["phone"]
        assert stored["has_access_code"] and stored["opens_at"].startswith("2026-01-01T09:00")
        assert f'src="/console/open-links/{link_id}/qr.svg"' in made.text
        svg = await console.get(f"/console/open-links/{link_id}/qr.svg")
        assert svg.status_code == 200 and b"<svg" in svg.content
        gone = await console.post(f"/console/open-links/{link_id}/revoke")
        assert gone.status_code == 200 and "The open link was withdrawn" in gone.text
        assert (await client.get(f"/api/v1/open-links/{link_id}", headers=course.admin)).json()[
            "status"
        ] == "revoked"


async def test_frame_ancestors_are_origins_and_inherited(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    root = await create_org(client, su)
    child = await create_org(client, su, parent=root["uic"])
    url = f"/api/v1/organizations/{root['uic']}"
    for wrong in ("http://lms.example.org", "https://lms.example.org/path", "lms.example.org"):
        resp = await client.patch(url, headers=su, json={"settings": {"frame_ancestors": [wrong]}})
        assert resp.status_code == 422, wrong
    resp = await client.patch(
        url,
        headers=su,
        json={
            "settings": {"frame_ancestors": ["https://LMS.example.org/", "http://localhost:8080"]}
        },
    )
    assert resp.status_code == 200, resp.text
    expected = ["https://lms.example.org", "http://localhost:8080"]
    assert resp.json()["settings"]["frame_ancestors"] == expected
    async with transaction(app.state.sessionmaker) as session:
        below = await session.scalar(select(Organization).where(Organization.uic == child["uic"]))
        assert below is not None
        assert await frame_ancestors(session, below) == expected  # inherited


async def test_console_issues_a_token_with_a_window(
    app: FastAPI, client: httpx.AsyncClient, course: Course
) -> None:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", follow_redirects=True
    ) as http:
        console = ConsoleClient(http)
        await console.sign_in(await make_staff(app, "admin", course.uic))
        other = await create_candidate(client, course.admin, uic=course.uic)
        opens = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(days=5)
        page = await console.get(f"/console/tokens/new?candidate={other['id']}")
        assert 'name="acc_extra_time"' in page.text  # the token's own accommodations
        form = {
            "candidate": other["id"],
            "type": "PT",
            "expires_in_days": "30",
            "not_before": f"{opens:%Y-%m-%dT%H:%M}",
            "handout": "page",
            "acc_extra_time": "1.5",
            "acc_clip_plays": "99",
        }
        refused = await console.post("/console/tokens/new", form)
        assert refused.status_code == 422 and "from 1 to 20" in refused.text
        issued = await console.post("/console/tokens/new", {**form, "acc_clip_plays": "2"})
        assert issued.status_code == 200, issued.text[:500]
    async with transaction(app.state.sessionmaker) as session:
        token = await session.scalar(
            select(TestToken).where(TestToken.candidate_id == uuid.UUID(other["id"]))
        )
        assert token is not None and token.not_before is not None
        assert token.not_before == opens  # read in the organization's zone: UTC here
        assert token.accommodations == {"extra_time": 1.5, "clip_plays": 2}


async def test_registrations_are_rate_limited_per_address_and_per_link(
    settings: Settings, client: httpx.AsyncClient, course: Course
) -> None:
    link = await _link(client, course.admin)
    limits = {**settings.rate_limits, JOIN_ADDRESS: "2/minute", JOIN_LINK: "3/minute"}
    application = create_app(
        settings.model_copy(update={"rate_limit_enabled": True, "rate_limits": limits})
    )
    async with application.router.lifespan_context(application):

        async def register(peer: str) -> httpx.Response:
            transport = httpx.ASGITransport(
                app=application, client=(peer, 40000), raise_app_exceptions=False
            )
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
                _, sent = await _join(c, link["slug"], email=f"{unique('rl')}@example.org")
                return sent

        first = [await register("203.0.113.20") for _ in range(3)]
        assert [r.status_code for r in first] == [303, 303, 429]  # the address's limit
        assert int(first[2].headers["retry-after"]) >= 1 and "Too many tries" in first[2].text
        other = [await register("203.0.113.21") for _ in range(2)]
        assert [r.status_code for r in other] == [303, 429]  # the link's limit (3 sent)

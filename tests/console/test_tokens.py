"""The console's tokens: the list and its filters, issuing for one candidate and for many (the
codes on the page, a PDF sheet, a CSV of take links, invitation emails), revoke and reset;
roles, tenancy and CSRF; and the same in Chromium."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import subprocess
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from playwright.async_api import expect
from pypdf import PdfReader
from sqlalchemy import select

from etest.db import transaction
from etest.models import AuditEntry, OutboxEvent, TestToken
from etest.token import handout
from tests.conftest import Headers, Tree, create_candidate, create_org
from tests.console.conftest import ConsoleClient, make_staff
from tests.notification.conftest import SmtpServer, context, smtp  # noqa: F401

pytestmark = pytest.mark.asyncio

CODE = re.compile(r'<code class="secret">([^<]+)</code>')


async def _candidates(
    client: httpx.AsyncClient, key: Headers, uic: str, n: int, tag: str
) -> list[dict[str, Any]]:
    return [
        await create_candidate(client, key, uic=uic, first_name=f"{tag}{i}", last_name="Pupil")
        for i in range(n)
    ]


def qr_codes(pdf: bytes, where: Path) -> list[str]:
    """The QR codes of a PDF's pages, read by zbarimg from 100 dpi images."""
    path = where / "sheet.pdf"
    path.write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "100", "-png", str(path), str(where / "sheet")], check=True)
    pages = sorted(str(p) for p in where.glob("sheet*.png"))
    found = subprocess.run(
        ["zbarimg", "-q", "--raw", *pages], capture_output=True, text=True, check=False
    )
    return found.stdout.split()


async def _tokens_of(app: FastAPI, candidate_id: str) -> list[TestToken]:
    async with transaction(app.state.sessionmaker) as session:
        return list(
            (
                await session.scalars(
                    select(TestToken)
                    .where(TestToken.candidate_id == uuid.UUID(candidate_id))
                    .order_by(TestToken.created_at)
                )
            ).all()
        )


async def _issue(
    console: ConsoleClient, candidates: list[dict[str, Any]], handout: str, **fields: str
) -> httpx.Response:
    body: dict[str, Any] = {
        "csrf": console.csrf,
        "type": "PT",
        "handout": handout,
        "candidate": [c["id"] for c in candidates],
        **fields,
    }
    return await console.http.post("/console/tokens/new", data=body)


async def test_issue_for_many_shows_codes_once_and_reports_refusals(
    app: FastAPI, client: httpx.AsyncClient, tree: Tree, console: ConsoleClient
) -> None:
    people = await _candidates(client, tree.key["A"], tree.uic["A"], 3, "Many")
    await console.sign_in(await make_staff(app, "admin", tree.uic["A"]))
    form = await console.get(
        "/console/tokens/new", params={"uic": tree.uic["A"], "q": "Many", "subtree": "1"}
    )
    assert form.status_code == 200
    for p in people:
        assert f'value="{p["id"]}"' in form.text
    first = await _issue(console, people[:1], "page")
    assert first.status_code == 200, first.text
    resp = await _issue(console, people, "page")
    assert resp.status_code == 200, resp.text
    assert "<h1>Tokens issued</h1>" in resp.text
    codes = CODE.findall(resp.text)
    assert len(codes) == 2  # the first already has a live PT token
    assert "No token for these candidates" in resp.text
    assert "A live PT token exists for this candidate." in resp.text
    assert resp.headers["cache-control"] == "no-store"
    assert f"/take?token={codes[0]}" in resp.text
    # the code is not stored: the list shows no code
    listing = await console.get("/console/tokens", params={"q": "Many"})
    assert listing.status_code == 200
    assert "3 tokens" in listing.text
    for code in codes:
        assert code not in listing.text
    # every token went through the service: issued by the staff member, audited
    tokens = await _tokens_of(app, people[1]["id"])
    assert len(tokens) == 1 and tokens[0].issued_by.startswith("staff:")
    async with transaction(app.state.sessionmaker) as session:
        issued = (
            await session.scalars(
                select(AuditEntry).where(
                    AuditEntry.action == "token.issue", AuditEntry.target_id == str(tokens[0].id)
                )
            )
        ).all()
    assert len(issued) == 1 and issued[0].actor == tokens[0].issued_by


async def test_issue_form_checks_its_fields(
    app: FastAPI, client: httpx.AsyncClient, tree: Tree, console: ConsoleClient
) -> None:
    [person] = await _candidates(client, tree.key["A"], tree.uic["A"], 1, "Form")
    await console.sign_in(await make_staff(app, "admin", tree.uic["A"]))
    await console.get("/console/tokens/new", params={"candidate": person["id"]})
    bad = await console.http.post(
        "/console/tokens/new",
        data={
            "csrf": console.csrf,
            "candidate": person["id"],
            "type": "CT",
            "level": "Z9",
            "expires_in_days": "999",
            "handout": "pdf",
        },
    )
    assert bad.status_code == 422
    assert "Choose the level of the certification test." in bad.text
    assert "Give a number of days from 1 to 365" in bad.text
    assert f'value="{person["id"]}"' in bad.text  # the form keeps the candidate
    none = await console.http.post(
        "/console/tokens/new", data={"csrf": console.csrf, "type": "PT", "handout": "page"}
    )
    assert none.status_code == 422 and "Tick at least one candidate." in none.text
    ct = await console.http.post(
        "/console/tokens/new",
        data={
            "csrf": console.csrf,
            "candidate": person["id"],
            "type": "CT",
            "level": "a1",
            "expires_in_days": "3",
            "handout": "page",
        },
    )
    assert ct.status_code == 200, ct.text
    assert "Certification test A1" in ct.text
    [token] = await _tokens_of(app, person["id"])
    assert token.scope == "CT:A1"


async def test_pdf_sheet_and_csv_of_take_links(
    app: FastAPI, client: httpx.AsyncClient, tree: Tree, console: ConsoleClient, tmp_path: Path
) -> None:
    people = await _candidates(client, tree.key["A"], tree.uic["A"], 5, "Sheet")
    await console.sign_in(await make_staff(app, "admin", tree.uic["A"]))
    await console.get("/console/tokens/new")
    pdf = await _issue(console, people, "pdf")
    assert pdf.status_code == 200, pdf.text[:500]
    assert pdf.headers["content-type"] == "application/pdf"
    assert "attachment" in pdf.headers["content-disposition"]
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    for p in people:
        assert f"{p['first_name']} Pupil" in text and p["email"] in text
    links = re.findall(r"http://testserver/take\?token=\S+", text)
    assert len(links) == 5
    found = await asyncio.to_thread(qr_codes, pdf.content, tmp_path)
    assert sorted(found) == sorted(links)
    # CSV: new candidates (the first five have live PT tokens now)
    more = await _candidates(client, tree.key["A"], tree.uic["A"], 2, "Csv")
    resp = await _issue(console, more + people[:1], "csv")
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(resp.content.decode("utf-8-sig"))))
    assert [r["issued"] for r in rows] == [
        "yes",
        "yes",
        "no: A live PT token exists for this candidate.",
    ]
    assert all(r["take_link"].startswith("http://testserver/take?token=") for r in rows[:2])


async def test_invitation_emails_carry_the_link_but_the_outbox_does_not(
    app: FastAPI,
    client: httpx.AsyncClient,
    su: Headers,
    tree: Tree,
    console: ConsoleClient,
    smtp: SmtpServer,  # noqa: F811 - the fixture imported above
) -> None:
    spanish = await create_org(
        client, su, parent=tree.uic["A"], name="Escuela", settings={"language": "es"}
    )
    people = await _candidates(client, tree.key["A"], tree.uic["A"], 1, "Mail")
    people += await _candidates(client, tree.key["A"], spanish["uic"], 1, "Correo")
    [gone] = await _candidates(client, tree.key["A"], tree.uic["A"], 1, "Revoked")
    await console.sign_in(await make_staff(app, "admin", tree.uic["A"]))
    await console.get("/console/tokens/new")
    resp = await _issue(console, [*people, gone], "email")
    assert resp.status_code == 200, resp.text
    assert "3 invitations are on their way." in resp.text
    assert not CODE.findall(resp.text)
    tokens = [(await _tokens_of(app, p["id"]))[0] for p in [*people, gone]]
    async with transaction(app.state.sessionmaker) as session:
        rows = [await session.get(OutboxEvent, (await _outbox_id(t))) for t in tokens]
    assert all(r is not None and "token=" not in str(r.payload) for r in rows)
    # a token revoked before its invitation goes out: the email is cancelled, not sent
    revoked = await client.post(f"/api/v1/tokens/{tokens[2].id}/revoke", headers=tree.key["A"])
    assert revoked.status_code == 200, revoked.text
    from etest.outbox.worker import drain

    await drain(context(app, app.state.settings, smtp_url=smtp.url))
    subjects = []
    for p in people:
        [message] = smtp.inbox.to(p["email"])
        subjects.append(message["Subject"])
        body = message.get_body(("plain",))
        assert body is not None
        assert re.search(r"http://testserver/take\?token=\S+", body.get_content())
    assert subjects == [
        "A invites you to take the Assessment Test",
        "Escuela te invita a hacer la prueba de nivel",
    ]
    assert smtp.inbox.to(gone["email"]) == []
    async with transaction(app.state.sessionmaker) as session:
        cancelled = await session.get(OutboxEvent, await _outbox_id(tokens[2]))
        assert cancelled is not None and cancelled.status == "cancelled"


async def test_handout_prints_names_in_any_script_and_csv_is_safe() -> None:
    entries = [
        handout.Entry(
            name,
            f"p{n}@example.org",
            "Escuela",
            "Placement test",
            f"http://x/take?token=T{n}",
            "2027-01-05",
        )
        for n, name in enumerate(
            ("Nguyễn Thị Hương", "王小明", "Ольга Петрова", "=cmd|' /C calc'!A0")
        )
    ]
    pdf = handout.sheet_pdf(
        entries, [handout.Missing("late@example.org", "A live PT token exists.")]
    )
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    for entry in entries:
        assert entry.name in text, entry.name
    assert "Not issued" in text and "A live PT token exists." in text
    rows = list(csv.reader(io.StringIO(handout.links_csv(entries).decode("utf-8-sig"))))
    assert rows[4][0] == "'=cmd|' /C calc'!A0"


async def _outbox_id(token: TestToken) -> uuid.UUID:
    from etest.outbox.jobs import outbox_id

    return outbox_id("email.send", f"token_invite:{token.id}")


async def test_revoke_and_reset_from_the_token_page(
    app: FastAPI, client: httpx.AsyncClient, tree: Tree, console: ConsoleClient
) -> None:
    [person] = await _candidates(client, tree.key["A"], tree.uic["A"], 1, "Reset")
    admin = await make_staff(app, "admin", tree.uic["A"])
    await console.sign_in(admin)
    await console.get("/console/tokens/new")
    await _issue(console, [person], "page")
    [token] = await _tokens_of(app, person["id"])
    page = await console.get(f"/console/tokens/{token.id}")
    assert page.status_code == 200 and "Revoke the token" in page.text
    no_reason = await console.post(f"/console/tokens/{token.id}/revoke", {"reason": " "})
    assert no_reason.status_code == 422 and "Say why the token is revoked" in no_reason.text
    done = await console.post(f"/console/tokens/{token.id}/revoke", {"reason": "left the school"})
    assert done.status_code == 200
    assert "The token was revoked" in done.text
    assert "left the school" in done.text
    again = await console.post(f"/console/tokens/{token.id}/revoke", {"reason": "twice"})
    assert again.status_code == 409 and "only a live token can be revoked" in again.text
    reset = await console.post(
        f"/console/tokens/{token.id}/reset", {"reason": "try again", "handout": "page"}
    )
    assert reset.status_code == 200, reset.text
    assert len(CODE.findall(reset.text)) == 1
    old, new = await _tokens_of(app, person["id"])
    assert old.replaced_by_id == new.id and new.status == "issued"
    async with transaction(app.state.sessionmaker) as session:
        actions = (
            await session.scalars(
                select(AuditEntry.action).where(AuditEntry.target_id == str(old.id))
            )
        ).all()
    assert {"token.revoke", "token.reset"} <= set(actions)


async def test_roles_tenancy_and_csrf(
    app: FastAPI, client: httpx.AsyncClient, tree: Tree, console: ConsoleClient
) -> None:
    [mine] = await _candidates(client, tree.key["A"], tree.uic["A"], 1, "Role")
    [theirs] = await _candidates(client, tree.key["B"], tree.uic["B"], 1, "Other")
    admin = await make_staff(app, "admin", tree.uic["A"])
    await console.sign_in(admin)
    await console.get("/console/tokens/new")
    await _issue(console, [mine], "page")
    [token] = await _tokens_of(app, mine["id"])
    resp = await client.post(
        "/api/v1/tokens", headers=tree.key["B"], json={"candidate_id": theirs["id"], "type": "PT"}
    )
    foreign = resp.json()["id"]
    # tenancy: B's token and candidate read exactly like missing ones
    missing = await console.get(f"/console/tokens/{uuid.uuid4()}")
    other = await console.get(f"/console/tokens/{foreign}")
    assert missing.status_code == other.status_code == 404
    assert missing.text == other.text
    assert (
        await console.get("/console/tokens/new", params={"candidate": theirs["id"]})
    ).status_code == 404
    assert (
        await console.post(f"/console/tokens/{foreign}/revoke", {"reason": "x"})
    ).status_code == 404
    batch = await _issue(console, [theirs], "page")
    assert batch.status_code == 422 and "No such candidate." in batch.text
    listing = await console.get("/console/tokens")
    assert theirs["email"] not in listing.text
    # CSRF: a post without the token is refused
    forged = await console.http.post(
        f"/console/tokens/{token.id}/revoke", data={"reason": "forged"}
    )
    assert forged.status_code == 403
    # a viewer reads but cannot issue, revoke or reset (buttons hidden, posts refused)
    viewer = ConsoleClient(console.http)
    await console.post("/console/sign-out")
    await viewer.sign_in(await make_staff(app, "viewer", tree.uic["A"]))
    page = await viewer.get(f"/console/tokens/{token.id}")
    assert page.status_code == 200
    assert "Revoke the token" not in page.text and "Reset the token" not in page.text
    assert "Issue tokens" not in (await viewer.get("/console/tokens")).text
    assert (await viewer.get("/console/tokens/new")).status_code == 403
    assert (
        await viewer.post(f"/console/tokens/{token.id}/revoke", {"reason": "x"})
    ).status_code == 403
    assert (
        await viewer.post(f"/console/tokens/{token.id}/reset", {"reason": "x", "handout": "page"})
    ).status_code == 403
    # support resets but does not issue or revoke
    await viewer.post("/console/sign-out")
    support = ConsoleClient(console.http)
    await support.sign_in(await make_staff(app, "support", tree.uic["A"]))
    page = await support.get(f"/console/tokens/{token.id}")
    assert "Reset the token" in page.text and "Revoke the token" not in page.text
    assert (
        await support.post(f"/console/tokens/{token.id}/revoke", {"reason": "x"})
    ).status_code == 403
    reset = await support.post(
        f"/console/tokens/{token.id}/reset", {"reason": "lost the code", "handout": "csv"}
    )
    assert reset.status_code == 200 and reset.headers["content-type"].startswith("text/csv")


async def test_list_filters(
    app: FastAPI, client: httpx.AsyncClient, tree: Tree, console: ConsoleClient
) -> None:
    people = await _candidates(client, tree.key["A1"], tree.uic["A1"], 2, "Filter")
    for p, days in zip(people, (3, 60), strict=True):
        resp = await client.post(
            "/api/v1/tokens",
            headers=tree.key["A1"],
            json={"candidate_id": p["id"], "type": "PT", "expires_in_days": days},
        )
        assert resp.status_code == 201
    await console.sign_in(await make_staff(app, "viewer", tree.uic["A"]))
    soon = await console.get("/console/tokens", params={"q": "Filter", "expiring": "7"})
    assert "1 tokens" in soon.text and people[0]["email"] in soon.text
    alone = await console.get(
        "/console/tokens", params={"q": "Filter", "uic": tree.uic["A"], "subtree": "0"}
    )
    assert "0 tokens" in alone.text
    below = await console.get(
        "/console/tokens", params={"q": "Filter", "uic": tree.uic["A"], "subtree": "1"}
    )
    assert "2 tokens" in below.text
    revoked = await console.get("/console/tokens", params={"q": "Filter", "status": "revoked"})
    assert "0 tokens" in revoked.text
    typo = await console.get("/console/tokens", params={"uic": tree.uic["B"]})
    assert typo.status_code == 422 and "None of your organizations has this UIC." in typo.text
    by_candidate = await console.get("/console/tokens", params={"candidate": people[1]["id"]})
    assert "1 tokens" in by_candidate.text and people[1]["email"] in by_candidate.text


# ---------------------------------------------------------------------------- in Chromium


async def _group(client: httpx.AsyncClient, tree: Tree, tag: str) -> list[dict[str, Any]]:
    return [
        await create_candidate(
            client,
            tree.key["A"],
            uic=tree.uic["A"],
            first_name=f"{tag}{n}",
            last_name="Pupil",
            email=f"{tag.lower()}{n}-{uuid.uuid4().hex[:8]}@example.org",
        )
        for n in range(5)
    ]


async def _find(tab: Any, tree: Tree, search: str) -> None:
    await tab.goto("/console/tokens/new")
    await tab.page.get_by_label("Organization", exact=True).select_option(tree.uic["A"])
    await tab.page.get_by_label("Search").fill(search)
    await tab.submit("Find candidates")
    await expect(tab.page.locator("input.tick:checked")).to_have_count(5)


async def _download(tab: Any, button: str) -> bytes:
    async with tab.page.expect_download() as info:
        await tab.page.get_by_role("button", name=button).click()
    download = await info.value
    path = await download.path()
    return await asyncio.to_thread(Path(path).read_bytes)


def _path(link: str) -> str:
    found = re.search(r"/take\?token=[^\s\"<]+", link)
    assert found, link
    return found.group(0)


async def test_tokens_in_the_browser(
    app: FastAPI,
    client: httpx.AsyncClient,
    tree: Tree,
    open_tab: Any,
    smtp: SmtpServer,  # noqa: F811
    tmp_path: Path,
) -> None:
    tag = f"Br{uuid.uuid4().hex[:5]}"
    sheet, table, mailed = [await _group(client, tree, f"{tag}{g}") for g in "PCE"]
    admin = await make_staff(app, "admin", tree.uic["A"], name="Token Admin")
    tab = await open_tab("tokens-")
    await tab.sign_in(admin)

    # 1. five placement tokens as a printable sheet: names, links and QR codes in the PDF
    await _find(tab, tree, f"{tag}P")
    await tab.check("new")
    await tab.page.get_by_label("A printable sheet (PDF)").check()
    pdf = await _download(tab, "Issue tokens")
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf)).pages)
    for person in sheet:
        assert f"{person['first_name']} Pupil" in text and person["email"] in text
    links = re.findall(r"https?://\S+/take\?token=\S+", text)
    assert len(links) == 5
    assert sorted(await asyncio.to_thread(qr_codes, pdf, tmp_path)) == sorted(links)

    # 2. five more as a CSV of take links
    await _find(tab, tree, f"{tag}C")
    await tab.page.get_by_label("A CSV file of take links").check()
    rows = list(
        csv.DictReader(io.StringIO((await _download(tab, "Issue tokens")).decode("utf-8-sig")))
    )
    assert sorted(r["email"] for r in rows) == sorted(p["email"] for p in table)
    assert all(r["issued"] == "yes" and "/take?token=" in r["take_link"] for r in rows)

    # 3. five more by email: the invitation's link opens the test
    await _find(tab, tree, f"{tag}E")
    await tab.page.get_by_label("Email an invitation to each candidate").check()
    await tab.submit("Issue tokens")
    await expect(tab.page.get_by_role("heading", level=1)).to_have_text("Tokens issued")
    await expect(tab.page.get_by_text("5 invitations are on their way.")).to_be_visible()
    await tab.check("emailed")
    from etest.outbox.worker import drain

    await drain(context(app, app.state.settings, smtp_url=smtp.url))
    messages = [smtp.inbox.to(p["email"]) for p in mailed]
    assert all(len(m) == 1 for m in messages)
    body = messages[0][0].get_body(("plain",))
    assert body is not None
    taker = await open_tab("tokens-take-")
    await taker.goto(_path(body.get_content()))
    assert re.search(r"/take/[0-9a-f-]{36}$", taker.page.url), taker.page.url

    # 4. the list, filtered; a token's page; revoke with a reason
    await tab.goto(f"/console/tokens?q={sheet[0]['email']}")
    await expect(tab.page.get_by_text("1 tokens")).to_be_visible()
    await tab.check("list")
    await tab.page.get_by_role("link", name=f"{sheet[0]['first_name']} Pupil", exact=True).click()
    await expect(tab.page.get_by_role("heading", level=1)).to_contain_text("Token of")
    await tab.check("token")
    await tab.page.locator("#f-revoke-reason").fill("The candidate left the school")
    await tab.submit("Revoke the token")
    await expect(tab.page.get_by_role("status")).to_contain_text("The token was revoked")
    await expect(tab.page.get_by_text("The candidate left the school")).to_be_visible()

    # 5. reset: a new code, shown once on the page, opens the test
    await tab.page.locator("#f-reset-reason").fill("The candidate came back")
    await tab.submit("Reset the token")
    await expect(tab.page.get_by_role("heading", level=1)).to_have_text("New token issued")
    await tab.check("reset")
    link = await tab.page.locator("td span.secret").first.inner_text()
    fresh = await open_tab("tokens-take-reset-")
    await fresh.goto(_path(link))
    assert re.search(r"/take/[0-9a-f-]{36}$", fresh.page.url), fresh.page.url

    # 6. without JavaScript, on a phone: one candidate from the candidate page's link
    bare = await open_tab("tokens-nojs-", phone=True, javascript=False)
    await bare.sign_in(admin)
    [single] = await _candidates(client, tree.key["A"], tree.uic["A"], 1, f"{tag}S")
    await bare.goto(f"/console/tokens/new?candidate={single['id']}")
    await bare.check("new")
    await bare.submit("Issue tokens")
    await expect(bare.page.locator("code.secret")).to_have_count(1)
    await bare.check("issued")
    for t in (tab, taker, fresh, bare):
        t.assert_clean()

"""Console: the callback delivery log and redelivery (docs/console/callbacks.md).

Deliveries are real ``webhook.deliver`` rows sent by the outbox worker to a real HTTP receiver
on loopback (``hook_app``'s settings allow-list loopback, tests/webhook/conftest.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from playwright.async_api import expect

from etest.config import Settings
from etest.db import transaction
from etest.models import OutboxEvent
from etest.outbox.jobs import JobContext, enqueue
from etest.outbox.worker import drain
from etest.tasks import job_context
from etest.webhook.tasks import TOPIC
from tests.conftest import Headers, create_org, unique
from tests.console.conftest import ConsoleClient, make_staff
from tests.webhook.conftest import hook_app, hook_settings  # noqa: F401
from tests.webhook.receiver import Receiver, Reply

pytestmark = pytest.mark.asyncio


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def ctx(hook_app: FastAPI, hook_settings: Settings) -> JobContext:  # noqa: F811
    """The worker of ``etest worker`` with loopback allowed, no back-off and two tries a row."""
    return job_context(
        hook_settings.model_copy(update={"outbox_max_tries": 2}), hook_app.state.sessionmaker
    )


async def school(hook_app: FastAPI, su: Headers, receiver: Receiver, name: str) -> dict[str, Any]:  # noqa: F811
    """An organization whose callbacks go to the receiver (saved through ``hook_app``, whose
    SSRF guard allows loopback)."""
    transport = httpx.ASGITransport(app=hook_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        org = await create_org(c, su, uic=unique("CB"), name=name)
        resp = await c.patch(
            f"/api/v1/organizations/{org['uic']}",
            headers=su,
            json={"callback_url": receiver.url, "callback_secret": "console-secret-" + "x" * 8},
        )
        assert resp.status_code == 200, resp.text
        return org


async def queue(app: FastAPI, org: dict[str, Any]) -> uuid.UUID:
    """A ``webhook.deliver`` row as the subscriber writes one for a finished attempt."""
    event = uuid.uuid4()
    body = {
        "type": "attempt.finished",
        "timestamp": "2026-12-06T10:00:00+00:00",
        "data": {"attempt_id": str(uuid.uuid4()), "uic": org["uic"]},
    }
    async with transaction(app.state.sessionmaker) as session:
        return await enqueue(
            session,
            TOPIC,
            {"webhook_id": str(event), "type": "attempt.finished", "body": body},
            key=f"attempt.finished:{event}",
            organization_id=uuid.UUID(org["id"]),
        )


async def row_of(app: FastAPI, row_id: uuid.UUID) -> OutboxEvent:
    async with transaction(app.state.sessionmaker) as session:
        row = await session.get(OutboxEvent, row_id)
        assert row is not None
        return row


async def failed_delivery(
    app: FastAPI, ctx: JobContext, receiver: Receiver, org: dict[str, Any]
) -> uuid.UUID:
    row_id = await queue(app, org)
    receiver.answer(*[Reply(status=503, body=b"maintenance")] * 2)
    await drain(ctx)
    row = await row_of(app, row_id)
    assert row.status == "dead" and row.tries == 2, (row.status, row.tries)
    return row_id


async def test_the_log_shows_the_subtree_with_tries_and_a_foreign_row_is_the_404(
    app: FastAPI,
    hook_app: FastAPI,  # noqa: F811
    su: Headers,
    ctx: JobContext,
    receiver: Receiver,
    console: ConsoleClient,
) -> None:
    mine = await school(hook_app, su, receiver, "Callback School")
    other = await school(hook_app, su, receiver, "Other School")
    row_id = await failed_delivery(hook_app, ctx, receiver, mine)
    other_id = await queue(hook_app, other)
    await console.sign_in(await make_staff(app, "viewer", mine["uic"]))
    page = await console.get("/console/callbacks")
    assert page.status_code == 200
    assert f"/console/callbacks/{row_id}" in page.text and str(other_id) not in page.text
    assert "answered HTTP 503" in page.text and "failed (gave up)" in page.text
    assert "Redeliver" not in page.text  # a viewer reads only
    dead = await console.get("/console/callbacks", params={"status": "done"})
    assert str(row_id) not in dead.text
    one = await console.get(f"/console/callbacks/{row_id}")
    assert one.status_code == 200
    assert "maintenance" in one.text and "attempt.finished" in one.text
    foreign = await console.get(f"/console/callbacks/{other_id}")
    missing = await console.get(f"/console/callbacks/{uuid.uuid4()}")
    assert foreign.status_code == missing.status_code == 404 and foreign.text == missing.text
    outside = await console.get("/console/callbacks", params={"uic": other["uic"]})
    assert outside.status_code == 404
    reversed_ = await console.get(
        "/console/callbacks", params={"from": "2026-12-06", "to": "2026-12-01"}
    )
    assert reversed_.status_code == 422 and "ends before it starts" in reversed_.text
    posted = await console.post(f"/console/callbacks/{row_id}/redeliver")
    assert posted.status_code == 403
    assert (await row_of(hook_app, row_id)).status == "dead"


async def test_support_redelivers_a_dead_callback_and_the_receiver_gets_it_again(
    app: FastAPI,
    hook_app: FastAPI,  # noqa: F811
    su: Headers,
    ctx: JobContext,
    receiver: Receiver,
    console: ConsoleClient,
) -> None:
    mine = await school(hook_app, su, receiver, "Redelivery School")
    other = await school(hook_app, su, receiver, "Not Yours School")
    row_id = await failed_delivery(hook_app, ctx, receiver, mine)
    other_id = await failed_delivery(hook_app, ctx, receiver, other)
    await console.sign_in(await make_staff(app, "support", mine["uic"]))
    page = await console.get("/console/callbacks")
    assert "Redeliver" in page.text
    forged = await console.http.post(f"/console/callbacks/{row_id}/redeliver", data={"csrf": "x"})
    assert forged.status_code == 403
    assert (await row_of(hook_app, row_id)).status == "dead"
    foreign = await console.post(f"/console/callbacks/{other_id}/redeliver")
    assert foreign.status_code == 404
    assert (await row_of(hook_app, other_id)).status == "dead"
    done = await console.post(f"/console/callbacks/{row_id}/redeliver")
    assert "will be sent again shortly" in done.text
    assert (await row_of(hook_app, row_id)).status == "pending"
    before = len(receiver.requests)
    await drain(ctx)
    assert (await row_of(hook_app, row_id)).status == "done"
    ids = {r.headers["webhook-id"] for r in receiver.requests[:before]}
    again = receiver.requests[before:]
    assert len(again) == 1 and again[0].headers["webhook-id"] in ids  # the same webhook-id
    shown = await console.get(f"/console/callbacks/{row_id}")
    assert "delivered" in shown.text and "<td>200</td>" in shown.text


async def test_callbacks_workflow_in_a_browser(
    app: FastAPI,
    hook_app: FastAPI,  # noqa: F811
    su: Headers,
    ctx: JobContext,
    receiver: Receiver,
    open_tab: Any,
) -> None:
    mine = await school(hook_app, su, receiver, "Browser Callback School")
    row_id = await failed_delivery(hook_app, ctx, receiver, mine)
    tab = await open_tab("callbacks-")
    await tab.sign_in(await make_staff(app, "admin", mine["uic"]))
    await tab.page.get_by_role("link", name="Callbacks").click()
    await expect(tab.page.get_by_role("heading", level=1)).to_have_text("Callbacks")
    await tab.page.get_by_label("Status").select_option("dead")
    await tab.submit("Filter")
    await expect(tab.page.locator("tbody tr")).to_have_count(1)
    await tab.check("list")
    await tab.page.locator(f"a[href='/console/callbacks/{row_id}']").click()
    await expect(tab.page.get_by_role("heading", level=1)).to_have_text("Callback attempt.finished")
    await tab.check("delivery")
    await tab.submit("Redeliver")
    await expect(tab.page.get_by_role("status")).to_contain_text("will be sent again shortly")
    await drain(ctx)
    await tab.page.reload()
    await expect(tab.page.locator("dl")).to_contain_text("delivered")
    await tab.check("redelivered")
    tab.assert_clean()
    phone = await open_tab("callbacks-", phone=True)
    await phone.sign_in(await make_staff(app, "viewer", mine["uic"]))
    await phone.goto("/console/callbacks")
    await phone.check("list-phone")
    phone.assert_clean()

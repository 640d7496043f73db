"""``/api/v1/webhook-deliveries``: the log scoped to the actor's subtree, filters, redelivery
(roles, 409 while a worker holds the row), and the callback URL checks when it is saved."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI

from etest.db import transaction
from etest.outbox.jobs import JobContext, enqueue
from etest.outbox.worker import claim, drain, process
from tests.attempt.conftest import make_course
from tests.conftest import Headers, Tree, create_key
from tests.webhook.conftest import (
    QUIET,
    configure,
    delivery_id,
    finish_ct,
    finished_event_id,
)
from tests.webhook.receiver import Receiver

API = "/api/v1/webhook-deliveries"


async def test_log_filters_scope_and_redelivery(
    hook_app: FastAPI,
    hook_client: httpx.AsyncClient,
    ctx: JobContext,
    su: Headers,
    receiver: Receiver,
) -> None:
    mine = await make_course(hook_app, hook_client, su, settings=QUIET)
    other = await make_course(hook_app, hook_client, su, settings=QUIET)
    org = await configure(hook_client, mine, receiver.url, "api-secret-" + "q" * 8)
    await configure(hook_client, other, receiver.url, "api-secret-" + "p" * 8)
    attempt_id = await finish_ct(hook_app, hook_client, mine)
    await finish_ct(hook_app, hook_client, other)
    cert_id = uuid.uuid4()
    async with transaction(hook_app.state.sessionmaker) as session:
        cert_event = await enqueue(
            session,
            "certificate.issued",
            {
                "certificate_id": str(cert_id),
                "code": "WXYZ-1234",
                "attempt_id": attempt_id,
                "candidate_id": mine.candidate["id"],
                "uic": mine.uic,
                "level": "A1",
                "plan": mine.plan,
                "issued_at": datetime.now(UTC).isoformat(),
                "verify_url": "http://testserver/verify/WXYZ-1234",
            },
            key=str(cert_id),
            organization_id=uuid.UUID(org["id"]),
        )
    await drain(ctx)
    assert len(receiver.requests) == 3
    did = delivery_id("attempt.finished", finished_event_id(attempt_id))

    listed = (await hook_client.get(API, headers=mine.admin)).json()
    assert listed["total"] == 2 and {i["uic"] for i in listed["items"]} == {mine.uic}
    assert {i["event_type"] for i in listed["items"]} == {"attempt.finished", "certificate.issued"}
    only = (
        await hook_client.get(API, headers=mine.admin, params={"event_type": "certificate.issued"})
    ).json()
    assert [i["webhook_id"] for i in only["items"]] == [str(cert_event)]
    assert (await hook_client.get(API, headers=mine.admin, params={"status": "dead"})).json()[
        "total"
    ] == 0
    assert (
        await hook_client.get(API, headers=mine.admin, params={"status": "done", "uic": mine.uic})
    ).json()["total"] == 2
    page = (await hook_client.get(API, headers=mine.admin, params={"per_page": 1})).json()
    assert (page["total"], len(page["items"]), page["per_page"]) == (2, 1, 1)
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    earlier = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    assert (await hook_client.get(API, headers=mine.admin, params={"from": later})).json()[
        "total"
    ] == 0
    assert (
        await hook_client.get(API, headers=mine.admin, params={"from": earlier, "to": later})
    ).json()["total"] == 2
    reversed_ = await hook_client.get(
        API, headers=mine.admin, params={"from": later, "to": earlier}
    )
    assert reversed_.status_code == 422
    assert reversed_.json()["type"] == "/errors/reversed-date-range"
    assert (await hook_client.get(API, headers=su, params={"uic": mine.uic})).json()["total"] == 2

    # another organization's admin: 404 everywhere, and the foreign uic filter too
    for resp in (
        await hook_client.get(f"{API}/{did}", headers=other.admin),
        await hook_client.post(f"{API}/{did}/redeliver", headers=other.admin),
        await hook_client.get(API, headers=other.admin, params={"uic": mine.uic}),
    ):
        assert resp.status_code == 404, resp.text
    assert (await hook_client.get(f"{API}/{uuid.uuid4()}", headers=mine.admin)).status_code == 404

    # a viewer reads but may not redeliver; support may
    viewer = await create_key(hook_app, "viewer", mine.uic)
    assert (await hook_client.get(f"{API}/{did}", headers=viewer)).status_code == 200
    assert (await hook_client.post(f"{API}/{did}/redeliver", headers=viewer)).status_code == 403
    support = await create_key(hook_app, "support", mine.uic)
    resp = await hook_client.post(f"{API}/{did}/redeliver", headers=support)
    assert resp.status_code == 200, resp.text
    assert (resp.json()["status"], resp.json()["next_try_at"] is not None) == ("pending", True)

    # while a worker holds it: 409; once it is done, the receiver has it again with the same id
    claimed = await claim(ctx, "test-worker", 50)
    assert did in {job.id for job in claimed}
    busy = await hook_client.post(f"{API}/{did}/redeliver", headers=mine.admin)
    assert busy.status_code == 409 and busy.json()["type"] == "/errors/delivery-running"
    for job in claimed:
        await process(ctx, job, "test-worker")
    assert receiver.requests[-1].headers["webhook-id"] == str(finished_event_id(attempt_id))
    item = (await hook_client.get(f"{API}/{did}", headers=mine.admin)).json()
    assert (item["status"], item["tries"]) == ("done", 2)
    assert [t["worker"] for t in item["history"]][-1] == "test-worker"


async def test_callback_url_checked_when_saved(client: httpx.AsyncClient, tree: Tree) -> None:
    """The app of the shared fixtures has no allow-list: loopback and private are refused."""
    uic = tree.uic["A1"]

    async def patch(body: dict[str, object]) -> httpx.Response:
        return await client.patch(f"/api/v1/organizations/{uic}", headers=tree.key["A"], json=body)

    for url in (
        "http://127.0.0.1:8080/hook",
        "http://2130706433/",
        "http://0x7f000001/",
        "http://10.0.0.5/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::ffff:127.0.0.1]/",
        "http://[fe80::1]/",
        "http://localhost:9/",
        "http://user:pw@93.184.216.34/hook",
    ):
        resp = await patch({"callback_url": url})
        assert resp.status_code == 422, (url, resp.text)
        assert resp.json()["type"] == "/errors/callback-url-refused", url
    created = await client.post(
        "/api/v1/organizations",
        headers=tree.key["A"],
        json={
            "uic": f"{tree.uic['ROOT']}-X{uuid.uuid4().hex[:8]}",
            "name": "x",
            "parent_uic": uic,
            "callback_url": "http://192.168.0.1/hook",
        },
    )
    assert created.status_code == 422
    assert created.json()["type"] == "/errors/callback-url-refused"
    assert (await patch({"callback_url": "ftp://93.184.216.34/"})).status_code == 422
    # a public literal passes without connecting; an unresolvable name is accepted (DNS may
    # come later; every delivery checks again)
    for url in ("https://93.184.216.34/hook", "https://hooks.example.invalid/hook"):
        resp = await patch({"callback_url": url})
        assert resp.status_code == 200, resp.text
        assert resp.json()["callback_url"] == url
    bad_secret = await patch({"callback_secret": "whsec_not*base64!!!!!!!"})
    assert bad_secret.status_code == 422
    short_key = await patch({"callback_secret": "whsec_" + "QUJD" * 4})  # 12 bytes
    assert short_key.status_code == 422
    assert (await patch({"callback_secret": "whsec_" + "QUJD" * 8})).status_code == 200

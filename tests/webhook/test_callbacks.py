"""Callbacks end to end: a real attempt finishes, the worker drains the outbox, a real HTTP
receiver on loopback gets a Standard Webhooks request, verified with the ``standardwebhooks``
library. The operator allow-lists 127.0.0.1 explicitly (``hook_settings``)."""

from __future__ import annotations

import base64
import secrets
import socket
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update
from standardwebhooks import Webhook, WebhookVerificationError

from etest.db import transaction
from etest.models import Organization, OutboxEvent
from etest.models.base import utcnow
from etest.outbox.jobs import JobContext, enqueue
from etest.outbox.worker import drain
from etest.tasks import job_context
from tests.attempt.conftest import Course
from tests.webhook.conftest import (
    configure,
    deliveries_of,
    delivery_id,
    finish_ct,
    finished_event_id,
)
from tests.webhook.receiver import Receiver, Reply, self_signed_tls


def verify(secret: str | bytes, received: object) -> dict[str, object]:
    body = received.body  # type: ignore[attr-defined]
    payload: dict[str, object] = Webhook(secret).verify(body, received.headers)  # type: ignore[attr-defined]
    return payload


async def test_signed_callback_on_attempt_finished(
    hook_app: FastAPI,
    hook_client: httpx.AsyncClient,
    ctx: JobContext,
    receiver: Receiver,
    course: Course,
) -> None:
    secret = "plain-secret-" + secrets.token_hex(8)
    org = await configure(hook_client, course, receiver.url, secret)
    assert org["has_callback_secret"] is True and "callback_secret" not in org
    attempt_id = await finish_ct(hook_app, hook_client, course)
    await drain(ctx)

    assert len(receiver.requests) == 1
    got = receiver.requests[0]
    event_id = str(finished_event_id(attempt_id))
    assert got.path == "/hook" and got.headers["webhook-id"] == event_id
    assert got.headers["content-type"] == "application/json"
    assert got.headers["user-agent"].startswith("eTest-Webhooks/")
    # the key of a plain secret is its UTF-8 bytes: as bytes, or as the whsec_ spelling
    body = verify(secret.encode(), got)
    assert verify("whsec_" + base64.b64encode(secret.encode()).decode(), got) == body
    with pytest.raises(WebhookVerificationError):
        verify(b"another-secret-of-some-length", got)
    assert body["type"] == "attempt.finished"
    data = body["data"]
    assert isinstance(data, dict)
    assert data["attempt_id"] == attempt_id and data["uic"] == course.uic
    assert data["kind"] == "CT" and data["outcome"]["passed"] is False
    assert body["timestamp"] == data["finished_at"]
    assert "event_id" not in data
    # the delivery log
    resp = await hook_client.get("/api/v1/webhook-deliveries", headers=course.admin)
    assert resp.status_code == 200, resp.text
    [item] = resp.json()["items"]
    assert item["id"] == str(delivery_id("attempt.finished", uuid.UUID(event_id)))
    assert (item["webhook_id"], item["event_type"], item["status"], item["tries"]) == (
        event_id,
        "attempt.finished",
        "done",
        1,
    )
    assert [(t["ok"], t["http_status"], t["response"]) for t in item["history"]] == [
        (True, 200, "ok")
    ]


async def test_whsec_secret_and_certificate_issued(
    hook_app: FastAPI,
    hook_client: httpx.AsyncClient,
    ctx: JobContext,
    receiver: Receiver,
    course: Course,
) -> None:
    secret = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
    org = await configure(hook_client, course, receiver.url, secret)
    # a certificate.issued event as the certificate package writes it (the contract payload)
    cert_id = uuid.uuid4()
    async with transaction(hook_app.state.sessionmaker) as session:
        event_id = await enqueue(
            session,
            "certificate.issued",
            {
                "certificate_id": str(cert_id),
                "code": "ABCD-EFGH",
                "attempt_id": str(uuid.uuid4()),
                "candidate_id": course.candidate["id"],
                "uic": course.uic,
                "level": "A1",
                "plan": course.plan,
                "issued_at": utcnow().isoformat(),
                "verify_url": "http://testserver/verify/ABCD-EFGH",
            },
            key=str(cert_id),
            organization_id=uuid.UUID(org["id"]),
        )
    await drain(ctx)
    [got] = receiver.requests
    assert got.headers["webhook-id"] == str(event_id)
    body = verify(secret, got)
    assert body["type"] == "certificate.issued"
    assert body["data"]["code"] == "ABCD-EFGH"  # type: ignore[index]


async def test_rotation_signs_with_both_secrets_for_a_day(
    hook_app: FastAPI,
    hook_client: httpx.AsyncClient,
    ctx: JobContext,
    receiver: Receiver,
    course: Course,
) -> None:
    old, new = "old-secret-" + secrets.token_hex(8), "new-secret-" + secrets.token_hex(8)
    org = await configure(hook_client, course, receiver.url, old)
    rotated = await hook_client.patch(
        f"/api/v1/organizations/{course.uic}", headers=course.admin, json={"callback_secret": new}
    )
    assert rotated.status_code == 200 and "callback_secret" not in rotated.json()
    assert old not in rotated.text and new not in rotated.text
    async with transaction(hook_app.state.sessionmaker) as session:
        row = await session.get(Organization, uuid.UUID(org["id"]))
        assert row is not None and row.callback_secret_previous == old
        assert row.callback_secret_previous_expires_at is not None
        left = row.callback_secret_previous_expires_at - utcnow()
        assert timedelta(hours=23, minutes=59) < left <= timedelta(hours=24)
    attempt_id = await finish_ct(hook_app, hook_client, course)
    await drain(ctx)
    [got] = receiver.requests
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    assert verify(old.encode(), got) == verify(new.encode(), got)

    # after the overlap only the new secret signs (a redelivery shows it: same webhook-id)
    async with transaction(hook_app.state.sessionmaker) as session:
        await session.execute(
            update(Organization)
            .where(Organization.id == uuid.UUID(org["id"]))
            .values(callback_secret_previous_expires_at=utcnow())
        )
    did = delivery_id("attempt.finished", finished_event_id(attempt_id))
    resp = await hook_client.post(
        f"/api/v1/webhook-deliveries/{did}/redeliver", headers=course.admin
    )
    assert resp.status_code == 200, resp.text
    await drain(ctx)
    again = receiver.requests[1]
    assert again.headers["webhook-id"] == got.headers["webhook-id"]
    assert again.body == got.body
    assert len(again.headers["webhook-signature"].split(" ")) == 1
    verify(new.encode(), again)
    with pytest.raises(WebhookVerificationError):
        verify(old.encode(), again)


async def test_500_then_200_is_retried_with_the_same_id(
    hook_app: FastAPI,
    hook_client: httpx.AsyncClient,
    ctx: JobContext,
    receiver: Receiver,
    course: Course,
) -> None:
    secret = "retry-secret-" + secrets.token_hex(8)
    await configure(hook_client, course, receiver.url, secret)
    receiver.answer(Reply(500, b"boom"), Reply(503, b"later"), Reply(200, b"thanks"))
    attempt_id = await finish_ct(hook_app, hook_client, course)
    await drain(ctx)
    assert len(receiver.requests) == 3
    assert {r.headers["webhook-id"] for r in receiver.requests} == {
        str(finished_event_id(attempt_id))
    }
    assert len({r.body for r in receiver.requests}) == 1
    for got in receiver.requests:
        verify(secret.encode(), got)
    did = delivery_id("attempt.finished", finished_event_id(attempt_id))
    resp = await hook_client.get(f"/api/v1/webhook-deliveries/{did}", headers=course.admin)
    item = resp.json()
    assert (item["status"], item["tries"], item["last_error"]) == ("done", 3, None)
    assert [(t["number"], t["ok"], t["http_status"], t["response"]) for t in item["history"]] == [
        (1, False, 500, "boom"),
        (2, False, 503, "later"),
        (3, True, 200, "thanks"),
    ]
    assert item["history"][0]["error"] == "The endpoint answered HTTP 500."
    assert item["body"]["data"]["attempt_id"] == attempt_id


async def test_410_disables_the_endpoint_until_the_url_is_saved(
    hook_app: FastAPI,
    hook_client: httpx.AsyncClient,
    ctx: JobContext,
    receiver: Receiver,
    course: Course,
) -> None:
    org = await configure(hook_client, course, receiver.url, "gone-secret-" + "x" * 8)
    receiver.answer(Reply(410, b"gone"))
    first = await finish_ct(hook_app, hook_client, course)
    await drain(ctx)
    assert len(receiver.requests) == 1
    did = delivery_id("attempt.finished", finished_event_id(first))
    item = (await hook_client.get(f"/api/v1/webhook-deliveries/{did}", headers=course.admin)).json()
    assert (item["status"], item["tries"]) == ("cancelled", 1)
    assert item["history"][0]["http_status"] == 410 and "410" in item["last_error"]
    shown = (
        await hook_client.get(f"/api/v1/organizations/{course.uic}", headers=course.admin)
    ).json()
    assert shown["callback_disabled_at"] is not None
    # no further callbacks are even enqueued, and redelivery says why
    second = await finish_ct(hook_app, hook_client, course)
    await drain(ctx)
    assert len(receiver.requests) == 1
    assert [d.id for d in await deliveries_of(hook_app, org["id"])] == [did]
    resp = await hook_client.post(
        f"/api/v1/webhook-deliveries/{did}/redeliver", headers=course.admin
    )
    assert resp.status_code == 409 and resp.json()["type"] == "/errors/callback-disabled"
    # saving the URL re-enables: the next event is delivered
    assert (await configure(hook_client, course, receiver.url))["callback_disabled_at"] is None
    third = await finish_ct(hook_app, hook_client, course)
    await drain(ctx)
    assert [r.headers["webhook-id"] for r in receiver.requests] == [
        str(finished_event_id(first)),
        str(finished_event_id(third)),
    ]
    assert second != third


async def test_redirect_is_not_followed(
    hook_app: FastAPI,
    hook_client: httpx.AsyncClient,
    ctx: JobContext,
    receiver: Receiver,
    course: Course,
) -> None:
    await configure(hook_client, course, receiver.url, "redirect-secret-" + "y" * 8)
    receiver.answer(
        Reply(302, b"", {"location": f"http://127.0.0.1:{receiver.port}/other"}), Reply(200)
    )
    attempt_id = await finish_ct(hook_app, hook_client, course)
    await drain(ctx)
    assert [(r.method, r.path) for r in receiver.requests] == [("POST", "/hook")] * 2
    did = delivery_id("attempt.finished", finished_event_id(attempt_id))
    item = (await hook_client.get(f"/api/v1/webhook-deliveries/{did}", headers=course.admin)).json()
    assert [(t["ok"], t["http_status"]) for t in item["history"]] == [(False, 302), (True, 200)]


async def test_timeout_is_retried(
    hook_app: FastAPI,
    hook_client: httpx.AsyncClient,
    ctx: JobContext,
    receiver: Receiver,
    course: Course,
) -> None:
    assert ctx.settings.callback_timeout == 1.0
    await configure(hook_client, course, receiver.url, "slow-secret-" + "z" * 8)
    receiver.answer(Reply(200, delay=2.5), Reply(200))
    attempt_id = await finish_ct(hook_app, hook_client, course)
    await drain(ctx)
    assert len(receiver.requests) == 2
    did = delivery_id("attempt.finished", finished_event_id(attempt_id))
    item = (await hook_client.get(f"/api/v1/webhook-deliveries/{did}", headers=course.admin)).json()
    first, second = item["history"]
    assert (first["ok"], first["http_status"], first["error"]) == (
        False,
        None,
        "No answer within 1 s.",
    )
    assert (second["ok"], second["http_status"], item["status"]) == (True, 200, "done")


async def test_refused_again_at_delivery_time(
    hook_app: FastAPI, hook_client: httpx.AsyncClient, receiver: Receiver, course: Course
) -> None:
    """Saved while loopback was allow-listed; the worker's settings no longer allow it: the
    receiver gets nothing, each try records why, and the row dies after its last try."""
    await configure(hook_client, course, receiver.url, "refused-secret-" + "w" * 8)
    attempt_id = await finish_ct(hook_app, hook_client, course)
    strict = hook_app.state.settings.model_copy(update={"callback_allow_networks": []})
    await drain(job_context(strict, hook_app.state.sessionmaker))
    assert receiver.requests == []
    did = delivery_id("attempt.finished", finished_event_id(attempt_id))
    item = (await hook_client.get(f"/api/v1/webhook-deliveries/{did}", headers=course.admin)).json()
    assert item["status"] == "dead" and item["tries"] == item["max_tries"]
    assert "loopback" in item["last_error"] and "127.0.0.1" in item["last_error"]
    assert all(not t["ok"] and "loopback" in t["error"] for t in item["history"])


LOCALHOST_FIRST = socket.getaddrinfo("localhost", 80, type=socket.SOCK_STREAM)[0][4][0]


@pytest.mark.skipif(
    LOCALHOST_FIRST != "127.0.0.1", reason="localhost does not resolve to 127.0.0.1 first"
)
async def test_host_name_is_resolved_pinned_and_sent_as_host(
    hook_app: FastAPI,
    hook_client: httpx.AsyncClient,
    ctx: JobContext,
    receiver: Receiver,
    course: Course,
) -> None:
    url = f"http://localhost:{receiver.port}/hook"
    await configure(hook_client, course, url, "named-secret-" + "v" * 8)
    await finish_ct(hook_app, hook_client, course)
    await drain(ctx)
    [got] = receiver.requests
    assert got.headers["host"] == f"localhost:{receiver.port}"


@pytest.mark.skipif(
    LOCALHOST_FIRST != "127.0.0.1", reason="localhost does not resolve to 127.0.0.1 first"
)
async def test_https_sends_the_host_name_as_sni_and_checks_the_certificate(
    hook_app: FastAPI,
    hook_client: httpx.AsyncClient,
    ctx: JobContext,
    course: Course,
    tmp_path: Path,
) -> None:
    """Connected to the vetted IP, the TLS handshake still names the host (SNI), and the
    certificate is verified against it: a self-signed one is refused, the delivery retried."""
    receiver = Receiver(self_signed_tls(tmp_path, "localhost")).start()
    try:
        await configure(
            hook_client, course, f"https://localhost:{receiver.port}/hook", "tls-secret-" + "t" * 8
        )
        attempt_id = await finish_ct(hook_app, hook_client, course)
        did = delivery_id("attempt.finished", finished_event_id(attempt_id))
        await drain(ctx, limit=2)  # the event, then one try of the delivery
    finally:
        receiver.stop()
    assert receiver.sni and set(receiver.sni) == {"localhost"}
    assert receiver.requests == []
    item = (await hook_client.get(f"/api/v1/webhook-deliveries/{did}", headers=course.admin)).json()
    assert item["tries"] >= 1 and not item["history"][0]["ok"]
    assert "certificate" in item["history"][0]["error"].lower()
    async with transaction(hook_app.state.sessionmaker) as session:  # leave nothing due
        await session.execute(
            update(OutboxEvent).where(OutboxEvent.id == did).values(status="cancelled")
        )


async def test_no_callback_without_url_or_secret(
    hook_app: FastAPI,
    hook_client: httpx.AsyncClient,
    ctx: JobContext,
    receiver: Receiver,
    course: Course,
) -> None:
    org = await configure(hook_client, course, receiver.url)  # a URL but no secret
    await finish_ct(hook_app, hook_client, course)
    await drain(ctx)
    assert receiver.requests == [] and await deliveries_of(hook_app, org["id"]) == []


async def test_ct_pass_sends_outcome_and_certificate(
    hook_app: FastAPI,
    hook_client: httpx.AsyncClient,
    ctx: JobContext,
    receiver: Receiver,
    course: Course,
) -> None:
    """The whole chain: a passed CT → attempt.finished → the certificate package issues the
    certificate → certificate.issued → two signed callbacks, each with its own webhook-id."""
    secret = "pass-secret-" + secrets.token_hex(8)
    await configure(hook_client, course, receiver.url, secret)
    attempt_id = await finish_ct(hook_app, hook_client, course, passed=True)
    await drain(ctx)
    bodies = {
        verify(secret.encode(), r)["type"]: (r, verify(secret.encode(), r))  # type: ignore[index]
        for r in receiver.requests
    }
    assert sorted(bodies) == ["attempt.finished", "certificate.issued"]
    assert len(receiver.requests) == 2
    finished, cert = bodies["attempt.finished"][1], bodies["certificate.issued"][1]
    assert finished["data"]["outcome"]["passed"] is True  # type: ignore[index]
    assert finished["data"]["outcome"]["score"] == 100.0  # type: ignore[index]
    data = cert["data"]
    assert isinstance(data, dict)
    assert data["attempt_id"] == attempt_id and data["level"] == "A1"
    assert data["verify_url"].endswith(f"/verify/{data['code']}")
    assert cert["timestamp"] == data["issued_at"]
    ids = {r.headers["webhook-id"] for r in receiver.requests}
    assert str(finished_event_id(attempt_id)) in ids and len(ids) == 2

"""Callbacks through the outbox: ``attempt.finished`` and ``certificate.issued`` become one
``webhook.deliver`` job each for the event's organization, and the job POSTs a signed Standard
Webhooks request to the organization's callback URL (docs/callbacks.md).

The job stores the body, not the URL or the secrets: a delivery reads the organization's current
URL and secrets when it runs, so a fixed URL or a rotated secret applies to deliveries that are
still waiting. ``webhook-id`` is the event id, the same on every try and every redelivery, so a
receiver de-duplicates on it.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from etest import __version__
from etest.kit.ssrf import UrlRefused, VettedUrl, vet_url
from etest.kit.webhook_signing import signature
from etest.models import Organization
from etest.models.base import utcnow
from etest.outbox.jobs import (
    Event,
    Job,
    JobCancelled,
    JobContext,
    JobFailed,
    enqueue,
    job,
    subscriber,
)

TOPIC = "webhook.deliver"
EVENT_TOPICS = ("attempt.finished", "certificate.issued")
USER_AGENT = f"eTest-Webhooks/{__version__}"
#: How much of the receiver's answer is kept on the try row.
EXCERPT_CHARS = 500

log = structlog.get_logger(__name__)


def active_secrets(org: Organization, now: datetime) -> list[str]:
    """The secrets that sign now: the current one, and the previous one during its overlap."""
    out = [org.callback_secret] if org.callback_secret else []
    expires = org.callback_secret_previous_expires_at
    if org.callback_secret_previous and expires is not None and expires > now:
        out.append(org.callback_secret_previous)
    return out


def wants_callbacks(org: Organization | None) -> bool:
    """Callbacks are configured (a URL and a secret) and the endpoint is not disabled."""
    return bool(
        org is not None
        and org.callback_url
        and org.callback_secret
        and org.callback_disabled_at is None
    )


async def enqueue_callback(session: AsyncSession, event: Event) -> None:
    """Queue the callback of an event for its organization (idempotent: keyed by the event)."""
    if event.organization_id is None:
        return
    org = await session.get(Organization, event.organization_id)
    if not wants_callbacks(org):
        return
    data = {k: v for k, v in event.payload.items() if k != "event_id"}
    occurred = data.get("finished_at") or data.get("issued_at") or utcnow().isoformat()
    body = {"type": event.topic, "timestamp": occurred, "data": data}
    await enqueue(
        session,
        TOPIC,
        {"webhook_id": str(event.id), "type": event.topic, "body": body},
        key=f"{event.topic}:{event.id}",
        organization_id=event.organization_id,
    )


for _topic in EVENT_TOPICS:
    subscriber(_topic)(enqueue_callback)


def pinned_request(vetted: VettedUrl) -> tuple[str, dict[str, str], dict[str, Any]]:
    """URL, headers and extensions that reach the vetted address (not a fresh DNS answer) while
    the server still sees the original host: ``Host`` header, and TLS SNI and certificate check
    against the host name."""
    url = httpx.URL(vetted.url).copy_with(host=str(vetted.address), port=vetted.port)
    return str(url), {"host": urlsplit(vetted.url).netloc}, {"sni_hostname": vetted.host}


async def _excerpt(response: httpx.Response) -> str:
    """At most :data:`EXCERPT_CHARS` of the answer, without reading a huge body."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= EXCERPT_CHARS * 4:
            break
    return b"".join(chunks).decode("utf-8", "replace")[:EXCERPT_CHARS]


def signed_headers(secrets: list[str], msg_id: str, now: datetime, body: str) -> dict[str, str]:
    """The Standard Webhooks headers of one request (``body`` exactly as sent)."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature(secrets, msg_id, now, body),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


async def _post(
    ctx: JobContext, vetted: VettedUrl, headers: dict[str, str], body: bytes
) -> tuple[int, str]:
    return await post_vetted(ctx.settings.callback_timeout, vetted, headers, body)


async def post_vetted(
    seconds: float, vetted: VettedUrl, headers: dict[str, str], body: bytes
) -> tuple[int, str]:
    """POST ``body`` to the vetted address within ``seconds``; the status and an excerpt of
    the answer (no redirect followed, no proxy from the environment)."""
    timeout = seconds
    url, host, extensions = pinned_request(vetted)
    # trust_env=False: an HTTP(S)_PROXY in the environment would connect elsewhere than the
    # vetted address. The outer timeout bounds the whole exchange (httpx's is per phase).
    async with httpx.AsyncClient(
        timeout=timeout, follow_redirects=False, trust_env=False
    ) as client:
        async with asyncio.timeout(timeout):
            request = client.build_request(
                "POST", url, content=body, headers={**headers, **host}, extensions=extensions
            )
            response = await client.send(request, stream=True)
            try:
                return response.status_code, await _excerpt(response)
            finally:
                await response.aclose()


@job(TOPIC)
async def deliver(ctx: JobContext, job_: Job) -> dict[str, Any]:
    """POST one callback. 2xx: done. 410: the endpoint is disabled and the job cancelled.
    Anything else (3xx included: redirects are not followed), a timeout or a refused address:
    retried with back-off (the worker's)."""
    async with ctx.transaction() as session:
        org = (
            await session.get(Organization, job_.organization_id) if job_.organization_id else None
        )
        if org is None or not org.callback_url or not org.callback_secret:
            raise JobCancelled("The organization has no callback URL and secret any more.")
        if org.callback_disabled_at is not None:
            raise JobCancelled(
                "The callback endpoint was disabled (410 Gone) at "
                f"{org.callback_disabled_at.isoformat()}."
            )
        url, org_id = org.callback_url, org.id
        secrets = active_secrets(org, ctx.clock())
    try:
        vetted = await vet_url(url, ctx.settings.callback_allow_networks)
    except UrlRefused as exc:
        # Retried: the admin may fix the DNS record or the URL before the last try.
        raise JobFailed(str(exc), detail={"url": url}) from exc
    body = json.dumps(job_.payload["body"], ensure_ascii=False, separators=(",", ":"))
    msg_id = str(job_.payload["webhook_id"])
    headers = signed_headers(secrets, msg_id, ctx.clock(), body)
    try:
        status, excerpt = await _post(ctx, vetted, headers, body.encode())
    except (TimeoutError, httpx.TimeoutException) as exc:
        raise JobFailed(
            f"No answer within {ctx.settings.callback_timeout:g} s.",
            detail={"url": url, "address": str(vetted.address)},
        ) from exc
    except httpx.HTTPError as exc:
        raise JobFailed(
            f"{type(exc).__name__}: {exc}"[:500],
            detail={"url": url, "address": str(vetted.address)},
        ) from exc
    detail = {"status": status, "body": excerpt, "url": url, "signatures": len(secrets)}
    if 200 <= status < 300:
        return detail
    if status == 410:
        await _disable(ctx, org_id, url)
        raise JobCancelled(
            "The endpoint answered 410 Gone: callbacks are disabled until the "
            "callback URL is saved again.",
            detail=detail,
        )
    raise JobFailed(f"The endpoint answered HTTP {status}.", detail=detail)


async def _disable(ctx: JobContext, org_id: uuid.UUID, url: str) -> None:
    async with ctx.transaction() as session:
        org = await session.get(Organization, org_id)
        # Not if the admin changed the URL meanwhile: the 410 came from the old endpoint.
        if org is not None and org.callback_url == url and org.callback_disabled_at is None:
            org.callback_disabled_at = ctx.clock()
            log.warning("callback_disabled", uic=org.uic, url=url)

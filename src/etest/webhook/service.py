"""The delivery log's one rule that changes state (redelivery) and the test ping an admin
sends to the organization's endpoint."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass
from datetime import datetime

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from etest.audit.service import record
from etest.auth.actor import Actor
from etest.config import Settings
from etest.errors import Forbidden, InvalidValue
from etest.kit.ssrf import UrlRefused, vet_url
from etest.models import Organization, OutboxEvent
from etest.models.base import utcnow
from etest.organization import repository as org_repository
from etest.outbox.service import requeue
from etest.webhook import repository
from etest.webhook.errors import CallbackDisabled, DeliveryRunning
from etest.webhook.tasks import active_secrets, post_vetted, signed_headers

#: The ``type`` of a test ping's body (never an event: receivers may simply answer 2xx).
PING_TYPE = "etest.ping"

#: Who may redeliver: those who may write, and support (design §4: "resend notifications").
REDELIVER_ROLES = frozenset({"superadmin", "admin", "support"})


async def redeliver(
    session: AsyncSession, actor: Actor, settings: Settings, delivery_id: uuid.UUID
) -> tuple[OutboxEvent, str]:
    """Make a delivery due now, whatever its state, except while a worker holds it. The row
    keeps its id and its body, so the receiver gets the same ``webhook-id`` (and may
    de-duplicate); it gets a fresh budget of tries."""
    if actor.role not in REDELIVER_ROLES:
        raise Forbidden(f"The role {actor.role!r} may not redeliver callbacks.")
    row, uic = await repository.get(session, actor, delivery_id, for_update=True)
    now = utcnow()
    if row.status == "running" and row.locked_until is not None and row.locked_until > now:
        raise DeliveryRunning(
            "A worker is delivering this callback right now; try again when it has finished."
        )
    org = await session.get(Organization, row.organization_id)
    if org is not None and org.callback_disabled_at is not None:
        raise CallbackDisabled(
            "The endpoint answered 410 Gone and was disabled; save the "
            "organization's callback_url again to re-enable it."
        )
    requeue(row, settings)
    await session.flush()
    record(
        session,
        actor,
        "webhook.redeliver",
        target_type="webhook_delivery",
        target_id=row.id,
        organization_id=row.organization_id,
    )
    return row, uic


# ------------------------------------------------------------------------------ test ping


@dataclass(frozen=True)
class PingTarget:
    """What a test ping needs, read in the request's transaction (which then ends: the HTTP
    exchange runs outside any transaction)."""

    uic: str
    url: str
    secrets: list[str]


@dataclass(frozen=True)
class PingResult:
    """``ok``: the endpoint answered 2xx. ``status`` is None when no answer came (``error``
    says why: the SSRF guard, DNS, a refused connection, the timeout)."""

    ok: bool
    status: int | None
    error: str | None
    response: str
    elapsed_ms: int
    webhook_id: str


async def prepare_ping(session: AsyncSession, actor: Actor, uic: str) -> PingTarget:
    """An admin's test ping of the organization ``uic`` (of the actor's subtree), audited as
    ``webhook.ping``; needs a callback URL and secret."""
    actor.require("write")
    org = await org_repository.get_by_uic(session, actor, uic)
    if not org.callback_url or not org.callback_secret:
        raise InvalidValue("Save a callback URL and a secret before sending a test ping.")
    record(
        session,
        actor,
        "webhook.ping",
        target_type="organization",
        target_id=org.uic,
        organization_id=org.id,
        details={"url": org.callback_url},
    )
    return PingTarget(org.uic, org.callback_url, active_secrets(org, utcnow()))


async def send_ping(
    settings: Settings, target: PingTarget, now: datetime | None = None
) -> PingResult:
    """POST a signed ``etest.ping`` to the target exactly as a callback is sent (the SSRF
    guard with the operator's allow-list, the vetted address pinned, the same headers and
    signatures, the callback timeout, no redirect followed). Never raises for the far side's
    failures: they are the result."""
    now = now or utcnow()
    msg_id = f"ping_{uuid.uuid4().hex}"
    body = json.dumps(
        {"type": PING_TYPE, "timestamp": now.isoformat(), "data": {"uic": target.uic}},
        separators=(",", ":"),
    )
    started = time.monotonic()

    def result(status: int | None, error: str | None, response: str = "") -> PingResult:
        elapsed = int((time.monotonic() - started) * 1000)
        ok = status is not None and 200 <= status < 300
        return PingResult(ok, status, error, response, elapsed, msg_id)

    try:
        async with asyncio.timeout(settings.callback_timeout):
            vetted = await vet_url(target.url, settings.callback_allow_networks)
    except UrlRefused as exc:
        return result(None, str(exc))
    except TimeoutError:
        return result(
            None, f"The host name did not resolve within {settings.callback_timeout:g} s."
        )
    headers = signed_headers(target.secrets, msg_id, now, body)
    try:
        status, excerpt = await post_vetted(
            settings.callback_timeout, vetted, headers, body.encode()
        )
    except (TimeoutError, httpx.TimeoutException):
        return result(None, f"No answer within {settings.callback_timeout:g} s.")
    except httpx.HTTPError as exc:
        return result(None, f"{type(exc).__name__}: {exc}"[:500])
    return result(status, None if 200 <= status < 300 else f"HTTP {status}", excerpt)

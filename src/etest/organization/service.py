"""Organization rules: the tree, who may change expiry, and whether an organization is live."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from etest.audit.service import record
from etest.auth.actor import Actor
from etest.errors import Conflict, Forbidden, Unprocessable
from etest.models import Organization
from etest.models.base import utcnow
from etest.organization import repository
from etest.organization.schemas import OrganizationCreate, OrganizationSettings, OrganizationUpdate
from etest.plan.service import require_plan_code
from etest.webhook.errors import CallbackUrlRefused
from etest.webhook.signing import SECRET_OVERLAP
from etest.webhook.ssrf import UrlRefused, UrlUnresolved, vet_url

log = structlog.get_logger(__name__)

#: Fields that only an ancestor (or a global superadmin) may change: an organization's own admin
#: must not be able to extend its own contract.
_CONTRACT_FIELDS = ("expires_at", "is_active", "plan_code", "region")
#: Seconds a save waits for DNS before it accepts an unresolved callback host.
_RESOLVE_TIMEOUT = 5.0


async def check_callback_url(url: str, allow_networks: Sequence[str]) -> None:
    """Refuse (422 ``callback-url-refused``) a callback URL that is malformed or names an
    address the SSRF guard refuses. A host that does not resolve *now* is accepted with a
    warning in the log: DNS may be set up after the URL, and every delivery checks again."""
    try:
        async with asyncio.timeout(_RESOLVE_TIMEOUT):
            await vet_url(url, allow_networks)
    except (UrlUnresolved, TimeoutError) as exc:
        log.warning("callback_url_unresolved", url=url, error=str(exc) or "DNS timeout")
    except UrlRefused as exc:
        raise CallbackUrlRefused(str(exc)) from exc


def _set_secret(org: Organization, secret: str | None) -> None:
    """Rotate: the old secret keeps signing for ``SECRET_OVERLAP``; clearing clears both."""
    if secret == org.callback_secret:
        return
    if secret is not None and org.callback_secret:
        org.callback_secret_previous = org.callback_secret
        org.callback_secret_previous_expires_at = utcnow() + SECRET_OVERLAP
    else:
        org.callback_secret_previous = None
        org.callback_secret_previous_expires_at = None
    org.callback_secret = secret


async def create(session: AsyncSession, actor: Actor, body: OrganizationCreate, *,
                 callback_allow_networks: Sequence[str] = ()) -> Organization:
    actor.require("write")
    parent = None
    if body.parent_uic is not None:
        parent = await repository.get_by_uic(session, actor, body.parent_uic)
    elif not actor.is_global:
        raise Unprocessable("parent_uic is required: an organization is created below your own.",
                            code="invalid-parent")
    if await session.scalar(select(Organization.id).where(Organization.uic == body.uic)):
        raise Conflict(f"The UIC {body.uic!r} is taken.", code="uic-taken")
    await require_plan_code(session, body.plan_code)
    if body.callback_url is not None:
        await check_callback_url(str(body.callback_url), callback_allow_networks)
    values = body.model_dump(exclude={"parent_uic", "settings", "logo_url", "callback_url"})
    org = Organization(**values, parent_id=parent.id if parent else None, path="",
                       logo_url=str(body.logo_url) if body.logo_url else None,
                       callback_url=str(body.callback_url) if body.callback_url else None,
                       settings=body.settings.model_dump())
    if org.plan_code is None and parent is not None:
        org.plan_code = parent.plan_code
    session.add(org)
    await session.flush()
    org.path = f"{parent.path if parent else '/'}{org.id.hex}/"
    await session.flush()
    record(session, actor, "organization.create", target_type="organization", target_id=org.uic,
           organization_id=org.id)
    return org


async def update(session: AsyncSession, actor: Actor, uic: str, body: OrganizationUpdate, *,
                 callback_allow_networks: Sequence[str] = ()) -> Organization:
    """Change fields. A new ``callback_secret`` rotates (the old one signs for 24 h more);
    saving ``callback_url`` (even unchanged) re-enables an endpoint disabled by a 410."""
    actor.require("write")
    org = await repository.get_by_uic(session, actor, uic)
    changes = body.model_dump(exclude_unset=True, exclude={"settings"})
    if any(f in changes for f in _CONTRACT_FIELDS) and not (
        actor.is_global or (actor.organization_id != org.id and actor.covers(org.path))
    ):
        raise Forbidden("Only an ancestor organization may change expiry, activity, plan or "
                        "region.")
    if "plan_code" in changes:
        await require_plan_code(session, changes["plan_code"])
    if changes.get("callback_url") is not None:
        await check_callback_url(str(changes["callback_url"]), callback_allow_networks)
    if "callback_url" in changes:
        org.callback_disabled_at = None
    if "callback_secret" in changes:
        _set_secret(org, changes["callback_secret"])
    for key, value in changes.items():
        if key == "callback_secret":
            continue
        if key in ("name", "region", "timezone", "is_active") and value is None:
            raise Unprocessable(f"{key} cannot be null.", code="validation-error")
        setattr(org, key, str(value) if key in ("logo_url", "callback_url") and value else value)
    if body.settings is not None:
        merged = {**org.settings, **body.settings.model_dump(exclude_unset=True)}
        org.settings = OrganizationSettings.model_validate(merged).model_dump()
    await session.flush()
    audited = sorted({*changes} | ({"settings"} if body.settings is not None else set()))
    record(session, actor, "organization.update", target_type="organization", target_id=org.uic,
           organization_id=org.id, details={"fields": audited})
    return org


async def is_live(session: AsyncSession, org: Organization) -> bool:
    """Active and unexpired, and so is every ancestor (an expired parent closes its subtree)."""
    now = utcnow()
    rows = await session.execute(select(Organization.is_active, Organization.expires_at)
                                 .where(Organization.id.in_(repository.ancestor_ids(org))))
    return all(active and (expires is None or expires > now) for active, expires in rows)


async def require_live(session: AsyncSession, org: Organization) -> None:
    if not await is_live(session, org):
        raise Forbidden(f"The organization {org.uic!r} is expired or inactive.",
                        code="organization-expired")

"""Organization rules: the tree and its UIC namespaces, the plan contract, who may change
expiry and plans, and whether an organization is live (docs/tenancy.md)."""

from __future__ import annotations

import asyncio
from collections.abc import Collection, Sequence

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from etest.audit.service import record
from etest.auth.actor import Actor
from etest.errors import Forbidden
from etest.kit.ssrf import UrlRefused, UrlUnresolved, vet_url
from etest.kit.webhook_signing import SECRET_OVERLAP
from etest.models import Organization
from etest.models.base import utcnow
from etest.organization import repository
from etest.organization.errors import (
    CallbackUrlRefused,
    InvalidParent,
    OrganizationExpired,
    UicOutsideNamespace,
    UicTaken,
)
from etest.organization.schemas import OrganizationCreate, OrganizationSettings, OrganizationUpdate
from etest.plan import repository as plan_repository
from etest.plan.errors import PlanInUse, PlanNotAllowed
from etest.plan.service import require_plan_code, require_plan_codes

log = structlog.get_logger(__name__)

#: Fields that only an ancestor (or a global superadmin) may change: an organization's own admin
#: must not be able to extend its own contract.
_CONTRACT_FIELDS = ("expires_at", "is_active", "plan_code", "allowed_plans", "region")
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


# ------------------------------------------------------------------------- the plan contract


def own_plans(plan_code: str | None, allowed: Sequence[str] | None) -> list[str]:
    """An organization's own contract: its plan and its allowed plans."""
    return list(dict.fromkeys([*([plan_code] if plan_code else []), *(allowed or [])]))


async def _inherited_plans(session: AsyncSession, org: Organization) -> frozenset[str]:
    """The contract of the nearest ancestor that has one (empty when none has)."""
    ids = repository.ancestor_ids(org)[:-1]
    rows = await repository.contracts_of(session, ids)
    for row in sorted(rows, key=lambda r: len(r.path), reverse=True):
        own = own_plans(row.plan_code, row.allowed_plans)
        if own:
            return frozenset(own)
    return frozenset()


async def allowed_plans(session: AsyncSession, org: Organization) -> frozenset[str]:
    """The plans an organization's contract allows: its ``plan_code`` and ``allowed_plans``;
    an organization with neither (a grouping office) is bound by its nearest ancestor's."""
    own = own_plans(org.plan_code, org.allowed_plans)
    return frozenset(own) if own else await _inherited_plans(session, org)


async def check_plans(
    session: AsyncSession, actor: Actor, org: Organization, plans: Collection[str | None]
) -> None:
    """Refuse (422 ``plan-not-allowed``) plans outside the contract of ``org`` or of the
    caller's own organization: an admin hands on only what its own contract holds. The
    operator (a global superadmin) may give any plan."""
    wanted = [p for p in plans if p]
    if actor.is_global or not wanted:
        return
    orgs = [org]
    if actor.organization_id is not None and actor.organization_id != org.id:
        own = await session.get(Organization, actor.organization_id)
        assert own is not None  # an actor's organization exists
        orgs.append(own)
    for each in orgs:
        outside = [p for p in wanted if p not in await allowed_plans(session, each)]
        if outside:
            raise PlanNotAllowed(
                f"The plan {', '.join(outside)} is not part of the contract of "
                f"{each.uic!r}; an ancestor's admin or the operator sets it."
            )


async def _check_narrowing(
    session: AsyncSession, org: Organization, old: list[str], new: list[str]
) -> None:
    """Refuse (409 ``plan-in-use``) to drop a plan an organization below still has."""
    inherited = await _inherited_plans(session, org) if not (old and new) else frozenset()
    dropped = set(old or inherited) - set(new or inherited)
    if not dropped:
        return
    rows = await repository.contracts_below(session, org)
    users = [row.uic for row in rows if dropped & set(own_plans(row.plan_code, row.allowed_plans))]
    if users:
        raise PlanInUse(
            f"{', '.join(sorted(dropped))} is still the plan of "
            f"{', '.join(users[:10])} below {org.uic!r}: change those first."
        )


# --------------------------------------------------------------------------- UIC namespaces


async def _check_uic(
    session: AsyncSession, actor: Actor, uic: str, parent: Organization | None
) -> None:
    """A non-global caller creates UICs in its top-level organization's namespace
    (``<root UIC>-…``), so it can never meet a code of another customer; the operator may
    name anything that does not fall into another top-level organization's namespace. Only a
    code inside the caller's own namespace can then be taken (409 ``uic-taken``)."""
    if not actor.is_global:
        assert parent is not None  # a non-global caller always names a parent
        root = await session.get(Organization, parent.root_id)
        assert root is not None
        if not uic.startswith(f"{root.uic}-"):
            raise UicOutsideNamespace(
                f"An organization created below {root.uic!r} takes a UIC that starts with "
                f"'{root.uic}-' (the namespace of your top-level organization)."
            )
    else:
        prefixes = [uic[:n] for n, ch in enumerate(uic) if ch == "-" and n > 0]
        owner = await repository.top_level_named(
            session, prefixes, None if parent is None else parent.root_id
        )
        if owner is not None:
            raise UicOutsideNamespace(
                f"{uic!r} lies in the namespace of the top-level "
                f"organization {owner!r} ('{owner}-…')."
            )
        if parent is None:
            covered = await repository.uic_starting(session, f"{uic}-")
            if covered is not None:
                raise UicOutsideNamespace(
                    f"A top-level organization {uic!r} would take the "
                    f"existing {covered!r} into its namespace."
                )
    if await repository.uic_taken(session, uic):
        raise UicTaken(f"The UIC {uic!r} is taken.")


# ------------------------------------------------------------------------------ create/update


def may_change_contract(actor: Actor, org: Organization) -> bool:
    """Expiry, activity, plans and region are set from above: by the operator or an admin of
    an ancestor, never by the organization's own staff."""
    return actor.is_global or (
        actor.can("write") and actor.organization_id != org.id and actor.covers(org.path)
    )


async def plans_for_child(session: AsyncSession, actor: Actor, parent: Organization) -> list[str]:
    """The plans ``actor`` may give a new organization below ``parent`` (what
    :func:`check_plans` lets through): the operator any plan, anyone else the plans of both
    the parent's contract and its own."""
    if actor.is_global:
        return [p.code for p in await plan_repository.plans(session)]
    plans = set(await allowed_plans(session, parent))
    if actor.organization_id is not None and actor.organization_id != parent.id:
        own = await session.get(Organization, actor.organization_id)
        assert own is not None  # an actor's organization exists
        plans &= await allowed_plans(session, own)
    return sorted(plans)


async def create(
    session: AsyncSession,
    actor: Actor,
    body: OrganizationCreate,
    *,
    callback_allow_networks: Sequence[str] = (),
) -> Organization:
    actor.require("write")
    parent = None
    if body.parent_uic is not None:
        parent = await repository.get_by_uic(session, actor, body.parent_uic)
    elif not actor.is_global:
        raise InvalidParent("parent_uic is required: an organization is created below your own.")
    await _check_uic(session, actor, body.uic, parent)
    plan_code = await require_plan_code(session, body.plan_code)
    if plan_code is None and parent is not None:
        plan_code = parent.plan_code
    allowed = await require_plan_codes(session, body.allowed_plans or [])
    if parent is not None:
        await check_plans(session, actor, parent, own_plans(plan_code, allowed))
    if body.callback_url is not None:
        await check_callback_url(str(body.callback_url), callback_allow_networks)
    values = body.model_dump(
        exclude={"parent_uic", "settings", "logo_url", "callback_url", "plan_code", "allowed_plans"}
    )
    org = Organization(
        **values,
        parent_id=parent.id if parent else None,
        path="",
        plan_code=plan_code,
        allowed_plans=allowed or None,
        logo_url=str(body.logo_url) if body.logo_url else None,
        callback_url=str(body.callback_url) if body.callback_url else None,
        settings=body.settings.model_dump(),
    )
    session.add(org)
    await session.flush()
    org.path = f"{parent.path if parent else '/'}{org.id.hex}/"
    await session.flush()
    record(
        session,
        actor,
        "organization.create",
        target_type="organization",
        target_id=org.uic,
        organization_id=org.id,
    )
    return org


async def update(
    session: AsyncSession,
    actor: Actor,
    uic: str,
    body: OrganizationUpdate,
    *,
    callback_allow_networks: Sequence[str] = (),
) -> Organization:
    """Change fields. A new ``callback_secret`` rotates (the old one signs for 24 h more);
    saving ``callback_url`` (even unchanged) re-enables an endpoint disabled by a 410."""
    actor.require("write")
    org = await repository.get_by_uic(session, actor, uic)
    changes = body.model_dump(exclude_unset=True, exclude={"settings"})
    if any(f in changes for f in _CONTRACT_FIELDS) and not may_change_contract(actor, org):
        raise Forbidden(
            "Only an ancestor organization may change expiry, activity, plans or region."
        )
    if "plan_code" in changes:
        changes["plan_code"] = await require_plan_code(session, changes["plan_code"])
    if "allowed_plans" in changes:
        changes["allowed_plans"] = (
            await require_plan_codes(session, changes["allowed_plans"] or []) or None
        )
    if "plan_code" in changes or "allowed_plans" in changes:
        old = own_plans(org.plan_code, org.allowed_plans)
        new = own_plans(
            changes.get("plan_code", org.plan_code), changes.get("allowed_plans", org.allowed_plans)
        )
        if org.parent_id is not None:
            parent = await session.get(Organization, org.parent_id)
            assert parent is not None
            await check_plans(session, actor, parent, [p for p in new if p not in old])
        await _check_narrowing(session, org, old, new)
    if changes.get("callback_url") is not None:
        await check_callback_url(str(changes["callback_url"]), callback_allow_networks)
    if "callback_url" in changes:
        org.callback_disabled_at = None
    if "callback_secret" in changes:
        _set_secret(org, changes["callback_secret"])
    for key, value in changes.items():
        if key == "callback_secret":
            continue
        setattr(org, key, str(value) if key in ("logo_url", "callback_url") and value else value)
    if body.settings is not None:
        merged = {**org.settings, **body.settings.model_dump(exclude_unset=True)}
        org.settings = OrganizationSettings.model_validate(merged).model_dump()
    await session.flush()
    audited = sorted({*changes} | ({"settings"} if body.settings is not None else set()))
    record(
        session,
        actor,
        "organization.update",
        target_type="organization",
        target_id=org.uic,
        organization_id=org.id,
        details={"fields": audited},
    )
    return org


async def frame_ancestors(session: AsyncSession, org: Organization) -> list[str]:
    """The origins that may frame the organization's tests: its own ``frame_ancestors``, or
    those of its nearest ancestor with a list (a platform sets it once for its tree; a school
    may narrow or replace it). Empty: no page may frame them (docs/embedding.md)."""
    for org_id in reversed(repository.ancestor_ids(org)):
        row = org if org_id == org.id else await session.get(Organization, org_id)
        own = list((row.settings or {}).get("frame_ancestors") or []) if row else []
        if own:
            return [str(o) for o in own]
    return []


async def is_live(session: AsyncSession, org: Organization) -> bool:
    """Active and unexpired, and so is every ancestor (an expired parent closes its subtree)."""
    now = utcnow()
    rows = await repository.liveness_of(session, repository.ancestor_ids(org))
    return all(active and (expires is None or expires > now) for active, expires in rows)


async def require_live(session: AsyncSession, org: Organization) -> None:
    if not await is_live(session, org):
        raise OrganizationExpired(f"The organization {org.uic!r} is expired or inactive.")

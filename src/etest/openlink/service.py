"""Open link rules: who may create and revoke one (admins of the organization's subtree,
audited like tokens), when a link admits a registration (not revoked, inside its window, under
its cap, with its access code) and what a registration does: a new candidate in the link's
organization and a token issued through the same rules as every token (docs/open-links.md).

An email already registered in the organization's tree is refused, never reused: otherwise
anyone who knows a candidate's email could start a test in that candidate's name."""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from etest.audit.service import record
from etest.auth.actor import Actor
from etest.candidate import repository as candidate_repository
from etest.candidate import service as candidate_service
from etest.candidate.schemas import CandidateCreate
from etest.config import Settings
from etest.errors import InvalidValue
from etest.kit.secrets import digest
from etest.models import Organization, TestToken
from etest.models.base import utcnow
from etest.models.token import OpenLink
from etest.openlink import repository
from etest.openlink.errors import (
    AccessCodeWrong,
    OpenLinkClosed,
    OpenLinkEmailRegistered,
    OpenLinkFull,
    OpenLinkNotOpen,
)
from etest.openlink.schemas import LinkStatus, OpenLinkCreate, Registration
from etest.organization.service import require_live
from etest.plan.service import get_plan
from etest.token import service as token_service
from etest.token.errors import NoPlan
from etest.token.schemas import TokenIssue


def _code_digest(settings: Settings, link_slug: str, code: str) -> str:
    # keyed with the pepper and bound to the link: a digest copied to another link is useless
    return digest(settings.pepper(), f"open-link-access:{link_slug}:{code.strip()}")


def url_of(settings: Settings, link: OpenLink) -> str:
    return f"{settings.base_url.rstrip('/')}/join/{link.slug}"


def status(link: OpenLink, now: datetime) -> LinkStatus:
    """``revoked``, ``closed`` (past its window), ``not_open`` (before it), ``full`` or
    ``open``."""
    if link.revoked_at is not None:
        return "revoked"
    if link.closes_at is not None and link.closes_at <= now:
        return "closed"
    if link.opens_at is not None and now < link.opens_at:
        return "not_open"
    if link.max_uses is not None and link.uses >= link.max_uses:
        return "full"
    return "open"


def require_open(link: OpenLink, now: datetime) -> None:
    """Raise the link's problem unless it admits a registration now."""
    state = status(link, now)
    if state == "revoked":
        raise OpenLinkClosed("This link was withdrawn by the organization.")
    if state == "closed":
        raise OpenLinkClosed("This link has closed: registrations are no longer taken.")
    if state == "not_open":
        assert link.opens_at is not None
        raise OpenLinkNotOpen(
            f"This link opens at {link.opens_at.isoformat(timespec='minutes')}.",
            opens_at=link.opens_at.isoformat(),
        )
    if state == "full":
        raise OpenLinkFull("This link is full: it has been used as many times as it allows.")


async def _target(session: AsyncSession, actor: Actor, uic: str | None) -> Organization:
    return await candidate_service.target_org(session, actor, uic)


async def create(
    session: AsyncSession, actor: Actor, settings: Settings, body: OpenLinkCreate
) -> tuple[OpenLink, str]:
    """Create a link for the organization ``uic`` (the actor's own by default); refused like a
    token when no token could be issued through it (no plan, a plan outside the contract, a
    level outside the plan, no content)."""
    actor.require("write")
    org = await _target(session, actor, body.uic)
    await require_live(session, org)
    if org.plan_code is None:
        raise NoPlan("The organization has no plan, so a link could not choose a test.")
    plan = await get_plan(session, org.plan_code)
    await token_service.check_issuable(session, org, plan, body.type, body.level)
    slug = secrets.token_urlsafe(12)
    link = OpenLink(
        organization_id=org.id,
        slug=slug,
        title=body.title,
        type=body.type,
        level=body.level,
        plan_code=plan.code,
        max_uses=body.max_uses,
        uses=0,
        opens_at=body.opens_at,
        closes_at=body.closes_at,
        access_code_digest=(
            _code_digest(settings, slug, body.access_code) if body.access_code else None
        ),
        required_fields=list(body.required_fields),
        language=body.language,
        created_by=actor.subject,
    )
    session.add(link)
    await session.flush()
    record(
        session,
        actor,
        "open_link.create",
        target_type="open_link",
        target_id=link.id,
        organization_id=org.id,
        details={
            "type": link.type,
            "level": link.level,
            "max_uses": link.max_uses,
            "opens_at": link.opens_at.isoformat() if link.opens_at else None,
            "closes_at": link.closes_at.isoformat() if link.closes_at else None,
            "access_code": link.access_code_digest is not None,
        },
    )
    return link, org.uic


async def revoke(session: AsyncSession, actor: Actor, link: OpenLink) -> None:
    """Withdraw a link (idempotent): its page says so; tokens it issued stay valid."""
    actor.require("write")
    if link.revoked_at is not None:
        return
    link.revoked_at = utcnow()
    await session.flush()
    record(
        session,
        actor,
        "open_link.revoke",
        target_type="open_link",
        target_id=link.id,
        organization_id=link.organization_id,
        details={"uses": link.uses},
    )


def access_code_ok(settings: Settings, link: OpenLink, given: str | None) -> bool:
    if link.access_code_digest is None:
        return True
    return given is not None and hmac.compare_digest(
        _code_digest(settings, link.slug, given), link.access_code_digest
    )


async def register(
    session: AsyncSession,
    settings: Settings,
    link: OpenLink,
    org: Organization,
    form: Registration,
) -> tuple[TestToken, str]:
    """Register a candidate through ``link`` and issue its token; returns the token and its
    one-time code. The caller has found the link by its slug. Checked in this order: the
    link admits registrations, the access code, the fields the link requires, the email is new
    in the tree; then one use is counted (refused when the cap was reached meanwhile), the
    candidate created and the token issued, all in the caller's transaction: a refusal after
    the count rolls the count back with the rest."""
    now = utcnow()
    require_open(link, now)
    if not access_code_ok(settings, link, form.access_code):
        raise AccessCodeWrong(
            "The access code is wrong." if form.access_code else "Enter the access code."
        )
    missing = [f for f in link.required_fields if not getattr(form, f, None)]
    if missing:
        raise InvalidValue(f"Fill in: {', '.join(missing)}.", fields=missing)
    email = str(form.email).lower()
    if await candidate_repository.email_taken(session, email, org.root_id):
        raise OpenLinkEmailRegistered(
            "This email is already registered with this organization. Use the test link you "
            "were sent, or ask the organization for a new one."
        )
    if not await repository.take_use(session, link.id, now):
        await session.refresh(link)
        require_open(link, utcnow())  # closed or revoked meanwhile: say that
        raise OpenLinkFull("This link is full: it has been used as many times as it allows.")
    actor = Actor(f"open-link:{link.id}", "admin", org.id, org.path)
    candidate, _ = await candidate_service.create(
        session,
        actor,
        CandidateCreate(
            email=email,
            first_name=form.first_name,
            last_name=form.last_name,
            username=form.username,
            phone=form.phone,
            uic=org.uic,
            plan_code=link.plan_code,
            registered_from="etest",
        ),
    )
    if link.language:
        candidate.language = link.language
    token, _, code = await token_service.issue(
        session,
        actor,
        settings,
        TokenIssue(
            candidate_id=candidate.id,
            type="CT" if link.type == "CT" else "PT",
            level=link.level,
        ),
    )
    token.open_link_id = link.id
    token.language = link.language
    token.accommodations = link.accommodations
    await session.flush()
    return token, code

"""Every candidate query, filtered by the actor's subtree (a foreign id reads as missing)."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence

from sqlalchemy import Select, distinct, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from etest.auth.actor import Actor
from etest.auth.scope import scoped
from etest.candidate.errors import EmailAmbiguous
from etest.errors import NotFound
from etest.models import (
    Attempt,
    Candidate,
    CandidateTransfer,
    Certificate,
    Organization,
    Response,
)
from etest.organization.repository import in_organization


def visible(actor: Actor) -> Select[Candidate, str]:
    result: Select[Candidate, str] = scoped(
        select(Candidate, Organization.uic), actor, Candidate.organization_id
    )
    return result


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def filtered(
    actor: Actor,
    *,
    hidden: bool = False,
    within: Organization | None = None,
    include_descendants: bool = True,
    q: str | None = None,
    email: str | None = None,
    username: str | None = None,
    level: str | None = None,
    pt_level: str | None = None,
    registered_from: str | None = None,
) -> Select[Candidate, str]:
    """The actor's candidates matching every filter given, for ``paginate``: hidden ones or
    the others; ``within`` a visible organization (its subtree, or it alone without
    ``include_descendants``); ``q`` a substring of the names, username or email
    (case-insensitive, ``%`` and ``_`` literal); ``level`` and ``pt_level`` canonical names."""
    stmt = visible(actor).where(Candidate.hidden.is_(hidden))
    if within is not None:
        stmt = stmt.where(
            in_organization(
                within, Candidate.organization_id, include_descendants=include_descendants
            )
        )
    if q:
        pattern = _like(q)
        stmt = stmt.where(
            or_(
                *(
                    col.ilike(pattern, escape="\\")
                    for col in (
                        Candidate.first_name,
                        Candidate.last_name,
                        Candidate.username,
                        Candidate.email,
                    )
                )
            )
        )
    if email:
        stmt = stmt.where(Candidate.email == email.lower())
    if username:
        stmt = stmt.where(Candidate.username == username)
    for column, value in ((Candidate.current_level, level), (Candidate.pt_level, pt_level)):
        if value:
            stmt = stmt.where(column == value)
    if registered_from:
        stmt = stmt.where(Candidate.registered_from == registered_from)
    return stmt


async def by_emails(
    session: AsyncSession, actor: Actor, emails: Collection[str]
) -> list[tuple[Candidate, str]]:
    """The actor's candidates with any of these emails and their UICs, by email (several per
    email for a caller who sees several customer trees)."""
    rows = await session.execute(
        visible(actor)
        .where(Candidate.email.in_({e.lower() for e in emails}))
        .order_by(Candidate.email)
    )
    return [(row[0], row[1]) for row in rows]


async def get(
    session: AsyncSession, actor: Actor, candidate_id: uuid.UUID
) -> tuple[Candidate, str]:
    row = (await session.execute(visible(actor).where(Candidate.id == candidate_id))).first()
    if row is None:
        raise NotFound("No such candidate.")
    return row[0], row[1]


async def get_by_email(
    session: AsyncSession, actor: Actor, email: str, within: Organization | None = None
) -> tuple[Candidate, str]:
    """The one candidate of the actor's subtree (or of ``within``'s) with this email. Inside one
    tree an email is one candidate; a global caller whose email matches candidates of several
    trees gets 409 ``email-ambiguous`` instead of one of them."""
    stmt = visible(actor).where(Candidate.email == email.lower())
    if within is not None:
        stmt = stmt.where(Organization.path.startswith(within.path, autoescape=True))
    rows = (await session.execute(stmt.order_by(Candidate.id).limit(2))).all()
    if not rows:
        raise NotFound("No candidate with this email.")
    if len(rows) > 1:
        raise EmailAmbiguous(
            "This email names candidates of several organizations' trees: "
            "give candidate_id, or a uic to look in."
        )
    return rows[0][0], rows[0][1]


async def require_one_tree(
    session: AsyncSession, actor: Actor, emails: Collection[str], within: Organization | None = None
) -> None:
    """For a caller that sees several customers (a global superadmin): refuse (409
    ``email-ambiguous``) emails that name candidates of more than one tree, so a filter or a
    report by email never mixes two people; ``within`` (a ``uic``) narrows the look. Any other
    caller sees one tree, where an email is one candidate: nothing to check."""
    if not actor.is_global or not emails:
        return
    stmt = (
        select(Candidate.email)
        .join(Organization, Organization.id == Candidate.organization_id)
        .where(Candidate.email.in_({e.lower() for e in emails}))
        .group_by(Candidate.email)
        .having(func.count(distinct(Candidate.root_organization_id)) > 1)
        .limit(5)
    )
    if within is not None:
        stmt = stmt.where(Organization.path.startswith(within.path, autoescape=True))
    shared = (await session.scalars(stmt)).all()
    if shared:
        raise EmailAmbiguous(
            f"{', '.join(shared)} names candidates of several organizations' "
            "trees: give candidate_id, or a uic to look in."
        )


async def email_taken(session: AsyncSession, email: str, root_id: uuid.UUID) -> bool:
    """Inside one top-level organization's tree: an email is unique per tree, not across the
    service (docs/tenancy.md)."""
    return (
        await session.scalar(
            select(Candidate.id).where(
                Candidate.root_organization_id == root_id, Candidate.email == email.lower()
            )
        )
        is not None
    )


async def get_org(session: AsyncSession, candidate: Candidate) -> Organization:
    org = await session.get(Organization, candidate.organization_id)
    assert org is not None  # foreign key
    return org


async def transfers_of(
    session: AsyncSession, candidate_id: uuid.UUID
) -> Sequence[CandidateTransfer]:
    """The candidate's transfers between organizations, oldest first (the caller has checked
    the candidate is visible)."""
    return (
        await session.scalars(
            select(CandidateTransfer)
            .where(CandidateTransfer.candidate_id == candidate_id)
            .order_by(CandidateTransfer.created_at)
        )
    ).all()


async def in_tree_by_email(
    session: AsyncSession, root_id: uuid.UUID, email: str
) -> Candidate | None:
    """The candidate of the tree of top-level organization ``root_id`` with this email, or
    None (an email is unique per tree)."""
    return await session.scalar(
        select(Candidate).where(
            Candidate.root_organization_id == root_id, Candidate.email == email.lower()
        )
    )


# ------------------------------------------------------------- a candidate's history (console)


async def attempts_of(
    session: AsyncSession, actor: Actor, candidate_id: uuid.UUID
) -> list[tuple[Attempt, str]]:
    """The candidate's attempts of every status with the UIC they were taken in, newest first,
    scoped like results: by the organization the attempt was taken in (an attempt taken
    before a transfer from outside the actor's subtree is not shown)."""
    stmt = scoped(select(Attempt, Organization.uic), actor, Attempt.organization_id).where(
        Attempt.candidate_id == candidate_id
    )
    rows = await session.execute(stmt.order_by(Attempt.started_at.desc(), Attempt.id))
    return [(row[0], row[1]) for row in rows]


async def answer_devices(
    session: AsyncSession, attempt_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, list[tuple[str | None, str | None, int]]]:
    """For each attempt, the devices its answers came from: (IP, user agent, answers), most
    answers first (answers stored without a device are left out)."""
    if not attempt_ids:
        return {}
    rows = await session.execute(
        select(Response.attempt_id, Response.ip, Response.user_agent, func.count())
        .where(
            Response.attempt_id.in_(list(attempt_ids)),
            or_(Response.ip.is_not(None), Response.user_agent.is_not(None)),
        )
        .group_by(Response.attempt_id, Response.ip, Response.user_agent)
    )
    found: dict[uuid.UUID, list[tuple[str | None, str | None, int]]] = {}
    for attempt_id, ip, user_agent, count in rows:
        found.setdefault(attempt_id, []).append((ip, user_agent, count))
    for devices in found.values():
        devices.sort(key=lambda d: -d[2])
    return found


async def certificates_of(
    session: AsyncSession, actor: Actor, candidate_id: uuid.UUID
) -> list[tuple[Certificate, str]]:
    """The candidate's certificates of the actor's subtree (by the organization that issued
    them), newest first."""
    stmt = scoped(select(Certificate, Organization.uic), actor, Certificate.organization_id).where(
        Certificate.candidate_id == candidate_id
    )
    rows = await session.execute(stmt.order_by(Certificate.issued_at.desc(), Certificate.id))
    return [(row[0], row[1]) for row in rows]

"""Candidate rules: emails unique per customer's tree, plans within the contract, scope of the
target organization, transfers with history (docs/tenancy.md)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from etest.audit.service import record
from etest.auth.actor import Actor
from etest.candidate import repository
from etest.candidate.errors import BadUpload, EmailRegistered, NoPhoto
from etest.candidate.schemas import CandidateCreate, CandidateTransferIn, CandidateUpdate
from etest.config import Settings
from etest.content.media import MediaStore, content_type_of, media_problem
from etest.errors import InvalidValue
from etest.models import Candidate, CandidateTransfer, MediaObject, Organization
from etest.organization import repository as org_repository
from etest.organization.service import check_plans
from etest.plan.service import require_plan_code


def _email_registered() -> EmailRegistered:
    # Only ever about the caller's own customer's tree: another tree's emails are not looked at.
    return EmailRegistered(
        "A candidate with this email is already registered in this organization tree."
    )


async def target_org(session: AsyncSession, actor: Actor, uic: str | None) -> Organization:
    """The organization a body names (inside the actor's subtree), or the actor's own."""
    if uic is not None:
        return await org_repository.get_by_uic(session, actor, uic)
    if actor.organization_id is None:
        raise InvalidValue("uic is required for a caller without an organization.")
    org = await session.get(Organization, actor.organization_id)
    assert org is not None
    return org


async def create(
    session: AsyncSession, actor: Actor, body: CandidateCreate, *, audited: bool = True
) -> tuple[Candidate, str]:
    """Register a candidate (audited as ``candidate.create``; an import audits itself once)."""
    actor.require("write")
    org = await target_org(session, actor, body.uic)
    email = str(body.email).lower()
    if await repository.email_taken(session, email, org.root_id):
        raise _email_registered()
    plan_code = await require_plan_code(session, body.plan_code)
    await check_plans(session, actor, org, [plan_code])
    candidate = Candidate(
        organization_id=org.id,
        root_organization_id=org.root_id,
        email=email,
        plan_code=plan_code,
        **body.model_dump(exclude={"email", "uic", "plan_code", "accommodations"}),
        accommodations=body.accommodations.stored() if body.accommodations else None,
    )
    session.add(candidate)
    await session.flush()
    if audited:
        record(
            session,
            actor,
            "candidate.create",
            target_type="candidate",
            target_id=candidate.id,
            organization_id=org.id,
        )
    return candidate, org.uic


async def update(
    session: AsyncSession, actor: Actor, candidate: Candidate, body: CandidateUpdate
) -> Candidate:
    actor.require("write")
    changes = body.model_dump(exclude_unset=True)
    if "accommodations" in changes:  # replaced whole: the keys given, or none
        changes["accommodations"] = body.accommodations.stored() if body.accommodations else None
    if "email" in changes:
        changes["email"] = str(changes["email"]).lower()
        if changes["email"] != candidate.email and await repository.email_taken(
            session, changes["email"], candidate.root_organization_id
        ):
            raise _email_registered()
    if "plan_code" in changes:
        changes["plan_code"] = await require_plan_code(session, changes["plan_code"])
        if changes["plan_code"] != candidate.plan_code:
            await check_plans(
                session, actor, await repository.get_org(session, candidate), [changes["plan_code"]]
            )
    changed = sorted(k for k, v in changes.items() if getattr(candidate, k) != v)
    for key, value in changes.items():
        setattr(candidate, key, value)
    await session.flush()
    if changed:
        action = "candidate.update"
        if changed == ["hidden"]:
            action = "candidate.hide" if candidate.hidden else "candidate.unhide"
        record(
            session,
            actor,
            action,
            target_type="candidate",
            target_id=candidate.id,
            organization_id=candidate.organization_id,
            details={"fields": changed},
        )
    return candidate


async def transfer(
    session: AsyncSession, actor: Actor, candidate: Candidate, body: CandidateTransferIn
) -> Organization:
    """Move a candidate to another organization of the actor's subtree; history is kept."""
    actor.require("write")
    target = await org_repository.get_by_uic(session, actor, body.uic)
    # only the operator reaches another tree; the email must be free in that tree
    if target.root_id != candidate.root_organization_id and await repository.email_taken(
        session, candidate.email, target.root_id
    ):
        raise _email_registered()
    if target.id != candidate.organization_id:
        session.add(
            CandidateTransfer(
                candidate_id=candidate.id,
                from_organization_id=candidate.organization_id,
                to_organization_id=target.id,
                actor=actor.subject,
            )
        )
        record(
            session,
            actor,
            "candidate.transfer",
            target_type="candidate",
            target_id=candidate.id,
            organization_id=target.id,
            reason=body.reason,
            details={"from_organization_id": str(candidate.organization_id), "to_uic": target.uic},
        )
        candidate.organization_id = target.id
        candidate.root_organization_id = target.root_id
        await session.flush()
    return target


#: What a certificate can print (ReportLab draws PNG and JPEG).
PHOTO_TYPES = ("image/png", "image/jpeg")


async def set_photo(
    session: AsyncSession,
    actor: Actor,
    settings: Settings,
    candidate: Candidate,
    filename: str,
    data: bytes,
) -> Candidate:
    """Store the candidate's photo (printed on certificates) in the media store by hash."""
    actor.require("write")
    content_type = content_type_of(filename)
    problem = media_problem(filename, data)
    if content_type not in PHOTO_TYPES or problem is not None:
        raise BadUpload(problem or f"A photo must be a PNG or JPEG file, not {content_type}.")
    digest = MediaStore(settings.media_path).put(data)
    if await session.get(MediaObject, digest) is None:
        session.add(MediaObject(sha256=digest, content_type=content_type, size=len(data)))
        await session.flush()
    candidate.photo_sha256 = digest
    record(
        session,
        actor,
        "candidate.photo",
        target_type="candidate",
        target_id=str(candidate.id),
        organization_id=candidate.organization_id,
    )
    return candidate


@dataclass(frozen=True)
class PhotoFile:
    path: Path
    content_type: str


async def photo_file(session: AsyncSession, settings: Settings, candidate: Candidate) -> PhotoFile:
    """The file of the candidate's photo. The caller has already found the candidate in the
    actor's subtree: the photo is personal data, never public by its hash (``/media`` serves
    only items' media)."""
    media = (
        await session.get(MediaObject, candidate.photo_sha256) if candidate.photo_sha256 else None
    )
    path = MediaStore(settings.media_path).path(media.sha256) if media is not None else None
    if media is None or path is None or not path.is_file():
        raise NoPhoto("The candidate has no photo.")
    return PhotoFile(path, media.content_type)


async def remove_photo(session: AsyncSession, actor: Actor, candidate: Candidate) -> Candidate:
    """Certificates show the default picture again (the file stays: media are shared)."""
    actor.require("write")
    candidate.photo_sha256 = None
    record(
        session,
        actor,
        "candidate.photo_removed",
        target_type="candidate",
        target_id=str(candidate.id),
        organization_id=candidate.organization_id,
    )
    return candidate

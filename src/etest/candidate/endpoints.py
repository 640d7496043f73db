from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, UploadFile, status
from fastapi.responses import FileResponse

from etest.candidate import importer, repository, service
from etest.candidate.schemas import (
    CandidateCreate,
    CandidateLookup,
    CandidateOut,
    CandidateTransferIn,
    CandidateUpdate,
    ImportReport,
    RegisteredFrom,
    TransferOut,
)
from etest.deps import ActorDep, SessionDep, SettingsDep
from etest.errors import PayloadTooLarge
from etest.kit.levels import canonical_level
from etest.kit.pagination import PaginationDep, paginate
from etest.kit.schemas import TEXT_QUERY, Page, Uic
from etest.models import Candidate
from etest.ops import ratelimits
from etest.organization import repository as org_repository

router = APIRouter(prefix="/api/v1/candidates", tags=["candidates"])


def _out(candidate: Candidate, uic: str) -> CandidateOut:
    return CandidateOut.model_validate(
        {**{c: getattr(candidate, c) for c in CandidateOut.model_fields if c != "uic"}, "uic": uic}
    )


@router.post("", response_model=CandidateOut, status_code=status.HTTP_201_CREATED)
async def create_candidate(
    actor: ActorDep, session: SessionDep, body: CandidateCreate
) -> CandidateOut:
    """Register a candidate. An email is unique inside one customer's organization tree
    (409 ``email-registered``); another tree's candidates are not looked at
    (docs/tenancy.md). ``plan_code`` (a code or an old name) must be in the contract of the
    organization and of the caller's own (422 ``plan-not-allowed``)."""
    return _out(*await service.create(session, actor, body))


@router.get("", response_model=Page[CandidateOut])
async def search_candidates(
    actor: ActorDep,
    session: SessionDep,
    pagination: PaginationDep,
    q: Annotated[
        str | None, Query(pattern=TEXT_QUERY, max_length=200, description="names, username, email")
    ] = None,
    email: Annotated[str | None, Query(pattern=TEXT_QUERY, max_length=320)] = None,
    username: Annotated[str | None, Query(pattern=TEXT_QUERY, max_length=150)] = None,
    level: Annotated[
        str | None, Query(pattern=TEXT_QUERY, max_length=32, description="current level")
    ] = None,
    pt_level: Annotated[str | None, Query(pattern=TEXT_QUERY, max_length=32)] = None,
    uic: Annotated[Uic | None, Query()] = None,
    include_descendants: Annotated[
        bool,
        Query(description="with uic: that organization's subtree (default), or false for it alone"),
    ] = True,
    hidden: Annotated[bool, Query(description="true lists only hidden candidates")] = False,
    registered_from: RegisteredFrom | None = None,
) -> Page[CandidateOut]:
    """Search the actor's subtree. Without ``uic`` every organization of the subtree is searched;
    with it, that organization's subtree, or that organization alone with
    ``include_descendants=false`` (the same default as tokens and results)."""
    org = await org_repository.get_by_uic(session, actor, uic) if uic is not None else None
    stmt = repository.filtered(
        actor,
        hidden=hidden,
        within=org,
        include_descendants=include_descendants,
        q=q,
        email=email,
        username=username,
        level=(canonical_level(level) or level) if level else None,
        pt_level=(canonical_level(pt_level) or pt_level) if pt_level else None,
        registered_from=registered_from,
    )
    total, rows = await paginate(session, stmt, pagination, Candidate.created_at, Candidate.id)
    return Page(
        items=[_out(c, u) for c, u in rows],
        total=total,
        page=pagination.page,
        per_page=pagination.per_page,
    )


@router.post("/lookup", response_model=list[CandidateOut])
async def lookup_candidates(
    actor: ActorDep, session: SessionDep, body: CandidateLookup
) -> list[CandidateOut]:
    """The candidates of the actor's subtree among these emails (others are simply absent: a
    candidate of another customer's tree is never reported). A global caller may get several
    candidates for one email, one per tree, each with its ``uic``."""
    rows = await repository.by_emails(session, actor, {str(e) for e in body.emails})
    return [_out(c, u) for c, u in rows]


@router.post("/import", response_model=ImportReport)
async def import_candidates(
    request: Request,
    actor: ActorDep,
    session: SessionDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="CSV (UTF-8) or XLSX with a header row")],
    uic: Annotated[Uic | None, Form(description="organization for rows without a uic")] = None,
) -> ImportReport:
    """Per-row report: valid rows are imported, invalid rows are reported, never half a row.
    Imports are counted per staff member or key (429 ``too-many-requests`` past the limit)."""
    await ratelimits.spend(request, ratelimits.IMPORTS, actor.subject)
    data = await file.read(settings.max_upload_bytes + 1)
    if len(data) > settings.max_upload_bytes:
        raise PayloadTooLarge(f"The file is larger than {settings.max_upload_bytes} bytes.")
    if uic is not None:
        await org_repository.get_by_uic(session, actor, uic)
    return await importer.import_candidates(session, actor, file.filename or "", data, uic)


@router.get("/{candidate_id}", response_model=CandidateOut)
async def get_candidate(
    actor: ActorDep, session: SessionDep, candidate_id: uuid.UUID
) -> CandidateOut:
    return _out(*await repository.get(session, actor, candidate_id))


@router.patch("/{candidate_id}", response_model=CandidateOut)
async def update_candidate(
    actor: ActorDep, session: SessionDep, candidate_id: uuid.UUID, body: CandidateUpdate
) -> CandidateOut:
    candidate, uic = await repository.get(session, actor, candidate_id)
    return _out(await service.update(session, actor, candidate, body), uic)


@router.put("/{candidate_id}/photo", response_model=CandidateOut)
async def set_candidate_photo(
    actor: ActorDep,
    session: SessionDep,
    settings: SettingsDep,
    candidate_id: uuid.UUID,
    file: Annotated[UploadFile, File(description="PNG or JPEG, printed on certificates")],
) -> CandidateOut:
    """Set the photo printed on the candidate's certificates (else a default picture)."""
    candidate, uic = await repository.get(session, actor, candidate_id)
    data = await file.read(settings.max_upload_bytes + 1)
    if len(data) > settings.max_upload_bytes:
        raise PayloadTooLarge(f"The file is larger than {settings.max_upload_bytes} bytes.")
    return _out(
        await service.set_photo(session, actor, settings, candidate, file.filename or "", data), uic
    )


@router.get(
    "/{candidate_id}/photo",
    response_class=FileResponse,
    responses={200: {"content": {"image/png": {}, "image/jpeg": {}}}},
)
async def get_candidate_photo(
    actor: ActorDep, session: SessionDep, settings: SettingsDep, candidate_id: uuid.UUID
) -> FileResponse:
    """The candidate's photo, to those who may see the candidate (404 outside the caller's
    subtree, or when it has none). Never cached by a shared cache: it is personal data."""
    candidate, _ = await repository.get(session, actor, candidate_id)
    photo = await service.photo_file(session, settings, candidate)
    return FileResponse(
        photo.path,
        media_type=photo.content_type,
        headers={
            "Cache-Control": "private, no-store",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; sandbox",
        },
    )


@router.delete("/{candidate_id}/photo", response_model=CandidateOut)
async def remove_candidate_photo(
    actor: ActorDep, session: SessionDep, candidate_id: uuid.UUID
) -> CandidateOut:
    """Certificates show the default picture again."""
    candidate, uic = await repository.get(session, actor, candidate_id)
    return _out(await service.remove_photo(session, actor, candidate), uic)


@router.post("/{candidate_id}/hide", response_model=CandidateOut)
async def hide_candidate(
    actor: ActorDep, session: SessionDep, candidate_id: uuid.UUID
) -> CandidateOut:
    candidate, uic = await repository.get(session, actor, candidate_id)
    return _out(await service.update(session, actor, candidate, CandidateUpdate(hidden=True)), uic)


@router.post("/{candidate_id}/unhide", response_model=CandidateOut)
async def unhide_candidate(
    actor: ActorDep, session: SessionDep, candidate_id: uuid.UUID
) -> CandidateOut:
    candidate, uic = await repository.get(session, actor, candidate_id)
    return _out(await service.update(session, actor, candidate, CandidateUpdate(hidden=False)), uic)


@router.post("/{candidate_id}/transfer", response_model=CandidateOut)
async def transfer_candidate(
    actor: ActorDep, session: SessionDep, candidate_id: uuid.UUID, body: CandidateTransferIn
) -> CandidateOut:
    """Move the candidate to another organization of the actor's subtree; history is kept."""
    candidate, _ = await repository.get(session, actor, candidate_id)
    target = await service.transfer(session, actor, candidate, body)
    return _out(candidate, target.uic)


@router.get("/{candidate_id}/transfers", response_model=list[TransferOut])
async def list_transfers(
    actor: ActorDep, session: SessionDep, candidate_id: uuid.UUID
) -> list[TransferOut]:
    candidate, _ = await repository.get(session, actor, candidate_id)
    transfers = await repository.transfers_of(session, candidate.id)
    uics = await org_repository.uics_by_id(
        session,
        {t.from_organization_id for t in transfers} | {t.to_organization_id for t in transfers},
    )
    return [
        TransferOut(
            id=t.id,
            from_uic=uics[t.from_organization_id],
            to_uic=uics[t.to_organization_id],
            actor=t.actor,
            created_at=t.created_at,
        )
        for t in transfers
    ]

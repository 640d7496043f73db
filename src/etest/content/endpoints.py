"""Content API: import and item status (content managers and superadmins), items and
assessments (staff of every role; keys, IRT parameters and transcripts for content managers and
superadmins only), the flow JSON Schema and the items' media (public: candidates' pages load
them; nothing else stored as media is)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, File, Form, Path, Query, Request, UploadFile
from fastapi.responses import FileResponse
from sqlalchemy.ext.asyncio import AsyncSession

from etest.auth.actor import Actor
from etest.content import repository
from etest.content.media import MediaStore
from etest.content.schemas import FlowFile, ItemStatus, ItemType, Skill
from etest.content.schemas_out import (
    SECRET_FIELDS,
    AssessmentOut,
    AssessmentVersionOut,
    ImportOut,
    ItemDetail,
    ItemStatusChange,
    ItemSummary,
)
from etest.content.service import change_item_status as change_item_status_in
from etest.content.service import import_file, item_by_id
from etest.deps import ActorDep, SessionDep, SettingsDep
from etest.errors import NotFound, PayloadTooLarge
from etest.kit.levels import canonical_level
from etest.kit.pagination import PaginationDep, paginate
from etest.kit.schemas import TEXT_QUERY, Page
from etest.models import AssessmentVersion, Item, MediaObject
from etest.ops import ratelimits

router = APIRouter(tags=["content"])


def media_store(request: Request) -> MediaStore:
    return MediaStore(request.app.state.settings.media_path)


@router.post("/api/v1/content/import", response_model=ImportOut)
async def import_content_file(
    request: Request,
    actor: ActorDep,
    session: SessionDep,
    settings: SettingsDep,
    file: Annotated[
        UploadFile,
        File(description="flow JSON, zip of flows with media, QTI package zip or QTI item XML"),
    ],
    skill: Annotated[Skill, Form(description="skill of imported QTI items")] = "reading",
    level: Annotated[str | None, Form(description="level of imported QTI items")] = None,
    partial: Annotated[
        bool,
        Form(
            description="QTI packages: an item file that is not readable XML is skipped and "
            "reported, and the rest imported (without it, such a package is refused whole)"
        ),
    ] = False,
    override_reason: Annotated[
        str | None,
        Form(
            max_length=2000,
            description="superadmins only: why a placement test below its evidence thresholds "
            "is published anyway (stored with the version, audited)",
        ),
    ] = None,
) -> dict[str, Any]:
    """Validate everything, then import all of it or nothing (content managers and
    superadmins: whoever writes an item writes its key). Importing the same file again changes
    nothing. A placement test is published only with its evidence (docs/flows.md, "Evidence"):
    below its thresholds it is refused (422 ``evidence-insufficient``) unless a superadmin
    gives ``override_reason``."""
    actor.require("manage_content")
    await ratelimits.spend(request, ratelimits.IMPORTS, actor.subject)
    data = await file.read(settings.max_content_bytes + 1)
    if len(data) > settings.max_content_bytes:
        raise PayloadTooLarge(f"The file is larger than {settings.max_content_bytes} bytes.")
    result = await import_file(
        session,
        actor,
        media_store(request),
        file.filename or "upload",
        data,
        skill=skill,
        level=level,
        settings=settings,
        override_reason=override_reason,
        partial=partial,
    )
    return result.as_dict()


def _staff(actor: Any) -> None:
    actor.require("read")


ItemOut = TypeVar("ItemOut", ItemSummary, ItemDetail)


def _view(model: type[ItemOut], item: Item, actor: Actor) -> ItemOut:
    """``item`` as ``actor`` may see it: without key, IRT parameters and transcript unless it
    reads keys (those fields are left unset, and the routes drop unset fields)."""
    if actor.reads_keys:
        return model.model_validate(item)
    values = {name: getattr(item, name) for name in model.model_fields if name not in SECRET_FIELDS}
    if values.get("stimulus"):
        values["stimulus"] = {k: v for k, v in values["stimulus"].items() if k != "transcript"}
    return model.model_validate(values)


@router.get("/api/v1/items", response_model=Page[ItemSummary], response_model_exclude_unset=True)
async def list_items(
    actor: ActorDep,
    session: SessionDep,
    pagination: PaginationDep,
    level: Annotated[str | None, Query(pattern=TEXT_QUERY, max_length=32)] = None,
    skill: Skill | None = None,
    status: ItemStatus | None = None,
    type: ItemType | None = None,
    q: Annotated[
        str | None, Query(pattern=TEXT_QUERY, max_length=200, description="code or prompt text")
    ] = None,
    all_versions: bool = False,
) -> Page[ItemSummary]:
    """Search the item bank (latest version of each item unless ``all_versions``)."""
    _staff(actor)
    stmt = repository.items(
        all_versions=all_versions,
        level=(canonical_level(level) or level) if level else None,
        skill=skill,
        status=status,
        type_=type,
        q=q,
    )
    total, rows = await paginate(session, stmt, pagination, Item.code, Item.version)
    return Page(
        items=[_view(ItemSummary, r[0], actor) for r in rows],
        total=total,
        page=pagination.page,
        per_page=pagination.per_page,
    )


@router.get("/api/v1/items/{item_id}", response_model=ItemDetail, response_model_exclude_unset=True)
async def get_item(actor: ActorDep, session: SessionDep, item_id: uuid.UUID) -> ItemDetail:
    """The whole item; its key, IRT parameters and transcript for content managers and
    superadmins only (a school that could read keys could forge certificates)."""
    _staff(actor)
    return _view(ItemDetail, await item_by_id(session, item_id), actor)


@router.patch("/api/v1/items/{item_id}", response_model=ItemDetail)
async def change_item_status(
    actor: ActorDep, session: SessionDep, item_id: uuid.UUID, body: ItemStatusChange
) -> Item:
    """Move an item between draft, pilot, active and retired (content managers and
    superadmins, audited)."""
    return await change_item_status_in(session, actor, item_id, body.status)


@router.get("/api/v1/assessments", response_model=list[AssessmentOut])
async def list_assessments(
    actor: ActorDep,
    session: SessionDep,
    kind: Annotated[str | None, Query(pattern=r"^(PT|CT)$")] = None,
    plan: Annotated[str | None, Query(pattern=r"^[a-z0-9_]{1,64}$")] = None,
) -> list[AssessmentOut]:
    """Every assessment with its versions (newest first); the newest serves new attempts."""
    _staff(actor)
    assessments = await repository.assessments(session, kind=kind, plan_code=plan)
    versions = await repository.versions_newest_first(session)
    by_assessment: dict[uuid.UUID, list[AssessmentVersion]] = {}
    for v in versions:
        by_assessment.setdefault(v.assessment_id, []).append(v)
    out = []
    for a in assessments:
        vs = by_assessment.get(a.id, [])
        out.append(
            AssessmentOut(
                id=a.id,
                code=a.code,
                kind=a.kind,
                plan_code=a.plan_code,
                level=a.level,
                title=a.title,
                current_version=vs[0].version if vs else None,
                versions=[
                    AssessmentVersionOut(
                        id=v.id,
                        version=v.version,
                        title=v.title,
                        item_count=v.item_count,
                        engine_type=str(v.engine.get("type")),
                        source_name=v.source_name,
                        imported_by=v.imported_by,
                        imported_at=v.imported_at,
                        evidence=v.evidence,
                        override_reason=v.override_reason,
                    )
                    for v in vs
                ],
            )
        )
    return out


@router.get("/schemas/flow.json", tags=["content"])
async def flow_schema() -> dict[str, Any]:
    """The JSON Schema of the flow format ``etest-flow/1`` (see docs/flows.md)."""
    schema = FlowFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "/schemas/flow.json"
    return schema


#: Hashes found to be item media, per process: an item row is never rewritten, so once public
#: an object stays public and its later requests cost no query. Bounded: it only saves queries.
_ITEM_MEDIA_CACHE = 20_000


async def _public_media(request: Request, session: AsyncSession, sha256: str) -> bool:
    known: set[str] | None = getattr(request.app.state, "item_media", None)
    if known is None:
        known = request.app.state.item_media = set()
    if sha256 in known:
        return True
    if not await repository.is_item_media(session, sha256):
        return False
    if len(known) >= _ITEM_MEDIA_CACHE:
        known.clear()
    known.add(sha256)
    return True


@router.get("/media/{sha256}", tags=["content"], response_class=FileResponse)
async def get_media(
    request: Request, session: SessionDep, sha256: Annotated[str, Path(pattern=r"^[0-9a-f]{64}$")]
) -> FileResponse:
    """An image or audio file of an item by content hash: range requests, immutable caching.
    Only what an item shows is public; any other stored object (a candidate's photo, which is
    served to those who may see the candidate at ``/api/v1/candidates/{id}/photo``) is 404."""
    media = await session.get(MediaObject, sha256)
    path = media_store(request).path(sha256)
    if media is None or not path.is_file() or not await _public_media(request, session, sha256):
        raise NotFound("No such media.")
    return FileResponse(
        path,
        media_type=media.content_type,
        headers={
            "Cache-Control": "public, max-age=31536000, immutable",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
        },
    )

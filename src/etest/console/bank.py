"""Console pages: the item bank (docs/console/bank.md). Content managers and superadmins only
(everyone else gets the 403 page): browse and filter items, an item's page (facts, key and IRT
parameters, statistics, versions, the assessments using it, its status), and a preview of the
item exactly as a candidate sees it, drawn by ``/take``'s own ``item.html`` with the media URLs
a candidate's page uses (``/media/<sha256>``, public by content hash: no route of our own)."""

from __future__ import annotations

import math
import urllib.parse
import uuid
from dataclasses import dataclass
from typing import Annotated, Any, get_args

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from etest.attempt.delivery import Served
from etest.attempt.errors import InvalidAnswer
from etest.attempt.scoring import Scored, score
from etest.attempt.views import item_view
from etest.auth.actor import Actor
from etest.bank import repository as bank_repository
from etest.console.i18n import N_
from etest.console.pages import ConsoleRoute, redirect, render
from etest.console.session import StaffDep
from etest.content import repository
from etest.content.schemas import SKILLS, ItemStatus, ItemType
from etest.content.service import change_item_status, item_by_id
from etest.deps import SessionDep
from etest.kit.language import direction
from etest.kit.levels import LEVELS, canonical_level
from etest.kit.pagination import Pagination, paginate
from etest.models import Item
from etest.models.base import utcnow
from etest.report.service import point_biserial
from etest.web.forms import Given, parse_answer

router = APIRouter(route_class=ConsoleRoute)


STATUSES: tuple[str, ...] = get_args(ItemStatus)
TYPES: tuple[str, ...] = get_args(ItemType)
PER_PAGE = 25
#: The answer field the preview's form posts (``/take``'s item.html writes /take's address).
_PREVIEW_MARK = "/take/preview/answer"


def _content_staff(staff: Any) -> Actor:
    actor: Actor = staff.actor
    actor.require("manage_content")
    return actor


@dataclass(frozen=True)
class Filters:
    level: str | None
    skill: str | None
    type: str | None
    status: str | None
    q: str | None

    def query(self) -> str:
        return urllib.parse.urlencode({k: v for k, v in self.__dict__.items() if v})


def _one_of(value: str | None, allowed: tuple[str, ...]) -> str | None:
    return value if value in allowed else None


@router.get("/bank")
async def bank_list(
    request: Request,
    staff: StaffDep,
    session: SessionDep,
    level: Annotated[str | None, Query(max_length=32)] = None,
    skill: Annotated[str | None, Query(max_length=32)] = None,
    type: Annotated[str | None, Query(max_length=32)] = None,
    status: Annotated[str | None, Query(max_length=32)] = None,
    q: Annotated[str | None, Query(max_length=200)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    """The latest version of every item, filtered; 25 a page."""
    _content_staff(staff)
    filters = Filters(
        level=canonical_level(level) if level else None,
        skill=_one_of(skill, SKILLS),
        type=_one_of(type, TYPES),
        status=_one_of(status, STATUSES),
        q=(q or "").strip()[:200] or None,
    )
    stmt = repository.items(
        level=filters.level,
        skill=filters.skill,
        status=filters.status,
        type_=filters.type,
        q=filters.q,
    )
    pagination = Pagination(page=page, per_page=PER_PAGE)
    total, rows = await paginate(session, stmt, pagination, Item.code, Item.version)
    pages = max(1, math.ceil(total / PER_PAGE))
    return render(
        request,
        staff,
        "console/bank/list.html",
        items=[r[0] for r in rows],
        filters=filters,
        total=total,
        paging={"page": page, "pages": pages, "total": total},
        levels=LEVELS,
        skills=SKILLS,
        types=TYPES,
        statuses=STATUSES,
    )


def _statistics(actor: Actor, stats: bank_repository.ItemStatistics | None) -> dict[str, Any]:
    if stats is None:
        return {"n": 0}
    return {
        "n": stats.n,
        "answered": stats.answered,
        "correct": stats.correct,
        "p_value": stats.p_value,
        "point_biserial": point_biserial(stats.n, stats.correct, stats.sy, stats.sxy, stats.syy),
        "mean_seconds": stats.mean_ms / 1000 if stats.mean_ms is not None else None,
    }


async def _item_page(
    request: Request,
    staff: Any,
    session: Any,
    item: Item,
    *,
    status: int = 200,
    error: str | None = None,
) -> HTMLResponse:
    actor: Actor = staff.actor
    versions = await repository.versions_of_item(session, item.code)
    pooled = bank_repository.pools_responses(actor)
    stats: dict[uuid.UUID, Any] = {}
    if pooled:
        stats = await bank_repository.item_statistics(session, actor, [v.id for v in versions])
    return render(
        request,
        staff,
        "console/bank/item.html",
        status=status,
        item=item,
        versions=versions,
        latest=versions[0].id == item.id if versions else True,
        stats=_statistics(actor, stats.get(item.id)) if pooled else None,
        version_stats={v.id: _statistics(actor, stats.get(v.id)) for v in versions},
        used_by=await repository.versions_using(session, item.id),
        statuses=STATUSES,
        error=error,
    )


@router.get("/bank/items/{item_id}")
async def bank_item(
    request: Request, staff: StaffDep, session: SessionDep, item_id: uuid.UUID
) -> Response:
    _content_staff(staff)
    return await _item_page(request, staff, session, await item_by_id(session, item_id))


@router.post("/bank/items/{item_id}/status")
async def bank_item_status(
    request: Request,
    staff: StaffDep,
    session: SessionDep,
    item_id: uuid.UUID,
    status: Annotated[str, Form(max_length=32)] = "",
) -> Response:
    """Change the item version's status through the content service (audited)."""
    actor = _content_staff(staff)
    if status not in STATUSES:
        item = await item_by_id(session, item_id)
        return await _item_page(
            request, staff, session, item, status=422, error=N_("Choose one of the statuses.")
        )
    item = await change_item_status(session, actor, item_id, status)  # type: ignore[arg-type]
    return redirect(
        f"/console/bank/items/{item.id}",
        f"{item.code} version {item.version} is now {status}.",
    )


# ------------------------------------------------------------------------------- the preview


def _preview(
    request: Request,
    staff: Any,
    item: Item,
    *,
    error: str | None = None,
    given: Given | None = None,
) -> HTMLResponse:
    """``item.html`` of ``/take`` with the item as a candidate is served it (in its stored
    option order; no clock), its form pointed back at the preview instead of an attempt."""
    served = Served(
        position=1,
        served_at=utcnow(),
        deadline=None,
        option_order=[o["id"] for o in item.options],
        target_order=[t["id"] for t in item.targets],
    )
    language = staff.account.language if staff else "en"
    response = render(
        request,
        staff,
        "console/bank/preview.html",
        status=422 if error else 200,
        # what /take's base.html has from its own render (no language switcher here)
        lang=language,
        dir=direction(language),
        languages=[],
        attempt={"id": "preview"},
        item=item_view(served, item, 0, None),
        kind="preview",
        answered=0,
        total=None,
        timers=[],
        error=error,
        given=given or Given(),
        stored=item,
    )
    html = bytes(response.body).decode()
    assert html.count(_PREVIEW_MARK) == 1, "item.html's form changed: update the preview"
    body = html.replace(_PREVIEW_MARK, f"/console/bank/items/{item.id}/preview").encode()
    response.body = body
    response.headers["content-length"] = str(len(body))
    return response


@router.get("/bank/items/{item_id}/preview")
async def bank_item_preview(
    request: Request, staff: StaffDep, session: SessionDep, item_id: uuid.UUID
) -> Response:
    _content_staff(staff)
    return _preview(request, staff, await item_by_id(session, item_id))


@router.post("/bank/items/{item_id}/preview")
async def bank_item_try(
    request: Request, staff: StaffDep, session: SessionDep, item_id: uuid.UUID
) -> Response:
    """An answer given on the preview: read as ``/take`` reads it and scored with the item's
    key (nothing is stored), then the preview again with the verdict."""
    _content_staff(staff)
    item = await item_by_id(session, item_id)
    options = [o["id"] for o in item.options]
    targets = [t["id"] for t in item.targets]
    parsed = parse_answer(item.type, await request.form(), options, targets, item=item)
    if parsed.error is not None:
        return _preview(request, staff, item, error=parsed.error, given=parsed.given)
    try:
        scored = score(
            item.type,
            item.key,
            options,
            targets,
            parsed.answer,
            option_rows=item.options,
            gaps=item.gaps,
        )
    except InvalidAnswer as exc:
        return _preview(request, staff, item, error=exc.detail, given=parsed.given)
    return redirect(f"/console/bank/items/{item.id}/preview", _verdict(scored))


def _verdict(scored: Scored) -> str:
    """What the preview says of an answer: right or not, and for an item scored per gap the
    gaps right (the points the answer would earn)."""
    if scored.polytomous:
        return (
            f"Preview: {scored.points} of {scored.max_points} gaps right, "
            f"{scored.points} of {scored.max_points} points (nothing was saved)."
        )
    return (
        "Preview: this answer is correct (nothing was saved)."
        if scored.correct
        else "Preview: this answer is not correct (nothing was saved)."
    )

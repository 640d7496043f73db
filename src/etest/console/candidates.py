"""Console pages: candidates (docs/console/candidates.md).

Search (``candidate.repository.filtered``, the API's list), a candidate's page with the whole
history (tokens, attempts with their devices, results, certificates, transfers, reviews and the
review decision), create, edit, hide/unhide and transfer through ``candidate.service``, and the
bulk import as a background task (``candidate.tasks``) with a page that watches it."""

from __future__ import annotations

import csv
import io
import math
import urllib.parse
import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import Response
from openpyxl import Workbook
from openpyxl.styles import Font
from pydantic import ValidationError

from etest.attempt.outcome import CtOutcome, load_optional
from etest.auth.actor import Actor
from etest.background import service as background
from etest.candidate import importer, service
from etest.candidate import repository as candidate_repository
from etest.candidate.errors import BadUpload, EmailRegistered
from etest.candidate.schemas import CandidateCreate, CandidateTransferIn, CandidateUpdate
from etest.candidate.tasks import KIND as IMPORT_KIND
from etest.console import fields
from etest.console.i18n import N_
from etest.console.pages import ConsoleRoute, download, redirect, render
from etest.console.session import StaffDep
from etest.deps import SessionDep, SettingsDep
from etest.errors import BadRequest, Conflict, EtestError, NotFound, Unprocessable
from etest.kit.levels import LEVELS, canonical_level
from etest.kit.pagination import Pagination, paginate
from etest.models import BackgroundTask, Candidate, Organization, TestToken
from etest.models.base import utcnow
from etest.ops import ratelimits
from etest.organization import repository as org_repository
from etest.organization.service import allowed_plans
from etest.plan.errors import PlanNotAllowed
from etest.result.service import network
from etest.review import service as review_service
from etest.review.schemas import ReviewCreate
from etest.token import repository as token_repository
from etest.token.service import effective_status

router = APIRouter(route_class=ConsoleRoute)

PER_PAGE = 25
#: the fields of the create and edit forms, in order
FIELDS = (
    "first_name",
    "last_name",
    "email",
    "username",
    "dial_code",
    "phone",
    "current_level",
    "plan_code",
)
#: a form's errors that are not about one field
GENERAL = "_"
#: the import report shows at most this many imported rows (every refused row is shown)
REPORT_IMPORTED = 500


@dataclass(frozen=True)
class PageInfo:
    page: int
    pages: int
    total: int


async def _organizations(session: SessionDep, actor: Actor) -> list[tuple[str, str]]:
    """The caller's organizations for a select: (UIC, name indented by depth), tree order."""
    _, rows = await paginate(
        session, org_repository.filtered(actor), Pagination(1, 500), Organization.path
    )
    orgs: list[Organization] = [row[0] for row in rows]
    top = min((o.path.count("/") for o in orgs), default=0)
    return [(o.uic, f"{'— ' * (o.path.count('/') - top)}{o.name} ({o.uic})") for o in orgs]


def _level(value: str) -> str | None:
    return canonical_level(value) if value else None


def _form_values(form: Any) -> dict[str, str]:
    return {
        name: str(form.get(name) or "").strip() for name in (*FIELDS, "uic", *fields.ACCOMMODATION)
    }


def _validation_errors(exc: ValidationError) -> dict[str, str]:
    errors: dict[str, str] = {}
    for e in exc.errors():
        loc = [str(p) for p in e["loc"] if p != "body"]
        name = loc[0] if loc and loc[0] in (*FIELDS, "uic", "reason", "level") else GENERAL
        message = str(e["msg"]).removeprefix("Value error, ")
        errors.setdefault(name, message)
    return errors


def _service_error(exc: EtestError) -> dict[str, str]:
    if isinstance(exc, EmailRegistered):
        return {"email": exc.detail}
    if isinstance(exc, PlanNotAllowed):
        return {"plan_code": exc.detail}
    return {GENERAL: exc.detail}


#: errors a form shows next to its fields (403 and 404 are pages of their own)
FORM_ERRORS = (Conflict, Unprocessable, BadRequest)


# ----------------------------------------------------------------------------- search


@router.get("/candidates")
async def search(
    request: Request,
    session: SessionDep,
    staff: StaffDep,
    q: Annotated[str, Query(max_length=200)] = "",
    username: Annotated[str, Query(max_length=150)] = "",
    email: Annotated[str, Query(max_length=320)] = "",
    level: Annotated[str, Query(max_length=32)] = "",
    uic: Annotated[str, Query(max_length=64)] = "",
    sub: Annotated[str, Query(max_length=8)] = "",
    searched: Annotated[str, Query(max_length=8)] = "",
    hidden: Annotated[str, Query(max_length=8)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    actor = staff.actor
    actor.require("read")
    # the box is ticked unless a submitted form left it unticked
    include_descendants = bool(sub) or not searched
    canonical = _level(level)
    errors = {} if canonical or not level else {"level": N_("Choose a level from the list.")}
    org = await org_repository.get_by_uic(session, actor, uic) if uic else None
    stmt = candidate_repository.filtered(
        actor,
        hidden=bool(hidden),
        within=org,
        include_descendants=include_descendants,
        q=q or None,
        email=email or None,
        username=username or None,
        level=canonical if not errors else None,
    )
    pagination = Pagination(page, PER_PAGE)
    total, rows = await paginate(
        session, stmt, pagination, Candidate.last_name, Candidate.first_name, Candidate.id
    )
    query = urllib.parse.urlencode(
        {
            k: v
            for k, v in {
                "q": q,
                "username": username,
                "email": email,
                "level": level,
                "uic": uic,
                "sub": "1" if include_descendants else "",
                "searched": "1",
                "hidden": hidden,
            }.items()
            if v
        }
    )
    return render(
        request,
        staff,
        "console/candidates/list.html",
        status=422 if errors else 200,
        rows=[(c, u) for c, u in rows],
        pager=PageInfo(page, max(1, math.ceil(total / PER_PAGE)), total),
        query=query,
        f={
            "q": q,
            "username": username,
            "email": email,
            "level": level,
            "uic": uic,
            "sub": include_descendants,
            "hidden": bool(hidden),
        },
        errors=errors,
        level_options=[(lv, lv) for lv in LEVELS],
        organizations=await _organizations(session, actor),
        can_write=actor.can("write"),
    )


# ----------------------------------------------------------------------------- create


async def _plans_for(session: SessionDep, org: Organization | None) -> list[str]:
    return sorted(await allowed_plans(session, org)) if org is not None else []


async def _own_org(session: SessionDep, actor: Actor) -> Organization | None:
    return await session.get(Organization, actor.organization_id) if actor.organization_id else None


async def _create_form(
    request: Request,
    session: SessionDep,
    staff: StaffDep,
    values: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    org = (
        await org_repository.get_by_uic(session, staff.actor, values["uic"])
        if values.get("uic")
        else await _own_org(session, staff.actor)
    )
    return render(
        request,
        staff,
        "console/candidates/form.html",
        status=status,
        candidate=None,
        values=values,
        errors=errors,
        level_options=[(lv, lv) for lv in LEVELS],
        plan_options=[(p, p) for p in await _plans_for(session, org)],
        organizations=await _organizations(session, staff.actor),
    )


@router.get("/candidates/new")
async def new(request: Request, session: SessionDep, staff: StaffDep) -> Response:
    staff.actor.require("write")
    own = await _own_org(session, staff.actor)
    values = dict.fromkeys(FIELDS, "") | {"uic": own.uic if own else ""}
    values |= fields.accommodation_values(None)
    return await _create_form(request, session, staff, values, {})


@router.post("/candidates/new")
async def create(request: Request, session: SessionDep, staff: StaffDep) -> Response:
    staff.actor.require("write")
    values = _form_values(await request.form())
    try:
        body = CandidateCreate.model_validate(
            {k: v for k, v in values.items() if v and k not in fields.ACCOMMODATION}
            | {"registered_from": "dashboard", "accommodations": fields.accommodations_from(values)}
        )
        async with session.begin_nested():
            candidate, _ = await service.create(session, staff.actor, body)
    except ValidationError as exc:
        return await _create_form(request, session, staff, values, _validation_errors(exc), 422)
    except FORM_ERRORS as exc:
        return await _create_form(request, session, staff, values, _service_error(exc), 422)
    return redirect(f"/console/candidates/{candidate.id}", N_("The candidate is registered."))


# ----------------------------------------------------------------------------- import

#: the sample file's rows: the header and one candidate
SAMPLE = (
    list(importer.COLUMNS),
    ["ana.lima@example.org", "ana.lima", "Ana", "Lima", "+351", "912345678", "", "", "A2"],
)


@router.get("/candidates/import")
async def import_page(request: Request, session: SessionDep, staff: StaffDep) -> Response:
    staff.actor.require("write")
    return await _import_form(request, session, staff, "", {})


async def _import_form(
    request: Request,
    session: SessionDep,
    staff: StaffDep,
    uic: str,
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    own = await _own_org(session, staff.actor)
    return render(
        request,
        staff,
        "console/candidates/import.html",
        status=status,
        uic=uic or (own.uic if own else ""),
        errors=errors,
        organizations=await _organizations(session, staff.actor),
        columns=importer.COLUMNS,
        max_rows=importer.MAX_ROWS,
    )


@router.post("/candidates/import")
async def start_import(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    staff: StaffDep,
    file: Annotated[UploadFile | None, File()] = None,
    uic: Annotated[str, Form(max_length=64)] = "",
) -> Response:
    """Check the file's header now (a wrong file is refused at once), then import it in the
    background and show the task's page."""
    actor = staff.actor
    actor.require("write")
    await ratelimits.guard(request, ratelimits.IMPORTS, actor.subject)  # 429 page when full
    org = await org_repository.get_by_uic(session, actor, uic) if uic else None
    data = await file.read(settings.max_upload_bytes + 1) if file is not None else b""
    name = (file.filename or "") if file is not None else ""
    if not data:
        return await _import_form(
            request, session, staff, uic, {"file": N_("Choose a CSV or XLSX file.")}, 422
        )
    if len(data) > settings.max_upload_bytes:
        too_big = f"The file is larger than {settings.max_upload_bytes // (1024 * 1024)} MB."
        return await _import_form(request, session, staff, uic, {"file": too_big}, 413)
    try:
        _, rows = importer.read_rows(name, data)
    except BadUpload as exc:
        return await _import_form(request, session, staff, uic, {"file": exc.detail}, 422)
    if not rows:
        return await _import_form(
            request, session, staff, uic, {"file": N_("The file has a header but no rows.")}, 422
        )
    await ratelimits.charge(request, ratelimits.IMPORTS, actor.subject)
    task = await background.start(
        session,
        settings,
        actor,
        IMPORT_KIND,
        params={"filename": name[:200], "uic": org.uic if org else None},
        organization_id=org.id if org else actor.organization_id,
        upload=data,
        total=len(rows),
    )
    return redirect(f"/console/candidates/import/{task.id}")


@router.get("/candidates/import/template.csv")
async def template_csv(staff: StaffDep) -> Response:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(SAMPLE)
    return download(buf.getvalue().encode("utf-8"), "candidates.csv", "text/csv; charset=utf-8")


@router.get("/candidates/import/template.xlsx")
async def template_xlsx(staff: StaffDep) -> Response:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Candidates"
    for row in SAMPLE:
        sheet.append(row)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for column in ("E", "F"):  # dial code and phone stay text: leading zeros and "+"
        for cell in sheet[column]:
            cell.number_format = "@"
    for n, _ in enumerate(SAMPLE[0]):
        sheet.column_dimensions[chr(ord("A") + n)].width = 18
    buf = io.BytesIO()
    book.save(buf)
    return download(
        buf.getvalue(),
        "candidates.xlsx",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )


async def _task(session: SessionDep, actor: Actor, task_id: str) -> BackgroundTask:
    task = await background.get(session, actor, fields.path_id(task_id))
    if task.kind != IMPORT_KIND:
        raise NotFound("No such task.")
    return task


def _report(task: BackgroundTask) -> dict[str, Any]:
    rows = list(task.result.get("rows") or [])
    imported = [r for r in rows if r.get("status") == "imported"]
    return {
        "imported": task.result.get("imported", len(imported)),
        "failed": task.result.get("failed", len(rows) - len(imported)),
        "refused_rows": [r for r in rows if r.get("status") != "imported"],
        "imported_rows": imported[:REPORT_IMPORTED],
        "imported_more": max(0, len(imported) - REPORT_IMPORTED),
    }


@router.get("/candidates/import/{task_id}")
async def import_task(
    request: Request, session: SessionDep, staff: StaffDep, task_id: str
) -> Response:
    task = await _task(session, staff.actor, task_id)
    return render(
        request,
        staff,
        "console/candidates/import_task.html",
        task=task,
        running=task.status in ("queued", "running"),
        report=_report(task) if task.status == "done" else None,
    )


@router.get("/candidates/import/{task_id}/progress")
async def import_progress(
    request: Request, session: SessionDep, staff: StaffDep, task_id: str
) -> Response:
    """The progress fragment htmx polls; once the task has ended, htmx reloads the page."""
    task = await _task(session, staff.actor, task_id)
    running = task.status in ("queued", "running")
    return render(
        request,
        staff,
        "console/candidates/_import_progress.html",
        headers={} if running else {"HX-Refresh": "true"},
        task=task,
        running=running,
    )


# ----------------------------------------------------------------------------- a candidate


async def _history(session: SessionDep, actor: Actor, candidate: Candidate) -> dict[str, Any]:
    """Everything the candidate's page shows, each part scoped like its own list."""
    _, tokens = await paginate(
        session,
        token_repository.filtered(actor, now=utcnow(), candidate_id=candidate.id),
        Pagination(1, 200),
        TestToken.created_at.desc(),
        TestToken.id,
    )
    attempts = await candidate_repository.attempts_of(session, actor, candidate.id)
    devices = await candidate_repository.answer_devices(session, [a.id for a, _ in attempts])
    # the results API's rule (result.service): the start counts, and so does any answer
    several: dict[uuid.UUID, bool] = {}
    for attempt, _ in attempts:
        seen = [
            (attempt.user_agent, attempt.ip),
            *((u, i) for i, u, _ in devices.get(attempt.id, [])),
        ]
        agents = {u for u, _ in seen if u}
        networks = {network(i) for _, i in seen if i}
        several[attempt.id] = len(agents) > 1 or len(networks) > 1
    results = []
    for attempt, uic in attempts:
        outcome = load_optional(attempt.outcome) if attempt.status == "completed" else None
        if outcome is not None:
            results.append(
                {
                    "attempt": attempt,
                    "uic": uic,
                    "pass_mark": outcome.pass_mark if isinstance(outcome, CtOutcome) else None,
                    "status": outcome.status,
                }
            )
    transfers = await candidate_repository.transfers_of(session, candidate.id)
    uics = await org_repository.uics_by_id(
        session,
        {t.from_organization_id for t in transfers} | {t.to_organization_id for t in transfers},
    )
    reviews = await review_service.list_reviews(
        session, actor, candidate.id, None, Pagination(1, 50)
    )
    return {
        "tokens": [(t, effective_status(t)) for t, _ in tokens],
        "attempts": attempts,
        "devices": devices,
        "several_devices": several,
        "results": results,
        "certificates": await candidate_repository.certificates_of(session, actor, candidate.id),
        "transfers": [
            (t, uics[t.from_organization_id], uics[t.to_organization_id]) for t in transfers
        ],
        "reviews": reviews,
    }


async def _candidate_page(
    request: Request,
    session: SessionDep,
    staff: StaffDep,
    candidate_id: uuid.UUID,
    *,
    status: int = 200,
    review_errors: dict[str, str] | None = None,
    review_values: dict[str, str] | None = None,
) -> Response:
    actor = staff.actor
    actor.require("read")
    candidate, uic = await candidate_repository.get(session, actor, candidate_id)
    return render(
        request,
        staff,
        "console/candidates/show.html",
        status=status,
        candidate=candidate,
        uic=uic,
        can_write=actor.can("write"),
        can_review=actor.can("record_review"),
        review_errors=review_errors or {},
        review_values=review_values or {},
        **await _history(session, actor, candidate),
    )


@router.get("/candidates/{candidate_id}")
async def show(
    request: Request, session: SessionDep, staff: StaffDep, candidate_id: str
) -> Response:
    return await _candidate_page(request, session, staff, fields.path_id(candidate_id))


# ----------------------------------------------------------------------------- edit


async def _edit_form(
    request: Request,
    session: SessionDep,
    staff: StaffDep,
    candidate: Candidate,
    values: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    org = await candidate_repository.get_org(session, candidate)
    plans = await _plans_for(session, org)
    if candidate.plan_code and candidate.plan_code not in plans:
        plans.append(candidate.plan_code)  # kept as it is unless changed
    return render(
        request,
        staff,
        "console/candidates/form.html",
        status=status,
        candidate=candidate,
        values=values,
        errors=errors,
        level_options=[(lv, lv) for lv in LEVELS],
        plan_options=[(p, p) for p in plans],
        organizations=[],
    )


@router.get("/candidates/{candidate_id}/edit")
async def edit(
    request: Request, session: SessionDep, staff: StaffDep, candidate_id: str
) -> Response:
    staff.actor.require("write")
    candidate, _ = await candidate_repository.get(
        session, staff.actor, fields.path_id(candidate_id)
    )
    values = {name: str(getattr(candidate, name) or "") for name in FIELDS}
    values |= fields.accommodation_values(candidate.accommodations)
    return await _edit_form(request, session, staff, candidate, values, {})


@router.post("/candidates/{candidate_id}/edit")
async def update(
    request: Request, session: SessionDep, staff: StaffDep, candidate_id: str
) -> Response:
    staff.actor.require("write")
    candidate, _ = await candidate_repository.get(
        session, staff.actor, fields.path_id(candidate_id)
    )
    values = _form_values(await request.form())
    # a field changes only when its value differs (an empty optional field clears it)
    changes: dict[str, Any] = {}
    for name in FIELDS:
        current = getattr(candidate, name)
        new_value: str | None = values[name]
        if not new_value and name not in ("first_name", "last_name", "email"):
            new_value = None
        if (current or None) != (new_value or None):
            changes[name] = new_value if name not in ("first_name", "last_name") else values[name]
    if fields.accommodations_from(values) != (candidate.accommodations or None):
        changes["accommodations"] = fields.accommodations_from(values)
    try:
        body = CandidateUpdate.model_validate(changes)
        async with session.begin_nested():
            await service.update(session, staff.actor, candidate, body)
    except ValidationError as exc:
        return await _edit_form(
            request, session, staff, candidate, values, _validation_errors(exc), 422
        )
    except FORM_ERRORS as exc:
        await session.refresh(candidate)
        return await _edit_form(
            request, session, staff, candidate, values, _service_error(exc), 422
        )
    return redirect(f"/console/candidates/{candidate.id}", N_("The changes are saved."))


# ----------------------------------------------------------------------------- hide, unhide


async def _set_hidden(
    session: SessionDep, staff: StaffDep, candidate_id: str, hidden: bool
) -> Response:
    candidate, _ = await candidate_repository.get(
        session, staff.actor, fields.path_id(candidate_id)
    )
    await service.update(session, staff.actor, candidate, CandidateUpdate(hidden=hidden))
    notice = (
        N_("The candidate is hidden: lists show it only when asked for hidden candidates.")
        if hidden
        else N_("The candidate is shown in lists again.")
    )
    return redirect(f"/console/candidates/{candidate.id}", notice)


@router.post("/candidates/{candidate_id}/hide")
async def hide(session: SessionDep, staff: StaffDep, candidate_id: str) -> Response:
    return await _set_hidden(session, staff, candidate_id, True)


@router.post("/candidates/{candidate_id}/unhide")
async def unhide(session: SessionDep, staff: StaffDep, candidate_id: str) -> Response:
    return await _set_hidden(session, staff, candidate_id, False)


# ----------------------------------------------------------------------------- transfer


async def _transfer_form(
    request: Request,
    session: SessionDep,
    staff: StaffDep,
    candidate: Candidate,
    uic: str,
    values: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    organizations = [o for o in await _organizations(session, staff.actor) if o[0] != uic]
    return render(
        request,
        staff,
        "console/candidates/transfer.html",
        status=status,
        candidate=candidate,
        uic=uic,
        values=values,
        errors=errors,
        organizations=organizations,
    )


@router.get("/candidates/{candidate_id}/transfer")
async def transfer_page(
    request: Request, session: SessionDep, staff: StaffDep, candidate_id: str
) -> Response:
    staff.actor.require("write")
    candidate, uic = await candidate_repository.get(
        session, staff.actor, fields.path_id(candidate_id)
    )
    return await _transfer_form(
        request, session, staff, candidate, uic, {"uic": "", "reason": ""}, {}
    )


@router.post("/candidates/{candidate_id}/transfer")
async def transfer(
    request: Request,
    session: SessionDep,
    staff: StaffDep,
    candidate_id: str,
    uic: Annotated[str, Form(max_length=64)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    staff.actor.require("write")
    candidate, current = await candidate_repository.get(
        session, staff.actor, fields.path_id(candidate_id)
    )
    values = {"uic": uic, "reason": reason}
    try:
        body = CandidateTransferIn.model_validate({"uic": uic, "reason": reason.strip() or None})
        async with session.begin_nested():
            target = await service.transfer(session, staff.actor, candidate, body)
    except ValidationError as exc:
        errors = _validation_errors(exc)
        if "uic" in errors:
            errors["uic"] = N_("Choose the organization to move the candidate to.")
        return await _transfer_form(
            request, session, staff, candidate, current, values, errors, 422
        )
    except FORM_ERRORS as exc:
        return await _transfer_form(
            request, session, staff, candidate, current, values, _service_error(exc), 422
        )
    if target.uic == current:
        return redirect(f"/console/candidates/{candidate.id}")
    return redirect(
        f"/console/candidates/{candidate.id}",
        N_("The candidate is moved; the transfer is kept in the history."),
    )


# ----------------------------------------------------------------------------- review


@router.post("/candidates/{candidate_id}/review")
async def review(
    request: Request,
    session: SessionDep,
    staff: StaffDep,
    candidate_id: str,
    level: Annotated[str, Form(max_length=32)] = "",
    decision: Annotated[str, Form(max_length=16)] = "",
    reason: Annotated[str, Form(max_length=4000)] = "",
) -> Response:
    """The decision after the oral review (``review.service.record_decision``: support,
    admin, superadmin)."""
    staff.actor.require("record_review")
    cid = fields.path_id(candidate_id)
    values = {"level": level, "decision": decision, "reason": reason}
    try:
        body = ReviewCreate.model_validate(
            {"level": level, "decision": decision, "reason": reason.strip()}
        )
        async with session.begin_nested():
            await review_service.record_decision(session, staff.actor, cid, body)
    except ValidationError as exc:
        errors = _validation_errors(exc)
        if "decision" in {str(p) for e in exc.errors() for p in e["loc"]}:
            errors["decision"] = N_("Choose: one more attempt, or confirm the lock.")
        if "reason" in errors:
            errors["reason"] = N_("Write why (staff read it; the candidate never does).")
        return await _candidate_page(
            request, session, staff, cid, status=422, review_errors=errors, review_values=values
        )
    except FORM_ERRORS as exc:
        return await _candidate_page(
            request,
            session,
            staff,
            cid,
            status=422,
            review_errors={GENERAL: exc.detail},
            review_values=values,
        )
    notice = (
        N_("Recorded: the candidate may take one more attempt at this level.")
        if decision == "grant"
        else N_("Recorded: the lock at this level is confirmed.")
    )
    return redirect(f"/console/candidates/{cid}#review", notice)

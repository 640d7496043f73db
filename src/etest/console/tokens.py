"""Console pages: tokens (docs/console/tokens.md).

The list of the subtree's tokens with filters; issuing for one candidate or many at once; a
token's page with revoke and reset. Every token is issued, revoked and reset by
``etest.token.service`` (the API's rules, one live token per scope, the audit row). A code
exists in clear only in the request that issues it, so the issuing POST answers with the
hand-out chosen on the form: the codes on the page (once), a printable PDF sheet, a CSV of take
links, or invitation emails (the outbox's ``email.send``, the link sealed in the payload)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from etest.auth.actor import Actor
from etest.candidate import repository as candidate_repository
from etest.candidate.accommodations import Accommodations
from etest.certificate.download import on_pdf_thread
from etest.config import Settings
from etest.console import fields
from etest.console.i18n import N_, translator
from etest.console.pages import ConsoleRoute, download, redirect, render
from etest.console.session import StaffDep
from etest.deps import SessionDep, SettingsDep
from etest.errors import EtestError, NotFound
from etest.kit.levels import LEVELS, canonical_level
from etest.kit.pagination import Pagination, paginate
from etest.models import Candidate, Organization, TestToken
from etest.models.base import utcnow
from etest.models.token import LIVE_STATUSES
from etest.notification.tasks import enqueue_invite
from etest.organization import repository as org_repository
from etest.token import handout, repository
from etest.token import service as token_service

router = APIRouter(route_class=ConsoleRoute)

PER_PAGE = 50
#: the most candidates one issuing request takes (and the issue form lists)
MAX_BATCH = 500
STATUSES = ("issued", "started", "completed", "expired", "revoked")
HANDOUTS: tuple[tuple[str, str], ...] = (
    ("page", N_("Show the codes on the next page (once)")),
    ("pdf", N_("A printable sheet (PDF) with a QR code for each candidate")),
    ("csv", N_("A CSV file of take links")),
    ("email", N_("Email an invitation to each candidate")),
)
HANDOUT_KEYS = tuple(k for k, _ in HANDOUTS)
#: the printed sheet's words (``handout.ENGLISH``), in the staff member's language
SHEET_WORDS = {
    "title": N_("Test tokens"),
    "organization": N_("Organization"),
    "test": N_("Test"),
    "expires": N_("Valid until"),
    "link": N_("Open this link, or scan the code, to take the test:"),
    "missing": N_("Not issued"),
}


def _uuids(values: list[str]) -> list[uuid.UUID]:
    found = [fields.uuid_or_none(v) for v in values]
    return [v for v in found if v is not None]


def what_test(_: Callable[..., str], type_: str, level: str | None) -> str:
    """The test a token opens, in the staff member's words."""
    if type_ == "PT":
        return _("Placement test")
    return _("Certification test %(level)s", level=level or "")


def _expiry(token: TestToken, org: Organization) -> str:
    try:
        zone = ZoneInfo(org.timezone)
    except (ValueError, KeyError):
        zone = ZoneInfo("UTC")
    return f"{token.expires_at.astimezone(zone):%Y-%m-%d %H:%M} ({zone.key})"


def _name(candidate: Candidate) -> str:
    return " ".join(p for p in (candidate.first_name.strip(), candidate.last_name.strip()) if p)


# ---------------------------------------------------------------------------- the list


@router.get("/tokens")
async def list_tokens(
    request: Request,
    staff: StaffDep,
    session: SessionDep,
    q: str = "",
    status: str = "",
    type: str = "",
    level: str = "",
    uic: str = "",
    subtree: str | None = None,
    expiring: str = "",
    candidate: str = "",
    page: int = 1,
) -> Response:
    actor = staff.actor
    actor.require("read")
    _ = translator(staff.account.language)
    now = utcnow()
    within, unknown = await known_org(session, actor, uic)
    days = int(expiring) if expiring.isdigit() and 0 < int(expiring) <= 365 else None
    lvl = canonical_level(level) if level else None
    stmt = repository.listed(
        actor,
        now=now,
        candidate_id=fields.uuid_or_none(candidate),
        type_=type if type in ("PT", "CT") else None,
        level=lvl,
        status=status if status in STATUSES else None,
        within=within,
        include_descendants=fields.flag(subtree, True),
        expiring_before=now + timedelta(days=days) if days else None,
        q=q.strip()[:100] or None,
    )
    pagination = Pagination(page=max(1, min(page, 1_000_000)), per_page=PER_PAGE)
    total, rows = (
        (0, [])
        if unknown
        else await paginate(session, stmt, pagination, TestToken.created_at.desc(), TestToken.id)
    )
    query = {
        "q": q,
        "status": status,
        "type": type,
        "level": level,
        "uic": uic,
        "expiring": expiring,
        "candidate": candidate,
    }
    if subtree is not None:
        query["subtree"] = subtree
    return render(
        request,
        staff,
        "console/tokens/list.html",
        status=422 if unknown else 200,
        title=N_("Tokens"),
        uic_error=UNKNOWN_UIC if unknown else None,
        rows=[
            {
                "token": t,
                "uic": u,
                "candidate": c,
                "name": _name(c),
                "status": token_service.effective_status(t),
                "test": what_test(_, t.type, t.level),
            }
            for t, u, c in rows
        ],
        total=total,
        paging=_Pager(pagination.page, max(1, -(-total // PER_PAGE)), total),
        base_query="&".join(f"{k}={_quote(v)}" for k, v in query.items() if v),
        filters=query | {"subtree": fields.flag(subtree, True)},
        level_options=[(lv, lv) for lv in LEVELS],
    )


UNKNOWN_UIC = N_("None of your organizations has this UIC.")


async def known_org(
    session: AsyncSession, actor: Actor, uic: str
) -> tuple[Organization | None, bool]:
    """The organization a list's UIC filter names, and whether the UIC is unknown (a filter
    with a typo is the form's error, not the 404 page)."""
    if not uic.strip():
        return None, False
    try:
        return await org_repository.get_by_uic(session, actor, uic.strip()), False
    except NotFound:
        return None, True


@dataclass(frozen=True)
class _Pager:
    page: int
    pages: int
    total: int


def _quote(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")


# ---------------------------------------------------------------------------- issuing


@dataclass
class IssueForm:
    type: str = "PT"
    level: str = ""
    expires_in_days: str = ""
    #: A test window's start as typed (``datetime-local``), read in the staff member's
    #: organization's time zone (UTC for the operator).
    not_before: str = ""
    handout: str = "page"
    #: The accommodation fields as typed (``console.fields.ACCOMMODATION``).
    accommodations: dict[str, str] = field(
        default_factory=lambda: fields.accommodation_values(None)
    )
    errors: dict[str, str] | None = None


async def _candidates_by_ids(
    session: AsyncSession, actor: Actor, ids: list[uuid.UUID]
) -> list[tuple[Candidate, str]]:
    """The candidates named on the page; one outside the subtree is the 404 page."""
    return [await candidate_repository.get(session, actor, i) for i in dict.fromkeys(ids)]


async def _issue_page(
    request: Request,
    staff: StaffDep,
    session: AsyncSession,
    *,
    chosen: list[tuple[Candidate, str]],
    form: IssueForm,
    find: dict[str, Any],
    more: bool = False,
    status: int = 200,
) -> Response:
    _ = translator(staff.account.language)
    orgs = (
        await session.scalars(
            org_repository.filtered(staff.actor).order_by(Organization.path).limit(500)
        )
    ).all()
    return render(
        request,
        staff,
        "console/tokens/new.html",
        status=status,
        title=N_("Issue tokens"),
        chosen=[{"candidate": c, "uic": u, "name": _name(c)} for c, u in chosen],
        form=form,
        err=form.errors or {},
        error_list=[_(m) for m in (form.errors or {}).values()],
        find=find,
        more=more,
        orgs=[(o.uic, f"{o.name} ({o.uic})") for o in orgs],
        level_options=[(lv, lv) for lv in LEVELS],
        handouts=HANDOUTS,
        max_batch=MAX_BATCH,
    )


@router.get("/tokens/new")
async def new_tokens(
    request: Request,
    staff: StaffDep,
    session: SessionDep,
    uic: str = "",
    q: str = "",
    subtree: str | None = None,
) -> Response:
    """Choose candidates (those named by ``candidate=<id>``, repeatable: the candidate's page
    and a list's ticks; or an organization's, optionally with its subtree, matching a search),
    then what to issue and how to hand it out."""
    actor = staff.actor
    actor.require("write")
    ids = _uuids(request.query_params.getlist("candidate"))
    find = {"uic": uic, "q": q, "subtree": fields.flag(subtree, True), "searched": False}
    chosen: list[tuple[Candidate, str]] = []
    more = False
    if ids:
        chosen = await _candidates_by_ids(session, actor, ids[:MAX_BATCH])
    elif uic.strip() or q.strip():
        find["searched"] = True
        within = (
            await org_repository.get_by_uic(session, actor, uic.strip()) if uic.strip() else None
        )
        stmt = candidate_repository.filtered(
            actor,
            within=within,
            include_descendants=fields.flag(subtree, True),
            q=q.strip() or None,
        )
        rows = (await session.execute(stmt.order_by(Candidate.email).limit(MAX_BATCH + 1))).all()
        more = len(rows) > MAX_BATCH
        chosen = [(r[0], r[1]) for r in rows[:MAX_BATCH]]
    return await _issue_page(
        request, staff, session, chosen=chosen, form=IssueForm(), find=find, more=more
    )


def _read_issue_form(data: FormData) -> IssueForm:
    form = IssueForm(
        type=str(data.get("type") or ""),
        level=str(data.get("level") or ""),
        expires_in_days=str(data.get("expires_in_days") or "").strip(),
        not_before=str(data.get("not_before") or "").strip(),
        handout=str(data.get("handout") or ""),
        accommodations={n: str(data.get(n) or "").strip() for n in fields.ACCOMMODATION},
        errors={},
    )
    errors: dict[str, str] = {}
    try:
        Accommodations.model_validate(fields.accommodations_from(form.accommodations) or {})
    except ValidationError:
        errors["accommodations"] = N_(
            "Choose the extra time from the list and give the plays as a number from 1 to 20."
        )
    if form.type not in ("PT", "CT"):
        errors["type"] = N_("Choose the placement test or a certification test.")
    if form.type == "CT":
        level = canonical_level(form.level) if form.level else None
        if level is None:
            errors["level"] = N_("Choose the level of the certification test.")
        else:
            form.level = level
    if form.expires_in_days and not (
        form.expires_in_days.isdigit() and 1 <= int(form.expires_in_days) <= 365
    ):
        errors["expires_in_days"] = N_("Give a number of days from 1 to 365, or leave it empty.")
    if form.not_before:
        try:
            datetime.fromisoformat(form.not_before)
        except ValueError:
            errors["not_before"] = N_("Give a date and time, or leave it empty.")
    if form.handout not in HANDOUT_KEYS:
        errors["handout"] = N_("Choose how to hand out the tokens.")
    form.errors = errors
    return form


async def _window_start(session: AsyncSession, actor: Actor, typed: str) -> datetime | None:
    """The test window's start typed in the form, in the staff member's organization's time
    zone (UTC for the operator)."""
    if not typed:
        return None
    org = (
        await session.get(Organization, actor.organization_id)
        if actor.organization_id is not None
        else None
    )
    zone = ZoneInfo(org.timezone if org is not None else "UTC")
    return datetime.fromisoformat(typed).replace(tzinfo=zone)


@router.post("/tokens/new")
async def issue_tokens(
    request: Request, staff: StaffDep, session: SessionDep, settings: SettingsDep
) -> Response:
    actor = staff.actor
    actor.require("write")
    data = await request.form()
    ids = _uuids([str(v) for v in data.getlist("candidate")])
    form = _read_issue_form(data)
    assert form.errors is not None
    if not ids:
        form.errors["candidate"] = N_("Tick at least one candidate.")
    elif len(ids) > MAX_BATCH:
        form.errors["candidate"] = N_("At most 500 candidates at once: narrow the search.")
    if form.errors:
        chosen = await _candidates_by_ids(session, actor, ids[:MAX_BATCH])
        find = {"uic": "", "q": "", "subtree": True, "searched": False}
        return await _issue_page(
            request, staff, session, chosen=chosen, form=form, find=find, status=422
        )
    batch = await token_service.issue_many(
        session,
        actor,
        settings,
        ids,
        type_=form.type,
        level=form.level if form.type == "CT" else None,
        expires_in_days=int(form.expires_in_days) if form.expires_in_days else None,
        not_before=await _window_start(session, actor, form.not_before),
        accommodations=fields.accommodations_from(form.accommodations),
    )
    return await _hand_out(request, staff, session, settings, batch, form.handout)


async def _hand_out(
    request: Request,
    staff: StaffDep,
    session: AsyncSession,
    settings: Settings,
    batch: token_service.Batch,
    how: str,
    *,
    reset_of: TestToken | None = None,
) -> Response:
    """The answer of an issuing (or reset) request: the codes in the form chosen."""
    _ = translator(staff.account.language)
    entries: list[handout.Entry] = []
    for item in batch.issued:
        org = await candidate_repository.get_org(session, item.candidate)
        entries.append(
            handout.Entry(
                name=_name(item.candidate),
                email=item.candidate.email,
                organization=org.name,
                test=what_test(_, item.token.type, item.token.level),
                link=token_service.take_url(settings, item.code),
                expires=_expiry(item.token, org),
            )
        )
    missing = [handout.Missing(r.label, r.reason) for r in batch.refused]
    stamp = f"{utcnow():%Y%m%d-%H%M}"
    if batch.issued and how == "pdf":
        labels = {k: _(v) for k, v in SHEET_WORDS.items()}
        await session.commit()  # no transaction (nor SQLite's write lock) while drawing
        data = await on_pdf_thread(handout.sheet_pdf, entries, missing, labels)
        return download(data, f"tokens-{stamp}.pdf", "application/pdf")
    if batch.issued and how == "csv":
        return download(
            handout.links_csv(entries, missing), f"tokens-{stamp}.csv", "text/csv; charset=utf-8"
        )
    if how == "email":
        for item in batch.issued:
            link = token_service.take_url(settings, item.code)
            await enqueue_invite(session, settings, item.token, item.candidate, link)
    return render(
        request,
        staff,
        "console/tokens/issued.html",
        status=200 if batch.issued else 422,
        title=(N_("New token issued") if reset_of else N_("Tokens issued"))
        if batch.issued
        else N_("No token was issued"),
        shown=[
            {"entry": e, "code": i.code, "token": i.token}
            for e, i in zip(entries, batch.issued, strict=True)
        ],
        refused=batch.refused,
        emailed=how == "email",
        reset_of=reset_of,
    )


# ---------------------------------------------------------------------------- one token


async def _token_page(
    request: Request,
    staff: StaffDep,
    session: AsyncSession,
    token_id: uuid.UUID,
    *,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    token, uic, candidate = await repository.get_with_candidate(session, staff.actor, token_id)
    state = token_service.effective_status(token)
    return render(
        request,
        staff,
        "console/tokens/show.html",
        status=status,
        title=N_("Token"),
        token=token,
        uic=uic,
        candidate=candidate,
        name=_name(candidate),
        state=state,
        live=state in LIVE_STATUSES,
        test=what_test(translator(staff.account.language), token.type, token.level),
        handouts=HANDOUTS,
        errors=errors or {},
    )


@router.get("/tokens/{token_id}")
async def show_token(
    request: Request, staff: StaffDep, session: SessionDep, token_id: str
) -> Response:
    found = fields.uuid_or_none(token_id)
    if found is None:
        raise NotFound("No such token.")
    return await _token_page(request, staff, session, found)


@router.post("/tokens/{token_id}/revoke")
async def revoke_token(
    request: Request, staff: StaffDep, session: SessionDep, token_id: str
) -> Response:
    found = fields.uuid_or_none(token_id)
    if found is None:
        raise NotFound("No such token.")
    data = await request.form()
    reason = str(data.get("reason") or "").strip()
    token, _, _ = await repository.get_with_candidate(session, staff.actor, found)
    staff.actor.require("write")
    if not reason or len(reason) > 500:
        return await _token_page(
            request,
            staff,
            session,
            found,
            errors={"revoke": N_("Say why the token is revoked (at most 500 characters).")},
            status=422,
        )
    try:
        async with session.begin_nested():
            await token_service.revoke(session, staff.actor, token, reason)
    except EtestError as exc:
        if exc.status in (403, 404):
            raise
        return await _token_page(
            request, staff, session, found, errors={"revoke": exc.detail}, status=exc.status
        )
    back = fields.console_path(str(data.get("back") or ""), f"/console/tokens/{token.id}")
    return redirect(back, N_("The token was revoked: its code no longer opens the test."))


@router.post("/tokens/{token_id}/reset")
async def reset_token(
    request: Request, staff: StaffDep, session: SessionDep, settings: SettingsDep, token_id: str
) -> Response:
    """Void the token (and its unfinished attempt) and issue a new one, handed out like a new
    token; support may do it."""
    found = fields.uuid_or_none(token_id)
    if found is None:
        raise NotFound("No such token.")
    data = await request.form()
    reason = str(data.get("reason") or "").strip()
    how = str(data.get("handout") or "page")
    token, uic, candidate = await repository.get_with_candidate(session, staff.actor, found)
    staff.actor.require("reset_token")
    if not reason or len(reason) > 1000 or how not in HANDOUT_KEYS:
        return await _token_page(
            request,
            staff,
            session,
            found,
            errors={"reset": N_("Say why the token is reset, and how to hand out the new one.")},
            status=422,
        )
    try:
        async with session.begin_nested():  # nothing of a refused reset stays
            new, uic, code = await token_service.reset(
                session, staff.actor, settings, token, uic, reason
            )
    except EtestError as exc:
        if exc.status in (403, 404):
            raise
        return await _token_page(
            request, staff, session, found, errors={"reset": exc.detail}, status=exc.status
        )
    batch = token_service.Batch(issued=[token_service.Issued(new, candidate, uic, code)])
    return await _hand_out(request, staff, session, settings, batch, how, reset_of=token)

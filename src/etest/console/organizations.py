"""Console pages: organizations (docs/console/organizations.md).

The tree of the staff member's subtree, an organization's page (facts, contract, children),
creating a child, the settings (switches, language, time zone, logo, and for an ancestor's admin
the contract's expiry and activity), the callback URL and secret (a generated secret is shown
once), and a signed test ping to the callback URL. Every change goes through
``organization.service`` and every ping through ``webhook.service``, as the API's do."""

from __future__ import annotations

import secrets
import urllib.parse
import zoneinfo
from base64 import b64encode
from dataclasses import dataclass, field
from datetime import date, datetime, time
from functools import cache
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from etest.audit.service import record
from etest.auth.actor import Actor
from etest.config import Settings
from etest.console.i18n import N_, translator
from etest.console.pages import ConsoleRoute, redirect, render
from etest.console.session import StaffDep
from etest.content.media import MediaStore, content_type_of, media_problem
from etest.deps import SessionDep, SettingsDep
from etest.errors import Conflict, Forbidden, Unprocessable
from etest.kit.pagination import Pagination, paginate
from etest.kit.webhook_signing import PREFIX
from etest.models import MediaObject, Organization
from etest.notification.texts import CATALOG
from etest.organization import repository, service
from etest.organization.schemas import (
    OrganizationCreate,
    OrganizationSettings,
    OrganizationUpdate,
)
from etest.plan import repository as plan_repository
from etest.staff.service import SignedIn
from etest.webhook import service as webhook_service

router = APIRouter(route_class=ConsoleRoute)

#: Organizations shown on one page of the tree.
TREE_PAGE = 200
#: Children listed on an organization's page.
CHILDREN_SHOWN = 100
#: The yes/no switches of OrganizationSettings, with their labels, in the form's order.
SWITCHES: tuple[tuple[str, str, str], ...] = (
    ("notify_after_pt", N_("Email the candidate the placement result"), ""),
    ("notify_after_ct", N_("Email the candidate the certification result"), ""),
    ("send_certificate_email", N_("Email the certificate when one is issued"), ""),
    ("show_result_to_candidate", N_("Show the result to the candidate after the test"), ""),
    (
        "disable_candidate_after_pt",
        N_("Disable the candidate after the placement test"),
        N_("No further tokens can be used once the placement result is known."),
    ),
    (
        "allow_candidate_certificate_download",
        N_("Candidates may download their certificate"),
        "",
    ),
)
UNLOCK_MODES = (
    ("auto", N_("Automatically after a placement result")),
    ("teacher", N_("Only when staff issue the token")),
)
LANGUAGE_NAMES = {
    "en": "English",
    "es": "Español",
    "vi": "Tiếng Việt",
    "zh-Hans": "简体中文",
    "ar": "العربية",
}


@cache
def timezones() -> list[str]:
    return sorted(zoneinfo.available_timezones())


def languages(current: str | None) -> list[tuple[str, str]]:
    codes = list(CATALOG) + ([current] if current and current not in CATALOG else [])
    return [(c, LANGUAGE_NAMES.get(c, c)) for c in codes]


#: At most this many organizations are offered in a form's list; more, and the form asks for
#: the UIC typed instead.
CHOICES = 200


async def organization_choices(
    session: AsyncSession, actor: Actor
) -> tuple[list[tuple[str, str]] | None, str]:
    """The organizations a form offers (UIC, "name (UIC)"), or None when there are more than
    :data:`CHOICES`; and the actor's own UIC, the form's default ("" for the operator)."""
    total, rows = await paginate(
        session, repository.filtered(actor), Pagination(1, CHOICES), Organization.path
    )
    own = next((r[0].uic for r in rows if r[0].id == actor.organization_id), "")
    choices = [(r[0].uic, f"{r[0].name} ({r[0].uic})") for r in rows]
    return (choices if total <= CHOICES else None), own


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return PREFIX + b64encode(secrets.token_bytes(32)).decode()


def _messages(exc: ValidationError) -> dict[str, str]:
    out: dict[str, str] = {}
    for error in exc.errors():
        loc = [str(part) for part in error.get("loc", ()) if part != "settings"]
        name = loc[0] if loc else "form"
        out.setdefault(name, str(error.get("msg", "")).removeprefix("Value error, "))
    return out


def _text(form: Any, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


# ------------------------------------------------------------------------------------ tree


@dataclass
class Node:
    org: Organization
    children: list[Node] = field(default_factory=list)


def tree_of(orgs: list[Organization]) -> list[Node]:
    """Rows in path order as nested nodes; a row whose parent is not among them is a root."""
    nodes: dict[Any, Node] = {}
    roots: list[Node] = []
    for org in orgs:
        node = nodes[org.id] = Node(org)
        parent = nodes.get(org.parent_id)
        (parent.children if parent else roots).append(node)
    return roots


@router.get("/organizations")
async def organizations(
    request: Request,
    staff: StaffDep,
    session: SessionDep,
    q: Annotated[str, Query(max_length=200)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> Response:
    actor = staff.actor
    paging = Pagination(page, TREE_PAGE)
    total, rows = await paginate(
        session, repository.filtered(actor, q=q.strip() or None), paging, Organization.path
    )
    orgs = [r[0] for r in rows]
    return render(
        request,
        staff,
        "console/organizations/list.html",
        roots=tree_of(orgs),
        q=q,
        total=total,
        paging={"page": page, "pages": max(1, -(-total // TREE_PAGE))},
        base_query=urllib.parse.urlencode({"q": q}) if q else "",
    )


def _require_operator(staff: SignedIn) -> None:
    if not staff.actor.is_global:
        raise Forbidden("Only the operator creates a top-level organization.")


@router.get("/organizations/-new")
async def new_top_level(request: Request, staff: StaffDep, session: SessionDep) -> Response:
    """A top-level organization (a new customer): the operator only. (Registered before
    ``/organizations/{uic}``; no UIC starts with a dash.)"""
    _require_operator(staff)
    values = {"plan_code": "", "uic": "", "name": "", "region": "ROW"}
    return await _child_form(request, staff, session, None, values, {})


@router.post("/organizations/-new")
async def create_top_level(
    request: Request, staff: StaffDep, session: SessionDep, settings: SettingsDep
) -> Response:
    _require_operator(staff)
    return await _create(request, staff, session, settings, None)


# ----------------------------------------------------------------------------- one organization


async def _facts(session: AsyncSession, actor: Actor, org: Organization) -> dict[str, Any]:
    parent = await session.get(Organization, org.parent_id) if org.parent_id else None
    parent_visible = parent is not None and actor.covers(parent.path)
    return {
        "org": org,
        "parent": parent if parent_visible else None,
        "contract": sorted(await service.allowed_plans(session, org)),
        "own_contract": service.own_plans(org.plan_code, org.allowed_plans),
        "live": await service.is_live(session, org),
        "org_settings": OrganizationSettings.model_validate(org.settings),
        "may_write": actor.can("write"),
        "may_contract": service.may_change_contract(actor, org),
    }


@router.get("/organizations/{uic}")
async def organization(
    request: Request, uic: str, staff: StaffDep, session: SessionDep
) -> Response:
    org = await repository.get_by_uic(session, staff.actor, uic)
    total, rows = await paginate(
        session,
        repository.filtered(staff.actor, children_of=org),
        Pagination(1, CHILDREN_SHOWN),
        Organization.path,
    )
    return render(
        request,
        staff,
        "console/organizations/show.html",
        children=[r[0] for r in rows],
        children_total=total,
        switches=SWITCHES,
        unlock_modes=dict(UNLOCK_MODES),
        **await _facts(session, staff.actor, org),
    )


# ------------------------------------------------------------------------------ new child


async def _child_form(
    request: Request,
    staff: SignedIn,
    session: AsyncSession,
    parent: Organization | None,
    values: dict[str, str],
    errors: dict[str, str],
    status: int = 200,
) -> Response:
    """The form of a new organization below ``parent`` (None: a top-level one, the operator's)."""
    if parent is None:
        plans = [p.code for p in await plan_repository.plans(session)]
        root = None
    else:
        plans = await service.plans_for_child(session, staff.actor, parent)
        root = await session.get(Organization, parent.root_id)
    return render(
        request,
        staff,
        "console/organizations/new.html",
        status=status,
        parent=parent,
        prefix=f"{root.uic}-" if root is not None and not staff.actor.is_global else "",
        plans=plans,
        plan_options=[(p, p) for p in plans],
        regions=[("ROW", "ROW"), ("CN", "CN")],
        values=values,
        errors=errors,
    )


@router.get("/organizations/{uic}/children/new")
async def new_child(request: Request, uic: str, staff: StaffDep, session: SessionDep) -> Response:
    staff.actor.require("write")
    parent = await repository.get_by_uic(session, staff.actor, uic)
    values = {"plan_code": parent.plan_code or "", "uic": "", "name": ""}
    return await _child_form(request, staff, session, parent, values, {})


@router.post("/organizations/{uic}/children/new")
async def create_child(
    request: Request, uic: str, staff: StaffDep, session: SessionDep, settings: SettingsDep
) -> Response:
    staff.actor.require("write")
    parent = await repository.get_by_uic(session, staff.actor, uic)
    return await _create(request, staff, session, settings, parent)


async def _create(
    request: Request,
    staff: SignedIn,
    session: AsyncSession,
    settings: Settings,
    parent: Organization | None,
) -> Response:
    form = await request.form()
    values = {k: _text(form, k) for k in ("uic", "name", "plan_code", "region")}
    try:
        body = OrganizationCreate(
            uic=values["uic"],
            name=values["name"],
            parent_uic=parent.uic if parent else None,
            plan_code=values["plan_code"] or None,
            region=parent.region if parent else values["region"] or "ROW",
            timezone=parent.timezone if parent else "UTC",
            settings=OrganizationSettings(
                language=OrganizationSettings.model_validate(parent.settings).language
                if parent
                else None
            ),
        )
    except ValidationError as exc:
        return await _child_form(request, staff, session, parent, values, _messages(exc), 422)
    try:
        org = await service.create(
            session, staff.actor, body, callback_allow_networks=settings.callback_allow_networks
        )
    except (Unprocessable, Conflict) as exc:
        field_name = "uic" if exc.code.startswith("uic") else "plan_code"
        return await _child_form(
            request, staff, session, parent, values, {field_name: exc.detail}, 422
        )
    return redirect(f"/console/organizations/{org.uic}", N_("The organization was created."))


# ------------------------------------------------------------------------------- settings


def _settings_values(org: Organization) -> dict[str, Any]:
    stored = OrganizationSettings.model_validate(org.settings).model_dump()
    expires = ""
    if org.expires_at is not None:
        expires = org.expires_at.astimezone(zoneinfo.ZoneInfo(org.timezone)).date().isoformat()
    return {
        **stored,
        "name": org.name,
        "timezone": org.timezone,
        "logo_url": org.logo_url or "",
        "accent_color": stored["accent_color"] or "",
        "next_step_text": (stored["next_step"] or {}).get("text") or "",
        "next_step_url": (stored["next_step"] or {}).get("url") or "",
        "frame_ancestors": " ".join(stored["frame_ancestors"]),
        "callback_url": org.callback_url or "",
        "expires_on": expires,
        "is_active": org.is_active,
    }


async def _settings_page(
    request: Request,
    staff: SignedIn,
    session: AsyncSession,
    org: Organization,
    *,
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    callback_errors: dict[str, str] | None = None,
    ping: webhook_service.PingResult | None = None,
    status: int = 200,
) -> Response:
    _ = translator(staff.account.language)
    return render(
        request,
        staff,
        "console/organizations/settings.html",
        status=status,
        values=values or _settings_values(org),
        errors=errors or {},
        callback_errors=callback_errors or {},
        switches=SWITCHES,
        languages=languages(OrganizationSettings.model_validate(org.settings).language),
        tz_options=[(tz, tz) for tz in timezones()],
        unlock_options=[(v, _(label)) for v, label in UNLOCK_MODES],
        ping=ping,
        **await _facts(session, staff.actor, org),
    )


@router.get("/organizations/{uic}/settings")
async def settings_page(
    request: Request, uic: str, staff: StaffDep, session: SessionDep
) -> Response:
    staff.actor.require("write")
    org = await repository.get_by_uic(session, staff.actor, uic)
    return await _settings_page(request, staff, session, org)


def _expiry(day: str, tz: str) -> datetime | None:
    """A date typed in the form: the contract ends at 00:00 of that day in the organization's
    time zone (empty: no expiry). ValueError for a malformed date."""
    if not day:
        return None
    return datetime.combine(date.fromisoformat(day), time(0), tzinfo=zoneinfo.ZoneInfo(tz))


def _brand_changes(stored: dict[str, Any], form: Any) -> dict[str, Any]:
    """The accent colour and the result page's next step as typed (empty: none); a next step's
    per-level entries (set through the API) are kept."""
    changes: dict[str, Any] = {}
    accent = _text(form, "accent_color").lower() or None
    if accent != stored["accent_color"]:
        changes["accent_color"] = accent
    step = dict(stored["next_step"] or {})
    text, url = _text(form, "next_step_text") or None, _text(form, "next_step_url") or None
    if (text, url) != (step.get("text"), step.get("url")):
        step.update(text=text, url=url)
        kept = {k: v for k, v in step.items() if v}
        changes["next_step"] = kept or None
    return changes


def _settings_changes(org: Organization, form: Any, may_contract: bool) -> dict[str, Any]:
    """The fields of the settings form that differ from what is stored (so the audit entry
    names only what changed)."""
    stored = OrganizationSettings.model_validate(org.settings).model_dump()
    switches = {
        name: form.get(name) == "1"
        for name, _, _ in SWITCHES
        if (form.get(name) == "1") != stored[name]
    }
    if _text(form, "ct_unlock_mode") and _text(form, "ct_unlock_mode") != stored["ct_unlock_mode"]:
        switches["ct_unlock_mode"] = _text(form, "ct_unlock_mode")
    if (_text(form, "language") or None) != stored["language"]:  # empty: not set
        switches["language"] = _text(form, "language") or None
    switches.update(_brand_changes(stored, form))
    origins = _text(form, "frame_ancestors").replace(",", " ").split()
    if origins != stored["frame_ancestors"]:
        switches["frame_ancestors"] = origins
    changes: dict[str, Any] = {}
    if switches:
        changes["settings"] = switches
    if _text(form, "name") != org.name:
        changes["name"] = _text(form, "name")
    if _text(form, "timezone") != org.timezone:
        changes["timezone"] = _text(form, "timezone")
    if (_text(form, "logo_url") or None) != org.logo_url:
        changes["logo_url"] = _text(form, "logo_url") or None
    if may_contract:
        expires = _expiry(_text(form, "expires_on"), changes.get("timezone", org.timezone))
        if expires != org.expires_at:
            changes["expires_at"] = expires
        if (form.get("is_active") == "1") != org.is_active:
            changes["is_active"] = form.get("is_active") == "1"
    return changes


@router.post("/organizations/{uic}/settings")
async def save_settings(
    request: Request, uic: str, staff: StaffDep, session: SessionDep, settings: SettingsDep
) -> Response:
    staff.actor.require("write")
    org = await repository.get_by_uic(session, staff.actor, uic)
    form = await request.form()
    values = {
        **_settings_values(org),
        **{k: _text(form, k) for k in ("name", "timezone", "logo_url", "expires_on")},
        **{k: _text(form, k) for k in ("ct_unlock_mode", "language")},
        **{k: _text(form, k) for k in ("accent_color", "next_step_text", "next_step_url")},
        "frame_ancestors": _text(form, "frame_ancestors"),
        **{name: form.get(name) == "1" for name, _, _ in SWITCHES},
        "is_active": form.get("is_active") == "1",
    }
    may_contract = service.may_change_contract(staff.actor, org)
    try:
        changes = _settings_changes(org, form, may_contract)
    except ValueError:
        errors = {"expires_on": N_("Give the date as YYYY-MM-DD.")}
        return await _settings_page(
            request, staff, session, org, values=values, errors=errors, status=422
        )
    if not changes:
        return redirect(f"/console/organizations/{org.uic}", N_("Nothing was changed."))
    try:
        body = OrganizationUpdate.model_validate(changes)
    except ValidationError as exc:
        return await _settings_page(
            request, staff, session, org, values=values, errors=_messages(exc), status=422
        )
    await service.update(
        session,
        staff.actor,
        org.uic,
        body,
        callback_allow_networks=settings.callback_allow_networks,
    )
    return redirect(f"/console/organizations/{org.uic}", N_("The settings were saved."))


#: What a logo may be: what emails and certificates can carry (ReportLab draws PNG and JPEG).
LOGO_TYPES = ("image/png", "image/jpeg")


@router.post("/organizations/{uic}/logo")
async def save_logo(
    request: Request,
    uic: str,
    staff: StaffDep,
    session: SessionDep,
    settings: SettingsDep,
    file: Annotated[UploadFile | None, File()] = None,
    remove: Annotated[str, Form(max_length=1)] = "",
) -> Response:
    """Upload the organization's logo (PNG or JPEG, into the media store by its hash) or go
    back to the default one; shown on the candidate's pages, emails and certificates."""
    staff.actor.require("write")
    org = await repository.get_by_uic(session, staff.actor, uic)
    digest: str | None = None
    if not remove:
        data = await file.read(settings.max_upload_bytes + 1) if file is not None else b""
        name = (file.filename or "") if file is not None else ""
        problem = None if data else N_("Choose a PNG or JPEG file.")
        if data and len(data) > settings.max_upload_bytes:
            problem = N_("The file is too large.")
        elif data and (content_type_of(name) not in LOGO_TYPES or media_problem(name, data)):
            problem = N_("A logo must be a PNG or JPEG file.")
        if problem is not None:
            return await _settings_page(
                request, staff, session, org, errors={"logo": problem}, status=422
            )
        digest = MediaStore(settings.media_path).put(data)
        if await session.get(MediaObject, digest) is None:
            session.add(
                MediaObject(sha256=digest, content_type=content_type_of(name), size=len(data))
            )
    org.settings = {**org.settings, "logo_sha256": digest}
    record(
        session,
        staff.actor,
        "organization.logo",
        target_type="organization",
        target_id=org.id,
        organization_id=org.id,
        details={"logo_sha256": digest},
    )
    return redirect(
        f"/console/organizations/{org.uic}/settings",
        N_("The logo was removed: the default logo is used.")
        if digest is None
        else N_("The logo was saved."),
    )


@router.post("/organizations/{uic}/callback")
async def save_callback(
    request: Request, uic: str, staff: StaffDep, session: SessionDep, settings: SettingsDep
) -> Response:
    """The callback URL and the secret: keep it, generate one (shown once, on the page this
    post answers with), use one typed in, or remove it."""
    staff.actor.require("write")
    org = await repository.get_by_uic(session, staff.actor, uic)
    form = await request.form()
    url = _text(form, "callback_url") or None
    action = _text(form, "secret_action") or "keep"
    changes: dict[str, Any] = {"callback_url": url}
    generated = None
    if action == "generate":
        generated = changes["callback_secret"] = new_secret()
    elif action == "own":
        changes["callback_secret"] = _text(form, "callback_secret")
    elif action == "remove":
        changes["callback_secret"] = None
    values = {**_settings_values(org), "callback_url": url or "", "secret_action": action}
    try:
        body = OrganizationUpdate.model_validate(changes)
        await service.update(
            session,
            staff.actor,
            org.uic,
            body,
            callback_allow_networks=settings.callback_allow_networks,
        )
    except ValidationError as exc:
        return await _settings_page(
            request, staff, session, org, values=values, callback_errors=_messages(exc), status=422
        )
    except Unprocessable as exc:
        return await _settings_page(
            request,
            staff,
            session,
            org,
            values=values,
            callback_errors={"callback_url": exc.detail},
            status=422,
        )
    if generated is not None:
        return render(
            request,
            staff,
            "console/organizations/secret.html",
            headers={"Cache-Control": "no-store"},
            org=org,
            secret=generated,
            overlap=org.callback_secret_previous is not None,
        )
    notice = {
        "own": N_("The callback settings were saved with the new secret."),
        "remove": N_("The callback secret was removed: no callbacks are sent without one."),
    }.get(action, N_("The callback settings were saved."))
    return redirect(f"/console/organizations/{org.uic}/settings#callbacks", notice)


@router.post("/organizations/{uic}/ping")
async def ping(
    request: Request, uic: str, staff: StaffDep, session: SessionDep, settings: SettingsDep
) -> Response:
    """A signed test request to the callback URL. The request's transaction is committed
    first (with the audit entry), so no database lock waits for the far side's answer."""
    target = await webhook_service.prepare_ping(session, staff.actor, uic)
    await session.commit()
    result = await webhook_service.send_ping(settings, target)
    org = await repository.get_by_uic(session, staff.actor, uic)
    return await _settings_page(request, staff, session, org, ping=result)

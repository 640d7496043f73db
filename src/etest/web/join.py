"""``/join/<slug>``: the page an open link (or its QR code) opens. The candidate types a name,
an email, the fields the organization asks for and the access code when there is one; the
service registers them, issues a token and the browser goes on to ``/take`` with it
(docs/open-links.md).

A plain form with POST-redirect-GET and no script, bound to this browser like the token form
(a form cookie on ``/join`` and its HMAC in the form: another site cannot register people
through a visitor's browser). Registrations are rate limited per address and per link; a
link that is closed, full, withdrawn or not open yet says so instead of showing the form."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from etest.config import Settings
from etest.deps import SessionDep, SettingsDep
from etest.errors import EtestError, Forbidden
from etest.kit.i18n import N_
from etest.models import Organization
from etest.models.base import utcnow
from etest.models.token import OpenLink
from etest.openlink import repository, service
from etest.openlink.schemas import Registration
from etest.ops import ratelimits
from etest.web import cookie, language
from etest.web.pages import PageRoute, error_page, render
from etest.web.texts import too_many

router = APIRouter(route_class=PageRoute, include_in_schema=False)

#: Each field's sentence when it is missing or malformed.
FIELD_ERRORS = {
    "first_name": N_("Enter your first name."),
    "last_name": N_("Enter your last name."),
    "email": N_("Enter an email address like name@example.com."),
    "username": N_("Enter a username."),
    "phone": N_("Enter a phone number: digits, spaces, +, brackets and dashes."),
    "access_code": N_("Enter the access code you were given."),
}

#: What a closed link says, by its state.
CLOSED = {
    "revoked": (410, N_("This link was withdrawn by the organization that shared it.")),
    "closed": (410, N_("This link has closed: registrations are no longer taken.")),
    "full": (409, N_("This link is full: it has been used as many times as it allows.")),
}

#: A refused registration's sentence, by problem code.
REFUSED = {
    "open-link-full": N_("This link is full: it has been used as many times as it allows."),
    "open-link-closed": N_("This link has closed: registrations are no longer taken."),
    "access-code-wrong": N_("The access code is wrong. Check it and try again."),
    "open-link-email-registered": N_(
        "This email address is already registered with this organization. Use the test link "
        "you were sent, or ask the organization for a new one."
    ),
    "token-exists": N_(
        "This email address already has a test waiting. Use the test link you were sent."
    ),
}

FIELDS = ("first_name", "last_name", "email", "username", "phone", "access_code")


def _not_found() -> Response:
    return error_page(
        404,
        N_("There is no such link. Check the address, or scan the code again."),
        back="/take",
        back_text=N_("Enter a test token"),
    )


async def _link(session: AsyncSession, slug: str) -> tuple[OpenLink, Organization] | None:
    if len(slug) > 64:
        return None
    found = await repository.by_slug(session, slug)
    if found is not None and found[0].language:
        words = language.current()
        language.use(language.Words(found[0].language, words.register, found[1].timezone))
    return found


def _when(link: OpenLink, org: Organization) -> str:
    assert link.opens_at is not None
    words = language.current()
    return language.Words(words.language, words.register, org.timezone).datetime(link.opens_at)


def _form_page(
    request: Request,
    link: OpenLink,
    org: Organization,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    problem: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """The form, or the sentence of a link that takes no registration now."""
    settings: Settings = request.app.state.settings
    state = service.status(link, utcnow())
    gettext = language.current().gettext
    closed = None
    if state in CLOSED:
        status, message = CLOSED[state]
        closed = gettext(message)
    elif state == "not_open":
        status = 403
        closed = gettext("This link opens on %(when)s. Come back then.", when=_when(link, org))
    binding = cookie.form_binding(
        request, settings.pepper(), cookie.JOIN_FORM_COOKIE, cookie.JOIN_PATH
    )
    response = render(
        "join.html",
        status=status,
        headers=headers,
        link=link,
        organization=org.name,
        closed=closed,
        errors=errors or {},
        values=values or {},
        problem=problem,
        asks_code=link.access_code_digest is not None,
        required=list(link.required_fields or []),
        csrf=binding.field,
        action=f"/join/{link.slug}",
    )
    binding.keep(request, response)
    return response


@router.get("/join/{slug}")
async def join_form(request: Request, session: SessionDep, slug: str) -> Response:
    found = await _link(session, slug)
    if found is None:
        return _not_found()
    return _form_page(request, *found)


def _read(form: Any, required: list[str], asks_code: bool) -> tuple[dict[str, str], dict[str, str]]:
    """The form's values (trimmed) and the sentence of each field that is wrong."""
    gettext = language.current().gettext
    values = {f: str(form.get(f) or "").strip()[:400] for f in FIELDS}
    errors: dict[str, str] = {}
    wanted = ["first_name", "last_name", "email", *required] + (
        ["access_code"] if asks_code else []
    )
    for name in wanted:
        if not values[name]:
            errors[name] = gettext(FIELD_ERRORS[name])
    if not errors:
        try:
            Registration.model_validate({k: v or None for k, v in values.items()})
        except ValidationError as exc:
            for error in exc.errors():
                name = str(error["loc"][0]) if error["loc"] else "email"
                errors.setdefault(name, gettext(FIELD_ERRORS.get(name, FIELD_ERRORS["email"])))
    return values, errors


@router.post("/join/{slug}")
async def join(request: Request, session: SessionDep, settings: SettingsDep, slug: str) -> Response:
    """Register through the link and go on to the test; a wrong or refused form comes back
    with its sentences (and keeps what was typed, except the access code)."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise Forbidden("The registration can only be sent from this site's own form.")
    found = await _link(session, slug)
    if found is None:
        return _not_found()
    link, org = found
    form = await request.form()
    if not cookie.form_csrf_ok(
        request, settings.pepper(), form.get("csrf"), cookie.JOIN_FORM_COOKIE
    ):
        return _form_page(
            request,
            link,
            org,
            status=403,
            problem=language.current().gettext(
                "This form is out of date or did not come from this site. Please send it again."
            ),
        )
    values, errors = _read(
        form, list(link.required_fields or []), link.access_code_digest is not None
    )
    shown = {k: v for k, v in values.items() if k != "access_code"}
    if errors:
        return _form_page(request, link, org, status=422, errors=errors, values=shown)
    for rule, keys in ((ratelimits.JOIN_ADDRESS, ()), (ratelimits.JOIN_LINK, (str(link.id),))):
        wait = await ratelimits.wait_for(request, rule, *keys)
        if wait:
            return _form_page(
                request,
                link,
                org,
                status=429,
                values=shown,
                problem=too_many(wait),
                headers={"Retry-After": str(wait)},
            )
    await ratelimits.charge(request, ratelimits.JOIN_ADDRESS)
    await ratelimits.charge(request, ratelimits.JOIN_LINK, str(link.id))
    try:
        _, code = await service.register(
            session,
            settings,
            link,
            org,
            Registration.model_validate({k: v or None for k, v in values.items()}),
        )
        await session.flush()
    except (EtestError, IntegrityError) as exc:
        await session.rollback()
        code_ = exc.code if isinstance(exc, EtestError) else "open-link-email-registered"
        message = REFUSED.get(code_)
        detail = exc.detail if isinstance(exc, EtestError) else ""
        status = exc.status if isinstance(exc, EtestError) else 409
        found = await repository.by_slug(session, slug)  # as it is now (full, closed …)
        if found is None:
            return _not_found()
        return _form_page(
            request,
            *found,
            status=status,
            values=shown,
            problem=language.current().gettext(message) if message else detail,
        )
    # on to the test: /take starts it with the token, sets the cookie and shows the start page
    return RedirectResponse(
        f"/take?token={quote(code)}", status_code=303, headers={"Cache-Control": "no-store"}
    )

"""Console pages: certificates (docs/console/certificates.md).

The subtree's certificates with filters, a certificate's page (facts, verification link, the
PDF opened in the browser) and revocation with a reason, all through ``etest.certificate``'s
repository and service, as the API does."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from etest.certificate import repository, service
from etest.certificate.download import RendererDep, pdf_response
from etest.config import Settings
from etest.console import fields
from etest.console.i18n import N_
from etest.console.pages import ConsoleRoute, redirect, render
from etest.console.session import StaffDep
from etest.console.tokens import UNKNOWN_UIC, known_org
from etest.deps import SessionDep, SettingsDep
from etest.kit.levels import LEVELS, canonical_level
from etest.kit.pagination import Pagination, paginate
from etest.models import Certificate

router = APIRouter(route_class=ConsoleRoute)

PER_PAGE = 50


@dataclass(frozen=True)
class _Pager:
    page: int
    pages: int
    total: int


@router.get("/certificates")
async def list_certificates(
    request: Request,
    staff: StaffDep,
    session: SessionDep,
    settings: SettingsDep,
    q: str = "",
    level: str = "",
    status: str = "",
    uic: str = "",
    issued_from: str = "",
    issued_to: str = "",
    candidate: str = "",
    page: int = 1,
) -> Response:
    actor = staff.actor
    actor.require("read")
    org, unknown = await known_org(session, actor, uic)
    start, end = fields.day(issued_from), fields.day(issued_to)
    errors = {"uic": UNKNOWN_UIC} if unknown else {}
    if issued_from and start is None:
        errors["issued_from"] = N_("Give a date like 2026-01-31.")
    if issued_to and end is None:
        errors["issued_to"] = N_("Give a date like 2026-01-31.")
    stmt = repository.listed(
        actor,
        org_path=org.path if org else None,
        level=canonical_level(level) if level else None,
        issued_from=fields.start_of(start) if start else None,
        # "to" is the last day included
        issued_to=fields.end_of(end) if end else None,
        status=status if status in ("valid", "revoked") else None,
        candidate_id=fields.uuid_or_none(candidate),
        q=q.strip()[:100] or None,
    )
    pagination = Pagination(page=max(1, min(page, 1_000_000)), per_page=PER_PAGE)
    total, rows = (
        (0, [])
        if unknown
        else await paginate(session, stmt, pagination, Certificate.issued_at.desc(), Certificate.id)
    )
    filters = {
        "q": q,
        "level": level,
        "status": status,
        "uic": uic,
        "issued_from": issued_from,
        "issued_to": issued_to,
        "candidate": candidate,
    }
    return render(
        request,
        staff,
        "console/certificates/list.html",
        status=422 if errors else 200,
        title=N_("Certificates"),
        rows=[{"certificate": c, "uic": u, "candidate": cand} for c, u, cand in rows],
        total=total,
        paging=_Pager(pagination.page, max(1, -(-total // PER_PAGE)), total),
        base_query="&".join(f"{k}={quote(v, safe='')}" for k, v in filters.items() if v),
        filters=filters,
        errors=errors,
        level_options=[(lv, lv) for lv in LEVELS],
    )


async def _page(
    request: Request,
    staff: StaffDep,
    session: AsyncSession,
    settings: Settings,
    certificate_id: uuid.UUID,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    certificate, uic, candidate = await repository.get_with_candidate(
        session, staff.actor, certificate_id
    )
    return render(
        request,
        staff,
        "console/certificates/show.html",
        status=status,
        title=N_("Certificate"),
        certificate=certificate,
        uic=uic,
        candidate=candidate,
        verify_url=service.verify_url(settings, certificate.code),
        error=error,
    )


@router.get("/certificates/{certificate_id}")
async def show_certificate(
    request: Request,
    staff: StaffDep,
    session: SessionDep,
    settings: SettingsDep,
    certificate_id: str,
) -> Response:
    return await _page(request, staff, session, settings, fields.path_id(certificate_id))


@router.get("/certificates/{certificate_id}/pdf")
async def certificate_pdf(
    staff: StaffDep,
    session: SessionDep,
    settings: SettingsDep,
    render_pdf: RendererDep,
    certificate_id: str,
) -> Response:
    """The PDF, opened in the browser (a revoked certificate is marked as such)."""
    certificate, _ = await repository.get(session, staff.actor, fields.path_id(certificate_id))
    return await pdf_response(session, settings, render_pdf, certificate, inline=True)


@router.post("/certificates/{certificate_id}/revoke")
async def revoke_certificate(
    request: Request,
    staff: StaffDep,
    session: SessionDep,
    settings: SettingsDep,
    certificate_id: str,
) -> Response:
    found = fields.path_id(certificate_id)
    certificate, _ = await repository.get(session, staff.actor, found)
    staff.actor.require("write")
    data = await request.form()
    reason = str(data.get("reason") or "").strip()
    if not reason or len(reason) > 500:
        return await _page(
            request,
            staff,
            session,
            settings,
            found,
            error=N_("Say why the certificate is revoked (at most 500 characters)."),
            status=422,
        )
    if certificate.revoked_at is not None:
        return redirect(
            f"/console/certificates/{found}", N_("This certificate was already revoked.")
        )
    await service.revoke(session, staff.actor, certificate, reason)
    return redirect(
        f"/console/certificates/{found}",
        N_("The certificate was revoked: its verification page now says so."),
    )

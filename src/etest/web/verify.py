"""The page a certificate's QR code opens (``/verify/{code}``): the public check of
:func:`etest.certificate.service.verify`, as HTML."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from etest.certificate import service
from etest.certificate.schemas import Verification
from etest.deps import SessionDep
from etest.web.pages import PageRoute, render

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def _date(moment: datetime | None) -> str | None:
    return moment.date().isoformat() if moment is not None else None


@router.get("/verify/{code}", response_class=HTMLResponse)
async def verify_page(session: SessionDep, code: str) -> HTMLResponse:
    """The page a certificate's QR code opens."""
    result = (
        await service.verify(session, code)
        if len(code) <= 40
        else Verification(status="unknown", code=code[:40])
    )
    return render(
        "verify.html",
        status=404 if result.status == "unknown" else 200,
        result=result,
        revoked_on=_date(result.revoked_at),
    )

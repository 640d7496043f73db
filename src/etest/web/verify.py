"""The page a certificate's QR code opens (``/verify/{code}``): the public check of
:func:`etest.certificate.service.verify`, as HTML."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from etest.certificate import service
from etest.certificate.schemas import Verification
from etest.deps import SessionDep
from etest.web import language
from etest.web.pages import PageRoute, render

router = APIRouter(route_class=PageRoute, include_in_schema=False)


@router.get("/verify/{code}", response_class=HTMLResponse)
async def verify_page(session: SessionDep, code: str) -> HTMLResponse:
    """The page a certificate's QR code opens, in the browser's language (or the one chosen
    with the page's switcher); dates in words of that language."""
    result = (
        await service.verify(session, code)
        if len(code) <= 40
        else Verification(status="unknown", code=code[:40])
    )
    words = language.current()
    return render(
        "verify.html",
        status=404 if result.status == "unknown" else 200,
        result=result,
        revoked_on=words.date(result.revoked_at) or None,
        issued_on=words.date(result.issued_on),
    )

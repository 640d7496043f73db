"""The certificate PDF as an HTTP download: the edge shared by the admin API, the candidate API
(:mod:`etest.certificate.endpoints`) and the ``/take`` page (:mod:`etest.web.take`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from etest.certificate import service
from etest.certificate.pdf import PdfRenderer
from etest.config import Settings
from etest.models import Certificate

PDF = "application/pdf"


async def _renderer(request: Request) -> PdfRenderer:
    renderer: PdfRenderer = request.app.state.render_pdf
    return renderer


RendererDep = Annotated[PdfRenderer, Depends(_renderer)]


async def pdf_response(
    session: AsyncSession, settings: Settings, render_pdf: PdfRenderer, certificate: Certificate
) -> Response:
    """The certificate's PDF as a download (also the ``/take`` page's, :mod:`etest.web.take`)."""
    code = certificate.code
    view = await service.certificate_view(session, settings, certificate.id)
    # The route is the edge: it ends its unit of work before drawing, so no transaction (on
    # SQLite, the write lock) stays open for the PDF; the session dependency's commit then
    # finds nothing to do, and a 2xx still means committed.
    await session.commit()
    return Response(
        await render_pdf(view),
        media_type=PDF,
        headers={
            "Content-Disposition": f'attachment; filename="certificate-{code}.pdf"',
            "Cache-Control": "no-store",
        },
    )


# ---------------------------------------------------------------------------- admin API

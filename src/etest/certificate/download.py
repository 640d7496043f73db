"""The certificate PDF as an HTTP download: the edge shared by the admin API, the candidate API
(:mod:`etest.certificate.endpoints`) and the ``/take`` page (:mod:`etest.web.take`)."""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from etest.certificate import service
from etest.certificate.pdf import _PDF_THREAD, PdfRenderer
from etest.config import Settings
from etest.models import Certificate

PDF = "application/pdf"
T = TypeVar("T")


async def on_pdf_thread(draw: Callable[..., T], *args: object) -> T:
    """Run ``draw(*args)`` on the one thread that draws every PDF (ReportLab is not
    thread-safe): other PDFs than certificates, e.g. the token handout sheet
    (``etest.token.handout``), drawn off the event loop without racing a certificate."""
    call = functools.partial(contextvars.copy_context().run, draw, *args)
    return await asyncio.get_running_loop().run_in_executor(_PDF_THREAD, call)


async def _renderer(request: Request) -> PdfRenderer:
    renderer: PdfRenderer = request.app.state.render_pdf
    return renderer


RendererDep = Annotated[PdfRenderer, Depends(_renderer)]


async def pdf_response(
    session: AsyncSession,
    settings: Settings,
    render_pdf: PdfRenderer,
    certificate: Certificate,
    *,
    inline: bool = False,
) -> Response:
    """The certificate's PDF as a download (also the ``/take`` page's, :mod:`etest.web.take`);
    ``inline``: opened in the browser's viewer (the console's "Open the PDF")."""
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
            "Content-Disposition": f"{'inline' if inline else 'attachment'}; "
            f'filename="certificate-{code}.pdf"',
            "Cache-Control": "no-store",
        },
    )


# ---------------------------------------------------------------------------- admin API

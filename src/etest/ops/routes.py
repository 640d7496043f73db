"""The operational routes: ``/health`` (liveness), ``/ready`` (readiness), ``/errors/<code>``
and the API documentation at ``/docs``, served from the ``fastapi-offline`` package (no CDN:
it works offline) under a Content-Security-Policy of its own."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import fastapi_offline
import structlog
from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text

from etest import __version__
from etest.config import Settings
from etest.errors import CATALOG, NotFound, problem
from etest.migrate import current_revision, head_revision, known_revision

log = structlog.get_logger(__name__)
_STATIC = Path(__file__).parent / "static"
#: Swagger UI 5 (it reads OpenAPI 3.1) as shipped in the ``fastapi-offline`` package: its files
#: only (the package's own app wiring is not used).
_SWAGGER = Path(fastapi_offline.__file__).parent / "static"

#: Swagger UI's stylesheet sets some styles inline (hence ``'unsafe-inline'`` for styles only);
#: scripts come from this service alone.
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; font-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)

_DOCS_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>eTest API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
<link rel="icon" type="image/png" href="/docs/assets/favicon.png">
</head>
<body>
<main id="swagger-ui"><h1>eTest API</h1><p>Loading the API description from
<a href="/openapi.json">/openapi.json</a> (this page needs JavaScript; the JSON does not).</p>
</main>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/start.js"></script>
</body>
</html>
"""


def install(app: FastAPI, settings: Settings) -> None:
    """Add the operational routes to ``app`` (the app is made with ``docs_url=None``)."""
    del settings  # no knob yet; the signature matches the other installers

    @app.get("/health", tags=["operations"])
    async def health() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok", "version": __version__}

    @app.get("/ready", tags=["operations"], responses={503: {"description": "Not ready"}})
    async def ready(request: Request) -> Any:
        """Readiness: the database answers and its schema is at the migrations' head. When not,
        the 503 says why (unreachable with the driver's reason, pool exhausted, schema behind),
        so that an operator reading the probe's output knows where to look. The probe never
        waits on an exhausted pool: it says so at once."""
        from etest.db import database_unavailable, pool_exhausted

        def not_ready(detail: str, reason: str) -> JSONResponse:
            log.warning("not_ready", reason=reason)
            return problem(503, "not-ready", "Not ready", detail, reason=reason)

        engine = request.app.state.engine
        exhausted = pool_exhausted(engine)
        if exhausted is not None:
            return not_ready(f"The database cannot serve more requests: {exhausted}.", exhausted)
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
                current = await conn.run_sync(current_revision)
        except Exception as exc:  # any driver error means "not ready"
            reason = (
                database_unavailable(exc) or f"the database check failed ({type(exc).__name__})"
            )
            return not_ready(f"The database is not reachable: {reason}.", reason)
        head = head_revision()
        if current is not None and current != head and not known_revision(current):
            # a newer release has migrated (expand/contract: its migration only adds), and this
            # node keeps serving until it is replaced: a rolling upgrade takes no node offline
            return JSONResponse({"status": "ready", "revision": current, "schema": "ahead"})
        if current != head:
            return not_ready(
                f"The database is at revision {current}, the code expects {head}: "
                "run 'etest db upgrade'.",
                "schema behind" if current is not None else "schema missing",
            )
        return JSONResponse({"status": "ready", "revision": current})

    @app.get("/errors/{code}", tags=["operations"], include_in_schema=False)
    async def error_type(code: str) -> dict[str, str]:
        if code not in CATALOG:
            raise NotFound(f"No error type {code!r}.")
        return {"type": f"/errors/{code}", "description": CATALOG[code]}

    headers = {"Content-Security-Policy": DOCS_CSP, "X-Content-Type-Options": "nosniff"}

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(_DOCS_PAGE, headers=headers)

    @app.get("/docs/start.js", include_in_schema=False)
    async def docs_start() -> FileResponse:
        return FileResponse(_STATIC / "docs.js", media_type="text/javascript", headers=headers)

    app.mount("/docs/assets", StaticFiles(directory=_SWAGGER), name="docs-assets")

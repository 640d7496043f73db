"""The application factory: settings in, a FastAPI app out. Engines are created in the lifespan,
never at import time."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from asgi_correlation_id import CorrelationIdMiddleware
from fastapi import FastAPI

from etest import __version__
from etest.attempt.endpoints import router as attempt_router
from etest.attempt.live import LiveSource
from etest.audit.endpoints import router as audit_router
from etest.auth.sso import SsoVerifier
from etest.bank.endpoints import router as bank_router
from etest.candidate.endpoints import router as candidate_router
from etest.certificate.endpoints import public_router as certificate_public_router
from etest.certificate.endpoints import router as certificate_router
from etest.certificate.pdf import PdfRenderer, render_off_loop
from etest.config import Settings, get_settings
from etest.console import root as console_root
from etest.console import router as console_router
from etest.content.endpoints import router as content_router
from etest.db import create_engine, create_read_sessionmaker, create_sessionmaker
from etest.errors import install_handlers
from etest.kit.logging import configure_logging
from etest.openapi import install_links
from etest.openlink.endpoints import router as open_link_router
from etest.ops import edge as ops_edge
from etest.ops import errorreport as ops_errorreport
from etest.ops import metrics as ops_metrics
from etest.ops import ratelimits as ops_ratelimits
from etest.ops import routes as ops_routes
from etest.ops import security as ops_security
from etest.organization.endpoints import router as organization_router
from etest.outbox.worker import Dispatcher
from etest.plan.endpoints import router as plan_router
from etest.report.endpoints import router as report_router
from etest.result.endpoints import router as result_router
from etest.review.endpoints import router as review_router
from etest.tasks import job_context
from etest.token.endpoints import router as token_router
from etest.web import mount_static
from etest.web import router as web_router
from etest.web.join import router as join_router
from etest.web.verify import router as verify_router
from etest.webhook.endpoints import router as webhook_router

log = structlog.get_logger(__name__)


def create_app(
    settings: Settings | None = None, *, render_pdf: PdfRenderer | None = None
) -> FastAPI:
    """The app; ``render_pdf`` replaces the certificate PDF port (tests)."""
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.log_json)
    ops_errorreport.init(settings, component="api")
    ops_ratelimits.check(settings)  # a bad ETEST_RATE_LIMITS fails at start, not on a request

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings)
        app.state.engine = engine
        app.state.sessionmaker = create_sessionmaker(engine)
        app.state.read_sessionmaker = create_read_sessionmaker(engine)
        app.state.live = LiveSource(engine)
        await app.state.live.open()
        app.state.sso = SsoVerifier(
            settings.sso_issuers,
            refetch_interval=settings.jwks_refetch_interval,
            cache_seconds=settings.jwks_cache_seconds,
            max_lifetime=settings.sso_max_token_lifetime,
        )
        log.info("startup", version=__version__, database=engine.dialect.name)
        # Everything alive now (modules, routes, metadata) lives as long as the process: keep
        # it out of the collector's full passes, which otherwise scan it all every few hundred
        # requests and showed up as p99 spikes under load; and collect the young generation
        # less often (a request allocates thousands of short-lived objects). Measured in
        # bench/delivery_load.py: 800 -> 1,000 candidates held, 4.7 instead of 5.6 ms per step.
        gc.collect()
        gc.freeze()
        gc.set_threshold(20_000, 50, 100)
        sweeper = (
            asyncio.create_task(_sweep_forever(app, settings.sweep_interval))
            if settings.sweep_interval > 0
            else None
        )
        dispatcher = _embedded_dispatcher(app, settings) if settings.embedded_worker else None
        try:
            yield
        finally:
            if sweeper is not None:
                sweeper.cancel()
            if dispatcher is not None:
                await dispatcher.stop()
            await app.state.live.close()
            await engine.dispose()

    app = FastAPI(
        title="eTest",
        version=__version__,
        lifespan=lifespan,
        description="Adaptive placement and certification tests for language learning.",
        docs_url=None,  # ops.routes serves /docs without a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.render_pdf = render_pdf or render_off_loop
    install_handlers(app)
    # middleware, innermost first (the last added runs first): the edge's size limits, the
    # access log with metrics, proxy and security headers, then the request id around everything
    ops_edge.install(app, settings)
    ops_metrics.install(app, settings)
    ops_security.install(app, settings)
    app.add_middleware(CorrelationIdMiddleware, header_name="X-Request-ID")

    # the candidate API first: routers are matched in order, and its two routes carry most of
    # the traffic (bench/delivery_queries.py)
    for router in (
        attempt_router,
        plan_router,
        organization_router,
        candidate_router,
        token_router,
        audit_router,
        content_router,
        certificate_router,
        certificate_public_router,
        verify_router,
        web_router,
    ):
        app.include_router(router)
    app.include_router(open_link_router)
    app.include_router(join_router)
    app.include_router(result_router)
    app.include_router(review_router)
    app.include_router(report_router)
    app.include_router(webhook_router)
    app.include_router(bank_router)
    app.include_router(console_router)
    app.include_router(console_root)
    mount_static(app)
    ops_routes.install(app, settings)
    install_links(app)
    return app


def _embedded_dispatcher(app: FastAPI, settings: Settings) -> Dispatcher:
    """The outbox dispatcher inside this process (``worker_mode`` embedded, or auto on SQLite):
    one machine needs no separate ``etest worker``. Started here, stopped at shutdown."""
    dispatcher = Dispatcher(job_context(settings, app.state.sessionmaker))
    dispatcher.start()
    return dispatcher


async def _sweep_forever(app: FastAPI, interval: float) -> None:
    """Finish attempts past their deadline (finish time = deadline), every ``interval`` s."""
    from etest.attempt.service import sweep
    from etest.db import transaction

    while True:
        await asyncio.sleep(interval)
        try:
            async with transaction(app.state.sessionmaker) as session:
                count = await sweep(session)
            if count:
                log.info("swept", attempts=count)
        except Exception as exc:  # the sweeper must outlive a failed pass
            log.warning("sweep_failed", error=str(exc))

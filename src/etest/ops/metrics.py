"""Prometheus metrics at ``GET /metrics`` (issue 13, part 5; ``docs/operations.md``).

What is measured, and where:

* ``etest_http_request_duration_seconds{route,method,status}``: a histogram of every HTTP
  request, by route *template* (``/api/v1/attempts/{attempt_id}/responses``, never the raw
  path: a label per attempt id would grow without bound; paths no route matches share
  ``<unmatched>``), method (unknown methods are ``OTHER``) and status class (``2xx`` ...).
  Observed by :class:`RequestObserver`, the pure ASGI middleware that also writes the access
  log: it is on the delivery hot path, so it adds no task, copies no body, and reads the
  template the router leaves in the scope rather than matching the path again (its cost:
  ``bench/middleware_cost.py``).
* ``etest_answers_accepted_total``: answers the candidate API acknowledged (2xx of
  ``POST /api/v1/attempts/{attempt_id}/responses``; an idempotent replay is acknowledged, and
  counted, again). Answers per second is ``rate(etest_answers_accepted_total[1m])``.
* Figures read from the database at scrape time, by whichever process answers the scrape:
  ``etest_attempts_in_progress``, per topic ``etest_outbox_pending``, ``etest_outbox_running``,
  ``etest_outbox_oldest_due_seconds`` and ``etest_outbox_dead``, and
  ``etest_metrics_database_up`` (0 when the read failed or took longer than
  :data:`DATABASE_TIMEOUT`: the scrape answers anyway, without those families).
* ``etest_db_pool_checked_out``, ``etest_db_pool_size``, ``etest_db_pool_overflow``: the
  connection pool of the process that answers.

Several processes (``etest serve --workers N``, or several servers on one machine): set
``PROMETHEUS_MULTIPROC_DIR`` to an empty directory writable by all of them, the same for all,
emptied before they start. prometheus-client then keeps the histogram and the counter in files
there, and ``/metrics`` of any process reads them all and sums them. The database figures are
not kept in files: the answering process reads them once, so they are never counted N times.

``ETEST_METRICS_TOKEN`` set: ``/metrics`` wants ``Authorization: Bearer <token>`` (401
problem+json otherwise). ``ETEST_METRICS_ENABLED=false``: no middleware, no route.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import time
from collections.abc import Iterable
from typing import Any

import structlog
from fastapi import FastAPI, Request, Response
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.routing import Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from etest.config import Settings
from etest.errors import Unauthorized
from etest.kit.asgi import StatusCapture
from etest.models.base import utcnow
from etest.ops import repository

log = structlog.get_logger(__name__)
#: The access log's lines keep the name they had when the app factory wrote them.
access_log = structlog.get_logger("etest.app")

#: Seconds the database figures may take at one scrape; past it the scrape answers without them.
DATABASE_TIMEOUT = 2.0
UNMATCHED = "<unmatched>"
ANSWER_ROUTE = "/api/v1/attempts/{attempt_id}/responses"
#: Latency buckets (seconds): the delivery routes answer in a few ms, reports in seconds.
BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_CLASSES = {1: "1xx", 2: "2xx", 3: "3xx", 4: "4xx", 5: "5xx"}

REQUEST_SECONDS = Histogram(
    "etest_http_request_duration_seconds",
    "Time from the request's arrival to the end of its response, by route template.",
    ("route", "method", "status"),
    buckets=BUCKETS,
)
ANSWERS_ACCEPTED = Counter(
    "etest_answers_accepted",
    "Answers the candidate API acknowledged (rate() of it: answers per second).",
)

#: One histogram child per label tuple, found without ``labels()``' validation and lock.
_children: dict[tuple[str, str, str], Any] = {}


def route_of(scope: Scope) -> str:
    """The template of the route that handled ``scope`` (the router leaves it there), a
    mount's prefix with ``/{path}``, or :data:`UNMATCHED`."""
    route = scope.get("route")
    if route is None:
        return UNMATCHED
    path = getattr(route, "path", None)
    if not isinstance(path, str):
        return UNMATCHED
    if isinstance(route, Mount):
        return f"{path}/{{path}}"
    return path


def observe(route: str, method: str, status: int, seconds: float) -> None:
    """Record one request (the middleware's bookkeeping, apart so a benchmark can time it)."""
    if method not in _METHODS:
        method = "OTHER"
    key = (route, method, _CLASSES.get(status // 100, "5xx"))
    child = _children.get(key)
    if child is None:
        child = _children.setdefault(key, REQUEST_SECONDS.labels(*key))
    child.observe(seconds)
    if route == ANSWER_ROUTE and method == "POST" and 200 <= status < 300:
        ANSWERS_ACCEPTED.inc()


class RequestObserver:
    """One pass over every HTTP request for the access log (one structured line) and, when
    metrics are on, the latency histogram and the answers counter: pure ASGI (no per-request
    task or body copy, which ``BaseHTTPMiddleware`` costs on the delivery hot path), one layer
    for both."""

    def __init__(self, app: ASGIApp, *, metrics: bool) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        capture = StatusCapture(send)
        try:
            await self.app(scope, receive, capture)
        finally:
            seconds = time.perf_counter() - started
            if self.metrics:
                observe(route_of(scope), scope["method"], capture.status, seconds)
            state = scope.get("state") or {}
            access_log.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                status=capture.status,
                ms=round(seconds * 1000, 1),
                actor=state.get("actor"),
            )


class _Figures(Collector):
    """The figures of one scrape read from the database and the pool (not kept in files)."""

    def __init__(self, snapshot: repository.Snapshot | None, pool: Any) -> None:
        self.snapshot = snapshot
        self.pool = pool

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily(
            "etest_metrics_database_up",
            "1 when this scrape read the database figures, 0 when that failed or timed out.",
            value=0 if self.snapshot is None else 1,
        )
        yield up
        if self.snapshot is not None:
            yield from _database_families(self.snapshot)
        yield from _pool_families(self.pool)


def _database_families(snap: repository.Snapshot) -> Iterable[Metric]:
    yield GaugeMetricFamily(
        "etest_attempts_in_progress",
        "Attempts started and not finished (all organizations).",
        value=snap.attempts_in_progress,
    )
    per_topic = (
        ("etest_outbox_pending", "Outbox rows waiting (due now or later), by topic.", "pending"),
        ("etest_outbox_running", "Outbox rows leased to a worker now, by topic.", "running"),
        ("etest_outbox_dead", "Outbox rows given up on (etest outbox retry), by topic.", "dead"),
    )
    values = {
        "pending": snap.outbox_pending,
        "running": snap.outbox_running,
        "dead": snap.outbox_dead,
    }
    for name, doc, status in per_topic:
        family = GaugeMetricFamily(name, doc, labels=["topic"])
        for topic, count in sorted(values[status].items()):
            family.add_metric([topic], count)
        yield family
    age = GaugeMetricFamily(
        "etest_outbox_oldest_due_seconds",
        "Seconds the oldest due pending row has waited, by topic (0: none due).",
        labels=["topic"],
    )
    for topic, seconds in sorted(snap.outbox_oldest_due_seconds.items()):
        age.add_metric([topic], seconds)
    yield age


def _pool_families(pool: Any) -> Iterable[Metric]:
    """Checked out, size and overflow of a queue pool (other pools have no such figures)."""
    for name, method, doc in (
        ("etest_db_pool_checked_out", "checkedout", "Connections this process has in use."),
        ("etest_db_pool_size", "size", "Connections this process keeps open at most, idle."),
        ("etest_db_pool_overflow", "overflow", "Connections beyond the size (negative: unused)."),
    ):
        read = getattr(pool, method, None)
        if callable(read):
            yield GaugeMetricFamily(name, doc, value=float(read()))


#: The read of the last scrape (see :func:`read_snapshot`).
_reading: asyncio.Future[repository.Snapshot] | None = None


async def read_snapshot(
    sessionmaker: async_sessionmaker[AsyncSession], within: float = DATABASE_TIMEOUT
) -> repository.Snapshot | None:
    """The database figures, or None when the database did not answer within ``within`` s.

    The read runs in a task of its own that is cancelled, not awaited, when time is up: a
    SQLite read waiting on a lock sits in aiosqlite's thread until the busy timeout, and closing
    its session would wait as long. On PostgreSQL the server gives up too (statement_timeout).
    While a read given up on still runs, scrapes do not start another (each would hold a
    connection of the pool)."""
    global _reading
    if _reading is not None and not _reading.done():
        log.warning("metrics_database_unavailable", error="a previous read still runs")
        return None
    task = _reading = asyncio.ensure_future(_read(sessionmaker, within))
    task.add_done_callback(_forget)
    done, _ = await asyncio.wait({task}, timeout=within)
    if not done:
        task.cancel()
        log.warning("metrics_database_unavailable", error="TimeoutError", seconds=within)
        return None
    error = task.exception()
    if error is not None:  # a scrape must answer: the figures are missing, up says why
        log.warning("metrics_database_unavailable", error=type(error).__name__)
        return None
    return task.result()


async def _read(
    sessionmaker: async_sessionmaker[AsyncSession], within: float
) -> repository.Snapshot:
    async with sessionmaker() as session:
        await repository.limit_statement_time(session, int(within * 1000))
        return await repository.snapshot(session, utcnow())


def _forget(task: asyncio.Future[repository.Snapshot]) -> None:
    """Retrieve the outcome of a read given up on (no "exception never retrieved" warning)."""
    if not task.cancelled():
        task.exception()


def multiprocess() -> bool:
    """Whether prometheus-client keeps values in ``PROMETHEUS_MULTIPROC_DIR`` (read, like the
    library does, from the environment)."""
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


class _Process(Collector):
    """The process-wide registry (histogram, counter, process and GC figures) inside the
    registry of one scrape."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()


def exposition(
    snapshot: repository.Snapshot | None, pool: Any, accept: str | None = None
) -> tuple[bytes, str]:
    """The body and content type of one scrape (the format the scraper accepts: Prometheus
    text or OpenMetrics): this process's (or, multi-process, every process's) histogram and
    counter, then the figures read for this scrape."""
    scrape = CollectorRegistry(auto_describe=False)
    if multiprocess():
        MultiProcessCollector(scrape)  # type: ignore[no-untyped-call]
    else:
        scrape.register(_Process())
    scrape.register(_Figures(snapshot, pool))
    encoder, content_type = choose_encoder(accept or "")
    return encoder(scrape), content_type


def _authorize(request: Request, token: str) -> None:
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), token.encode()
    ):
        raise Unauthorized("The metrics need 'Authorization: Bearer <ETEST_METRICS_TOKEN>'.")


def install(app: FastAPI, settings: Settings) -> None:
    """Add the request observer (the access log; metrics when enabled) and, when metrics are
    enabled, ``GET /metrics`` to ``app`` (called once by the app factory)."""
    app.add_middleware(RequestObserver, metrics=settings.metrics_enabled)
    if not settings.metrics_enabled:
        return
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None

    async def metrics(request: Request) -> Response:
        if token:
            _authorize(request, token)
        snapshot = await read_snapshot(request.app.state.read_sessionmaker)
        body, content_type = exposition(
            snapshot, request.app.state.engine.pool, request.headers.get("accept")
        )
        return Response(body, headers={"Content-Type": content_type, "Cache-Control": "no-store"})

    app.add_api_route("/metrics", metrics, methods=["GET"], include_in_schema=False)

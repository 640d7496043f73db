"""The outbox worker: claim due rows, run them, record every try (see ``docs/outbox.md``).

A row is due when it is ``pending`` and ``available_at`` has come, or ``running`` with an expired
lease (its worker died). Claiming leases a few rows to one worker and writes a try row for each,
and is committed *before* any work, so a crash at any later moment leaves a lease that expires
and the row runs again with the same id: at least once, never lost. Two workers never claim the
same row: PostgreSQL skips rows another claimer holds (``FOR UPDATE SKIP LOCKED``), SQLite runs
one write transaction at a time (``BEGIN IMMEDIATE``, see :mod:`etest.db`).

* An **event** (its topic has subscribers) runs every subscriber in one transaction that also
  marks the row done, so its follow-up rows exist exactly when the event counts as done.
* A **job** (its topic has a handler) runs outside any transaction (I/O must not hold locks),
  bounded by the lease; a short transaction then records the try and marks the row ``done``,
  schedules a retry with exponential back-off and full jitter, marks it ``dead`` after
  ``max_tries`` (at once on ``JobFailed(retry=False)``) or ``cancelled`` on ``JobCancelled``.

A job that cannot run because something is not configured (no ``ETEST_SMTP_URL`` for the emails)
is not a failure: its handler raises :class:`NotConfigured`, or, cheaper, a check registered with
:func:`requires` says so before the handler runs. The row goes back to ``pending`` with its try
given back (no try burnt, never dead) and is looked at again after :data:`NOT_CONFIGURED_RECHECK`
s, so a worker started with the setting sends it within that time; the process says what is
missing once, at warning level, in an operator's words, instead of a retry line every few
seconds.

An unexpected exception of a job or event (not ``JobFailed``/``JobCancelled``/``NotConfigured``)
is also reported to the error tracker when one is configured (:func:`etest.ops.errorreport.report`;
its traceback goes there, scrubbed, never into the row or the log). A row enqueued by a request
carries that request's id (``OutboxEvent.request_id``); the worker runs the job under it
(asgi-correlation-id's context variable), so every log line of the job carries ``request_id``.

Settling a row checks that the lease is still ours (same try number): a worker that outlived its
lease records its try but leaves the row to whoever claimed it since. Nothing here lets an error
end the loop, and what is stored or logged about an error is its type and, for our own
``JobFailed``/``JobCancelled``, its message: never a traceback, never a foreign message that
could carry a secret (a URL with a password, a query with personal data).
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import random
import secrets
import signal
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

import structlog
from asgi_correlation_id import correlation_id
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from etest.config import Settings
from etest.db import create_engine, create_sessionmaker
from etest.models import OutboxEvent, OutboxTry
from etest.ops import errorreport
from etest.outbox import jobs, repository
from etest.outbox.jobs import (
    Event,
    Job,
    JobCancelled,
    JobContext,
    JobFailed,
    Subscriber,
)

log = structlog.get_logger(__name__)

#: Rows one claim of :func:`drain` takes at most: small, so concurrent drains share the work.
DRAIN_BATCH = 5
#: Jobs one worker runs at once unless told otherwise (``etest worker --concurrency``).
DEFAULT_CONCURRENCY = 4
#: A handler may use this share of the lease; past it the try fails (before another worker may
#: claim the row again, so one delivery does not overlap the next).
HANDLER_SHARE_OF_LEASE = 0.8
ERROR_CHARS = 500
#: Seconds a row that waits for a setting is left alone before a worker looks at it again.
NOT_CONFIGURED_RECHECK = 60.0
#: Payload key of the id of the request that enqueued the row (stripped before handlers run).

Status = Literal["done", "retry", "dead", "cancelled", "waiting"]


class NotConfigured(JobFailed):
    """The job cannot run in this process because a setting is missing; the message says, in
    an operator's words, what is missing and what setting it does (logged once per process).
    A ``JobFailed`` that asks for a retry, for callers that know only that; the worker gives the
    try back instead of counting it."""

    def __init__(self, message: str) -> None:
        super().__init__(message, retry=True)


#: Checks run before a job's handler: a sentence saying what is missing, or None to go on.
Requirement = Callable[[JobContext], str | None]
REQUIREMENTS: dict[str, list[Requirement]] = {}
#: What this process has said is missing (each said once).
_said: set[str] = set()


def requires(topic: str) -> Callable[[Requirement], Requirement]:
    """Register a check that the jobs of ``topic`` can run with a worker's context (a setting
    they need is there); a row of a topic whose check fails waits instead of being tried."""

    def register(check: Requirement) -> Requirement:
        REQUIREMENTS.setdefault(topic, []).append(check)
        return check

    return register


def missing(ctx: JobContext, topic: str) -> str | None:
    """The first sentence of a failed requirement of ``topic``, or None."""
    for check in REQUIREMENTS.get(topic, ()):
        reason = check(ctx)
        if reason:
            return reason
    return None


def new_worker_id() -> str:
    """Host, pid and a random suffix: what an operator needs to find the process of a try."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def load_tasks(settings: Settings) -> None:
    """Import the modules an operator configured (``worker_extra_tasks``) that register more
    subscribers and handlers. The built-in ones are registered by whoever composes the worker
    (:mod:`etest.tasks`): the outbox names no job package."""
    for name in settings.worker_extra_tasks:
        importlib.import_module(name)


def retry_delay(
    try_number: int, base: float, cap: float, rand: Callable[[], float] = random.random
) -> float:
    """Seconds before the next try after try ``try_number`` failed: uniform in
    ``[0, min(cap, base * 2**(try_number - 1)))`` ("full jitter"), so that many jobs failing
    together (a receiver down) do not come back together."""
    ceiling = min(cap, base * 2.0 ** min(try_number - 1, 62))
    return max(0.0, rand() * ceiling)


def describe(exc: BaseException) -> str:
    """What is stored and logged about an error: see the module docstring."""
    if isinstance(exc, JobFailed | JobCancelled):
        text = str(exc) or type(exc).__name__
    elif isinstance(exc, OSError) and exc.strerror:
        text = f"{type(exc).__name__}: {exc.strerror}"
    else:
        text = type(exc).__name__
    return " ".join(text.split())[:ERROR_CHARS]


def _jsonable(detail: dict[str, Any] | None) -> dict[str, Any]:
    if not detail:
        return {}
    try:
        value: dict[str, Any] = json.loads(json.dumps(detail, default=str))
    except (TypeError, ValueError):
        return {"detail": "not serializable"}
    return value


@dataclass(frozen=True)
class Outcome:
    """How one try ended, before the row's budget turns a ``retry`` into ``dead``."""

    status: Status
    error: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)


# -- claiming ---------------------------------------------------------------------------------


async def claim(ctx: JobContext, worker_id: str, limit: int) -> list[Job]:
    """Lease up to ``limit`` due rows to ``worker_id`` and open a try for each (committed)."""
    now = ctx.clock()
    async with ctx.transaction() as session:
        rows = await repository.lock_due(session, now, limit)
        stale = [row.id for row in rows if row.status == "running"]
        if stale:
            await repository.close_open_tries(
                session, stale, now, "lease expired: the worker stopped or hung"
            )
            log.warning("outbox_lease_expired", ids=[str(i) for i in stale], worker=worker_id)
        lease = timedelta(seconds=ctx.settings.worker_lease_seconds)
        claimed = []
        for row in rows:
            row.status, row.locked_by = "running", worker_id
            row.locked_until = now + lease
            row.tries += 1
            if row.max_tries is None:
                row.max_tries = ctx.settings.outbox_max_tries
            session.add(
                OutboxTry(
                    event_id=row.id, number=row.tries, worker=worker_id, started_at=now, detail={}
                )
            )
            claimed.append(
                Job(
                    id=row.id,
                    topic=row.topic,
                    payload=dict(row.payload),
                    try_number=row.tries,
                    organization_id=row.organization_id,
                    request_id=row.request_id,
                )
            )
    return claimed


async def _own_row(session: AsyncSession, job: Job, worker_id: str) -> OutboxEvent | None:
    """The row, locked, if this try still holds its lease; else None."""
    row = await repository.lock_row(session, job.id)
    if (
        row is None
        or row.status != "running"
        or row.tries != job.try_number
        or row.locked_by != worker_id
    ):
        return None
    return row


async def _settle(
    session: AsyncSession, ctx: JobContext, job: Job, worker_id: str, outcome: Outcome
) -> Status | None:
    """Close this try and move the row on; None when the lease was lost meanwhile."""
    now = ctx.clock()
    try_row = await repository.try_of(session, job.id, job.try_number, worker_id)
    if try_row is not None:
        try_row.finished_at = now
        try_row.ok = outcome.status == "done"
        try_row.error = outcome.error
        try_row.detail = outcome.detail
    row = await _own_row(session, job, worker_id)
    if row is None:
        return None
    status = outcome.status
    if status == "retry" and row.tries >= (row.max_tries or ctx.settings.outbox_max_tries):
        status = "dead"
    row.locked_by = row.locked_until = None
    row.last_error = outcome.error
    if status == "waiting":  # not a try: give it back, and look again later
        if try_row is not None:
            await session.delete(try_row)
        row.tries = max(0, row.tries - 1)
        row.status = "pending"
        row.available_at = now + timedelta(seconds=NOT_CONFIGURED_RECHECK)
    elif status == "retry":
        row.status = "pending"
        settings = ctx.settings
        row.available_at = now + timedelta(
            seconds=retry_delay(
                row.tries, settings.outbox_backoff_base, settings.outbox_backoff_max
            )
        )
    else:
        row.status = status
        row.finished_at = now
    return status


# -- running one row --------------------------------------------------------------------------


async def process(ctx: JobContext, job: Job, worker_id: str) -> Status | None:
    """Run one claimed row and settle it. Never raises (but for cancellation): a failure to
    reach the database leaves the lease to expire, and the row runs again later."""
    started = time.perf_counter()
    # the request's id, as if the job ran inside it: on log lines (etest.kit.logging), error
    # reports, and the rows this job enqueues
    token = correlation_id.set(job.request_id)
    try:
        return await _process(ctx, job, worker_id, started)
    finally:
        correlation_id.reset(token)


async def _process(ctx: JobContext, job: Job, worker_id: str, started: float) -> Status | None:
    subscribers = jobs.SUBSCRIBERS.get(job.topic)
    handler = jobs.HANDLERS.get(job.topic)
    try:
        reason = None if subscribers else missing(ctx, job.topic)
        if reason is not None:
            status = await _settle_apart(ctx, job, worker_id, _waiting(job, reason))
        elif subscribers:
            status = await _run_event(ctx, job, worker_id, subscribers)
        elif handler is not None:
            status = await _run_job(ctx, job, worker_id, handler)
        else:
            status = await _settle_apart(
                ctx,
                job,
                worker_id,
                Outcome("dead", f"no subscriber or handler for topic {job.topic!r} in this worker"),
            )
    except Exception as exc:  # the loop outlives anything: the lease expires, the row repeats
        log.error(
            "outbox_settle_failed",
            id=str(job.id),
            topic=job.topic,
            try_number=job.try_number,
            worker=worker_id,
            error=describe(exc),
        )
        return None
    _log_outcome(job, worker_id, status, started)
    return status


async def _run_event(
    ctx: JobContext, job: Job, worker_id: str, subscribers: Sequence[Subscriber]
) -> Status | None:
    event = Event(
        id=job.id, topic=job.topic, payload=job.payload, organization_id=job.organization_id
    )
    budget = ctx.settings.worker_lease_seconds * HANDLER_SHARE_OF_LEASE
    try:
        async with asyncio.timeout(budget), ctx.transaction() as session:
            # Locking the row first: a worker that claims it after our lease expired waits for
            # (PostgreSQL: skips) this transaction, so subscribers never run twice at once.
            if await _own_row(session, job, worker_id) is None:
                return None
            for subscriber in subscribers:
                await subscriber(session, event)
            await session.flush()
            return await _settle(session, ctx, job, worker_id, Outcome("done"))
    except Exception as exc:  # rolled back: none of the subscribers' writes happened
        return await _settle_apart(ctx, job, worker_id, _failure(exc, job))


async def _run_job(
    ctx: JobContext, job: Job, worker_id: str, handler: jobs.Handler
) -> Status | None:
    budget = ctx.settings.worker_lease_seconds * HANDLER_SHARE_OF_LEASE
    try:
        async with asyncio.timeout(budget) as deadline:
            detail = await handler(ctx, job)
    except TimeoutError as exc:
        if deadline.expired():
            outcome = Outcome("retry", f"the job ran longer than {budget:g} s")
        else:
            outcome = _failure(exc, job)
    except Exception as exc:
        outcome = _failure(exc, job)
    else:
        outcome = Outcome("done", detail=_jsonable(detail))
    return await _settle_apart(ctx, job, worker_id, outcome)


def _failure(exc: Exception, job: Job) -> Outcome:
    if isinstance(exc, JobCancelled):
        return Outcome("cancelled", describe(exc), _jsonable(exc.detail))
    if isinstance(exc, NotConfigured):
        return _waiting(job, describe(exc))
    if isinstance(exc, JobFailed):
        return Outcome("retry" if exc.retry else "dead", describe(exc), _jsonable(exc.detail))
    errorreport.report(exc, topic=job.topic, outbox_id=str(job.id), try_number=str(job.try_number))
    return Outcome("retry", describe(exc))


def _waiting(job: Job, reason: str) -> Outcome:
    """The outcome of a row that waits for a setting; the reason is logged once per process."""
    if reason not in _said:
        _said.add(reason)
        log.warning("outbox_not_configured", topic=job.topic, reason=reason)
    return Outcome("waiting", reason)


async def _settle_apart(
    ctx: JobContext, job: Job, worker_id: str, outcome: Outcome
) -> Status | None:
    async with ctx.transaction() as session:
        return await _settle(session, ctx, job, worker_id, outcome)


def _log_outcome(job: Job, worker_id: str, status: Status | None, started: float) -> None:
    fields = {
        "id": str(job.id),
        "topic": job.topic,
        "try_number": job.try_number,
        "worker": worker_id,
        "ms": round((time.perf_counter() - started) * 1000, 1),
    }
    if status is None:
        log.warning("outbox_lease_lost", **fields)
    elif status == "waiting":  # said once by _waiting
        log.debug("outbox_waiting", **fields)
    elif status == "done":
        log.info("outbox_done", **fields)
    elif status == "retry":
        log.warning("outbox_retry", **fields)
    else:
        log.error(f"outbox_{status}", **fields)


# -- loops ------------------------------------------------------------------------------------


async def drain(ctx: JobContext, *, worker_id: str = "drain", limit: int | None = None) -> int:
    """Process every row due now, following chains (an event's follow-up jobs are due at once),
    until none is due or ``limit`` rows were processed; returns how many were processed."""
    load_tasks(ctx.settings)
    processed = 0
    while limit is None or processed < limit:
        size = DRAIN_BATCH if limit is None else min(DRAIN_BATCH, limit - processed)
        batch = await claim(ctx, worker_id, size)
        if not batch:
            break
        for job in batch:
            await process(ctx, job, worker_id)
            processed += 1
    return processed


async def run_forever(
    ctx: JobContext,
    stop: asyncio.Event,
    *,
    worker_id: str | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> None:
    """Claim and run rows, up to ``concurrency`` at once, until ``stop`` is set; then finish the
    jobs in hand and return. Idle, it looks for due rows every ``worker_poll_interval`` s (and
    whenever one of its jobs ends, since an event's follow-ups are due at once)."""
    load_tasks(ctx.settings)
    worker_id = worker_id or new_worker_id()
    poll = ctx.settings.worker_poll_interval
    running: set[asyncio.Task[Status | None]] = set()
    stopping = asyncio.ensure_future(stop.wait())
    log.info(
        "worker_started",
        worker=worker_id,
        concurrency=concurrency,
        topics=sorted({*jobs.SUBSCRIBERS, *jobs.HANDLERS}),
    )
    try:
        while not stop.is_set():
            free = concurrency - len(running)
            claimed: list[Job] = []
            if free > 0:
                try:
                    claimed = await claim(ctx, worker_id, free)
                except Exception as exc:  # database away: try again after the poll interval
                    log.warning("outbox_claim_failed", worker=worker_id, error=describe(exc))
            for job in claimed:
                running.add(asyncio.create_task(process(ctx, job, worker_id)))
            if claimed and len(running) < concurrency:
                continue  # more may be due right now
            await asyncio.wait(
                {stopping, *running},
                return_when=asyncio.FIRST_COMPLETED,
                timeout=poll if len(running) < concurrency else None,
            )
            running = {task for task in running if not task.done()}
    finally:
        stopping.cancel()
        if running:
            log.info("worker_finishing", worker=worker_id, jobs=len(running))
            await asyncio.gather(*running, return_exceptions=True)
        log.info("worker_stopped", worker=worker_id)


class Dispatcher:
    """:func:`run_forever` as a background task of a process that serves HTTP too (the
    embedded default of ``etest serve``)."""

    def __init__(self, ctx: JobContext, *, concurrency: int = 2) -> None:
        self.ctx = ctx
        self.concurrency = concurrency
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(
            run_forever(self.ctx, self._stop, concurrency=self.concurrency)
        )

    async def stop(self, grace: float = 10.0) -> None:
        """Let the jobs in hand finish for up to ``grace`` s, then cancel them (a cancelled job
        keeps its lease and runs again once it expires)."""
        if self._task is None:
            return
        self._stop.set()
        try:
            await asyncio.wait_for(self._task, grace)
        except TimeoutError:
            log.warning("dispatcher_cancelled", grace=grace)
        except Exception as exc:  # run_forever does not raise; if it did, shutdown goes on
            log.error("dispatcher_failed", error=describe(exc))
        self._task = None


async def work(
    settings: Settings,
    context: Callable[[Settings, async_sessionmaker[AsyncSession]], JobContext],
    *,
    once: bool = False,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> int:
    """``etest worker``: drain once, or run until SIGTERM/SIGINT (then finish the jobs in hand).
    ``context`` builds the handlers' ports (:func:`etest.tasks.job_context`). Returns how many
    rows a ``once`` run processed (0 otherwise)."""
    engine = create_engine(settings)
    try:
        ctx = context(settings, create_sessionmaker(engine))
        worker_id = new_worker_id()
        if once:
            count = await drain(ctx, worker_id=worker_id)
            log.info("worker_drained", worker=worker_id, rows=count)
            return count
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await run_forever(ctx, stop, worker_id=worker_id, concurrency=concurrency)
        return 0
    finally:
        await engine.dispose()

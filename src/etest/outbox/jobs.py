"""The outbox contract: events, jobs, and how packages plug into them.

Two kinds of outbox row, told apart by topic:

* an **event** (``attempt.finished``, ``certificate.issued``) says that something happened. The
  worker calls every :func:`subscriber` of the topic, all in **one** transaction that also marks
  the row done. Subscribers only touch the database: they enqueue follow-up jobs (or, like the
  certificate issuer, write rows and enqueue further events). They must be idempotent because a
  crash before the commit runs them again; :func:`enqueue` with a stable ``key`` makes that free.
* a **job** (``email.send``, ``webhook.deliver``) does I/O. The worker leases the row, calls the
  one :func:`job` handler *outside* any transaction, then records the try and marks the row done,
  or schedules a retry with back-off. A handler that needs the database opens short transactions
  with :meth:`JobContext.transaction`. A crash between the far side's acceptance and the mark
  repeats the delivery with the same id (at least once; receivers de-duplicate on the id).

Handlers report failure by raising :class:`JobFailed` (retried unless ``retry=False``); any other
exception is retried too and recorded with its type name only. A handler may return a ``detail``
dict that is stored on the try row (HTTP status, SMTP reply ...).

Packages register in their ``tasks.py``; the outbox imports none of them: the top
(:mod:`etest.tasks`, used by the app and ``etest worker``) imports them before a worker claims
anything.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any, Protocol

from asgi_correlation_id import correlation_id
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from etest.config import Settings
from etest.db import transaction
from etest.models import OutboxEvent
from etest.models.base import utcnow

if TYPE_CHECKING:
    from etest.certificate.pdf import PdfRenderer


@dataclass(frozen=True)
class Job:
    """A claimed outbox row, detached from any session."""

    id: uuid.UUID
    topic: str
    payload: dict[str, Any]
    #: 1 on the first try.
    try_number: int
    organization_id: uuid.UUID | None = None
    #: The id of the request that enqueued the row (``OutboxEvent.request_id``).
    request_id: str | None = None


class Mailer(Protocol):
    """The email port: send one message, return what the server said (stored on the try)."""

    async def send(self, message: EmailMessage) -> dict[str, Any]: ...


@dataclass(frozen=True)
class JobContext:
    """What a handler may use. Built once per worker; ports are passed in, never patched."""

    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]
    mailer: Mailer
    clock: Callable[[], datetime] = field(default=utcnow)
    #: Draws certificate PDFs off the event loop; None: ``etest.certificate.pdf.render_off_loop``
    #: (the outbox names no job package at run time).
    render_pdf: PdfRenderer | None = None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        async with transaction(self.sessionmaker) as session:
            yield session


class JobFailed(Exception):
    """A try failed. ``retry=False``: give up now (the row goes dead); ``detail`` is stored."""

    def __init__(
        self, message: str, *, retry: bool = True, detail: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.retry = retry
        self.detail = detail or {}


class JobCancelled(Exception):
    """Nothing to do any more (e.g. the callback endpoint was disabled): the row is
    ``cancelled``, not retried. ``detail`` is stored on the try."""

    def __init__(self, message: str, *, detail: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.detail = detail or {}


Subscriber = Callable[[AsyncSession, "Event"], Awaitable[None]]
Handler = Callable[[JobContext, Job], Awaitable[dict[str, Any] | None]]

SUBSCRIBERS: dict[str, list[Subscriber]] = {}
HANDLERS: dict[str, Handler] = {}


@dataclass(frozen=True)
class Event:
    """An event row as subscribers see it."""

    id: uuid.UUID
    topic: str
    payload: dict[str, Any]
    organization_id: uuid.UUID | None


def subscriber(topic: str) -> Callable[[Subscriber], Subscriber]:
    """Register a database-only reaction to an event topic."""

    def register(func: Subscriber) -> Subscriber:
        SUBSCRIBERS.setdefault(topic, []).append(func)
        return func

    return register


def job(topic: str) -> Callable[[Handler], Handler]:
    """Register the one handler of a job topic."""

    def register(func: Handler) -> Handler:
        if topic in HANDLERS and HANDLERS[topic] is not func:
            raise RuntimeError(f"job topic {topic!r} has two handlers")
        HANDLERS[topic] = func
        return func

    return register


def outbox_id(topic: str, key: str) -> uuid.UUID:
    """The stable id of the row for ``topic`` and ``key``: the same work, the same id."""
    return uuid.uuid5(uuid.NAMESPACE_URL, f"etest:{topic}:{key}")


async def enqueue(
    session: AsyncSession,
    topic: str,
    payload: dict[str, Any],
    *,
    key: str,
    organization_id: uuid.UUID | None = None,
    available_at: datetime | None = None,
    max_tries: int | None = None,
) -> uuid.UUID:
    """Add an outbox row unless the row of the same ``topic`` and ``key`` exists (idempotent,
    also under a race: the loser's insert is rolled back to a savepoint). Returns its id."""
    row_id = outbox_id(topic, key)
    if await session.get(OutboxEvent, row_id) is not None:
        return row_id
    row = OutboxEvent(
        id=row_id,
        topic=topic,
        payload=payload,
        organization_id=organization_id,
        available_at=available_at or utcnow(),
        # the request (or the job) being served: the worker runs the job under its id
        request_id=(correlation_id.get() or None),
    )
    if max_tries is not None:
        row.max_tries = max_tries
    try:
        async with session.begin_nested():
            session.add(row)
    except IntegrityError:
        pass
    return row_id

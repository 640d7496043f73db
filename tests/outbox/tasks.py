"""Test-only outbox topics. The tests import this module; a worker subprocess imports it too
(``ETEST_WORKER_EXTRA_TASKS='["tests.outbox.tasks"]'``), so both know every topic here.

What the handlers saw is counted in this process only (``CALLS``, ``TRIES_SEEN``,
``SUBSCRIBER_CALLS``); a subprocess reports through the file named in the payload instead."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from etest.outbox.jobs import (
    Event,
    Job,
    JobCancelled,
    JobContext,
    JobFailed,
    enqueue,
    job,
    subscriber,
)

#: Handler calls per row id.
CALLS: Counter[uuid.UUID] = Counter()
#: Try numbers each handler call was given, per row id.
TRIES_SEEN: defaultdict[uuid.UUID, list[int]] = defaultdict(list)
#: Subscriber calls per (subscriber, event id).
SUBSCRIBER_CALLS: Counter[tuple[str, uuid.UUID]] = Counter()
_FAILED_ONCE: set[uuid.UUID] = set()


def _seen(work: Job) -> None:
    CALLS[work.id] += 1
    TRIES_SEEN[work.id].append(work.try_number)


@job("test.count")
async def count(ctx: JobContext, work: Job) -> dict[str, Any] | None:
    """Counts its calls; sleeps a little so that concurrent workers overlap."""
    _seen(work)
    await asyncio.sleep(float(work.payload.get("sleep", 0.01)))
    return None


@job("test.flaky")
async def flaky(ctx: JobContext, work: Job) -> dict[str, Any] | None:
    """Fails its first ``fail`` tries, then succeeds."""
    _seen(work)
    if work.try_number <= int(work.payload["fail"]):
        raise JobFailed(f"flaky try {work.try_number}", detail={"try": work.try_number})
    return {"ok": True, "try": work.try_number}


@job("test.refused")
async def refused(ctx: JobContext, work: Job) -> dict[str, Any] | None:
    _seen(work)
    raise JobFailed("refused for good", retry=False, detail={"status": 400})


@job("test.crash")
async def crash(ctx: JobContext, work: Job) -> dict[str, Any] | None:
    """A bug, not a reported failure: its message carries a secret that must not be stored."""
    _seen(work)
    raise RuntimeError("connect to smtp://admin:hunter2@mail.example failed")


@job("test.cancelled")
async def cancelled(ctx: JobContext, work: Job) -> dict[str, Any] | None:
    _seen(work)
    raise JobCancelled("endpoint disabled", detail={"status": 410})


@job("test.append")
async def append(ctx: JobContext, work: Job) -> dict[str, Any] | None:
    """Appends its id to the payload's file: what a receiver would have seen, kill or not."""
    await asyncio.sleep(float(work.payload.get("sleep", 0)))
    await asyncio.to_thread(_append_line, Path(work.payload["path"]), str(work.id))
    return None


def _append_line(path: Path, line: str) -> None:
    with path.open("a") as out:
        out.write(f"{line}\n")


@subscriber("test.event")
async def first(session: AsyncSession, event: Event) -> None:
    SUBSCRIBER_CALLS[("first", event.id)] += 1
    await enqueue(session, "test.count", {}, key=f"first:{event.id}")


@subscriber("test.event")
async def second(session: AsyncSession, event: Event) -> None:
    SUBSCRIBER_CALLS[("second", event.id)] += 1
    await asyncio.sleep(0.01)  # let concurrent drains overlap
    if event.payload.get("fail_once") and event.id not in _FAILED_ONCE:
        _FAILED_ONCE.add(event.id)
        raise RuntimeError("second subscriber fails its first run")
    await enqueue(session, "test.count", {}, key=f"second:{event.id}")

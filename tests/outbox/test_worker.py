"""The worker on the session database (SQLite or PostgreSQL): tries recorded, back-off with
jitter, dead and cancelled rows, leases that expire, and concurrent workers that never run a row
twice."""

from __future__ import annotations

import asyncio
import dataclasses
import random
from datetime import timedelta

import pytest

from etest.models.base import utcnow
from etest.outbox.jobs import JobContext, JobFailed, outbox_id
from etest.outbox.worker import (
    Dispatcher,
    claim,
    describe,
    drain,
    process,
    retry_delay,
    run_forever,
)
from tests.outbox import tasks
from tests.outbox.conftest import put, row, tries, tuned, wait_status


async def test_a_flaky_job_records_every_try_and_keeps_its_id(ctx: JobContext) -> None:
    fast = tuned(ctx, outbox_backoff_base=0.0)
    [job_id] = await put(fast, "test.flaky", {"fail": 2})
    await drain(fast)
    done = await row(fast, job_id)
    assert (done.status, done.tries, done.locked_by, done.last_error) == ("done", 3, None, None)
    assert done.finished_at is not None
    recorded = await tries(fast, job_id)
    assert [t.number for t in recorded] == [1, 2, 3]
    assert [t.ok for t in recorded] == [False, False, True]
    assert [t.error for t in recorded] == ["flaky try 1", "flaky try 2", None]
    assert [t.detail for t in recorded] == [{"try": 1}, {"try": 2}, {"ok": True, "try": 3}]
    assert all(t.finished_at is not None and t.worker == "drain" for t in recorded)
    # the handler saw one id on every try: the id a receiver de-duplicates on
    assert tasks.TRIES_SEEN[job_id] == [1, 2, 3] and tasks.CALLS[job_id] == 3


async def test_the_id_is_stable_for_the_same_work(ctx: JobContext) -> None:
    from etest.db import transaction
    from etest.outbox.jobs import enqueue

    async with transaction(ctx.sessionmaker) as session:
        first = await enqueue(session, "test.count", {}, key="pt_result:stable-1")
        again = await enqueue(session, "test.count", {"other": 1}, key="pt_result:stable-1")
    assert first == again == outbox_id("test.count", "pt_result:stable-1")
    await drain(ctx)
    async with transaction(ctx.sessionmaker) as session:
        assert await enqueue(session, "test.count", {}, key="pt_result:stable-1") == first
    await drain(ctx)
    assert tasks.CALLS[first] == 1 and (await row(ctx, first)).payload == {}


async def test_job_failed_without_retry_is_dead_at_once(ctx: JobContext) -> None:
    [job_id] = await put(ctx, "test.refused")
    await drain(ctx)
    dead = await row(ctx, job_id)
    assert (dead.status, dead.tries, dead.last_error) == ("dead", 1, "refused for good")
    [only] = await tries(ctx, job_id)
    assert (only.ok, only.error, only.detail) == (False, "refused for good", {"status": 400})


async def test_a_crash_is_retried_then_dead_and_its_message_never_stored(ctx: JobContext) -> None:
    fast = tuned(ctx, outbox_backoff_base=0.0)
    [job_id] = await put(fast, "test.crash", max_tries=3)
    await drain(fast)
    dead = await row(fast, job_id)
    assert (dead.status, dead.tries, dead.last_error) == ("dead", 3, "RuntimeError")
    recorded = await tries(fast, job_id)
    assert [(t.number, t.error) for t in recorded] == [(n, "RuntimeError") for n in (1, 2, 3)]
    assert all("hunter2" not in repr((t.error, t.detail)) for t in recorded)


async def test_a_row_without_its_own_budget_gets_the_setting_at_its_first_claim(
    ctx: JobContext,
) -> None:
    fast = tuned(ctx, outbox_backoff_base=0.0, outbox_max_tries=4)
    [job_id] = await put(fast, "test.crash")
    assert (await row(fast, job_id)).max_tries is None
    await drain(fast)
    dead = await row(fast, job_id)
    assert (dead.status, dead.tries, dead.max_tries) == ("dead", 4, 4)


async def test_job_cancelled_is_not_retried(ctx: JobContext) -> None:
    [job_id] = await put(ctx, "test.cancelled")
    await drain(ctx)
    gone = await row(ctx, job_id)
    assert (gone.status, gone.tries, gone.last_error) == ("cancelled", 1, "endpoint disabled")
    assert [t.detail for t in await tries(ctx, job_id)] == [{"status": 410}]


async def test_a_topic_nobody_handles_is_dead_with_a_clear_error(ctx: JobContext) -> None:
    [job_id] = await put(ctx, "test.nobody")
    await drain(ctx)
    dead = await row(ctx, job_id)
    assert dead.status == "dead"
    assert dead.last_error == "no subscriber or handler for topic 'test.nobody' in this worker"


def test_retry_delay_ceiling_doubles_up_to_the_cap() -> None:
    ceilings = [retry_delay(n, 5.0, 3600.0, rand=lambda: 1.0) for n in range(1, 12)]
    assert ceilings == [5, 10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600]
    assert retry_delay(500, 5.0, 3600.0, rand=lambda: 1.0) == 3600  # no overflow


def test_retry_delay_has_full_jitter_within_bounds() -> None:
    rng = random.Random(6)
    for number, ceiling in ((1, 5.0), (4, 40.0), (9, 1280.0)):
        delays = [retry_delay(number, 5.0, 3600.0, rand=rng.random) for _ in range(2000)]
        assert all(0 <= d < ceiling for d in delays)
        assert min(delays) < 0.02 * ceiling and max(delays) > 0.98 * ceiling  # spread out
        assert 0.45 * ceiling < sum(delays) / len(delays) < 0.55 * ceiling


async def test_back_off_is_scheduled_within_growing_bounds(ctx: JobContext) -> None:
    slow = tuned(ctx, outbox_backoff_base=2.0, outbox_backoff_max=8.0)
    [job_id] = await put(slow, "test.crash", max_tries=6)
    delays = []
    now = utcnow()
    for number in range(1, 7):
        # the worker's clock jumps to when the row is due: no sleeping through the back-off
        clocked = dataclasses.replace(slow, clock=lambda at=now: at)
        await drain(clocked)
        current = await row(slow, job_id)
        assert current.tries == number
        if number == 6:
            assert current.status == "dead"
            break
        assert current.status == "pending"
        finished = (await tries(slow, job_id))[-1].finished_at
        assert finished == now
        delay = (current.available_at - finished).total_seconds()
        assert 0 <= delay <= min(8.0, 2.0 * 2 ** (number - 1)), (number, delay)
        delays.append(delay)
        now = current.available_at
    assert len(delays) == 5


async def test_an_expired_lease_is_claimed_again_and_the_late_worker_changes_nothing(
    ctx: JobContext,
) -> None:
    [job_id] = await put(ctx, "test.count")
    ghost = tuned(ctx, worker_lease_seconds=0.05)
    # a worker claims (committed) and vanishes before it runs the job
    claimed = {job.id: job for job in await claim(ghost, "ghost", 1000)}
    assert job_id in claimed
    leased = await row(ctx, job_id)
    assert (leased.status, leased.locked_by, leased.tries) == ("running", "ghost", 1)
    await drain(ctx)
    assert (await row(ctx, job_id)).status == "running"  # the lease has not expired yet
    await asyncio.sleep(0.1)
    await drain(ctx, worker_id="rescuer")
    done = await row(ctx, job_id)
    assert (done.status, done.tries) == ("done", 2)
    first, second = await tries(ctx, job_id)
    assert (first.worker, first.ok, first.error) == (
        "ghost",
        False,
        "lease expired: the worker stopped or hung",
    )
    assert (second.number, second.worker, second.ok) == (2, "rescuer", True)
    assert tasks.CALLS[job_id] == 1
    # the ghost comes back and runs its stale claim: it delivers (same id) but settles nothing
    assert await process(ghost, claimed[job_id], "ghost") is None
    assert tasks.CALLS[job_id] == 2 and tasks.TRIES_SEEN[job_id] == [2, 1]
    still = await row(ctx, job_id)
    assert (still.status, still.tries) == ("done", 2)


@pytest.mark.parametrize("drains", [2, 4])
async def test_concurrent_drains_never_run_a_row_twice(ctx: JobContext, drains: int) -> None:
    ids = await put(ctx, "test.count", {"sleep": 0.02}, n=20)
    counts = await asyncio.gather(*(drain(ctx, worker_id=f"d{i}") for i in range(drains)))
    assert sum(counts) >= 20
    assert {i: tasks.CALLS[i] for i in ids} == dict.fromkeys(ids, 1)
    workers = set()
    for job_id in ids:
        done = await row(ctx, job_id)
        assert (done.status, done.tries) == ("done", 1)
        [only] = await tries(ctx, job_id)
        workers.add(only.worker)
    assert len(workers) > 1, "the drains should have shared the rows"


async def test_event_subscribers_run_once_under_concurrent_drains(ctx: JobContext) -> None:
    events = await put(ctx, "test.event", n=6)
    await asyncio.gather(*(drain(ctx, worker_id=f"e{i}") for i in range(3)))
    for event_id in events:
        assert (await row(ctx, event_id)).status == "done"
        assert tasks.SUBSCRIBER_CALLS[("first", event_id)] == 1
        assert tasks.SUBSCRIBER_CALLS[("second", event_id)] == 1
        for name in ("first", "second"):  # the follow-up jobs ran too, in the same drains
            follow_up = outbox_id("test.count", f"{name}:{event_id}")
            assert (await row(ctx, follow_up)).status == "done"
            assert tasks.CALLS[follow_up] == 1


async def test_a_failing_subscriber_rolls_the_whole_event_back(ctx: JobContext) -> None:
    slow = tuned(ctx, outbox_backoff_base=600.0)
    [event_id] = await put(slow, "test.event", {"fail_once": True})
    await drain(slow)
    waiting = await row(slow, event_id)
    assert (waiting.status, waiting.tries, waiting.last_error) == ("pending", 1, "RuntimeError")
    assert waiting.available_at > utcnow()
    async with slow.sessionmaker() as session:
        from etest.models import OutboxEvent

        # the first subscriber's follow-up was rolled back with the failure
        assert await session.get(OutboxEvent, outbox_id("test.count", f"first:{event_id}")) is None
    later = dataclasses.replace(slow, clock=lambda: waiting.available_at + timedelta(seconds=1))
    await drain(later)
    assert (await row(slow, event_id)).status == "done"
    assert tasks.SUBSCRIBER_CALLS[("first", event_id)] == 2  # ran again: its work was undone
    for name in ("first", "second"):
        assert (await row(slow, outbox_id("test.count", f"{name}:{event_id}"))).status == "done"


async def test_run_forever_survives_failures_and_finishes_jobs_in_hand(ctx: JobContext) -> None:
    quick = tuned(ctx, worker_poll_interval=0.02)
    [crashing] = await put(quick, "test.crash", max_tries=1)
    counted = await put(quick, "test.count", n=5)
    stop = asyncio.Event()
    worker = asyncio.create_task(run_forever(quick, stop, worker_id="forever", concurrency=3))
    try:
        await wait_status(quick, counted, "done")
        assert (await row(quick, crashing)).status == "dead"
        # a slow job in hand when the stop comes is finished, not abandoned
        [slow] = await put(quick, "test.count", {"sleep": 0.5})
        await wait_status(quick, [slow], "running")
        stop.set()
        await asyncio.wait_for(worker, 10)
    finally:
        stop.set()
        await asyncio.wait_for(worker, 10)
    assert (await row(quick, slow)).status == "done"
    assert all(tasks.CALLS[i] == 1 for i in [*counted, slow])


def test_errors_are_described_without_foreign_messages() -> None:
    assert describe(ConnectionRefusedError(111, "Connection refused")) == (
        "ConnectionRefusedError: Connection refused"
    )
    assert describe(ValueError("postgresql://u:secret@db/x")) == "ValueError"
    assert describe(JobFailed("SMTP 421\n  try later")) == "SMTP 421 try later"
    assert len(describe(JobFailed("x" * 5000))) == 500


async def test_a_dispatcher_stopped_past_its_grace_loses_nothing(ctx: JobContext) -> None:
    quick = tuned(ctx, worker_poll_interval=0.02)
    dispatcher = Dispatcher(quick)
    dispatcher.start()
    [slow] = await put(quick, "test.count", {"sleep": 1.0})
    await wait_status(quick, [slow], "running")
    await dispatcher.stop(grace=0.1)  # the job in hand is cancelled, its lease stays
    held = await row(quick, slow)
    assert (held.status, held.tries) == ("running", 1)
    after_lease = dataclasses.replace(
        quick, clock=lambda: utcnow() + timedelta(seconds=quick.settings.worker_lease_seconds)
    )
    await drain(after_lease)
    done = await row(quick, slow)
    assert (done.status, done.tries) == ("done", 2)
    assert tasks.TRIES_SEEN[slow] == [1, 2]

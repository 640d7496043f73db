"""The worker as the operator runs it: ``etest worker`` processes SIGKILLed mid-run (nothing
lost, a repeat only with the same id), ``etest serve``'s embedded dispatcher, and the
``etest outbox`` commands."""

from __future__ import annotations

import asyncio
import json
import signal
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from etest.app import create_app
from etest.cli import app as cli
from etest.config import Settings, get_settings
from etest.kit.logging import configure_logging
from etest.models import OutboxEvent
from etest.outbox.jobs import JobContext
from etest.tasks import job_context
from tests.outbox import tasks
from tests.outbox.conftest import put, row, tries, wait_status
from tests.support.server import PEPPER
from tests.support.worker import WorkerProcess

JOBS = 150
KILL_AT = (40, 90)  # lines in the receiver's file before each SIGKILL
LEASE = 2.0
RUN_TIMEOUT = 120.0


def start_worker(settings: Settings, log_dir: Path, *args: str) -> WorkerProcess:
    """``etest worker *args`` on the session database, running this package's test tasks."""
    env = {
        "ETEST_WORKER_EXTRA_TASKS": json.dumps(["tests.outbox.tasks"]),
        "ETEST_WORKER_LEASE_SECONDS": str(LEASE),
        "ETEST_WORKER_POLL_INTERVAL": "0.05",
        "ETEST_OUTBOX_BACKOFF_BASE": "0.1",
    }
    log_path = log_dir / f"worker-{len(list(log_dir.glob('worker-*')))}.log"
    return WorkerProcess(settings, log_path, env, args)


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[list[WorkerProcess]]:
    started: list[WorkerProcess] = []
    try:
        yield started
    finally:
        for worker in started:
            worker.kill()


def _read_lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


async def _lines(path: Path, at_least: int, worker: WorkerProcess) -> list[str]:
    deadline = asyncio.get_running_loop().time() + RUN_TIMEOUT
    while True:
        lines = await asyncio.to_thread(_read_lines, path)
        if len(lines) >= at_least:
            return lines
        if worker.proc.poll() is not None:
            pytest.fail(f"the worker exited ({worker.proc.returncode}):\n{worker.log_tail()}")
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"{len(lines)} deliveries after {RUN_TIMEOUT} s:\n{worker.log_tail()}")
        await asyncio.sleep(0.02)


async def _until_done(ctx: JobContext, ids: list[uuid.UUID], worker: WorkerProcess) -> None:
    deadline = asyncio.get_running_loop().time() + RUN_TIMEOUT
    while True:
        async with ctx.sessionmaker() as session:
            statuses = Counter(
                (
                    await session.scalars(select(OutboxEvent.status).where(OutboxEvent.id.in_(ids)))
                ).all()
            )
        if statuses["done"] == len(ids):
            return
        if worker.proc.poll() is not None:
            pytest.fail(f"the worker exited ({worker.proc.returncode}):\n{worker.log_tail()}")
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"after {RUN_TIMEOUT} s: {dict(statuses)}\n{worker.log_tail()}")
        await asyncio.sleep(0.05)


async def test_sigkilled_workers_lose_nothing_and_repeat_only_with_the_same_id(
    ctx: JobContext, settings: Settings, tmp_path: Path, workers: list[WorkerProcess]
) -> None:
    received = tmp_path / "received.txt"
    ids = await put(ctx, "test.append", {"path": str(received), "sleep": 0.01}, n=JOBS)
    for at in KILL_AT:
        workers.append(start_worker(settings, tmp_path, "--concurrency", "4"))
        await _lines(received, at, workers[-1])
        workers[-1].kill()
    last = start_worker(settings, tmp_path, "--concurrency", "4")
    workers.append(last)
    await _until_done(ctx, ids, last)
    last.proc.send_signal(signal.SIGTERM)  # a clean stop: exit code 0
    assert await asyncio.to_thread(last.proc.wait, 15) == 0, last.log_tail()

    deliveries = Counter(received.read_text().split())
    assert set(deliveries) == {str(i) for i in ids}, "every job delivered, nothing else"
    repeated = [i for i in ids if deliveries[str(i)] > 1]
    assert len(repeated) <= 4 * len(KILL_AT), "only jobs in hand at a kill may repeat"
    reclaimed = 0
    for job_id in ids:
        recorded = await tries(ctx, job_id)
        assert [t.number for t in recorded] == list(range(1, len(recorded) + 1))
        assert recorded[-1].ok and all(t.finished_at is not None for t in recorded)
        for earlier in recorded[:-1]:
            assert earlier.error == "lease expired: the worker stopped or hung"
        reclaimed += len(recorded) > 1
        if deliveries[str(job_id)] > 1:
            assert len(recorded) > 1, "a repeat happens only after the lease expired"
    assert reclaimed >= 1, "each kill should leave leased rows behind"


async def test_serve_runs_an_embedded_dispatcher(settings: Settings) -> None:
    embedded = settings.model_copy(update={"worker_mode": "embedded", "worker_poll_interval": 0.05})
    application = create_app(embedded)
    async with application.router.lifespan_context(application):
        ctx = job_context(embedded, application.state.sessionmaker)
        [event] = await put(ctx, "test.event")
        counted = await put(ctx, "test.count", n=3)
        await wait_status(ctx, [event, *counted], "done")
        assert tasks.SUBSCRIBER_CALLS[("first", event)] == 1
        # a job in hand at shutdown is finished before the app stops
        [slow] = await put(ctx, "test.count", {"sleep": 0.3})
        await wait_status(ctx, [slow], "running")
    assert (await row(ctx, slow)).status == "done"
    assert all(tasks.CALLS[i] == 1 for i in [*counted, slow])


@pytest.fixture
def cli_env(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[CliRunner]:
    """The CLI on the session database (its settings come from the environment)."""
    monkeypatch.setenv("ETEST_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("ETEST_VAR_DIR", str(settings.var_dir))
    monkeypatch.setenv("ETEST_SECRET_KEY", PEPPER)
    monkeypatch.setenv("ETEST_LOG_LEVEL", "WARNING")
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()
    # `etest worker` pointed the logs at the runner's captured stderr, closed by now
    configure_logging(settings.log_level, settings.log_json)


async def test_operator_lists_and_retries_a_dead_row_and_a_worker_drains_once(
    ctx: JobContext, cli_env: CliRunner
) -> None:
    [job_id] = await put(ctx, "test.flaky", {"fail": 1}, max_tries=1)
    once = await asyncio.to_thread(cli_env.invoke, cli, ["worker", "--once"])
    assert once.exit_code == 0, once.output
    assert (await row(ctx, job_id)).status == "dead"

    listed = await asyncio.to_thread(
        cli_env.invoke, cli, ["outbox", "list", "--status", "dead", "--topic", "test.flaky"]
    )
    assert listed.exit_code == 0, listed.output
    assert str(job_id)[:8] in listed.output and "flaky try 1" in listed.output

    retried = await asyncio.to_thread(cli_env.invoke, cli, ["outbox", "retry", str(job_id)])
    assert retried.exit_code == 0, retried.output
    pending = await row(ctx, job_id)
    # a fresh budget: the try made so far plus ETEST_OUTBOX_MAX_TRIES more
    assert (pending.status, pending.tries, pending.max_tries) == (
        "pending",
        1,
        1 + ctx.settings.outbox_max_tries,
    )

    again = await asyncio.to_thread(cli_env.invoke, cli, ["worker", "--once"])
    assert again.exit_code == 0 and "processed" in again.output, again.output
    done = await row(ctx, job_id)
    assert (done.status, done.tries) == ("done", 2)
    assert tasks.TRIES_SEEN[job_id] == [1, 2]

    refused = await asyncio.to_thread(cli_env.invoke, cli, ["outbox", "retry", str(job_id)])
    assert refused.exit_code == 1 and "outbox-row-not-retryable" in refused.output
    unknown = await asyncio.to_thread(cli_env.invoke, cli, ["outbox", "retry", str(uuid.uuid4())])
    assert unknown.exit_code == 1 and "outbox-row-not-found" in unknown.output
    malformed = await asyncio.to_thread(cli_env.invoke, cli, ["outbox", "retry", "row-1"])
    assert malformed.exit_code == 2 and "not an outbox row id" in malformed.output
    bad = await asyncio.to_thread(cli_env.invoke, cli, ["outbox", "list", "--status", "lost"])
    assert bad.exit_code == 2

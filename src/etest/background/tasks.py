"""The ``task.run`` job: run a background task as the actor who asked for it.

A task that raises an :class:`~etest.errors.EtestError` fails with its detail (what the person
can act on); anything else fails with a generic sentence and is logged. Neither is retried: a
task's work is not idempotent (an import writes rows), so a second try would be a second import.
A task found running again (the worker died during it) is marked failed: its owner starts it
again and sees what the first run left."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import structlog

from etest.auth.actor import Actor
from etest.background.service import (
    RUNNERS,
    TOPIC,
    actor_from_record,
    input_path,
    output_path,
)
from etest.config import Settings
from etest.errors import EtestError
from etest.models import BackgroundTask
from etest.models.base import utcnow
from etest.outbox.jobs import Job, JobCancelled, JobContext, job

log = structlog.get_logger(__name__)

#: progress is written at most this often (seconds): a page polls it, nobody needs more
PROGRESS_EVERY = 0.5


@dataclass
class TaskRun:
    """What a runner gets: the task's parameters, the actor, its input, progress and result."""

    ctx: JobContext
    id: uuid.UUID
    kind: str
    params: dict[str, Any]
    actor: Actor
    organization_id: uuid.UUID | None
    _last: float = field(default=0.0)

    @property
    def settings(self) -> Settings:
        return self.ctx.settings

    def input(self) -> bytes:
        return input_path(self.settings, self.id).read_bytes()

    async def progress(self, done: int, total: int | None = None, *, force: bool = False) -> None:
        """Record how far the task is (throttled to one write per PROGRESS_EVERY)."""
        now = time.monotonic()
        if not force and now - self._last < PROGRESS_EVERY:
            return
        self._last = now
        async with self.ctx.transaction() as session:
            task = await session.get(BackgroundTask, self.id)
            if task is not None:
                task.done = done
                if total is not None:
                    task.total = total

    async def finish(
        self,
        result: dict[str, Any],
        *,
        data: bytes | None = None,
        file_name: str | None = None,
        media_type: str | None = None,
    ) -> None:
        """Keep the result (and the file, if any) and mark the task done."""
        if data is not None:
            output_path(self.settings, self.id).write_bytes(data)
        async with self.ctx.transaction() as session:
            task = await session.get(BackgroundTask, self.id)
            if task is None:
                return
            task.status = "done"
            task.result = result
            task.file_name = file_name if data is not None else None
            task.media_type = media_type if data is not None else None
            if task.total is not None:
                task.done = task.total
            task.finished_at = utcnow()


async def _fail(ctx: JobContext, task_id: uuid.UUID, message: str) -> None:
    async with ctx.transaction() as session:
        task = await session.get(BackgroundTask, task_id)
        if task is not None:
            task.status = "failed"
            task.error = message[:2000]
            task.finished_at = utcnow()


@job(TOPIC)
async def run_task(ctx: JobContext, job_: Job) -> dict[str, Any]:
    task_id = uuid.UUID(job_.payload["task_id"])
    async with ctx.transaction() as session:
        task = await session.get(BackgroundTask, task_id)
        if task is None:
            raise JobCancelled("the task is gone")
        if task.status != "queued":
            if task.status == "running":
                task.status, task.error = "failed", "The worker stopped during this task."
                task.finished_at = utcnow()
            raise JobCancelled(f"the task is {task.status}")
        task.status, task.started_at = "running", utcnow()
        run = TaskRun(
            ctx,
            task.id,
            task.kind,
            dict(task.params),
            actor_from_record(task.actor),
            task.organization_id,
        )
    func = RUNNERS.get(run.kind)
    try:
        if func is None:
            raise EtestError(f"This server cannot run tasks of kind {run.kind!r}.")
        await func(run)
    except EtestError as exc:
        await _fail(ctx, task_id, exc.detail)
        return {"status": "failed", "error": exc.detail}
    except Exception as exc:
        log.error("task_failed", task_id=str(task_id), kind=run.kind, exc_info=exc)
        await _fail(ctx, task_id, "An unexpected error stopped the task; it has been logged.")
        return {"status": "failed", "error": type(exc).__name__}
    finally:
        input_path(run.settings, task_id).unlink(missing_ok=True)
    return {"status": "done"}

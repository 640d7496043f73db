"""Background tasks: start one, watch it, fetch its file.

A package registers what a kind of task does with :func:`runner`; :func:`start` stores the
task (and its uploaded input under ``<var_dir>/tasks``) and enqueues one ``task.run`` outbox
job in the caller's transaction, so a task exists exactly when the request that asked for it
committed. The worker (``background/tasks.py``) runs it as the actor who asked, reports progress
through :class:`TaskRun` and keeps the result: a JSON summary and, for reports, a file.

Who sees a task: the staff member or key who started it, and (for a task of an organization)
the organization's subtree admins; anyone else gets the same 404 as for a missing task."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from etest.auth.actor import Actor
from etest.config import Settings
from etest.errors import NotFound
from etest.models import BackgroundTask, Organization
from etest.outbox.jobs import enqueue

TOPIC = "task.run"

if TYPE_CHECKING:  # the worker's side imports this module
    from etest.background.tasks import TaskRun

Runner = Callable[["TaskRun"], Awaitable[None]]
RUNNERS: dict[str, Runner] = {}


def runner(kind: str) -> Callable[[Runner], Runner]:
    """Register what a task of ``kind`` does."""

    def register(func: Runner) -> Runner:
        if kind in RUNNERS and RUNNERS[kind] is not func:
            raise RuntimeError(f"task kind {kind!r} has two runners")
        RUNNERS[kind] = func
        return func

    return register


def task_dir(settings: Settings) -> Path:
    path = settings.var_dir / "tasks"
    path.mkdir(parents=True, exist_ok=True)
    return path


def input_path(settings: Settings, task_id: uuid.UUID) -> Path:
    return task_dir(settings) / f"{task_id}.in"


def output_path(settings: Settings, task_id: uuid.UUID) -> Path:
    return task_dir(settings) / f"{task_id}.out"


def actor_record(actor: Actor) -> dict[str, Any]:
    return {
        "subject": actor.subject,
        "role": actor.role,
        "organization_id": str(actor.organization_id) if actor.organization_id else None,
        "org_path": actor.org_path,
    }


def actor_from_record(data: dict[str, Any]) -> Actor:
    org = data.get("organization_id")
    return Actor(
        subject=data["subject"],
        role=data["role"],
        organization_id=uuid.UUID(org) if org else None,
        org_path=data.get("org_path"),
    )


async def start(
    session: AsyncSession,
    settings: Settings,
    actor: Actor,
    kind: str,
    *,
    params: dict[str, Any],
    organization_id: uuid.UUID | None,
    upload: bytes | None = None,
    total: int | None = None,
) -> BackgroundTask:
    if kind not in RUNNERS:
        raise RuntimeError(f"no runner registered for task kind {kind!r}")
    task = BackgroundTask(
        id=uuid.uuid4(),
        kind=kind,
        organization_id=organization_id,
        requested_by=actor.subject,
        actor=actor_record(actor),
        params=params,
        total=total,
    )
    if upload is not None:
        input_path(settings, task.id).write_bytes(upload)
    session.add(task)
    await session.flush()
    await enqueue(
        session, TOPIC, {"task_id": str(task.id)}, key=str(task.id), organization_id=organization_id
    )
    return task


async def get(session: AsyncSession, actor: Actor, task_id: uuid.UUID) -> BackgroundTask:
    """A task the actor may see (see the module's docstring), else 404."""
    task = await session.get(BackgroundTask, task_id)
    if task is None or not await _visible(session, actor, task):
        raise NotFound("No such task.")
    return task


async def _visible(session: AsyncSession, actor: Actor, task: BackgroundTask) -> bool:
    if task.requested_by == actor.subject or actor.is_global:
        return True
    if task.organization_id is None or not actor.can("write"):
        return False
    org = await session.get(Organization, task.organization_id)
    return org is not None and actor.covers(org.path)


def output(settings: Settings, task: BackgroundTask) -> Path | None:
    """The task's file, when it is done and has one."""
    path = output_path(settings, task.id)
    if task.status != "done" or task.file_name is None or not path.is_file():
        return None
    return path

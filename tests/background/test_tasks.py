"""Background tasks: run by the outbox worker as the actor who asked, with progress, a result
file, failures in words, and visibility limited to the asker and the subtree's admins."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI

from etest.auth.actor import Actor
from etest.background import service
from etest.background.tasks import TaskRun
from etest.db import transaction
from etest.errors import Conflict, NotFound
from etest.models import BackgroundTask
from tests.certificate.conftest import drain_outbox
from tests.conftest import Headers, create_org

pytestmark = pytest.mark.asyncio

SEEN: dict[str, object] = {}


@service.runner("test.count")
async def _count(run: TaskRun) -> None:
    data = run.input()
    SEEN["actor"] = run.actor
    for n in range(1, 4):
        await run.progress(n, 3, force=True)
    await run.finish(
        {"bytes": len(data)}, data=data[::-1], file_name="out.txt", media_type="text/plain"
    )


@service.runner("test.refuse")
async def _refuse(run: TaskRun) -> None:
    raise Conflict("The file names a candidate twice.")


@service.runner("test.crash")
async def _crash(run: TaskRun) -> None:
    raise RuntimeError("secret internals")


async def _start(app: FastAPI, actor: Actor, kind: str, org_id: uuid.UUID | None) -> uuid.UUID:
    async with transaction(app.state.sessionmaker) as session:
        task = await service.start(
            session,
            app.state.settings,
            actor,
            kind,
            params={"x": 1},
            organization_id=org_id,
            upload=b"abc",
        )
        return task.id


async def _task(app: FastAPI, task_id: uuid.UUID) -> BackgroundTask:
    async with transaction(app.state.sessionmaker) as session:
        task = await session.get(BackgroundTask, task_id)
        assert task is not None
        return task


async def _org_actor(app: FastAPI, client: httpx.AsyncClient, su: Headers, role: str) -> Actor:
    org = await create_org(client, su)
    from etest.organization import repository

    async with transaction(app.state.sessionmaker) as session:
        row = await repository.find_by_uic(session, org["uic"])
        assert row is not None
        return Actor(f"staff:{uuid.uuid4().hex[:8]}@x.test", role, row.id, row.path)  # type: ignore[arg-type]


async def test_a_task_runs_as_its_actor_and_keeps_its_file(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    actor = await _org_actor(app, client, su, "admin")
    task_id = await _start(app, actor, "test.count", actor.organization_id)
    assert (await _task(app, task_id)).status == "queued"
    await drain_outbox(app)
    task = await _task(app, task_id)
    assert (task.status, task.done, task.total, task.result) == ("done", 3, 3, {"bytes": 3})
    assert SEEN["actor"] == actor
    path = service.output(app.state.settings, task)
    assert path is not None and path.read_bytes() == b"cba"
    assert not service.input_path(app.state.settings, task_id).exists()


async def test_failures_are_words_and_never_internals(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    actor = await _org_actor(app, client, su, "admin")
    refused = await _start(app, actor, "test.refuse", actor.organization_id)
    crashed = await _start(app, actor, "test.crash", actor.organization_id)
    await drain_outbox(app)
    one, two = await _task(app, refused), await _task(app, crashed)
    assert (one.status, one.error) == ("failed", "The file names a candidate twice.")
    assert two.status == "failed" and "secret" not in (two.error or "")
    assert service.output(app.state.settings, one) is None


async def test_who_sees_a_task(app: FastAPI, client: httpx.AsyncClient, su: Headers) -> None:
    owner = await _org_actor(app, client, su, "viewer")
    other = await _org_actor(app, client, su, "admin")
    task_id = await _start(app, owner, "test.count", owner.organization_id)
    colleague = Actor("staff:colleague@x.test", "admin", owner.organization_id, owner.org_path)
    viewer = Actor("staff:viewer2@x.test", "viewer", owner.organization_id, owner.org_path)
    async with transaction(app.state.sessionmaker) as session:
        assert (await service.get(session, owner, task_id)).id == task_id
        assert (await service.get(session, colleague, task_id)).id == task_id
        for outsider in (other, viewer):
            with pytest.raises(NotFound):
                await service.get(session, outsider, task_id)

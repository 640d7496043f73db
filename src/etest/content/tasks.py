"""Background work of the content package (registered by ``etest.tasks``): a content import
started from the console (``/console/content``) runs here, in the outbox worker, through the
very function the API calls (:func:`etest.content.service.import_file`: all or nothing, audited).

The task's result is the import report: ``{"outcome": "imported", "files": [...], "qti": [...]}``,
or, when the import is refused, ``{"outcome": "refused", "code", "detail", "extra"}`` (the
problem the API would answer: ``invalid-content`` with every problem, ``evidence-insufficient``
with the placement figures, ``bad-qti-package`` ...). A refused import is a finished task, not a
failed one: its report is what the person acts on. A placement test refused for its evidence
keeps its upload (:func:`retry_path`) so that a superadmin may publish it with a reason without
uploading it again (:func:`start_import` with ``retry_of``).

Progress is the number of files done (one upload is one file): the import is one transaction,
and on SQLite a progress row written during it would wait for that very transaction."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy.ext.asyncio import AsyncSession

from etest.auth.actor import Actor
from etest.background import service as background
from etest.config import Settings
from etest.content.media import MediaStore
from etest.content.schemas import Skill
from etest.content.service import import_file
from etest.errors import BadRequest, EtestError, NotFound, PayloadTooLarge
from etest.models import BackgroundTask

if TYPE_CHECKING:
    from etest.background.tasks import TaskRun

KIND = "content.import"


def retry_path(settings: Settings, task_id: uuid.UUID) -> Path:
    """Where the upload of an import refused for its evidence is kept for a superadmin's retry."""
    return background.task_dir(settings) / f"{task_id}.retry"


async def start_import(
    session: AsyncSession,
    settings: Settings,
    actor: Actor,
    *,
    file_name: str,
    data: bytes | None,
    skill: str = "reading",
    level: str | None = None,
    override_reason: str | None = None,
    retry_of: BackgroundTask | None = None,
    partial: bool = False,
) -> BackgroundTask:
    """Queue a content import of ``data`` (refused above ``max_content_bytes``). ``retry_of``:
    an import refused for its evidence, imported again from its kept upload with
    ``override_reason`` (whether a reason suffices, and from whom, the import decides)."""
    actor.require("manage_content")
    if retry_of is not None:
        kept = retry_path(settings, retry_of.id)
        if retry_of.kind != KIND or not kept.is_file():
            raise NotFound("This import cannot be retried: upload the file again.")
        data = kept.read_bytes()
        params = dict(retry_of.params)
        file_name, skill, level = params["file_name"], params["skill"], params.get("level")
        partial = bool(params.get("partial"))
    if not data:
        raise BadRequest("Choose a file to import.")
    if len(data) > settings.max_content_bytes:
        raise PayloadTooLarge(f"The file is larger than {settings.max_content_bytes} bytes.")
    task = await background.start(
        session,
        settings,
        actor,
        KIND,
        params={
            "file_name": file_name[:300] or "upload",
            "skill": skill,
            "level": level or None,
            "partial": partial,
            "override_reason": (override_reason or "").strip() or None,
            "retry_of": str(retry_of.id) if retry_of is not None else None,
        },
        organization_id=None,
        upload=data,
        total=1,
    )
    if retry_of is not None:
        retry_path(settings, retry_of.id).unlink(missing_ok=True)
    return task


def _refusal(exc: EtestError) -> dict[str, Any]:
    return {"outcome": "refused", "code": exc.code, "detail": exc.detail, "extra": exc.extra}


@background.runner(KIND)
async def run_import(run: TaskRun) -> None:
    params = run.params
    data = run.input()
    await run.progress(0, 1, force=True)
    try:
        async with run.ctx.transaction() as session:
            result = await import_file(
                session,
                run.actor,
                MediaStore(run.settings.media_path),
                params["file_name"],
                data,
                skill=cast(Skill, params.get("skill") or "reading"),
                level=params.get("level"),
                settings=run.settings,
                override_reason=params.get("override_reason"),
                partial=bool(params.get("partial")),
            )
    except EtestError as exc:
        if exc.code == "evidence-insufficient":
            retry_path(run.settings, run.id).write_bytes(data)
        await run.finish(_refusal(exc))
        return
    await run.finish({"outcome": "imported", **result.as_dict()})

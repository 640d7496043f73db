"""Console pages: content imports (docs/console/content.md). Content managers and superadmins
only. A flow JSON, a zip of flows with media or a QTI package is uploaded and imported in the
background (``etest.content.tasks``: the API's own import, all or nothing, audited); the task's
page shows its progress (refreshing itself without JavaScript, polled by htmx with it) and then
the import report: files, items new or changed and unchanged, every refusal with its reason, a
placement test's evidence in words, and for a superadmin the reason field to publish it anyway."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response

from etest.auth.actor import Actor
from etest.background import service as background
from etest.console.i18n import N_
from etest.console.pages import ConsoleRoute, redirect, render
from etest.console.session import StaffDep
from etest.content import repository
from etest.content.schemas import SKILLS
from etest.content.tasks import KIND, retry_path, start_import
from etest.deps import SessionDep, SettingsDep
from etest.errors import Forbidden, NotFound
from etest.kit.levels import LEVELS, canonical_level
from etest.models import BackgroundTask
from etest.ops import ratelimits

router = APIRouter(route_class=ConsoleRoute)


def _content_staff(staff: Any) -> Actor:
    actor: Actor = staff.actor
    actor.require("manage_content")
    return actor


async def _form_page(
    request: Request,
    staff: Any,
    session: Any,
    *,
    status: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
) -> Response:
    actor: Actor = staff.actor
    return render(
        request,
        staff,
        "console/content/index.html",
        status=status,
        errors=errors or {},
        values=values or {"skill": "reading", "level": ""},
        skills=SKILLS,
        levels=LEVELS,
        tasks=await repository.import_tasks(session, actor, KIND),
        imports=await repository.recent_imports(session),
        max_bytes=request.app.state.settings.max_content_bytes,
    )


@router.get("/content")
async def content_page(request: Request, staff: StaffDep, session: SessionDep) -> Response:
    _content_staff(staff)
    return await _form_page(request, staff, session)


@router.post("/content")
async def content_upload(
    request: Request,
    staff: StaffDep,
    session: SessionDep,
    settings: SettingsDep,
    file: Annotated[UploadFile | None, File()] = None,
    skill: Annotated[str, Form(max_length=32)] = "reading",
    level: Annotated[str, Form(max_length=32)] = "",
    override_reason: Annotated[str, Form(max_length=2000)] = "",
    partial: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """Queue the import and go to its page (Post/Redirect/Get)."""
    actor = _content_staff(staff)
    await ratelimits.guard(request, ratelimits.IMPORTS, actor.subject)  # 429 page when full
    values = {"skill": skill, "level": level, "partial": "1" if partial else ""}
    errors: dict[str, str] = {}
    data = b""
    if file is None or not file.filename:
        errors["file"] = N_("Choose a file to import.")
    else:
        data = await file.read(settings.max_content_bytes + 1)
        if not data:
            errors["file"] = N_("The file is empty.")
        elif len(data) > settings.max_content_bytes:
            errors["file"] = N_("The file is too large for an import.")
    if skill not in SKILLS:
        errors["skill"] = N_("Choose one of the skills.")
    if level and canonical_level(level) is None:
        errors["level"] = N_("Choose one of the levels.")
    if errors:
        return await _form_page(request, staff, session, status=422, errors=errors, values=values)
    assert file is not None
    await ratelimits.charge(request, ratelimits.IMPORTS, actor.subject)
    task = await start_import(
        session,
        settings,
        actor,
        file_name=file.filename or "upload",
        data=data,
        skill=skill,
        level=canonical_level(level) if level else None,
        override_reason=override_reason if actor.role == "superadmin" else None,
        partial=bool(partial),
    )
    return redirect(
        f"/console/content/tasks/{task.id}", N_("The import has started; this page follows it.")
    )


async def _task(session: Any, actor: Actor, task_id: uuid.UUID) -> BackgroundTask:
    task = await background.get(session, actor, task_id)
    if task.kind != KIND:
        raise NotFound("No such import.")
    return task


#: A placement test's evidence figure below its threshold, in words (values filled in by
#: the template: ``level``, ``value``, ``threshold``).
FIGURES = {
    "within_one": N_(
        "At %(level)s, %(value)s of the simulated candidates were placed within one level of "
        "their own; the test needs at least %(threshold)s."
    ),
    "mean_length": N_(
        "The simulated candidates needed %(value)s questions on average; the test allows at "
        "most %(threshold)s."
    ),
    "items_without_irt": N_(
        "%(value)s questions the test places with have no IRT parameters, so it cannot be "
        "simulated."
    ),
    "estimated_prior_placements": N_(
        "Only %(value)s finished placements to estimate the prior from; at least %(threshold)s "
        "are needed."
    ),
}


def _percent(value: Any) -> str:
    return f"{float(value):.0%}" if isinstance(value, int | float) else str(value)


def _failures(extra: dict[str, Any]) -> list[tuple[str, dict[str, str]]]:
    out = []
    for f in extra.get("failures") or []:
        figure = str(f.get("figure"))
        share = figure == "within_one"
        out.append(
            (
                FIGURES.get(figure, N_("%(figure)s is %(value)s at %(level)s (%(threshold)s).")),
                {
                    "figure": figure,
                    "level": str(f.get("level")),
                    "value": _percent(f.get("value")) if share else str(f.get("value")),
                    "threshold": _percent(f.get("threshold")) if share else str(f.get("threshold")),
                },
            )
        )
    return out


async def _task_page(
    request: Request,
    staff: Any,
    task: BackgroundTask,
    *,
    status: int = 200,
    error: str | None = None,
) -> Response:
    settings = request.app.state.settings
    result: dict[str, Any] = task.result or {}
    extra: dict[str, Any] = result.get("extra") or {}
    actor: Actor = staff.actor
    running = task.status in ("queued", "running")
    retry = (
        task.status == "done"
        and result.get("code") == "evidence-insufficient"
        and retry_path(settings, task.id).is_file()
    )
    return render(
        request,
        staff,
        "console/content/task.html",
        status=status,
        task=task,
        running=running,
        result=result,
        extra=extra,
        failures=_failures(extra),
        may_override=retry and actor.role == "superadmin",
        retry=retry,
        error=error,
    )


@router.get("/content/tasks/{task_id}")
async def content_task(
    request: Request, staff: StaffDep, session: SessionDep, task_id: uuid.UUID
) -> Response:
    actor = _content_staff(staff)
    return await _task_page(request, staff, await _task(session, actor, task_id))


@router.post("/content/tasks/{task_id}/override")
async def content_override(
    request: Request,
    staff: StaffDep,
    session: SessionDep,
    settings: SettingsDep,
    task_id: uuid.UUID,
    override_reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """A superadmin publishes the refused placement test anyway: the kept upload is imported
    again with the reason (the import checks the role and the reason, and audits it)."""
    actor = _content_staff(staff)
    task = await _task(session, actor, task_id)
    if actor.role != "superadmin":
        raise Forbidden("Only a superadmin may publish a placement test below its thresholds.")
    if not override_reason.strip():
        return await _task_page(
            request,
            staff,
            task,
            status=422,
            error=N_("Say why the test may be published below its thresholds."),
        )
    again = await start_import(
        session,
        settings,
        actor,
        file_name="",
        data=None,
        override_reason=override_reason,
        retry_of=task,
    )
    return redirect(
        f"/console/content/tasks/{again.id}",
        N_("The import has started again with your reason; this page follows it."),
    )

"""Candidate API: start or resume with a token, then the attempt secret as a bearer credential."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from etest.attempt import service
from etest.attempt.outcome import AttemptStatus, Kind, dump, load
from etest.attempt.schemas import (
    AnswerAck,
    AnswerIn,
    AnswerView,
    AttemptStart,
    AttemptStarted,
    AttemptState,
    CurrentItem,
    ItemView,
    MediaView,
    OptionView,
    Progress,
    StimulusView,
)
from etest.config import Settings
from etest.db import transaction
from etest.deps import SessionDep, SettingsDep
from etest.models import Attempt, AttemptItem, Item, Organization

router = APIRouter(prefix="/api/v1/attempts", tags=["attempts"])
_secret = HTTPBearer(auto_error=False, description="The attempt secret from POST /attempts")
SecretDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_secret)]

#: What a candidate may see of an outcome (the rest is for admins and reports).
_PT_FIELDS = (
    "kind",
    "status",
    "level",
    "position",
    "level_probabilities",
    "correct",
    "answered",
    "served",
    "min_answers",
    "skills",
    "areas_for_improvement",
    "duration_seconds",
    "finish_reason",
)
_CT_FIELDS = (
    "kind",
    "score",
    "pass_mark",
    "passed",
    "status",
    "total",
    "correct",
    "incorrect",
    "answered",
    "served",
    "cant_do",
    "review_list",
    "continue_package",
    "next_level",
    "attempt_number",
    "duration_seconds",
    "finish_reason",
    "skills",
)


def _media(ref: dict[str, Any] | None) -> MediaView | None:
    if not ref:
        return None
    return MediaView(
        url=f"/media/{ref['media']}", content_type=ref["content_type"], alt=ref.get("alt")
    )


def _options(options: list[dict[str, Any]], order: list[str]) -> list[OptionView]:
    by_id = {o["id"]: o for o in options}
    return [
        OptionView(
            id=i,
            text=by_id[i].get("text"),
            image=_media(by_id[i].get("image")),
            audio=_media(by_id[i].get("audio")),
        )
        for i in order
        if i in by_id
    ]


async def _total(session: AsyncSession, attempt: service.Facts) -> int | None:
    version = await service.load_version(session, attempt.assessment_version_id)
    return service.planned_total(version, attempt)


def item_view(
    served: AttemptItem | service.Served, item: Item, answered: int, total: int | None
) -> ItemView:
    stim = item.stimulus
    return ItemView(
        position=served.position,
        type=item.type,
        skill=item.skill,
        prompt=item.prompt,
        stimulus=None
        if not stim
        else StimulusView(
            text=stim.get("text"), image=_media(stim.get("image")), audio=_media(stim.get("audio"))
        ),
        options=_options(item.options, served.option_order),
        targets=_options(item.targets, served.target_order),
        served_at=served.served_at,
        deadline=served.deadline,
        progress=Progress(answered=answered, total=total),
    )


async def state_of(session: AsyncSession, attempt: Attempt, *, fresh: bool = False) -> AttemptState:
    """The attempt's state for the candidate (``fresh``: just started, nothing served yet)."""
    rows = [] if fresh else await service.positions(session, attempt.id)
    responses = [r for r in rows if r.answered_at is not None]
    served = [r.position for r in rows]
    org = await session.get(Organization, attempt.organization_id)
    show = bool(org is None or org.settings.get("show_result_to_candidate", True))
    outcome = None
    if attempt.outcome is not None and show:
        # through the type, so outcomes stored by earlier versions read as the results API
        # reads them (etest.attempt.outcome)
        stored = dump(load(attempt.outcome))
        fields = _PT_FIELDS if attempt.kind == Kind.PT else _CT_FIELDS
        outcome = {k: stored.get(k) for k in fields}
    open_positions = sorted(set(served) - {r.position for r in responses})
    return AttemptState(
        id=attempt.id,
        kind=attempt.kind,
        level=attempt.level,
        status=attempt.status,
        attempt_number=attempt.attempt_number,
        started_at=attempt.started_at,
        deadline=attempt.deadline,
        finished_at=attempt.finished_at,
        progress=Progress(answered=len(responses), total=await _total(session, attempt)),
        answers=[
            AnswerView(
                position=r.position,
                answer=r.answer,
                timed_out=r.timed_out,
                answered_at=r.answered_at,
            )
            for r in responses
        ],
        current_position=open_positions[0]
        if open_positions and attempt.status == AttemptStatus.in_progress
        else None,
        outcome=outcome,
        result_hidden=attempt.outcome is not None and not show,
    )


def client_ip(request: Request) -> str | None:
    # The socket peer: X-Forwarded-For is not trusted (no proxy is configured by default).
    return request.client.host if request.client else None


def device(request: Request) -> service.Device:
    """The device a request came from, as the start records it (IP as :func:`client_ip`)."""
    return service.Device(client_ip(request), request.headers.get("user-agent"))


@router.post("", response_model=AttemptStarted, responses={201: {"model": AttemptStarted}})
async def start_attempt(
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    body: AttemptStart,
) -> AttemptStarted:
    """Start the test of a token, or resume its open attempt (any device). Returns the attempt
    secret: send it as ``Authorization: Bearer <secret>`` on the attempt's other calls."""
    attempt, resumed = await service.start(
        session,
        settings,
        body.token,
        device=device(request),
    )
    await session.flush()
    response.status_code = 200 if resumed else 201
    return AttemptStarted(
        attempt_id=attempt.id,
        resumed=resumed,
        secret=service.attempt_secret(settings.pepper(), attempt.id),
        state=await state_of(session, attempt, fresh=not resumed),
    )


async def _attempt(
    session: AsyncSession,
    settings: Any,
    attempt_id: uuid.UUID,
    credentials: HTTPAuthorizationCredentials | None,
) -> Attempt:
    return await service.get_for_candidate(
        session, settings, attempt_id, credentials.credentials if credentials else None
    )


@router.get("/{attempt_id}", response_model=AttemptState)
async def get_attempt(
    session: SessionDep, settings: SettingsDep, attempt_id: uuid.UUID, credentials: SecretDep
) -> AttemptState:
    """Progress, deadline, the answers given, and the outcome once finished."""
    attempt = await _attempt(session, settings, attempt_id, credentials)
    await service.expire_if_due(session, attempt)
    return await state_of(session, attempt)


# The two routes below carry nearly all of the traffic (a candidate's every item): they take
# no session dependency. The common case runs on the hot path's own connection
# (etest.attempt.live, no ORM session and no transaction of its own on PostgreSQL); anything
# else (the end of the test, timers, replays, resumes, races) on an ORM session in a transaction
# committed before the response, with the full rules of etest.attempt.service.


@router.get("/{attempt_id}/item", response_model=CurrentItem)
async def get_current_item(request: Request, attempt_id: uuid.UUID, credentials: SecretDep) -> Any:
    """The current item (without its key), the same on every device until it is answered; or
    ``finished`` with the attempt's state."""
    settings: Settings = request.app.state.settings
    secret = credentials.credentials if credentials else None
    fast = await request.app.state.live.run(
        lambda live: service.next_item(live, settings, attempt_id, secret)
    )
    if fast is not None:
        return _json(
            CurrentItem(
                finished=False,
                item=item_view(fast.served, fast.item, fast.served.position - 1, fast.total),
            )
        )
    async with transaction(request.app.state.sessionmaker) as session:
        current = await service.current_by_id(session, settings, attempt_id, secret)
        if current.served is None or current.item is None:
            assert isinstance(current.attempt, Attempt)  # a finished attempt is read whole
            body = CurrentItem(finished=True, state=await state_of(session, current.attempt))
        else:
            body = CurrentItem(
                finished=False,
                item=item_view(
                    current.served,
                    current.item,
                    current.served.position - 1,
                    await _total(session, current.attempt),
                ),
            )
    return _json(body)


@router.post("/{attempt_id}/responses", response_model=AnswerAck)
async def answer_item(
    request: Request, attempt_id: uuid.UUID, credentials: SecretDep, body: AnswerIn
) -> Any:
    """Answer the item at ``position``. Idempotent: the same answer again returns the first
    acknowledgement; a different answer is 409 ``answer-conflict``. The acknowledgement is sent
    after the answer is committed."""
    settings: Settings = request.app.state.settings
    secret = credentials.credentials if credentials else None
    sender = device(request)
    ack = await request.app.state.live.run(
        lambda live: service.first_answer(
            live, settings, attempt_id, secret, body.position, body.answer, sender
        )
    )
    if ack is None:
        async with transaction(request.app.state.sessionmaker) as session:
            ack = await service.answer_by_id(
                session, settings, attempt_id, secret, body.position, body.answer, sender
            )
    return _json(
        AnswerAck(
            position=ack.position,
            timed_out=ack.timed_out,
            answered_at=ack.answered_at,
            replay=ack.replay,
        )
    )


def _json(model: CurrentItem | AnswerAck) -> Response:
    # the route's response_model documents it; returning the rendered JSON skips FastAPI's
    # second validation of a model built here
    return Response(model.model_dump_json(), media_type="application/json")


@router.post("/{attempt_id}/finish", response_model=AttemptState)
async def finish_attempt(
    session: SessionDep, settings: SettingsDep, attempt_id: uuid.UUID, credentials: SecretDep
) -> AttemptState:
    """Finish now (idempotent); returns the outcome the organization lets the candidate see."""
    attempt = await _attempt(session, settings, attempt_id, credentials)
    if not await service.expire_if_due(session, attempt):
        await service.finish(session, attempt, reason="finished")
    return await state_of(session, attempt)

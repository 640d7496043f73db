"""Candidate API: start or resume with a token, then the attempt secret as a bearer credential."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from etest.attempt import delivery, service
from etest.attempt.delivery import Current, Pending
from etest.attempt.device import device_of
from etest.attempt.errors import TokenNotFound
from etest.attempt.schemas import (
    AnswerAck,
    AnswerIn,
    AttemptStart,
    AttemptStarted,
    AttemptState,
    CurrentItem,
)
from etest.attempt.secret import attempt_secret, check_secret
from etest.attempt.views import item_view, state_of
from etest.config import Settings
from etest.db import transaction
from etest.deps import SessionDep, SettingsDep, no_store
from etest.errors import NotFound
from etest.models import Attempt
from etest.ops import ratelimits

router = APIRouter(prefix="/api/v1/attempts", tags=["attempts"])
_secret = HTTPBearer(auto_error=False, description="The attempt secret from POST /attempts")
SecretDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_secret)]


async def _wrong_secret(
    request: Request, attempt_id: uuid.UUID, credentials: HTTPAuthorizationCredentials | None
) -> None:
    """After a 404 of an attempt route: when the secret was wrong, count it against the client
    address (or answer 429 when the address already failed too often).

    Called on the failure path only (``except NotFound``, free in Python 3.11 until it is
    raised): a wrong secret is refused after one HMAC, without the database, so reading a
    counter before every call would cost the delivery hot path more than the failure it guards
    against; and a secret (192 bits) is not guessed by trying. So a right secret costs nothing,
    and a candidate who shares an address with a flood keeps working."""
    settings: Settings = request.app.state.settings
    secret = credentials.credentials if credentials else None
    if not check_secret(settings.pepper(), attempt_id, secret):
        await ratelimits.spend(request, ratelimits.CREDENTIAL_FAILURES)


@router.post("", response_model=AttemptStarted, responses={201: {"model": AttemptStarted}})
async def start_attempt(
    request: Request,
    response: Response,
    session: SessionDep,
    settings: SettingsDep,
    body: AttemptStart,
) -> AttemptStarted:
    """Start the test of a token, or resume its open attempt (any device). Returns the attempt
    secret: send it as ``Authorization: Bearer <secret>`` on the attempt's other calls.

    Rate limits (429 ``too-many-requests``): wrong codes per client address, checked before the
    code is looked up; starts and resumes per token (keyed by the token's id, as the ``/take``
    page counts them), checked once the token is known: a start over the limit is rolled back
    with the request."""
    await ratelimits.guard(request, ratelimits.TOKEN_FAILURES)
    try:
        attempt, resumed = await service.start(
            session,
            settings,
            body.token,
            device=device_of(request),
        )
    except TokenNotFound:
        await ratelimits.charge(request, ratelimits.TOKEN_FAILURES)
        raise
    await ratelimits.spend(request, ratelimits.STARTS_PER_TOKEN, str(attempt.token_id))
    await session.flush()
    response.status_code = 200 if resumed else 201
    no_store(response)
    return AttemptStarted(
        attempt_id=attempt.id,
        resumed=resumed,
        secret=attempt_secret(settings.pepper(), attempt.id),
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
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    attempt_id: uuid.UUID,
    credentials: SecretDep,
) -> AttemptState:
    """Progress, deadline, the answers given, and the outcome once finished."""
    try:
        attempt = await _attempt(session, settings, attempt_id, credentials)
    except NotFound:
        await _wrong_secret(request, attempt_id, credentials)
        raise
    await service.expire_if_due(session, attempt)
    return await state_of(session, attempt)


# The two routes below carry nearly all of the traffic (a candidate's every item): they take
# no session dependency. etest.attempt.delivery reads the facts and applies the rules' decision on
# the hot path (etest.attempt.live: no ORM session, no transaction of its own on PostgreSQL) when
# it can; what it cannot apply (the end of the test, timers, resumes, races) it hands to an ORM
# session in a transaction committed before the response.


def current_body(current: Current) -> CurrentItem:
    """The body of an item being served (every position before it is answered)."""
    assert current.served is not None and current.item is not None
    answered = current.served.position - 1
    return CurrentItem(
        finished=False, item=item_view(current.served, current.item, answered, current.total)
    )


@router.get("/{attempt_id}/item", response_model=CurrentItem)
async def get_current_item(request: Request, attempt_id: uuid.UUID, credentials: SecretDep) -> Any:
    """The current item (without its key), the same on every device until it is answered; or
    ``finished`` with the attempt's state."""
    settings: Settings = request.app.state.settings
    secret = credentials.credentials if credentials else None
    try:
        current = await delivery.serve(request.app.state.live, settings, attempt_id, secret)
    except NotFound:
        await _wrong_secret(request, attempt_id, credentials)
        raise
    if isinstance(current, Pending):
        async with transaction(request.app.state.sessionmaker) as session:
            current = await delivery.serve_in(session, settings, attempt_id, secret, current)
            if current.served is None:
                assert isinstance(current.attempt, Attempt)  # a finished attempt is read whole
                return _json(
                    CurrentItem(finished=True, state=await state_of(session, current.attempt))
                )
    return _json(current_body(current))


@router.post("/{attempt_id}/responses", response_model=AnswerAck)
async def answer_item(
    request: Request, attempt_id: uuid.UUID, credentials: SecretDep, body: AnswerIn
) -> Any:
    """Answer the item at ``position``. Idempotent: the same answer again returns the first
    acknowledgement; a different answer is 409 ``answer-conflict``. The acknowledgement is sent
    after the answer is committed."""
    settings: Settings = request.app.state.settings
    secret = credentials.credentials if credentials else None
    sender, read = device_of(request), delivery.given(body.answer)
    args = (settings, attempt_id, secret, body.position, read, sender)
    try:
        ack = await delivery.answer(request.app.state.live, *args)
    except NotFound:
        await _wrong_secret(request, attempt_id, credentials)
        raise
    if isinstance(ack, Pending):
        async with transaction(request.app.state.sessionmaker) as session:
            ack = await delivery.answer_in(session, *args, pending=ack)
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
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    attempt_id: uuid.UUID,
    credentials: SecretDep,
) -> AttemptState:
    """Finish now (idempotent); returns the outcome the organization lets the candidate see."""
    try:
        attempt = await _attempt(session, settings, attempt_id, credentials)
    except NotFound:
        await _wrong_secret(request, attempt_id, credentials)
        raise
    if not await service.expire_if_due(session, attempt):
        await service.finish(session, attempt, reason="finished")
    return await state_of(session, attempt)

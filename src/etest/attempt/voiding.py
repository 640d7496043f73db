"""Voiding a token's unfinished attempt when an admin resets the token.

The attempt package owns its rows, so the token package does not write them (issue 12,
"packages own their state"). ``attempt`` imports ``token`` (finishing marks the token
completed), so ``token`` cannot call this module: a token reset calls the
:data:`etest.token.service.ResetHook` callbacks instead, synchronously and in the reset's own
transaction, and the composition at the top (``etest.tasks``) registers :func:`on_token_reset`
with :func:`etest.token.service.on_reset`. A reset with no hook registered raises."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from etest.attempt import repository
from etest.models import TestToken
from etest.models.base import utcnow

#: ``attempts.finish_reason`` of an attempt voided by a token reset.
RESET = "reset"


async def void_unfinished(session: AsyncSession, token_id: uuid.UUID) -> int:
    """Void the token's attempt in progress (status ``voided``, finish reason ``reset``,
    finished now): its late answers are refused and it has no outcome. Returns how many
    attempts were voided (0 or 1)."""
    return await repository.void_open_attempt_of(session, token_id, reason=RESET, at=utcnow())


async def on_token_reset(session: AsyncSession, token: TestToken) -> int:
    """The :data:`etest.token.service.ResetHook` of the attempt package."""
    return await void_unfinished(session, token.id)

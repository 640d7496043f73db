from __future__ import annotations

import uuid
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query, Response, status

from etest.deps import ActorDep, SessionDep, SettingsDep, no_store
from etest.kit.levels import canonical_level
from etest.kit.pagination import PaginationDep, paginate
from etest.kit.schemas import TEXT_QUERY, Page, Uic
from etest.models import TestToken
from etest.models.base import utcnow
from etest.organization import repository as org_repository
from etest.plan.service import find_plan
from etest.token import repository, service
from etest.token.schemas import (
    TokenIssue,
    TokenIssued,
    TokenOut,
    TokenReason,
    TokenReset,
    TokenStatus,
    TokenType,
)

router = APIRouter(prefix="/api/v1/tokens", tags=["tokens"])


def _out(token: TestToken, uic: str) -> TokenOut:
    fields = {c: getattr(token, c) for c in TokenOut.model_fields if c not in ("uic", "status")}
    return TokenOut.model_validate(
        {**fields, "uic": uic, "status": service.effective_status(token)}
    )


def _issued(token: TestToken, uic: str, code: str, base_url: str) -> TokenIssued:
    return TokenIssued.model_validate(
        {
            **_out(token, uic).model_dump(),
            "code": code,
            "take_url": f"{base_url}/take?token={quote(code)}",
        }
    )


@router.post("", response_model=TokenIssued, status_code=status.HTTP_201_CREATED)
async def issue_token(
    actor: ActorDep,
    session: SessionDep,
    settings: SettingsDep,
    body: TokenIssue,
    response: Response,
) -> TokenIssued:
    """Issue a PT token, or a CT token for a level of the candidate's plan. The code is returned
    once. A second live token of the same type (and level) is 409 ``token-exists``. Refused
    with 422 when the plan is not (or no longer) in the organization's contract
    (``plan-not-allowed``), the level is not in the plan (``level-not-in-plan``) or the test
    has no content loaded (``assessment-unavailable``). By ``email``, the candidate is looked
    up in the caller's subtree (or ``uic``'s); an email of several trees is 409
    ``email-ambiguous``."""
    token, uic, code = await service.issue(session, actor, settings, body)
    no_store(response)
    return _issued(token, uic, code, settings.base_url)


@router.get("", response_model=Page[TokenOut])
async def list_tokens(
    actor: ActorDep,
    session: SessionDep,
    pagination: PaginationDep,
    candidate_id: uuid.UUID | None = None,
    type: TokenType | None = None,
    level: Annotated[str | None, Query(pattern=TEXT_QUERY, max_length=32)] = None,
    status_: Annotated[TokenStatus | None, Query(alias="status")] = None,
    uic: Annotated[Uic | None, Query()] = None,
    include_descendants: Annotated[
        bool,
        Query(description="with uic: that organization's subtree (default), or false for it alone"),
    ] = True,
    plan_code: Annotated[
        str | None,
        Query(pattern=TEXT_QUERY, max_length=64, description="a plan code or an old plan name"),
    ] = None,
) -> Page[TokenOut]:
    plan = await find_plan(session, plan_code) if plan_code else None
    org = await org_repository.get_by_uic(session, actor, uic) if uic is not None else None
    stmt = repository.filtered(
        actor,
        now=utcnow(),
        plan_code=plan.code if plan else plan_code,
        candidate_id=candidate_id,
        type_=type,
        level=(canonical_level(level) or level) if level else None,
        status=status_,
        within=org,
        include_descendants=include_descendants,
    )
    total, rows = await paginate(
        session, stmt, pagination, TestToken.created_at.desc(), TestToken.id
    )
    return Page(
        items=[_out(t, u) for t, u in rows],
        total=total,
        page=pagination.page,
        per_page=pagination.per_page,
    )


@router.get("/{token_id}", response_model=TokenOut)
async def get_token(actor: ActorDep, session: SessionDep, token_id: uuid.UUID) -> TokenOut:
    return _out(*await repository.get(session, actor, token_id))


@router.post("/{token_id}/revoke", response_model=TokenOut)
async def revoke_token(
    actor: ActorDep, session: SessionDep, token_id: uuid.UUID, body: TokenReason | None = None
) -> TokenOut:
    token, uic = await repository.get(session, actor, token_id)
    await service.revoke(session, actor, token, body.reason if body else None)
    return _out(token, uic)


@router.post("/{token_id}/reset", response_model=TokenIssued, status_code=status.HTTP_201_CREATED)
async def reset_token(
    actor: ActorDep,
    session: SessionDep,
    settings: SettingsDep,
    token_id: uuid.UUID,
    body: TokenReset,
    response: Response,
) -> TokenIssued:
    """Admin reset: void the token and issue a new one (audited with who, when and why)."""
    token, uic = await repository.get(session, actor, token_id)
    new, uic, code = await service.reset(session, actor, settings, token, uic, body.reason)
    no_store(response)
    return _issued(new, uic, code, settings.base_url)

"""Pagination parameters shared by every list: ``page`` from 1, ``per_page`` capped at 200.

A ``per_page`` above the cap is clamped (the response reports the size actually used)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

MAX_PER_PAGE = 200


@dataclass(frozen=True)
class Pagination:
    page: int
    per_page: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


def _pagination(
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    per_page: Annotated[int, Query(ge=1)] = 50,
) -> Pagination:
    return Pagination(page=page, per_page=min(per_page, MAX_PER_PAGE))


PaginationDep = Annotated[Pagination, Depends(_pagination)]


async def paginate(
    session: AsyncSession, stmt: Any, pagination: Pagination, *order_by: Any
) -> tuple[int, list[Any]]:
    """The total of ``stmt`` and the rows of the requested page, in ``order_by`` order."""
    total = (await session.execute(select(func.count()).select_from(stmt.subquery()))).scalar_one()
    rows = (
        await session.execute(
            stmt.order_by(*order_by).offset(pagination.offset).limit(pagination.per_page)
        )
    ).all()
    return total, list(rows)

"""What matters now, for the console's home page: counts over the caller's subtree (running and
finished tests, placements by level, certification pass rates by level, pending reviews, failing
callbacks, tokens about to expire) or, for a content manager, the item bank by status and
level. Every count is one scoped query of ``result/repository.py`` (queries live in
repositories: tests/test_architecture_queries.py); this module picks the windows and shapes
them. Read-only."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from etest.auth.actor import Actor
from etest.kit.levels import LEVELS
from etest.models.attempt import Kind
from etest.result import repository

#: The periods the home page offers for its charts, in days (the first is the default).
PERIODS = (30, 7, 90, 365)
#: "Finished this week" is the last seven days (a rolling week needs no time zone or
#: first day of the week to mean the same to everyone in a tree).
WEEK = timedelta(days=7)
#: A token "about to expire" is live and expires within this time.
EXPIRING = timedelta(days=7)

UNPLACED = "unplaced"


def _level_order(level: str) -> tuple[int, str]:
    return (LEVELS.index(level) if level in LEVELS else len(LEVELS), level)


@dataclass(frozen=True)
class PassRate:
    level: str
    taken: int
    passed: int

    @property
    def rate(self) -> float:
        return self.passed / self.taken if self.taken else 0.0


@dataclass(frozen=True)
class TenantHome:
    """The home page of an organization role (or a global superadmin)."""

    now: datetime
    days: int
    in_progress: int
    finished_week: dict[str, int]
    #: finished placements of the period by level, in level order; ``unplaced`` last
    placements: list[tuple[str, int]]
    pass_rates: list[PassRate]
    pending_reviews: int
    callbacks_dead: int
    callbacks_retrying: int
    tokens_expiring: int

    @property
    def finished_week_total(self) -> int:
        return sum(self.finished_week.values())

    @property
    def placements_total(self) -> int:
        return sum(n for _, n in self.placements)

    @property
    def callbacks_failing(self) -> int:
        return self.callbacks_dead + self.callbacks_retrying


@dataclass(frozen=True)
class BankHome:
    """The home page of a content manager: item versions by status and by level."""

    by_status: dict[str, int] = field(default_factory=dict)
    #: level (``None``: items without a level) → status → count
    by_level: list[tuple[str | None, dict[str, int]]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


def period(days: int | None) -> int:
    """A period the page offers (the default for anything else)."""
    return days if days in PERIODS else PERIODS[0]


async def tenant_home(
    session: AsyncSession, actor: Actor, now: datetime, days: int = PERIODS[0]
) -> TenantHome:
    """The counts of the actor's subtree at ``now``; charts over the last ``days`` days."""
    actor.require("read")
    since = now - timedelta(days=period(days))
    levels = await repository.placement_levels(session, actor, since)
    placements = sorted(
        ((lv, n) for lv, n in levels.items() if lv is not None),
        key=lambda p: _level_order(p[0]),
    )
    if levels.get(None):
        placements.append((UNPLACED, levels[None]))
    ct = await repository.certification_by_level(session, actor, since)
    dead, retrying = await repository.failing_callbacks(session, actor)
    finished = await repository.finished_by_kind(session, actor, now - WEEK)
    return TenantHome(
        now=now,
        days=period(days),
        in_progress=await repository.count_in_progress(session, actor),
        finished_week={k.value: finished.get(k.value, 0) for k in Kind},
        placements=placements,
        pass_rates=[PassRate(level, *ct[level]) for level in sorted(ct, key=_level_order)],
        pending_reviews=await repository.count_pending_reviews(session, actor),
        callbacks_dead=dead,
        callbacks_retrying=retrying,
        tokens_expiring=await repository.count_expiring_tokens(session, actor, now, now + EXPIRING),
    )


async def bank_home(session: AsyncSession, actor: Actor) -> BankHome:
    """The item bank in numbers, for those who run it."""
    actor.require("manage_content")
    by_status: dict[str, int] = {}
    by_level: dict[str | None, dict[str, int]] = {}
    for status, level, n in await repository.item_counts(session):
        by_status[status] = by_status.get(status, 0) + int(n)
        by_level.setdefault(level, {})[status] = int(n)
    return BankHome(
        by_status=by_status,
        by_level=sorted(
            by_level.items(), key=lambda p: _level_order(p[0]) if p[0] else (len(LEVELS) + 1, "")
        ),
    )

"""What the engines serve from, read once per process: the pinned assessment version with its
engine, and the item rows it can serve (both immutable: a change is a new version or a new item
row). Kept in the bounded caches of :mod:`etest.attempt.cache`; an evicted entry is read again."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from etest.attempt import cache, repository
from etest.attempt.engines import Version, build_engine, item_info
from etest.attempt.live import Live
from etest.attempt.pilots import Pilots
from etest.attempt.repository import SEEN_ANY_LEVEL, SEEN_AT_LEVEL
from etest.attempt.rules import Facts
from etest.models import Assessment, AssessmentVersion, Item, Plan
from etest.models.attempt import Kind


async def load_version(session: AsyncSession, version_id: uuid.UUID) -> Version:
    """The engine of a pinned version, built once per process (versions never change)."""
    cached = cache.ENGINES.get(version_id)
    if cached is not None:
        return cached
    version = await session.get(AssessmentVersion, version_id)
    assert version is not None
    assessment = await session.get(Assessment, version.assessment_id)
    assert assessment is not None and assessment.plan_code is not None
    plan = await session.get(Plan, assessment.plan_code)
    assert plan is not None
    plan_levels = [str(lv["level"]) for lv in plan.levels]
    rows = await repository.items_by_ids(session, engine_item_ids(version.engine))
    infos = {r.id: item_info(r) for r in rows}
    for row in rows:  # every item the engine can serve, cached for the hot path (see item())
        session.expunge(row)
        cache.ITEMS.put(row.id, row)
    return cache.ENGINES.put(
        version_id,
        Version(
            version,
            assessment,
            build_engine(version.engine, infos, plan_levels),
            plan_levels,
            Pilots.of(version.engine),
        ),
    )


async def item(session: AsyncSession, item_id: uuid.UUID) -> Item:
    """An item row, cached per process: the hot path reads each one from the database once.
    Detached: only its loaded columns are used."""
    found = cache.ITEMS.get(item_id)
    if found is None:
        loaded = await session.get(Item, item_id)
        assert loaded is not None  # served items reference existing rows
        session.expunge(loaded)
        found = cache.ITEMS.put(item_id, loaded)
    return found


def engine_item_ids(engine: dict[str, Any]) -> list[uuid.UUID]:
    """Every item id an assessment version's engine can serve, its pilot items included."""
    pilots = Pilots.of(engine)
    trial = list(pilots.items) if pilots else []
    if engine["type"] == "fixed":
        return [uuid.UUID(i) for s in engine["sections"] for i in s["pool"]] + trial
    if engine["type"] == "staged":
        return [uuid.UUID(i) for g in engine["groups"] for i in g["items"]] + trial
    return [uuid.UUID(i) for i in engine["pool"]] + trial


def pilots(version: Version) -> Pilots | None:
    """The pinned version's pilot items, read once when the version was loaded."""
    return version.pilots


async def seen_before(live: Live, attempt: Facts) -> frozenset[uuid.UUID]:
    """Items this candidate was served in earlier attempts of the same kind (and CT level).
    Fixed for the life of the attempt, so each process reads it once per attempt."""
    cached = cache.SEEN.get(attempt.id)
    if cached is not None:
        return cached
    params = {
        "candidate_id": attempt.candidate_id,
        "attempt_id": attempt.id,
        "kind": attempt.kind,
        "started_at": attempt.started_at,
    }
    if attempt.level is None:
        rows = await live.rows(SEEN_ANY_LEVEL, params)
    else:
        rows = await live.rows(SEEN_AT_LEVEL, {**params, "level": attempt.level})
    return cache.SEEN.put(attempt.id, frozenset(r.item_id for r in rows))


def time_limit(version: Version) -> int | None:
    """The attempt's time limit in seconds, if the version sets one."""
    limit = version.version.engine.get("time_limit_seconds")
    return int(limit) if limit else None


def item_time_limit(version: Version, item: Item) -> int | None:
    """An item's own time limit: the item's, else the version's for its type."""
    seconds = item.time_limit_seconds or (version.version.engine.get("item_time_limits") or {}).get(
        item.type
    )
    return int(seconds) if seconds else None


def planned_total(version: Version, attempt: Facts) -> int | None:
    """The number of items of a fixed-length test (CT) as its candidate sees them (its pilot
    items included); ``None`` for a variable-length PT."""
    if attempt.kind != Kind.CT:
        return None
    total = int(getattr(version.engine, "total", 0))
    trial = pilots(version)
    if trial is not None and total:
        return trial.positions_for(attempt.seed, total)
    return total or None

"""The delivery's process caches (``etest.attempt.cache``) are bounded, least recently used out,
and an evicted entry is rebuilt from the rows to the same effect."""

from __future__ import annotations

import random
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from etest.attempt import cache
from etest.attempt.cache import Lru
from etest.attempt.engines import IrtEngine, ItemInfo
from tests.attempt.conftest import Course, Taker, key_of, right


def test_an_lru_evicts_the_least_recently_used_entry_past_its_limit() -> None:
    lru: Lru[str, int] = Lru(3)
    for n, key in enumerate("abc"):
        assert lru.put(key, n) == n
    assert lru.get("a") == 0  # read: now the most recently used
    lru.put("b", 10)  # written: likewise
    lru.put("d", 3)
    assert lru.recency() == ["a", "b", "d"] and "c" not in lru and lru.get("c") is None
    lru.put("e", 4)
    assert lru.recency() == ["b", "d", "e"] and len(lru) == 3
    assert lru.pop("d") == 3 and lru.pop("d") is None and len(lru) == 2
    lru.clear()
    assert len(lru) == 0
    with pytest.raises(ValueError, match="at least one"):
        Lru(0)


def test_the_caches_are_bounded() -> None:
    assert (cache.ENGINES.limit, cache.ITEMS.limit, cache.SEEN.limit) == (256, 20_000, 10_000)
    assert IrtEngine.STATES == cache.STATES_PER_ENGINE


def _irt(states: int) -> IrtEngine:
    rng = random.Random(7)
    items = {}
    for n in range(60):
        item_id = uuid.UUID(int=n + 1)
        items[item_id] = ItemInfo(
            item_id,
            ("reading", "grammar")[n % 2],
            "A1",
            rng.uniform(0.8, 2.0),
            rng.uniform(-2.5, 2.5),
            0.0,
        )
    config = {
        "type": "irt",
        "pool": [str(i) for i in items],
        "cut_scores": [-1.0, 0.0, 1.0],
        "min_items": 5,
        "max_items": 25,
        "se_target": 0.3,
        "randomesque": 3,
    }

    class Small(IrtEngine):
        STATES = states

    return Small(config, items, ["A1", "A2", "B1", "B2"])


def test_an_evicted_engine_state_is_rebuilt_to_the_same_decisions() -> None:
    kept, fresh, rng = _irt(2), _irt(4096), random.Random(5)
    histories: dict[int, list[tuple[uuid.UUID, int]]] = {seed: [] for seed in (1, 2, 3)}
    for _ in range(8):
        for seed, history in histories.items():  # three attempts through two places
            decision = kept.decide(seed, history, set())
            assert decision == fresh.decide(seed, history, set())
            assert len(kept._states) <= 2
            if decision.item_id is not None:
                history.append((decision.item_id, rng.random() < 0.5))
    # the first attempt's state went out when the third came in
    assert [key[0] for key in kept._states.recency()] == [2, 3]


async def test_evicted_engines_and_items_are_rebuilt_from_the_rows(
    app: FastAPI, client: httpx.AsyncClient, course: Course, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cache.ENGINES, "limit", 1)
    monkeypatch.setattr(cache.ITEMS, "limit", 2)
    monkeypatch.setattr(cache.SEEN, "limit", 1)
    ct = Taker(app, client, await course.token(client, "CT", "A1"))
    pt = Taker(app, client, await course.token(client, "PT"))
    for taker in (ct, pt):
        assert (await taker.start()).status_code == 201
    states: dict[str, dict[str, Any]] = {}
    while len(states) < 2:  # two versions and their items take turns in one small cache
        for name, taker in (("ct", ct), ("pt", pt)):
            if name in states:
                continue
            current = await taker.item()
            if current["finished"]:
                states[name] = current["state"]
                continue
            position = current["item"]["position"]
            assert len(cache.ENGINES) <= 1 and len(cache.ITEMS) <= 2 and len(cache.SEEN) <= 1
            resp = await taker.answer(
                position, right(*await key_of(app, taker.attempt_id, position))
            )
            assert resp.status_code == 200, resp.text
    assert states["ct"]["outcome"]["passed"] is True
    assert states["ct"]["outcome"]["score"] == 100.0
    assert states["pt"]["outcome"]["status"] == "placed"
    assert states["pt"]["outcome"]["level"] == "A2"  # all right: the top level of the flow

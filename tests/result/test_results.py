"""The results API over real finished attempts: filters, pagination, totals, CT details, the PT
result of a candidate, subtree scoping, bad input and the number of queries per request."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.attempt.conftest import Taker, key_of, make_course, right, wrong
from tests.conftest import Headers
from tests.result.conftest import World, all_right, all_wrong, queries

Params = dict[str, Any]


async def _list(client: httpx.AsyncClient, key: Headers, **params: Any) -> dict[str, Any]:
    resp = await client.get("/api/v1/results", headers=key, params=params)
    assert resp.status_code == 200, resp.text
    data: dict[str, Any] = resp.json()
    return data


def _names(world: World, page: dict[str, Any]) -> set[str]:
    by_id = {v: k for k, v in world.attempt.items()}
    return {by_id.get(i["attempt_id"], i["attempt_id"]) for i in page["items"]}


FINISHED = {"pt_a", "pt_a1", "ct_a", "ct_a1", "ct_b", "pt_b"}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, FINISHED),
        ({"type": "PT"}, {"pt_a", "pt_a1", "pt_b"}),
        ({"type": "CT"}, {"ct_a", "ct_a1", "ct_b"}),
        ({"uic": "A"}, {"pt_a", "pt_a1", "ct_a", "ct_a1"}),
        ({"uic": "A", "include_descendants": "false"}, {"pt_a", "ct_a"}),
        ({"uic": "A1"}, {"pt_a1", "ct_a1"}),
        ({"uic": "P", "include_descendants": "false"}, set()),
        ({"level": "A2"}, {"pt_a"}),
        ({"level": "a1", "type": "PT"}, {"pt_a1", "pt_b"}),
        ({"level": "A1"}, {"pt_a1", "pt_b", "ct_a", "ct_a1", "ct_b"}),
        ({"passed": "true"}, {"ct_a", "ct_b"}),
        ({"passed": "false"}, {"ct_a1"}),
        ({"candidate": "a"}, {"pt_a", "ct_a"}),
        ({"email": "b"}, {"ct_b", "pt_b"}),
        ({"from": "mid"}, {"ct_a", "ct_a1", "ct_b", "pt_b"}),
        ({"to": "mid"}, {"pt_a", "pt_a1"}),
        ({"from": "before", "to": "after"}, FINISHED),
        ({"from": "after"}, set()),
    ],
)
async def test_filters(
    client: httpx.AsyncClient, world: World, params: Params, expected: set[str]
) -> None:
    query = dict(params)
    if "uic" in query:
        query["uic"] = world.uic[query["uic"]]
    if "candidate" in query:
        query["candidate_id"] = world.candidate[query.pop("candidate")]["id"]
    if "email" in query:
        query["email"] = world.candidate[query["email"]]["email"].upper()
    for bound in ("from", "to"):
        if bound in query:
            query[bound] = getattr(world, query[bound]).isoformat()
    page = await _list(client, world.key["P"], **query)
    assert _names(world, page) == expected
    assert page["total"] == len(expected)


async def test_newest_first_and_pagination(client: httpx.AsyncClient, world: World) -> None:
    everything = await _list(client, world.key["P"])
    finished = [i["finished_at"] for i in everything["items"]]
    assert finished == sorted(finished, reverse=True)
    assert _names(world, everything) == FINISHED and "running" not in _names(world, everything)
    pages = [await _list(client, world.key["P"], page=n, per_page=4) for n in (1, 2, 3)]
    assert [len(p["items"]) for p in pages] == [4, 2, 0]
    assert all(p["total"] == 6 and p["per_page"] == 4 for p in pages)
    ids = [i["attempt_id"] for p in pages for i in p["items"]]
    assert ids == [i["attempt_id"] for i in everything["items"]]
    capped = await _list(client, world.key["P"], per_page=500)  # clamped, as every list is
    assert capped["per_page"] == 200 and capped["total"] == 6


async def test_summary_fields_and_totals(client: httpx.AsyncClient, world: World) -> None:
    page = await _list(client, world.key["P"], per_page=200)
    items = {i["attempt_id"]: i for i in page["items"]}
    for name in FINISHED:
        item = items[world.attempt[name]]
        totals, outcome = item["totals"], world.outcome[name]
        assert totals["correct"] + totals["incorrect"] == totals["served"]
        assert (totals["correct"], totals["answered"]) == (outcome["correct"], outcome["answered"])
        assert item["kind"] == name[:2].upper() and item["plan"] == world.course.plan
        assert item["assessment"] and item["finish_reason"] and item["duration_seconds"] >= 0
        assert item["started_at"] <= item["finished_at"]
    pt = items[world.attempt["pt_a"]]
    assert pt["candidate"] == {
        "id": world.candidate["a"]["id"],
        "email": world.candidate["a"]["email"],
        "first_name": "First-a",
        "last_name": "Last-a",
    }
    assert pt["uic"] == world.uic["A"]
    assert (pt["level"], pt["totals"]["served"], pt["totals"]["correct"]) == ("A2", 12, 12)
    assert pt["position"] is not None and pt["theta"] is None and pt["se"] is None  # staged
    assert pt["score"] is pt["passed"] is pt["needs_review"] is pt["totals"]["planned"] is None
    failed = items[world.attempt["ct_a1"]]
    assert (
        failed["level"],
        failed["score"],
        failed["pass_mark"],
        failed["passed"],
        failed["status"],
        failed["needs_review"],
        failed["attempt_number"],
    ) == ("A1", 0.0, 70, False, "fail", False, 1)
    assert failed["totals"] == {
        "correct": 0,
        "incorrect": 4,
        "answered": 4,
        "served": 4,
        "planned": 4,
        "points": None,  # no item scored per gap was served
    }
    passed = items[world.attempt["ct_a"]]
    assert (passed["score"], passed["passed"], passed["status"]) == (100.0, True, "pass")
    assert passed["position"] is None and passed["theta"] is None


async def test_ct_details(client: httpx.AsyncClient, world: World) -> None:
    resp = await client.get(f"/api/v1/results/{world.attempt['ct_a1']}", headers=world.key["A"])
    assert resp.status_code == 200, resp.text
    detail = resp.json()
    outcome = world.outcome["ct_a1"]
    assert detail["passed"] is False and detail["continue_package"] is False
    assert detail["cant_do"] == outcome["cant_do"] and detail["cant_do"]
    assert all(c["text"].startswith("Cannot yet") for c in detail["cant_do"])
    assert detail["review_list"] == outcome["review_list"] and detail["review_list"]
    assert [s["skill"] for s in detail["skills"]] == ["reading", "grammar", "vocabulary"]
    assert sum(s["served"] for s in detail["skills"]) == 4
    assert set(detail["areas_for_improvement"]) == {"reading", "grammar", "vocabulary"}
    responses = detail["responses"]
    assert [r["position"] for r in responses] == [1, 2, 3, 4]
    assert all(
        r["answered"]
        and not r["correct"]
        and not r["timed_out"]
        and r["time_spent_ms"] >= 0
        and r["level"] == "A1"
        for r in responses
    )
    assert {r["item_code"].split("-")[-1][0] for r in responses} == {"r", "g", "v"}
    assert detail["level_probabilities"] is None and detail["stop_reason"] is None
    # never an item key, never an answer (a right answer would give the key away)
    for forbidden in ('"correct":["', '"accepted"', '"answer"', "went", '"key"'):
        assert forbidden not in resp.text

    passed = (
        await client.get(f"/api/v1/results/{world.attempt['ct_a']}", headers=world.key["A"])
    ).json()
    assert passed["continue_package"] is True and passed["next_level"] == "A1+"
    assert passed["cant_do"] == [] and passed["review_list"] == []
    assert all(r["correct"] for r in passed["responses"])


async def test_pt_detail_and_pt_of_a_candidate(client: httpx.AsyncClient, world: World) -> None:
    cand = world.candidate["b"]["id"]
    resp = await client.get(f"/api/v1/candidates/{cand}/results/pt", headers=world.key["B"])
    assert resp.status_code == 200, resp.text
    latest = resp.json()
    assert latest["attempt_id"] == world.attempt["pt_b"] and latest["level"] == "A1"
    assert latest["stop_reason"] and latest["cant_do"] is None and latest["review_list"] is None
    assert latest["continue_package"] is None
    assert len(latest["responses"]) == latest["totals"]["served"] == 7
    assert [r["correct"] for r in latest["responses"]] == [True] * 4 + [False] * 3
    same = (
        await client.get(f"/api/v1/results/{world.attempt['pt_b']}", headers=world.key["B"])
    ).json()
    assert same == latest


async def test_pt_of_a_candidate_is_the_latest(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    course = await make_course(app, client, su)
    cand = course.candidate["id"]
    ids = []
    for policy in (all_right, all_wrong):
        taker = Taker(app, client, await course.token(client, "PT"))
        assert (await taker.start()).status_code == 201
        await taker.run(policy)
        ids.append(taker.attempt_id)
    latest = (
        await client.get(f"/api/v1/candidates/{cand}/results/pt", headers=course.admin)
    ).json()
    assert latest["attempt_id"] == ids[1] and latest["attempt_number"] == 2
    assert latest["level"] == "A1" and latest["totals"]["correct"] == 0


async def test_candidate_without_pt_and_foreign_candidate(
    client: httpx.AsyncClient, world: World
) -> None:
    p = world.candidate["p"]["id"]  # has only a running PT
    none = await client.get(f"/api/v1/candidates/{p}/results/pt", headers=world.key["P"])
    assert none.status_code == 404 and none.json()["type"] == "/errors/no-result"
    assert none.headers["content-type"] == "application/problem+json"
    a = world.candidate["a"]["id"]
    foreign = await client.get(f"/api/v1/candidates/{a}/results/pt", headers=world.key["B"])
    missing = await client.get(
        f"/api/v1/candidates/{uuid.uuid4()}/results/pt", headers=world.key["B"]
    )
    assert foreign.status_code == missing.status_code == 404
    assert foreign.json() == missing.json()
    assert foreign.json()["type"] == "/errors/not-found"


async def test_scoping(client: httpx.AsyncClient, world: World) -> None:
    b = await _list(client, world.key["B"], per_page=200)
    assert _names(world, b) == {"ct_b", "pt_b"}
    assert world.attempt["pt_a"] not in str(b)
    assert (await _list(client, world.key["A1"]))["total"] == 2
    for attempt in ("pt_a", "ct_a1"):
        foreign = await client.get(
            f"/api/v1/results/{world.attempt[attempt]}", headers=world.key["B"]
        )
        missing = await client.get(f"/api/v1/results/{uuid.uuid4()}", headers=world.key["B"])
        assert foreign.status_code == missing.status_code == 404
        assert foreign.json() == missing.json()
    foreign_uic = await client.get(
        "/api/v1/results", headers=world.key["B"], params={"uic": world.uic["A"]}
    )
    parent_uic = await client.get(
        "/api/v1/results", headers=world.key["A"], params={"uic": world.uic["P"]}
    )
    missing_uic = await client.get(
        "/api/v1/results", headers=world.key["B"], params={"uic": "NOSUCHUIC"}
    )
    assert foreign_uic.status_code == parent_uic.status_code == missing_uic.status_code == 404
    # a viewer reads the results of its subtree
    viewer = await _list(client, world.key["viewer_A"])
    assert _names(world, viewer) == {"pt_a", "pt_a1", "ct_a", "ct_a1"}
    read = await client.get(
        f"/api/v1/results/{world.attempt['ct_a1']}", headers=world.key["viewer_A"]
    )
    assert read.status_code == 200
    unauthenticated = await client.get("/api/v1/results")
    assert unauthenticated.status_code == 401


async def test_unfinished_and_voided_attempts(
    app: FastAPI, client: httpx.AsyncClient, world: World
) -> None:
    running = await client.get(
        f"/api/v1/results/{world.attempt['running']}", headers=world.key["P"]
    )
    assert running.status_code == 409
    assert running.json()["type"] == "/errors/attempt-in-progress"
    assert running.headers["content-type"] == "application/problem+json"
    # outside the subtree an unfinished attempt is a plain 404 (no hint that it exists)
    hidden = await client.get(f"/api/v1/results/{world.attempt['running']}", headers=world.key["A"])
    assert hidden.status_code == 404 and hidden.json()["type"] == "/errors/not-found"

    course = world.course
    taker = Taker(
        app, client, await course.token(client, "CT", "A1", candidate=world.candidate["a1"])
    )
    assert (await taker.start()).status_code == 201
    await taker.item()
    token_id = (
        await client.get(
            "/api/v1/tokens",
            headers=course.admin,
            params={"candidate_id": world.candidate["a1"]["id"], "type": "CT", "status": "started"},
        )
    ).json()["items"][0]["id"]
    reset = await client.post(
        f"/api/v1/tokens/{token_id}/reset", headers=course.admin, json={"reason": "results test"}
    )
    assert reset.status_code == 201, reset.text
    voided = await client.get(f"/api/v1/results/{taker.attempt_id}", headers=world.key["P"])
    assert voided.status_code == 404 and "voided" in voided.json()["detail"]
    assert taker.attempt_id not in str(await _list(client, world.key["P"], per_page=200))


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"from": "2026-02-01T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "reversed-date-range"),
        ({"from": "2026-01-01", "to": "2026-01-01"}, "reversed-date-range"),
        ({"from": "yesterday"}, "validation-error"),
        ({"to": "2026-13-01"}, "validation-error"),
        ({"from": "0001-01-01T00:00:00+01:00"}, "validation-error"),
        ({"per_page": 0}, "validation-error"),
        ({"page": 0}, "validation-error"),
        ({"type": "XT"}, "validation-error"),
        ({"passed": "maybe"}, "validation-error"),
        ({"candidate_id": "not-a-uuid"}, "validation-error"),
        ({"level": "Z9"}, "unknown-level"),
        ({"email": "a\x00b@example.org"}, "validation-error"),
    ],
)
async def test_bad_list_input(
    client: httpx.AsyncClient, world: World, params: Params, code: str
) -> None:
    resp = await client.get("/api/v1/results", headers=world.key["P"], params=params)
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"] == "application/problem+json"
    assert resp.json()["type"] == f"/errors/{code}"


@pytest.mark.parametrize(
    "path", ["/api/v1/results/not-a-uuid", "/api/v1/candidates/not-a-uuid/results/pt"]
)
async def test_bad_ids(client: httpx.AsyncClient, world: World, path: str) -> None:
    resp = await client.get(path, headers=world.key["P"])
    assert resp.status_code == 422 and resp.json()["type"] == "/errors/validation-error"


async def test_naive_and_date_bounds_are_utc(client: httpx.AsyncClient, world: World) -> None:
    naive = world.mid.replace(tzinfo=None).isoformat()
    assert _names(world, await _list(client, world.key["P"], **{"from": naive})) == {
        "ct_a",
        "ct_a1",
        "ct_b",
        "pt_b",
    }
    day = world.before.date()
    next_year = day.replace(year=day.year + 1).isoformat()
    assert (await _list(client, world.key["P"], **{"from": day.isoformat(), "to": next_year}))[
        "total"
    ] == 6


async def test_query_counts_do_not_grow_with_the_page(
    app: FastAPI, client: httpx.AsyncClient, world: World
) -> None:
    counts = []
    for per_page in (1, 200):
        with queries(app) as seen:
            page = await _list(client, world.key["P"], per_page=per_page)
        assert len(page["items"]) == min(per_page, 6)
        counts.append(len(seen))
    assert counts == [2, 2]  # one count, one page
    with queries(app) as seen:
        await _list(client, world.key["P"], uic=world.uic["A"], per_page=200)
    assert len(seen) == 3  # + the organization of the uic filter
    with queries(app) as seen:
        resp = await client.get(f"/api/v1/results/{world.attempt['pt_a']}", headers=world.key["P"])
    assert resp.status_code == 200 and len(resp.json()["responses"]) == 12
    assert len(seen) == 2  # the attempt with its candidate and organization, its positions
    with queries(app) as seen:
        resp = await client.get(
            f"/api/v1/candidates/{world.candidate['a']['id']}/results/pt", headers=world.key["P"]
        )
    assert resp.status_code == 200 and len(seen) == 3  # + the candidate's visibility


async def test_irt_pt_has_theta_and_se(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    course = await make_course(app, client, su, "irt")
    taker = Taker(app, client, await course.token(client, "PT"))
    await taker.start()
    outcome = (await taker.run(all_right))["outcome"]
    page = await _list(client, course.admin, type="PT")
    assert page["total"] == 1
    item = page["items"][0]
    assert item["theta"] is not None and item["se"] is not None and item["se"] > 0
    assert item["level"] == outcome["level"]
    detail = (await client.get(f"/api/v1/results/{taker.attempt_id}", headers=course.admin)).json()
    assert abs(sum(detail["level_probabilities"].values()) - 1) < 1e-3
    assert (detail["theta"], detail["se"]) == (item["theta"], item["se"])


async def test_ct_finished_early_counts_served_items(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    course = await make_course(app, client, su)
    taker = Taker(app, client, await course.token(client, "CT", "A1"))
    await taker.start()
    for n in range(2):
        current = await taker.item()
        position = current["item"]["position"]
        item_type, key = await key_of(app, taker.attempt_id, position)
        resp = await taker.answer(
            position, right(item_type, key) if n == 0 else wrong(item_type, key)
        )
        assert resp.status_code == 200, resp.text
    await taker.item()  # the third item is served, then the candidate gives up
    finished = await client.post(
        f"/api/v1/attempts/{taker.attempt_id}/finish", headers=taker.headers
    )
    assert finished.status_code == 200, finished.text
    detail = (await client.get(f"/api/v1/results/{taker.attempt_id}", headers=course.admin)).json()
    assert detail["totals"] == {
        "correct": 1,
        "incorrect": 2,
        "answered": 2,
        "served": 3,
        "planned": 4,
        "points": None,
    }
    assert detail["score"] == 25.0 and detail["passed"] is False
    assert [(r["answered"], r["correct"]) for r in detail["responses"]] == [
        (True, True),
        (True, False),
        (False, False),
    ]
    assert detail["responses"][2]["time_spent_ms"] is None

"""The review decision after the last failed certification test at a level (``needs_review``):
recorded by support through the API, it lets the candidate start one more attempt (``grant``)
or keeps the lock (``confirm``). Everything runs through the real API on the real database."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx
from fastapi import FastAPI

from tests.attempt.conftest import Course, Taker, make_course, right, wrong
from tests.conftest import Headers, create_candidate, create_key, create_org
from tests.result.conftest import queries


def all_right(_: int, t: str, k: dict[str, Any]) -> Any:
    return right(t, k)


def all_wrong(_: int, t: str, k: dict[str, Any]) -> Any:
    return wrong(t, k)


async def _issue(
    client: httpx.AsyncClient, course: Course, candidate: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A CT A1 token (the whole answer: id and code)."""
    resp = await client.post(
        "/api/v1/tokens",
        headers=course.admin,
        json={"candidate_id": (candidate or course.candidate)["id"], "type": "CT", "level": "A1"},
    )
    assert resp.status_code == 201, resp.text
    token: dict[str, Any] = resp.json()
    return token


async def _take(
    app: FastAPI, client: httpx.AsyncClient, code: str, policy: Any = all_wrong
) -> tuple[str, dict[str, Any]]:
    """Start an attempt with ``code`` and run it to the end; (attempt id, outcome)."""
    taker = Taker(app, client, code)
    started = await taker.start()
    assert started.status_code == 201, started.text
    state = await taker.run(policy)
    return taker.attempt_id, state["outcome"]


async def _fail_three(
    app: FastAPI, client: httpx.AsyncClient, course: Course, candidate: dict[str, Any] | None = None
) -> list[str]:
    attempts = []
    for n in range(3):
        attempt_id, outcome = await _take(
            app, client, (await _issue(client, course, candidate))["code"]
        )
        assert outcome["status"] == ("needs_review" if n == 2 else "fail")
        attempts.append(attempt_id)
    return attempts


async def _start(client: httpx.AsyncClient, code: str) -> httpx.Response:
    return await client.post("/api/v1/attempts", json={"token": code})


def _reviews_url(candidate: dict[str, Any]) -> str:
    return f"/api/v1/candidates/{candidate['id']}/reviews"


async def test_grant_gives_one_attempt_then_confirm_keeps_the_lock(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    course = await make_course(app, client, su)
    support = await create_key(app, "support", course.uic)
    url = _reviews_url(course.candidate)
    attempts = await _fail_three(app, client, course)

    # locked: a new token and a reset token are both refused
    token = await _issue(client, course)
    refused = await _start(client, token["code"])
    assert refused.status_code == 403 and refused.json()["type"] == "/errors/needs-review"
    assert refused.json()["review"] is None
    reset = await client.post(
        f"/api/v1/tokens/{token['id']}/reset",
        headers=support,
        json={"reason": "new token for the retake"},
    )
    assert reset.status_code == 201, reset.text
    code = reset.json()["code"]
    refused = await _start(client, code)
    assert refused.status_code == 403 and refused.json()["type"] == "/errors/needs-review"

    # the review is pending: on the candidate, in the results list and in the result
    listed = await client.get(url, headers=support)
    assert listed.status_code == 200, listed.text
    assert listed.json()["items"] == [] and listed.json()["total"] == 0
    pending = listed.json()["pending"]
    assert [(p["level"], p["plan"], p["attempt_id"], p["failures"]) for p in pending] == [
        ("A1", course.plan, attempts[2], 3)
    ]
    found = await client.get(
        "/api/v1/results",
        headers=support,
        params={"candidate_id": course.candidate["id"], "review": "pending"},
    )
    assert found.status_code == 200, found.text
    assert [r["attempt_id"] for r in found.json()["items"]] == [attempts[2]]
    detail = (await client.get(f"/api/v1/results/{attempts[2]}", headers=support)).json()
    assert detail["review"] == {"pending": True, "decision": None}
    earlier = (await client.get(f"/api/v1/results/{attempts[1]}", headers=support)).json()
    assert earlier["status"] == "fail" and earlier["review"] is None

    # support grants
    granted = await client.post(
        url,
        headers=support,
        json={"level": "a1", "decision": "grant", "reason": "Oral review: clearly at A1 level."},
    )
    assert granted.status_code == 201, granted.text
    grant = granted.json()
    assert (
        grant["level"],
        grant["plan"],
        grant["decision"],
        grant["attempt_id"],
        grant["actor_role"],
    ) == ("A1", course.plan, "grant", attempts[2], "support")
    assert grant["reason"] == "Oral review: clearly at A1 level."
    audit = (
        await client.get(
            "/api/v1/audit", headers=course.admin, params={"action": "candidate.review"}
        )
    ).json()["items"]
    mine = [e for e in audit if e["target_id"] == course.candidate["id"]]
    assert len(mine) == 1 and mine[0]["actor_role"] == "support"
    assert mine[0]["reason"] == "Oral review: clearly at A1 level."
    assert mine[0]["details"] == {
        "level": "A1",
        "plan": course.plan,
        "decision": "grant",
        "attempt_id": attempts[2],
        "review_id": grant["id"],
    }
    detail = (await client.get(f"/api/v1/results/{attempts[2]}", headers=support)).json()
    assert detail["review"]["pending"] is False
    assert detail["review"]["decision"]["id"] == grant["id"]
    found = await client.get(
        "/api/v1/results",
        headers=support,
        params={"candidate_id": course.candidate["id"], "review": "pending"},
    )
    assert found.json()["items"] == []

    # one more attempt, with the reset token; while it runs nothing can be recorded
    taker = Taker(app, client, code)
    started = await taker.start()
    assert started.status_code == 201, started.text
    running = await client.post(
        url,
        headers=support,
        json={"level": "A1", "decision": "confirm", "reason": "changed my mind"},
    )
    assert running.status_code == 409 and running.json()["type"] == "/errors/no-review-pending"
    outcome = (await taker.run(all_wrong))["outcome"]
    assert (outcome["attempt_number"], outcome["status"]) == (4, "needs_review")

    # it failed: locked again, a new review is pending
    token = await _issue(client, course)
    refused = await _start(client, token["code"])
    assert refused.status_code == 403 and refused.json()["type"] == "/errors/needs-review"
    assert "4 attempts" in refused.json()["detail"]
    listed = (await client.get(url, headers=support)).json()
    assert [p["attempt_id"] for p in listed["pending"]] == [taker.attempt_id]
    assert [p["failures"] for p in listed["pending"]] == [4]

    # support confirms: still refused, and the refusal says the review confirmed it and when
    confirmed = await client.post(
        url,
        headers=support,
        json={
            "level": "A1",
            "decision": "confirm",
            "reason": "Not ready yet; study the review list.",
        },
    )
    assert confirmed.status_code == 201, confirmed.text
    confirm = confirmed.json()
    refused = await _start(client, token["code"])
    assert refused.status_code == 403 and refused.json()["type"] == "/errors/needs-review"
    body = refused.json()
    assert "confirmed" in body["detail"] and confirm["created_at"][:10] in body["detail"]
    assert body["review"]["decision"] == "confirm"
    assert datetime.fromisoformat(body["review"]["decided_at"]) == datetime.fromisoformat(
        confirm["created_at"]
    )
    assert "study the review list" not in body["detail"]  # the reason is for staff only

    listed = (await client.get(url, headers=support)).json()
    assert listed["pending"] == []
    assert [(r["decision"], r["attempt_id"]) for r in listed["items"]] == [
        ("confirm", taker.attempt_id),
        ("grant", attempts[2]),
    ]
    assert listed["total"] == 2
    detail = (await client.get(f"/api/v1/results/{taker.attempt_id}", headers=support)).json()
    assert detail["review"]["decision"]["decision"] == "confirm"
    page = (await client.get(url, headers=support, params={"per_page": 1, "page": 2})).json()
    assert [r["decision"] for r in page["items"]] == ["grant"] and page["total"] == 2


async def test_who_may_record_and_read(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    course = await make_course(app, client, su)
    url = _reviews_url(course.candidate)
    await _fail_three(app, client, course)
    body = {"level": "A1", "decision": "grant", "reason": "ok"}
    viewer = await create_key(app, "viewer", course.uic)
    denied = await client.post(url, headers=viewer, json=body)
    assert denied.status_code == 403 and denied.json()["type"] == "/errors/forbidden"
    assert (await client.get(url, headers=viewer)).status_code == 200  # reading is fine
    other = await create_org(client, su, name="Other tree", plan_code=course.plan)
    stranger = await create_key(app, "admin", other["uic"])
    for resp in (
        await client.post(url, headers=stranger, json=body),
        await client.get(url, headers=stranger),
    ):
        assert resp.status_code == 404 and resp.json()["type"] == "/errors/not-found"
    # an admin of the candidate's organization may, and so may a superadmin
    admin = await client.post(url, headers=course.admin, json=body)
    assert admin.status_code == 201, admin.text
    assert admin.json()["actor_role"] == "admin"


async def test_refused_without_a_pending_review(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    course = await make_course(app, client, su)
    url = _reviews_url(course.candidate)
    body = {"level": "A1", "decision": "grant", "reason": "why not"}
    nothing = await client.post(url, headers=course.admin, json=body)
    assert nothing.status_code == 409 and nothing.json()["type"] == "/errors/no-review-pending"
    # two failures: the retake policy still allows a third attempt
    for _ in range(2):
        await _take(app, client, (await _issue(client, course))["code"])
    two = await client.post(url, headers=course.admin, json=body)
    assert two.status_code == 409 and two.json()["type"] == "/errors/no-review-pending"
    assert "2 of 3" in two.json()["detail"]
    assert (await client.get(url, headers=course.admin)).json()["pending"] == []
    other_level = await client.post(url, headers=course.admin, json={**body, "level": "A2"})
    assert other_level.status_code == 409


async def test_reason_and_level_are_checked(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    course = await make_course(app, client, su)
    url = _reviews_url(course.candidate)
    for body in (
        {"level": "A1", "decision": "grant"},
        {"level": "A1", "decision": "grant", "reason": "   "},
        {"level": "A1", "decision": "grant", "reason": "x" * 2001},
        {"level": "A1", "decision": "maybe", "reason": "x"},
        {"level": "Z9", "decision": "grant", "reason": "x"},
        {"level": "A1", "decision": "grant", "reason": "x", "plan": "neo_plus"},
    ):
        resp = await client.post(url, headers=su, json=body)
        assert resp.status_code == 422, (body, resp.text)
        assert resp.json()["type"] == "/errors/validation-error"


async def test_a_pass_after_a_grant_ends_the_matter(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    course = await make_course(app, client, su)
    candidate = await create_candidate(client, course.admin, uic=course.uic)
    url = _reviews_url(candidate)
    await _fail_three(app, client, course, candidate)
    granted = await client.post(
        url, headers=su, json={"level": "A1", "decision": "grant", "reason": "one more try"}
    )
    assert granted.status_code == 201, granted.text
    assert granted.json()["actor_role"] == "superadmin"
    _, outcome = await _take(
        app, client, (await _issue(client, course, candidate))["code"], all_right
    )
    assert outcome["status"] == "pass" and outcome["attempt_number"] == 4
    after = await client.post(
        url, headers=su, json={"level": "A1", "decision": "confirm", "reason": "too late"}
    )
    assert after.status_code == 409 and after.json()["type"] == "/errors/no-review-pending"
    assert (await client.get(url, headers=su)).json()["pending"] == []
    # nothing holds the candidate at this level any more
    again = await _start(client, (await _issue(client, course, candidate))["code"])
    assert again.status_code == 201, again.text


async def test_results_filter_by_status(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    course = await make_course(app, client, su)
    attempts = await _fail_three(app, client, course)
    params = {"candidate_id": course.candidate["id"]}
    review = await client.get(
        "/api/v1/results", headers=course.admin, params={**params, "status": "needs_review"}
    )
    assert review.status_code == 200, review.text
    assert [r["attempt_id"] for r in review.json()["items"]] == [attempts[2]]
    failed = await client.get(
        "/api/v1/results", headers=course.admin, params={**params, "status": "fail"}
    )
    assert {r["attempt_id"] for r in failed.json()["items"]} == set(attempts[:2])
    bad = await client.get("/api/v1/results", headers=course.admin, params={"review": "maybe"})
    assert bad.status_code == 422
    with queries(app) as seen:
        pending = await client.get(
            "/api/v1/results", headers=course.admin, params={**params, "review": "pending"}
        )
    assert [r["attempt_id"] for r in pending.json()["items"]] == [attempts[2]]
    assert len(seen) == 2  # the filter is correlated subqueries: one count, one page
    with queries(app) as seen:
        detail = await client.get(f"/api/v1/results/{attempts[2]}", headers=course.admin)
    assert detail.json()["review"] == {"pending": True, "decision": None}
    assert len(seen) == 4  # + the decision that followed it (none), whether it is pending


async def test_starting_a_ct_reads_reviews_only_in_review(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    course = await make_course(app, client, su)
    with queries(app) as fresh:
        assert (await _start(client, (await _issue(client, course))["code"])).status_code == 201
    assert not [q for q in fresh if "review_decisions" in q]
    other = await create_candidate(client, course.admin, uic=course.uic)
    await _fail_three(app, client, course, other)
    with queries(app) as locked:
        refused = await _start(client, (await _issue(client, course, other))["code"])
    assert refused.status_code == 403
    assert len([q for q in locked if "review_decisions" in q]) == 1


async def test_a_later_decision_replaces_a_confirm(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    course = await make_course(app, client, su)
    url = _reviews_url(course.candidate)
    attempts = await _fail_three(app, client, course)
    confirmed = await client.post(
        url, headers=course.admin, json={"level": "A1", "decision": "confirm", "reason": "not yet"}
    )
    assert confirmed.status_code == 201, confirmed.text
    code = (await _issue(client, course))["code"]
    refused = await _start(client, code)
    assert refused.status_code == 403 and refused.json()["review"]["decision"] == "confirm"
    # a second oral review a month later: the latest decision on the same failure rules
    granted = await client.post(
        url,
        headers=course.admin,
        json={"level": "A1", "decision": "grant", "reason": "second review: ready now"},
    )
    assert granted.status_code == 201, granted.text
    assert granted.json()["attempt_id"] == attempts[2]
    detail = (await client.get(f"/api/v1/results/{attempts[2]}", headers=course.admin)).json()
    assert detail["review"]["decision"]["id"] == granted.json()["id"]
    assert (await _start(client, code)).status_code == 201

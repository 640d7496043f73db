"""Bad input on the candidate API, over real HTTP: each is a 4xx ``application/problem+json``
with a stable ``type`` (never a 5xx, never a 2xx), and none of it changes what was stored."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.attempt.conftest import Course
from tests.reliability.conftest import Server, is_problem, right_answer, tokens_for

NO_SUCH_TOKEN = "x" * 22


class Candidate:
    def __init__(self, http: httpx.AsyncClient, token: str) -> None:
        self.http, self.token = http, token
        self.id = ""
        self.headers: dict[str, str] = {}

    async def start(self) -> dict[str, Any]:
        resp = await self.http.post("/api/v1/attempts", json={"token": self.token})
        assert resp.status_code in (200, 201), resp.text
        self.id = resp.json()["attempt_id"]
        self.headers = {"Authorization": f"Bearer {resp.json()['secret']}"}
        body: dict[str, Any] = resp.json()
        return body

    async def item(self) -> dict[str, Any]:
        resp = await self.http.get(f"/api/v1/attempts/{self.id}/item", headers=self.headers)
        assert resp.status_code == 200, resp.text
        item: dict[str, Any] = resp.json()["item"]
        return item

    async def answer(self, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
        return await self.http.post(
            f"/api/v1/attempts/{self.id}/responses",
            headers=self.headers if headers is None else headers,
            json=body,
        )

    async def answers(self) -> list[dict[str, Any]]:
        resp = await self.http.get(f"/api/v1/attempts/{self.id}", headers=self.headers)
        assert resp.status_code == 200, resp.text
        answers: list[dict[str, Any]] = resp.json()["answers"]
        return answers


@pytest.fixture
async def pair(
    app: FastAPI, http: httpx.AsyncClient, pt_course: Course
) -> tuple[Candidate, Candidate]:
    one, two = await tokens_for(app, pt_course, 2)
    return Candidate(http, one), Candidate(http, two)


async def test_wrong_token(http: httpx.AsyncClient) -> None:
    resp = await http.post("/api/v1/attempts", json={"token": NO_SUCH_TOKEN})
    assert is_problem(resp, 404, "token-not-found"), resp.text
    for body in ({"token": "short"}, {"token": 12345678}, {}, {"token": "y" * 201}):
        resp = await http.post("/api/v1/attempts", json=body)
        assert is_problem(resp, 422, "validation-error"), (body, resp.text)
    resp = await http.post(
        "/api/v1/attempts", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert is_problem(resp, 400, "malformed-json"), resp.text


async def test_finished_attempt_refuses_answers(pair: tuple[Candidate, Candidate]) -> None:
    me, _ = pair
    await me.start()
    item = await me.item()
    done = await me.http.post(f"/api/v1/attempts/{me.id}/finish", headers=me.headers)
    assert done.status_code == 200 and done.json()["status"] == "completed"
    resp = await me.answer({"position": item["position"], "answer": right_answer(item)})
    assert is_problem(resp, 409, "attempt-finished"), resp.text
    assert await me.answers() == []
    # the token of a finished test resumes the finished attempt, it does not start another
    again = await me.start()
    assert again["resumed"] and again["state"]["status"] == "completed"


async def test_someone_elses_secret_is_not_found(pair: tuple[Candidate, Candidate]) -> None:
    me, other = pair
    await me.start()
    await other.start()
    item = await me.item()
    theirs = other.headers
    for method, path in (
        ("GET", f"/api/v1/attempts/{me.id}"),
        ("GET", f"/api/v1/attempts/{me.id}/item"),
        ("POST", f"/api/v1/attempts/{me.id}/finish"),
    ):
        for headers in (theirs, {}, {"Authorization": "Bearer nonsense"}):
            resp = await me.http.request(method, path, headers=headers)
            assert is_problem(resp, 404, "not-found"), (method, path, headers, resp.text)
    resp = await me.answer(
        {"position": item["position"], "answer": right_answer(item)}, headers=theirs
    )
    assert is_problem(resp, 404, "not-found"), resp.text
    resp = await me.http.get("/api/v1/attempts/not-a-uuid", headers=me.headers)
    assert is_problem(resp, 422, "validation-error"), resp.text
    assert await me.answers() == []


async def test_answer_of_the_wrong_shape(pair: tuple[Candidate, Candidate]) -> None:
    me, _ = pair
    await me.start()
    item = await me.item()
    assert item["type"] == "single_choice"  # make_course's staged PT opens with reading items
    for answer in (["A", "B"], [], {"A": 1}, 7, None, "Z", [["A", "1"]], "A" * 600):
        resp = await me.answer({"position": item["position"], "answer": answer})
        assert is_problem(resp, 422, "invalid-answer"), (answer, resp.text)
    for body in (
        {"position": item["position"]},
        {"answer": "A"},
        {"position": item["position"], "answer": "A", "extra": 1},
    ):
        resp = await me.answer(body)
        assert is_problem(resp, 422, "validation-error"), (body, resp.text)
    assert await me.answers() == []
    ok = await me.answer({"position": item["position"], "answer": "A"})
    assert ok.status_code == 200, ok.text


async def test_position_out_of_range(pair: tuple[Candidate, Candidate]) -> None:
    me, _ = pair
    await me.start()
    item = await me.item()
    for position in (0, -1, 10_001, "abc", "1; drop table responses", 1.5, None, 2**63):
        resp = await me.answer({"position": position, "answer": right_answer(item)})
        assert is_problem(resp, 422, "validation-error"), (position, resp.text)
    for position in (item["position"] + 1, 10_000):  # in range, but not served
        resp = await me.answer({"position": position, "answer": right_answer(item)})
        assert is_problem(resp, 409, "wrong-position"), (position, resp.text)
    assert await me.answers() == []


async def test_problem_types_are_documented(http: httpx.AsyncClient) -> None:
    for code in (
        "token-not-found",
        "attempt-finished",
        "not-found",
        "invalid-answer",
        "validation-error",
        "wrong-position",
        "answer-conflict",
        "malformed-json",
    ):
        resp = await http.get(f"/errors/{code}")
        assert resp.status_code == 200 and resp.json()["type"] == f"/errors/{code}", code


async def test_server_stayed_healthy(app: FastAPI, live: Server) -> None:
    """Whatever the bad input did, the process is alive and logged no internal error."""
    assert live.proc is not None and live.proc.poll() is None
    assert "internal_error" not in live.log_tail(10_000) and "unhandled_error" not in live.log_tail(
        10_000
    )

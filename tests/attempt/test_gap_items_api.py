"""cloze, gap_match and hottext delivered over the candidate API, on the real database: what the
candidate is shown (never a key), answers scored per gap with the points stored, and answers of
the wrong shape refused with 422 ``invalid-answer``."""

from __future__ import annotations

import io
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import openpyxl
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from etest.attempt.schemas import Piece, body_pieces
from etest.auth.actor import Actor
from etest.db import transaction
from etest.models import Response
from etest.result import service as result_service
from tests.attempt.conftest import Course, Taker, make_course
from tests.conftest import Headers
from tests.support.flows import import_flows

CLOZE_BODY = "<p>Yesterday I [[g1]] to school and [[g2]] my friend [[g3]].</p>"
GAP_MATCH_BODY = "<p>The cat sat [[p2]] the mat [[p1]] the dog slept.</p>"
HOTTEXT_BODY = "<p>She [[w1]] to school [[w2]] and [[w3]] lunch there.</p>"


def gap_flows(course: Course) -> list[dict[str, Any]]:
    """A bank with one item of each new type and the course's A1 CT again (version 2) serving
    the three: a token for CT A1 then delivers them. Shared with the page tests."""
    tag = course.tag
    items: list[dict[str, Any]] = [
        {
            "code": f"{tag}-cloze",
            "type": "cloze",
            "skill": "grammar",
            "level": "A1",
            "prompt": "Fill in the gaps.",
            "body": CLOZE_BODY,
            "gaps": [
                {"id": "g1", "expected_length": 6},
                {
                    "id": "g2",
                    "choices": [
                        {"id": "meet", "text": "meet"},
                        {"id": "met", "text": "met"},
                        {"id": "meeting", "text": "meeting"},
                    ],
                },
                {"id": "g3"},
            ],
            "key": {
                "gaps": {
                    "g1": {"accepted": ["went"]},
                    "g2": {"correct": "met"},
                    "g3": {"accepted": ["there"]},
                }
            },
        },
        {
            "code": f"{tag}-gapmatch",
            "type": "gap_match",
            "skill": "vocabulary",
            "level": "A1",
            "prompt": "Put a word in each gap.",
            "body": GAP_MATCH_BODY,
            "gaps": [{"id": "p1"}, {"id": "p2"}],
            "options": [
                {"id": "on", "text": "on"},
                {"id": "while", "text": "while"},
                {"id": "under", "text": "under", "max_uses": 0},
            ],
            "key": {"pairs": [["on", "p2"], ["while", "p1"]]},
        },
        {
            "code": f"{tag}-hottext",
            "type": "hottext",
            "skill": "reading",
            "level": "A1",
            "prompt": "Choose the word that does not fit.",
            "body": HOTTEXT_BODY,
            "options": [
                {"id": "w1", "text": "goes"},
                {"id": "w2", "text": "yesterday"},
                {"id": "w3", "text": "eats"},
            ],
            "key": {"correct": ["w2"]},
        },
        {
            "code": f"{tag}-hottext-many",
            "type": "hottext",
            "skill": "reading",
            "level": "A1",
            "prompt": "Choose the two words that are wrong.",
            "body": "<p>They [[x1]] home and [[x2]] dinner [[x3]].</p>",
            "options": [
                {"id": "x1", "text": "goes"},
                {"id": "x2", "text": "eat"},
                {"id": "x3", "text": "tomorrow"},
            ],
            "key": {"correct": ["x1", "x3"]},
        },
    ]
    bank = {
        "format": "etest-flow/1",
        "kind": "bank",
        "code": f"gapbank-{tag}",
        "version": 1,
        "title": "gap items",
        "items": items,
    }
    ct = {
        "format": "etest-flow/1",
        "kind": "CT",
        "code": f"ct-{tag}-a1",
        "version": 2,
        "title": "CT A1 with gap items",
        "plan": course.plan,
        "level": "A1",
        "engine": {
            "type": "fixed",
            "time_limit_seconds": 1800,
            "sections": [
                {"skill": "grammar", "count": 1, "pool": [f"{tag}-cloze"]},
                {"skill": "vocabulary", "count": 1, "pool": [f"{tag}-gapmatch"]},
                {"skill": "reading", "count": 1, "pool": [f"{tag}-hottext"]},
            ],
        },
    }
    return [bank, ct]


@pytest.fixture
async def gap_course(app: FastAPI, client: httpx.AsyncClient, su: Headers) -> Course:
    course = await make_course(app, client, su)
    await import_flows(client, su, *gap_flows(course))
    return course


async def _stored(app: FastAPI, attempt_id: str) -> dict[int, Response]:
    async with transaction(app.state.sessionmaker) as session:
        rows = await session.scalars(
            select(Response).where(Response.attempt_id == uuid.UUID(attempt_id))
        )
        return {r.position: r for r in rows}


async def test_gap_items_are_shown_without_keys_scored_per_gap_and_checked(
    app: FastAPI, client: httpx.AsyncClient, gap_course: Course
) -> None:
    taker = Taker(app, client, await gap_course.token(client, "CT", "A1"))
    assert (await taker.start()).status_code == 201
    seen: dict[str, dict[str, Any]] = {}
    for _ in range(3):
        current = await taker.item()
        item = current["item"]
        seen[item["type"]] = item
        text = json.dumps(item)
        # no key reaches the candidate: not a word of the key's shape (nor, below, the typed
        # answers)
        assert '"key"' not in text and '"correct"' not in text and '"accepted"' not in text
        position = item["position"]

        async def refused(answer: Any, position: int = position) -> None:
            resp = await taker.answer(position, answer)
            assert resp.status_code == 422, resp.text
            assert resp.json()["type"] == "/errors/invalid-answer"

        if item["type"] == "cloze":
            assert "went" not in text and "there" not in text
            assert item["body"] == CLOZE_BODY and item["options"] == []
            assert [g["id"] for g in item["gaps"]] == ["g1", "g2", "g3"]
            assert item["gaps"][0] == {"id": "g1", "choices": [], "expected_length": 6}
            assert [c["id"] for c in item["gaps"][1]["choices"]] == ["meet", "met", "meeting"]
            assert item["max_choices"] is None
            await refused({"g9": "went"})  # no such gap
            await refused({"g2": "gone"})  # not one of the gap's choices
            await refused({"g1": "", "g2": None})  # nothing filled
            await refused(["went", "met"])  # wrong shape
            await refused({"g1": "x" * 201})
            # two of three right, one gap left empty: accepted, 2 points of 3
            resp = await taker.answer(position, {"g1": " Went ", "g2": "met"})
        elif item["type"] == "gap_match":
            assert item["body"] == GAP_MATCH_BODY
            # the gaps in the order they stand in the body, the words with their uses
            assert [g["id"] for g in item["gaps"]] == ["p2", "p1"]
            uses = {o["id"]: o["max_uses"] for o in item["options"]}
            assert uses == {"on": 1, "while": 1, "under": 0}
            await refused([["on", "p1"], ["on", "p2"]])  # "on" fills one gap only
            await refused([["on", "p1"], ["while", "p1"]])  # a gap takes one word
            await refused([["nope", "p1"]])
            await refused({})
            resp = await taker.answer(position, {"p2": "on", "p1": "under"})
        else:
            assert item["type"] == "hottext" and item["body"] == HOTTEXT_BODY
            assert sorted(o["id"] for o in item["options"]) == ["w1", "w2", "w3"]
            assert item["max_choices"] == 1 and item["gaps"] == []
            assert all(o["max_uses"] is None for o in item["options"])
            await refused(["w1", "w2"])  # one piece only
            await refused("w9")
            await refused([])
            resp = await taker.answer(position, "w2")
        assert resp.status_code == 200, resp.text
    assert set(seen) == {"cloze", "gap_match", "hottext"}
    final = await taker.item()
    assert final["finished"] is True
    assert final["state"]["outcome"]["correct"] == 1  # only the hottext is wholly right

    by_type = {seen[t]["position"]: t for t in seen}
    stored = await _stored(app, taker.attempt_id)
    got = {by_type[p]: (r.answer, r.correct, r.points, r.max_points) for p, r in stored.items()}
    assert got["cloze"] == ({"g1": " Went ", "g2": "met"}, False, 2, 3)
    assert got["gap_match"] == ([["under", "p1"], ["on", "p2"]], False, 1, 2)
    assert got["hottext"] == ("w2", True, None, None)
    # the state lists the answers as stored
    answers = {a["position"]: a["answer"] for a in final["state"]["answers"]}
    assert answers[seen["hottext"]["position"]] == "w2"

    # staff read the answers in words with the points (the answer log; a superadmin reads keys)
    superadmin = Actor(subject="t", role="superadmin", organization_id=None, org_path=None)
    async with transaction(app.state.sessionmaker) as session:
        log = await result_service.answer_log(session, superadmin, uuid.UUID(taker.attempt_id))
    lines = {line.item_type: line for line in log}
    assert lines["cloze"].answer == "g1:  Went ; g2: met (met)"
    assert lines["cloze"].key == "g1: went; g2: met (met); g3: there"
    assert (lines["cloze"].score, lines["cloze"].correct) == ("2/3", False)
    assert lines["gap_match"].answer == "p1: under (under); p2: on (on)"
    assert lines["gap_match"].key == "p1: while (while); p2: on (on)"
    assert lines["gap_match"].score == "1/2"
    assert lines["hottext"].answer == "w2 (yesterday)" and lines["hottext"].score is None

    # the responses report: the points at the end of each row
    today = datetime.now(UTC).date()
    resp = await client.get(
        "/api/v1/reports/responses.xlsx",
        headers=gap_course.admin,
        params={
            "from": str(today - timedelta(days=1)),
            "to": str(today + timedelta(days=1)),
            "emails": gap_course.candidate["email"],
        },
    )
    assert resp.status_code == 200, resp.text
    rows = list(openpyxl.load_workbook(io.BytesIO(resp.content))["Responses"].values)
    assert list(rows[0][-2:]) == ["Points", "Max points"]
    points = {r[rows[0].index("Item type")]: r[-2:] for r in rows[1:]}
    assert points == {"cloze": (2, 3), "gap_match": (1, 2), "hottext": (None, None)}


async def test_openapi_documents_the_gap_item_shapes(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()["components"]["schemas"]
    item = schema["ItemView"]["properties"]
    assert {"body", "gaps", "max_choices"} <= set(item)
    assert "[[id]]" in item["body"]["description"]
    assert "max_uses" in schema["OptionView"]["properties"]
    assert "cloze" in schema["AnswerIn"]["properties"]["answer"]["description"]


def test_a_body_is_cut_at_markers_in_its_text_only() -> None:
    body = '<p>I [[g1]] <b>to [[g2]]</b></p><img alt="[[g3]]" src="x">[[g4]]'
    pieces = body_pieces(body)
    assert [p.marker for p in pieces] == ["g1", "g2", "g4", None]
    assert pieces[0] == Piece("<p>I ", "g1")
    assert pieces[-1] == Piece("", None)
    # joined again with the markers where they stood, the HTML is the body's own
    assert "".join(p.html + (f"[[{p.marker}]]" if p.marker else "") for p in pieces) == body
    assert body_pieces("no markers") == [Piece("no markers", None)]

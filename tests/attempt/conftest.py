"""A small course per test: its own plan (so assessment codes never collide), content imported
through the real import, an organization, a candidate and a token."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from etest.db import transaction
from etest.models import AttemptItem, Item
from tests.conftest import Headers, create_candidate, create_key, create_org, unique
from tests.support.flows import import_flows

LEVELS = ["A1", "A1+", "A2"]
B = {"A1": -1.6, "A1+": -1.0, "A2": -0.4}


def _items(tag: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for level in LEVELS:
        slug = level.replace("+", "p").lower()
        for n in range(4):
            items.append(
                {
                    "code": f"{tag}-{slug}-r{n}",
                    "type": "single_choice",
                    "skill": "reading",
                    "level": level,
                    "prompt": f"Reading {level} #{n}",
                    "options": [{"id": o, "text": o.lower()} for o in "ABCD"],
                    "key": {"correct": ["A"]},
                    "can_do": f"{tag}-{slug}-cd-r",
                    "review_lessons": [f"{tag}-lesson-{slug}"],
                    "irt": {"a": 1.2, "b": B[level] + n * 0.05},
                }
            )
        for n in range(2):
            items.append(
                {
                    "code": f"{tag}-{slug}-g{n}",
                    "type": "text_entry",
                    "skill": "grammar",
                    "level": level,
                    "prompt": "Yesterday I ___ (go) home.",
                    "key": {"accepted": ["went"]},
                    "can_do": f"{tag}-{slug}-cd-g",
                    "irt": {"a": 1.0, "b": B[level] + 0.1 + n * 0.05},
                }
            )
        items.append(
            {
                "code": f"{tag}-{slug}-v0",
                "type": "multiple_choice",
                "skill": "vocabulary",
                "level": level,
                "prompt": "Pick the fruits",
                "options": [
                    {"id": "A", "text": "apple"},
                    {"id": "B", "text": "chair"},
                    {"id": "C", "text": "pear"},
                ],
                "key": {"correct": ["A", "C"]},
                "can_do": f"{tag}-{slug}-cd-v",
                "irt": {"a": 1.1, "b": B[level] + 0.2},
            }
        )
    return items


def _can_do(tag: str) -> list[dict[str, Any]]:
    out = []
    for level in LEVELS:
        slug = level.replace("+", "p").lower()
        for skill, s in (("reading", "r"), ("grammar", "g"), ("vocabulary", "v")):
            out.append(
                {
                    "code": f"{tag}-{slug}-cd-{s}",
                    "level": level,
                    "skill": skill,
                    "text": f"Can {skill} at {level}",
                    "cannot_text": f"Cannot yet {skill} at {level}",
                }
            )
    return out


@dataclass
class Course:
    tag: str
    plan: str
    uic: str
    admin: Headers
    candidate: dict[str, Any]

    async def token(
        self,
        client: httpx.AsyncClient,
        type_: str = "PT",
        level: str | None = None,
        candidate: dict[str, Any] | None = None,
    ) -> str:
        body: dict[str, Any] = {"candidate_id": (candidate or self.candidate)["id"], "type": type_}
        if level:
            body["level"] = level
        resp = await client.post("/api/v1/tokens", headers=self.admin, json=body)
        assert resp.status_code == 201, resp.text
        code: str = resp.json()["code"]
        return code


async def make_course(
    app: FastAPI,
    client: httpx.AsyncClient,
    su: Headers,
    pt_engine: str = "staged",
    settings: dict[str, Any] | None = None,
) -> Course:
    tag = unique("c").lower()
    plan = f"p_{tag}"
    levels = [
        {"level": lv, "pass_mark": 70, "ct_assessment": f"ct-{tag}-{lv.replace('+', 'p').lower()}"}
        for lv in LEVELS
    ]
    resp = await client.put(
        f"/api/v1/plans/{plan}",
        headers=su,
        json={
            "name": "Test plan",
            "pt_assessment": f"pt-{tag}",
            "levels": levels,
            "retake_policy": {"max_attempts": 3},
        },
    )
    assert resp.status_code == 200, resp.text
    items = _items(tag)
    bank = {
        "format": "etest-flow/1",
        "kind": "bank",
        "code": f"bank-{tag}",
        "version": 1,
        "title": "bank",
        "can_do": _can_do(tag),
        "review_lessons": [
            {"code": f"{tag}-lesson-{lv.replace('+', 'p').lower()}", "title": f"Lesson {lv}"}
            for lv in LEVELS
        ],
        "items": items,
    }
    a1 = [i for i in items if i["level"] == "A1"]
    ct = {
        "format": "etest-flow/1",
        "kind": "CT",
        "code": f"ct-{tag}-a1",
        "version": 1,
        "title": "CT A1",
        "plan": plan,
        "level": "A1",
        "engine": {
            "type": "fixed",
            "time_limit_seconds": 1800,
            "sections": [
                {
                    "skill": "reading",
                    "count": 2,
                    "pool": [i["code"] for i in a1 if i["skill"] == "reading"],
                },
                {
                    "skill": "grammar",
                    "count": 1,
                    "pool": [i["code"] for i in a1 if i["skill"] == "grammar"],
                },
                {
                    "skill": "vocabulary",
                    "count": 1,
                    "pool": [i["code"] for i in a1 if i["skill"] == "vocabulary"],
                },
            ],
        },
    }
    if pt_engine == "staged":
        engine: dict[str, Any] = {
            "type": "staged",
            "groups": [
                {"level": lv, "items": [i["code"] for i in items if i["level"] == lv][:4]}
                for lv in LEVELS
            ],
        }
    else:
        engine = {
            "type": "irt",
            "pool": [i["code"] for i in items],
            "cut_scores": [-1.25, -0.75],
            "min_items": 4,
            "max_items": 8,
            "se_target": 0.3,
        }
    pt = {
        "format": "etest-flow/1",
        "kind": "PT",
        "code": f"pt-{tag}",
        "version": 1,
        "title": "PT",
        "plan": plan,
        "engine": engine,
    }
    await import_flows(client, su, bank, ct, pt)
    org = await create_org(client, su, plan_code=plan, settings=settings or {})
    admin = await create_key(app, "admin", org["uic"])
    candidate = await create_candidate(client, admin, uic=org["uic"])
    return Course(tag, plan, org["uic"], admin, candidate)


@pytest.fixture
async def course(app: FastAPI, client: httpx.AsyncClient, su: Headers) -> Course:
    return await make_course(app, client, su)


async def key_of(app: FastAPI, attempt_id: str, position: int) -> tuple[str, dict[str, Any]]:
    """The item type and key behind a served position (tests only: candidates never see it)."""
    async with transaction(app.state.sessionmaker) as session:
        served = await session.get(AttemptItem, (uuid.UUID(attempt_id), position))
        assert served is not None
        item = await session.scalar(select(Item).where(Item.id == served.item_id))
        assert item is not None
        return item.type, item.key


def right(item_type: str, key: dict[str, Any]) -> Any:
    if item_type == "text_entry":
        return key["accepted"][0] if key.get("number") else " Went. "
    if item_type == "cloze":  # each gap: its first accepted spelling, or its right choice
        return {
            g: k["accepted"][0] if "accepted" in k else k["correct"] for g, k in key["gaps"].items()
        }
    if item_type == "gap_match":  # one keyed word per gap
        return [[w, g] for g, w in {g: w for w, g in reversed(key["pairs"])}.items()]
    if item_type == "single_choice":
        return key["correct"][0]
    if item_type == "ordering":
        return key["order"]
    if item_type == "matching":
        return key["pairs"]
    return key["correct"]


def wrong(item_type: str, key: dict[str, Any]) -> Any:
    if item_type == "text_entry":
        return "goed"
    if item_type == "single_choice":
        return "B"
    return ["B"]


class Taker:
    """A candidate driving the API."""

    def __init__(self, app: FastAPI, client: httpx.AsyncClient, token: str) -> None:
        self.app, self.client, self.token = app, client, token
        self.attempt_id = ""
        self.headers: Headers = {}

    async def start(self, **headers: str) -> httpx.Response:
        resp = await self.client.post(
            "/api/v1/attempts", json={"token": self.token}, headers=headers
        )
        if resp.status_code in (200, 201):
            self.attempt_id = resp.json()["attempt_id"]
            self.headers = {"Authorization": f"Bearer {resp.json()['secret']}"}
        return resp

    async def item(self) -> dict[str, Any]:
        resp = await self.client.get(
            f"/api/v1/attempts/{self.attempt_id}/item", headers=self.headers
        )
        assert resp.status_code == 200, resp.text
        data: dict[str, Any] = resp.json()
        return data

    async def answer(self, position: int, answer: Any) -> httpx.Response:
        return await self.client.post(
            f"/api/v1/attempts/{self.attempt_id}/responses",
            headers=self.headers,
            json={"position": position, "answer": answer},
        )

    async def run(self, policy: Any, limit: int = 100) -> dict[str, Any]:
        """Answer until finished; ``policy(n, item_type, key)`` returns the answer."""
        for n in range(limit):
            current = await self.item()
            if current["finished"]:
                state: dict[str, Any] = current["state"]
                return state
            position = current["item"]["position"]
            item_type, key = await key_of(self.app, self.attempt_id, position)
            resp = await self.answer(position, policy(n, item_type, key))
            assert resp.status_code == 200, resp.text
        raise AssertionError("the attempt did not finish")

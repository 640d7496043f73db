"""Reliability harness: a real ``uvicorn`` process on loopback against the session's test
database (SQLite or PostgreSQL), which a test may SIGKILL and start again on the same port;
candidates with tokens prepared through the in-process API.

Every server started here is killed in a ``finally`` (no orphans), every wait is bounded."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from etest.config import Settings
from etest.db import transaction
from etest.models import Candidate, Organization
from tests.attempt.conftest import Course, make_course
from tests.conftest import Headers
from tests.support.server import Server, device


@pytest.fixture
def server_factory(settings: Settings, app: FastAPI, tmp_path: Path) -> Iterator[Any]:
    """Make servers for one test; every one is stopped (or killed) at teardown."""
    servers: list[Server] = []

    def make() -> Server:
        server = Server(settings, tmp_path)
        servers.append(server)
        return server

    try:
        yield make
    finally:
        for server in servers:
            server.kill()


@pytest.fixture(scope="module")
def live(
    settings: Settings, app: FastAPI, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """One server for a module's tests that do not kill it."""
    server = Server(settings, tmp_path_factory.mktemp("server"))
    try:
        server.start()
        yield server
    finally:
        server.kill()


@pytest.fixture
async def http(live: Server) -> AsyncIterator[httpx.AsyncClient]:
    async with device(live) as c:
        yield c


async def tokens_for(
    app: FastAPI, course: Course, n: int, type_: str = "PT", level: str | None = None
) -> list[str]:
    """``n`` new candidates of the course's organization, one token each, written in one
    transaction through the token service's own insert (the API would take ~0.1 s a token)."""
    from etest.cli import cli_actor
    from etest.token.service import insert_token

    async with transaction(app.state.sessionmaker) as session:
        org = await session.scalar(select(Organization).where(Organization.uic == course.uic))
        assert org is not None
        candidates = [
            Candidate(
                organization_id=org.id,
                root_organization_id=org.root_id,
                email=f"{uuid.uuid4().hex}@example.org",
            )
            for _ in range(n)
        ]
        session.add_all(candidates)
        await session.flush()
        codes = []
        for candidate in candidates:
            _, _, code = await insert_token(
                session,
                cli_actor(),
                app.state.settings,
                candidate,
                org.uic,
                type_,
                level,
                course.plan,
                None,
            )
            codes.append(code)
    return codes


@pytest.fixture
async def pt_course(app: FastAPI, client: httpx.AsyncClient, su: Headers) -> Course:
    return await make_course(app, client, su, pt_engine="staged")


def right_answer(item: dict[str, Any], variant: int = 0) -> Any:
    """A correct answer for make_course's items, judged from the served view only (the keys
    there are fixed: single choice 'A', multiple choice A+C, text 'went'), in canonical form so
    that the stored value equals the value sent."""
    if item["type"] == "single_choice":
        return "A"
    if item["type"] == "multiple_choice":
        return ["A", "C"]
    if item["type"] == "text_entry":
        return ("went", "Went.", " WENT ", "went!")[variant % 4]
    raise AssertionError(f"make_course serves no {item['type']!r} item")


def wrong_answer(item: dict[str, Any]) -> Any:
    if item["type"] == "single_choice":
        return "B"
    if item["type"] == "multiple_choice":
        return ["B"]
    return "goed"


def fingerprint(item: dict[str, Any]) -> tuple[Any, ...]:
    """What identifies the served item in the candidate's view (the key is never shown)."""
    return (
        item["position"],
        item["type"],
        item["prompt"],
        tuple(o["id"] for o in item["options"]),
        item["served_at"],
    )


def is_problem(resp: httpx.Response, status: int, code: str) -> bool:
    return (
        resp.status_code == status
        and resp.headers.get("content-type", "").startswith("application/problem+json")
        and resp.json().get("type") == f"/errors/{code}"
        and resp.json().get("status") == status
    )

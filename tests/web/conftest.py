"""Fixtures of the page tests: a course with every item type and media (on top of
``tests.attempt.conftest.make_course``), candidates and tokens, a real ``uvicorn`` process on
loopback against the session's test database, and Debian's Chromium driven by Playwright.

The browser is never downloaded: when ``chromium`` or axe-core is missing the tests fail and say
to run ``scripts/install_browser_tools``."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from etest.config import Settings
from tests.attempt.conftest import Course, make_course
from tests.conftest import Headers, create_candidate, create_key, create_org
from tests.support.server import Server

ROOT = Path(__file__).resolve().parents[2]
AXE_JS = Path(__file__).parent / ".axe" / "node_modules" / "axe-core" / "axe.min.js"
ARTIFACTS = ROOT / "test-artifacts" / "web"
INSTALL_HINT = "run scripts/install_browser_tools (CI runs it through scripts/test)"

#: How Chromium must run here: no sandbox as root, and no background traffic to a closed network.
#: Playwright gives every launch a new empty --user-data-dir of its own.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

OGG = b"OggS" + bytes(range(256)) * 8  # not decodable: enough for the page to show controls


def _svg(label: str, colour: str) -> bytes:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="160" height="100" '
        f'viewBox="0 0 160 100"><rect width="160" height="100" fill="#f4f1e8"/>'
        f'<circle cx="80" cy="52" r="34" fill="{colour}"/>'
        f'<text x="80" y="96" font-size="12" text-anchor="middle">{label}</text>'
        f"</svg>"
    ).encode()


def _web_items(tag: str) -> list[dict[str, Any]]:
    cd = f"{tag}-a1"
    return [
        {
            "code": f"{tag}-w-order",
            "type": "ordering",
            "skill": "grammar",
            "level": "A1",
            "prompt": "Put the words in order to make a sentence.",
            "options": [
                {"id": "w1", "text": "I"},
                {"id": "w2", "text": "like"},
                {"id": "w3", "text": "green"},
                {"id": "w4", "text": "apples"},
            ],
            "key": {"order": ["w1", "w2", "w3", "w4"]},
            "can_do": f"{cd}-cd-g",
            "review_lessons": [f"{tag}-lesson-a1"],
            "irt": {"b": -1.5},
        },
        {
            "code": f"{tag}-w-match",
            "type": "matching",
            "skill": "vocabulary",
            "level": "A1",
            "prompt": "Which sound does each animal make?",
            "options": [
                {"id": "cat", "text": "a cat"},
                {"id": "dog", "text": "a dog"},
                {"id": "cow", "text": "a cow"},
            ],
            "targets": [
                {"id": "meow", "text": "meow"},
                {"id": "woof", "text": "woof"},
                {"id": "moo", "text": "moo"},
                {"id": "tweet", "text": "tweet"},
            ],
            "key": {"pairs": [["cat", "meow"], ["dog", "woof"], ["cow", "moo"]]},
            "can_do": f"{cd}-cd-v",
            "review_lessons": [f"{tag}-lesson-a1"],
            "irt": {"b": -1.5},
        },
        {
            "code": f"{tag}-w-listen",
            "type": "single_choice",
            "skill": "listening",
            "level": "A1",
            "prompt": "Listen. What does the girl want to eat?",
            "stimulus": {
                "audio": {"src": "media/girl.opus"},
                "image": {"src": "media/table.svg", "alt": "A kitchen table"},
                "transcript": "I would like an apple, please.",
            },
            "options": [
                {"id": "A", "text": "an apple"},
                {"id": "B", "text": "a pear"},
                {"id": "C", "text": "a cake"},
            ],
            "key": {"correct": ["A"]},
            "can_do": f"{cd}-cd-r",
            "review_lessons": [f"{tag}-lesson-a1"],
            "irt": {"b": -1.5},
        },
        {
            "code": f"{tag}-w-picture",
            "type": "single_choice",
            "skill": "reading",
            "level": "A1",
            "prompt": "<p>Which one is <b>green</b>?</p>",
            "options": [
                {"id": "A", "image": {"src": "media/green.svg", "alt": "a green ball"}},
                {"id": "B", "image": {"src": "media/red.svg", "alt": "a red ball"}},
            ],
            "key": {"correct": ["A"]},
            "can_do": f"{cd}-cd-r",
            "review_lessons": [f"{tag}-lesson-a1"],
            "irt": {"b": -1.5},
        },
    ]


def web_content(tag: str) -> bytes:
    """A zip: the media items, a CT A1 version 2 with every item type (a 30-minute limit), a
    PT version 2 whose first group mixes the types, and a CT A1+ with a 4-second question."""
    code = {lv: f"{tag}-{lv}" for lv in ("a1", "a1p", "a2")}
    bank = {
        "format": "etest-flow/1",
        "kind": "bank",
        "code": f"bank-web-{tag}",
        "version": 1,
        "title": "web media",
        "items": _web_items(tag),
    }
    ct = {
        "format": "etest-flow/1",
        "kind": "CT",
        "code": f"ct-{tag}-a1",
        "version": 2,
        "title": "Certification A1",
        "plan": f"p_{tag}",
        "level": "A1",
        "engine": {
            "type": "fixed",
            "time_limit_seconds": 1800,
            "sections": [
                {"skill": "listening", "count": 1, "pool": [f"{tag}-w-listen"]},
                {"skill": "reading", "count": 2, "pool": [f"{tag}-w-picture", f"{code['a1']}-r0"]},
                {"skill": "grammar", "count": 2, "pool": [f"{tag}-w-order", f"{code['a1']}-g0"]},
                {"skill": "vocabulary", "count": 2, "pool": [f"{tag}-w-match", f"{code['a1']}-v0"]},
            ],
        },
    }
    pt = {
        "format": "etest-flow/1",
        "kind": "PT",
        "code": f"pt-{tag}",
        "version": 2,
        "title": "Placement",
        "plan": f"p_{tag}",
        "engine": {
            "type": "staged",
            "groups": [
                {
                    "level": "A1",
                    "items": [
                        f"{tag}-w-order",
                        f"{tag}-w-match",
                        f"{tag}-w-listen",
                        f"{code['a1']}-g0",
                        f"{code['a1']}-v0",
                    ],
                },
                {
                    "level": "A1+",
                    "items": [
                        f"{code['a1p']}-r0",
                        f"{code['a1p']}-r1",
                        f"{code['a1p']}-g0",
                        f"{code['a1p']}-v0",
                    ],
                },
                {
                    "level": "A2",
                    "items": [
                        f"{code['a2']}-r0",
                        f"{code['a2']}-r1",
                        f"{code['a2']}-r2",
                        f"{code['a2']}-r3",
                    ],
                },
            ],
        },
    }
    timed = {
        "format": "etest-flow/1",
        "kind": "CT",
        "code": f"ct-{tag}-a1p",
        "version": 1,
        "title": "Certification A1+",
        "plan": f"p_{tag}",
        "level": "A1+",
        "engine": {
            "type": "fixed",
            "time_limit_seconds": 600,
            "item_time_limits": {"text_entry": 3},
            "sections": [
                {"skill": "grammar", "count": 2, "pool": [f"{code['a1p']}-g0", f"{code['a1p']}-g1"]}
            ],
        },
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for n, flow in enumerate((bank, ct, pt, timed)):
            zf.writestr(f"{n}.json", json.dumps(flow))
        zf.writestr("media/girl.opus", OGG)
        zf.writestr("media/table.svg", _svg("table", "#8a5a2b"))
        zf.writestr("media/green.svg", _svg("", "#2e7d32"))
        zf.writestr("media/red.svg", _svg("", "#c62828"))
    return buf.getvalue()


@dataclass
class WebCourse:
    course: Course
    app: FastAPI
    client: httpx.AsyncClient
    su: Headers

    @property
    def tag(self) -> str:
        return self.course.tag

    async def candidate(self, *, hide_result: bool = False) -> tuple[dict[str, Any], Headers]:
        """A new candidate (in an organization that hides results, if asked)."""
        if not hide_result:
            return await create_candidate(
                self.client, self.course.admin, uic=self.course.uic
            ), self.course.admin
        org = await create_org(
            self.client,
            self.su,
            plan_code=self.course.plan,
            settings={"show_result_to_candidate": False},
        )
        admin = await create_key(self.app, "admin", org["uic"])
        return await create_candidate(self.client, admin, uic=org["uic"]), admin

    async def token(
        self, type_: str = "PT", level: str | None = None, *, hide_result: bool = False
    ) -> str:
        """A token for a new candidate (so tests never share attempts or retake counts)."""
        candidate, admin = await self.candidate(hide_result=hide_result)
        body: dict[str, Any] = {"candidate_id": candidate["id"], "type": type_}
        if level:
            body["level"] = level
        resp = await self.client.post("/api/v1/tokens", headers=admin, json=body)
        assert resp.status_code == 201, resp.text
        code: str = resp.json()["code"]
        return code


@pytest.fixture(scope="session")
async def web_course(app: FastAPI, client: httpx.AsyncClient, su: Headers) -> WebCourse:
    course = await make_course(app, client, su)
    resp = await client.post(
        "/api/v1/content/import",
        headers=su,
        files={"file": ("web.zip", web_content(course.tag), "application/zip")},
    )
    assert resp.status_code == 200, resp.text
    return WebCourse(course, app, client, su)


@pytest.fixture
async def page_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process client with its own cookie jar (one browser, as it were)."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


# ---------------------------------------------------------------------------- a real server


@pytest.fixture(scope="session")
def web_server(
    settings: Settings, app: FastAPI, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """``uvicorn`` on 127.0.0.1 (random port) on the session's test database and media."""
    server = Server(settings, tmp_path_factory.mktemp("web-server"))
    try:
        server.start()
        yield server.base
    finally:
        server.stop()


# ---------------------------------------------------------------------------- the browser


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Any]:
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail(f"Debian's chromium is not installed: {INSTALL_HINT}")
    if not AXE_JS.is_file():
        pytest.fail(f"axe-core is not installed in {AXE_JS.parent}: {INSTALL_HINT}")
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        launched = await pw.chromium.launch(
            executable_path=executable, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS

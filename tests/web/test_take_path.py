"""``/take`` runs on the same path as the API: a step on the pages (answer, then the next item's
page) costs the same statements as a step on the API (answer, then the next item), on the hot path
(etest.attempt.delivery) of either database."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from etest.attempt import live
from tests.attempt.conftest import Taker, key_of, right
from tests.attempt.test_live import engine_statements
from tests.web.conftest import WebCourse
from tests.web.test_pages import assert_html_page, csrf_of, open_attempt, position_of, right_form

pytestmark = pytest.mark.asyncio


@contextmanager
def hot_statements(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The statements run on the hot path's own psycopg connections (PostgreSQL), counted by
    wrapping the real calls."""
    seen: list[str] = []
    rows, insert_new = live._PsycopgLive.rows, live._PsycopgLive.insert_new

    async def counted_rows(self: Any, stmt: Any, params: dict[str, Any]) -> Any:
        seen.append("SELECT")
        return await rows(self, stmt, params)

    async def counted_insert(self: Any, table: Any, values: dict[str, Any]) -> bool:
        seen.append("INSERT")
        return await insert_new(self, table, values)

    with monkeypatch.context() as m:
        m.setattr(live._PsycopgLive, "rows", counted_rows)
        m.setattr(live._PsycopgLive, "insert_new", counted_insert)
        yield seen


@contextmanager
def all_statements(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    with engine_statements(app) as engine, hot_statements(monkeypatch) as hot:
        both: list[str] = []
        yield both
        both.extend(engine + ["hot " + s for s in hot])


async def _page_step(
    app: FastAPI, client: httpx.AsyncClient, path: str, html: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, list[str]]:
    position = position_of(html)
    item_type, key = await key_of(app, path.rsplit("/", 1)[1], position)
    data = {"position": str(position), "csrf": csrf_of(html), **right_form(item_type, key, html)}
    with all_statements(app, monkeypatch) as statements:
        saved = await client.post(f"{path}/answer", data=data)
        assert saved.status_code == 303 and saved.headers["location"] == f"{path}?n=saved"
        page = assert_html_page(await client.get(saved.headers["location"]), 200)
    assert position_of(page) == position + 1
    return page, statements


async def test_a_page_step_costs_what_an_api_step_costs(
    app: FastAPI,
    client: httpx.AsyncClient,
    web_course: WebCourse,
    page_client: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the API: a CT at position 2 (the first item started the clock on the full rules)
    taker = Taker(app, client, await web_course.token("CT", "A1"))
    await taker.start()
    for position in (1, 2):
        assert (await taker.item())["item"]["position"] == position
        item_type, key = await key_of(app, taker.attempt_id, position)
        if position == 2:
            break
        assert (await taker.answer(position, right(item_type, key))).status_code == 200
    with all_statements(app, monkeypatch) as api:
        answered = await taker.answer(2, right(item_type, key))
        served = await taker.item()
    assert answered.status_code == 200 and served["item"]["position"] == 3

    # the pages: the same test at the same position
    path, start = await open_attempt(page_client, await web_course.token("CT", "A1"))
    await page_client.post(f"{path}/start", data={"csrf": csrf_of(start)})
    first = assert_html_page(await page_client.get(path), 200)
    second, _ = await _page_step(app, page_client, path, first, monkeypatch)
    _, pages = await _page_step(app, page_client, path, second, monkeypatch)

    assert pages == api
    if app.state.engine.dialect.name == "postgresql":
        assert api == ["hot SELECT", "hot INSERT"] * 2  # nothing through SQLAlchemy's engine
    else:
        assert api == ["BEGIN", "SELECT", "INSERT"] * 2

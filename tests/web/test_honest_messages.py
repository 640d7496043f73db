"""Issue 15, honest messages on the candidate's pages: the start page says when the clock really
starts (with the first question, not at token entry), and a question whose time ran out says so
on the next page, whether a late answer arrived or no answer came at all (``role="status"``)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from etest.db import transaction
from etest.models import Attempt, AttemptItem
from etest.models import Response as ResponseRow
from etest.models.base import utcnow
from tests.attempt.conftest import key_of
from tests.web.conftest import WebCourse
from tests.web.test_pages import assert_html_page, csrf_of, open_attempt, position_of, right_form

pytestmark = pytest.mark.asyncio

LATE = (
    '<p class="notice" role="status">The time for the last question ran out before your answer '
    "arrived, so your answer was not counted: that question counts as wrong.</p>"
)
TIMED_OUT = (
    '<p class="notice" role="status">The time for the last question ran out before you '
    "answered, so that question counts as wrong.</p>"
)


def attempt_id_of(path: str) -> uuid.UUID:
    return uuid.UUID(path.rsplit("/", 1)[1])


async def deadline_of(app: FastAPI, path: str) -> object:
    async with transaction(app.state.sessionmaker) as session:
        attempt = await session.get(Attempt, attempt_id_of(path))
        assert attempt is not None
        return attempt.deadline


async def run_out(app: FastAPI, path: str, position: int) -> None:
    """The served question's time ran out a while ago (past the server's grace)."""
    async with transaction(app.state.sessionmaker) as session:
        await session.execute(
            update(AttemptItem)
            .where(AttemptItem.attempt_id == attempt_id_of(path), AttemptItem.position == position)
            .values(deadline=utcnow() - timedelta(seconds=30))
        )


async def response_at(app: FastAPI, path: str, position: int) -> ResponseRow:
    async with transaction(app.state.sessionmaker) as session:
        row = await session.scalar(
            select(ResponseRow).where(
                ResponseRow.attempt_id == attempt_id_of(path), ResponseRow.position == position
            )
        )
    assert row is not None
    return row


async def started(client: httpx.AsyncClient, token: str) -> tuple[str, str]:
    """Open the attempt and start it; the path and the first question's page."""
    path, start = await open_attempt(client, token)
    resp = await client.post(f"{path}/start", data={"csrf": csrf_of(start)})
    assert resp.status_code == 303
    return path, assert_html_page(await client.get(path), 200)


async def test_start_page_says_the_clock_starts_with_the_first_question(
    app: FastAPI, web_course: WebCourse, page_client: httpx.AsyncClient
) -> None:
    path, start = await open_attempt(page_client, await web_course.token("CT", "A1"))
    assert "30 minutes for the whole test." in start
    assert "started when you entered your token" not in start
    words = " ".join(start.split())
    assert (
        "The clock has not started yet: it starts when you select “Start the test” and the first"
        " question appears." in words
    )
    # and that is true: entering the token set no deadline, the first question does
    assert await deadline_of(app, path) is None
    await page_client.post(f"{path}/start", data={"csrf": csrf_of(start)})
    assert await deadline_of(app, path) is not None


async def test_start_page_of_an_untimed_test_and_of_timed_questions(
    web_course: WebCourse, page_client: httpx.AsyncClient
) -> None:
    _, pt = await open_attempt(page_client, await web_course.token("PT"))
    assert "No time limit for the whole test." in " ".join(pt.split()) and "clock" not in pt
    _, timed = await open_attempt(page_client, await web_course.token("CT", "A1+"))
    assert "Some questions have their own time limit. It starts when that question appears;" in (
        " ".join(timed.split())
    )
    assert "a question whose time runs out counts as wrong." in timed


async def test_a_late_answer_is_said_not_to_count(
    app: FastAPI, web_course: WebCourse, page_client: httpx.AsyncClient
) -> None:
    path, html = await started(page_client, await web_course.token("CT", "A1"))
    position = position_of(html)
    item_type, key = await key_of(app, str(attempt_id_of(path)), position)
    await run_out(app, path, position)
    data = {"position": str(position), "csrf": csrf_of(html), **right_form(item_type, key, html)}
    resp = await page_client.post(f"{path}/answer", data=data)
    assert resp.status_code == 303 and resp.headers["location"] == f"{path}?n=late"
    page = assert_html_page(await page_client.get(resp.headers["location"]), 200)
    assert LATE in page and f"Question {position + 1} of 7" in page
    stored = await response_at(app, path, position)
    assert stored.timed_out and stored.correct is False  # what the sentence says


async def test_a_question_whose_time_ran_out_unanswered_says_so_once(
    app: FastAPI, web_course: WebCourse, page_client: httpx.AsyncClient
) -> None:
    path, html = await started(page_client, await web_course.token("CT", "A1"))
    assert TIMED_OUT not in html
    await run_out(app, path, position_of(html))
    page = assert_html_page(await page_client.get(path), 200)
    assert TIMED_OUT in page and "Question 2 of 7" in page
    stored = await response_at(app, path, 1)
    assert stored.timed_out and stored.answer is None and stored.correct is False
    again = assert_html_page(await page_client.get(path), 200)  # a reload: said once
    assert "Question 2 of 7" in again and TIMED_OUT not in again


async def test_the_last_question_running_out_is_said_on_the_result_page(
    app: FastAPI, web_course: WebCourse, page_client: httpx.AsyncClient
) -> None:
    path, html = await started(page_client, await web_course.token("CT", "A1+"))
    await run_out(app, path, 1)
    html = assert_html_page(await page_client.get(path), 200)
    assert TIMED_OUT in html and "Question 2 of 2" in html
    await run_out(app, path, 2)
    result = assert_html_page(await page_client.get(path), 200)
    assert "Your result" in result and TIMED_OUT in result


async def test_a_late_last_answer_is_said_on_the_result_page(
    app: FastAPI, web_course: WebCourse, page_client: httpx.AsyncClient
) -> None:
    path, html = await started(page_client, await web_course.token("CT", "A1+"))
    await run_out(app, path, 1)
    html = assert_html_page(await page_client.get(path), 200)
    position = position_of(html)
    item_type, key = await key_of(app, str(attempt_id_of(path)), position)
    await run_out(app, path, position)
    data = {"position": str(position), "csrf": csrf_of(html), **right_form(item_type, key, html)}
    resp = await page_client.post(f"{path}/answer", data=data)
    assert resp.headers["location"] == f"{path}?n=late"
    result = assert_html_page(await page_client.get(resp.headers["location"]), 200)
    assert "Your result" in result and LATE in result
    assert "Your answer was saved." not in result

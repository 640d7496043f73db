"""``/take`` over HTTP, without a browser: the token form and its errors, the cookie, CSRF,
someone else's attempt, answers refused with a sentence, and HTML (never a stack trace or
problem+json) for every error."""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from etest.db import transaction
from etest.models import AttemptItem
from etest.models import Response as ResponseRow
from tests.attempt.conftest import key_of
from tests.web.conftest import WebCourse

pytestmark = pytest.mark.asyncio


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def position_of(html: str) -> int:
    found = re.search(r'name="position" value="(\d+)"', html)
    assert found, "no position field on the page"
    return int(found.group(1))


def assert_html_page(resp: httpx.Response, status: int) -> str:
    assert resp.status_code == status, resp.text[:500]
    assert resp.headers["content-type"].startswith("text/html")
    assert "no-store" in resp.headers["cache-control"]
    assert "script-src 'self'" in resp.headers["content-security-policy"]
    html = resp.text
    assert html.count("<h1") == 1
    assert '<html lang="en">' in html
    for leak in ("Traceback", 'File "/', "sqlalchemy", "problem+json", "internal-error"):
        assert leak not in html
    return html


async def form_csrf(client: httpx.AsyncClient) -> str:
    """Open the token form as a browser does (it binds the form to a cookie); its CSRF field."""
    return csrf_of((await client.get("/take")).text)


async def open_attempt(client: httpx.AsyncClient, token: str) -> tuple[str, str]:
    """Enter the token; returns the attempt path and the start page."""
    resp = await client.post("/take", data={"token": token, "csrf": await form_csrf(client)})
    assert resp.status_code == 303, resp.text
    path = resp.headers["location"]
    assert re.fullmatch(r"/take/[0-9a-f-]{36}", path)
    page = await client.get(path)
    return path, assert_html_page(page, 200)


def right_form(item_type: str, key: dict[str, Any], html: str) -> dict[str, Any]:
    """The form fields of the right answer to the item on ``html`` (whose key is ``key``)."""
    if item_type == "ordering":
        return {f"order-{n}": o for n, o in enumerate(key["order"], 1)}
    if item_type == "matching":
        served = re.findall(r'data-option="([^"]+)"', html)
        pairs = dict(key["pairs"])
        return {f"match-{n}": pairs[o] for n, o in enumerate(served, 1)}
    if item_type == "text_entry":
        return {"answer": "went"}
    if item_type == "multiple_choice":
        return {"answer": key["correct"]}
    return {"answer": key["correct"][0]}


async def served_count(app: FastAPI, attempt_path: str) -> tuple[int, int]:
    attempt_id = uuid.UUID(attempt_path.rsplit("/", 1)[1])
    async with transaction(app.state.sessionmaker) as session:
        served = await session.scalar(
            select(func.count())
            .select_from(AttemptItem)
            .where(AttemptItem.attempt_id == attempt_id)
        )
        answered = await session.scalar(
            select(func.count())
            .select_from(ResponseRow)
            .where(ResponseRow.attempt_id == attempt_id)
        )
    return served or 0, answered or 0


async def test_token_form(page_client: httpx.AsyncClient) -> None:
    html = assert_html_page(await page_client.get("/take"), 200)
    assert '<label for="token"' in html and 'autocomplete="off"' in html
    assert 'method="post" action="/take"' in html
    css = await page_client.get(re.search(r'href="(/static/take\.css\?v=\w+)"', html)[1])  # type: ignore[index]
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")


@pytest.mark.parametrize(
    ("token", "status", "message"),
    [
        ("", 422, "Enter the test token you were given."),
        ("   ", 422, "Enter the test token you were given."),
        ("x" * 201, 422, "This is too long to be a test token."),
        ("no-such-token-here", 404, "No test token with this code."),
    ],
)
async def test_token_errors_render_the_form_again(
    page_client: httpx.AsyncClient, token: str, status: int, message: str
) -> None:
    csrf = await form_csrf(page_client)
    html = assert_html_page(
        await page_client.post("/take", data={"token": token, "csrf": csrf}), status
    )
    assert message in html
    assert 'role="alert"' in html and "<title>Error: " in html
    assert 'aria-describedby="token-hint token-error"' in html
    assert 'aria-invalid="true"' in html and 'href="#token"' in html
    assert "set-cookie" not in {k.lower() for k in (await page_client.get("/take")).headers}


async def test_revoked_token(web_course: WebCourse, page_client: httpx.AsyncClient) -> None:
    candidate, admin = await web_course.candidate()
    issued = await web_course.client.post(
        "/api/v1/tokens", headers=admin, json={"candidate_id": candidate["id"], "type": "PT"}
    )
    token = issued.json()
    await web_course.client.post(f"/api/v1/tokens/{token['id']}/revoke", headers=admin)
    data = {"token": token["code"], "csrf": await form_csrf(page_client)}
    html = assert_html_page(await page_client.post("/take", data=data), 410)
    assert "revoked" in html and token["code"] in html


async def test_link_sets_a_strict_http_only_cookie(
    web_course: WebCourse, page_client: httpx.AsyncClient
) -> None:
    token = await web_course.token("PT")
    resp = await page_client.get("/take", params={"token": token})
    assert resp.status_code == 303
    cookie = resp.headers["set-cookie"]
    assert cookie.startswith("etest_take=")
    for part in ("HttpOnly", "SameSite=strict", "Path=/take", "Max-Age="):
        assert part.lower() in cookie.lower(), cookie
    assert "secure" not in cookie.lower()
    # the same token again resumes the same attempt
    again = await page_client.get("/take", params={"token": token})
    assert again.headers["location"] == resp.headers["location"]
    # the form offers to continue
    assert f'href="{resp.headers["location"]}"' in (await page_client.get("/take")).text


async def test_cookie_is_secure_over_https(app: FastAPI, web_course: WebCourse) -> None:
    token = await web_course.token("PT")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://testserver") as c:
        resp = await c.post("/take", data={"token": token, "csrf": await form_csrf(c)})
    assert resp.status_code == 303
    assert "secure" in resp.headers["set-cookie"].lower()


async def test_link_from_another_site_continues_from_our_own_page(
    web_course: WebCourse, page_client: httpx.AsyncClient
) -> None:
    token = await web_course.token("PT")
    resp = await page_client.get(
        "/take", params={"token": token}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    html = assert_html_page(resp, 200)
    target = re.search(r'content="0; url=(/take/[0-9a-f-]{36})"', html)
    assert target and f'href="{target[1]}"' in html
    assert resp.headers["set-cookie"].startswith("etest_take=")
    # a cross-site POST of the form is refused (login CSRF)
    refused = await page_client.post(
        "/take", data={"token": token}, headers={"Sec-Fetch-Site": "cross-site"}
    )
    assert_html_page(refused, 403)


async def test_csrf_is_required_on_every_post(
    app: FastAPI, web_course: WebCourse, page_client: httpx.AsyncClient
) -> None:
    path, start = await open_attempt(page_client, await web_course.token("CT", "A1"))
    for data in ({}, {"csrf": "forged"}, {"csrf": csrf_of(start) + "x"}):
        html = assert_html_page(await page_client.post(f"{path}/start", data=data), 403)
        assert "out of date" in html
    assert await served_count(app, path) == (0, 0)
    resp = await page_client.post(f"{path}/start", data={"csrf": csrf_of(start)})
    assert resp.status_code == 303 and resp.headers["location"] == path
    item = assert_html_page(await page_client.get(path), 200)
    position = position_of(item)
    item_type, key = await key_of(app, path.rsplit("/", 1)[1], position)
    answer = {"text_entry": "went", "single_choice": key.get("correct", ["A"])[0]}.get(
        item_type, "A"
    )
    bad = await page_client.post(
        f"{path}/answer", data={"position": str(position), "answer": answer, "csrf": "nope"}
    )
    assert_html_page(bad, 403)
    for odd in ("²", "-1", "99999999", "", "1e3"):  # a position that is not served
        resp = await page_client.post(
            f"{path}/answer", data={"position": odd, "answer": answer, "csrf": csrf_of(item)}
        )
        assert resp.status_code == 303 and resp.headers["location"] == f"{path}?n=moved"
    finish = await page_client.post(f"{path}/finish", data={"csrf": "nope"})
    assert_html_page(finish, 403)
    assert await served_count(app, path) == (1, 0)


async def test_someone_elses_attempt_is_a_404_page(
    web_course: WebCourse, app: FastAPI, page_client: httpx.AsyncClient
) -> None:
    mine, _ = await open_attempt(page_client, await web_course.token("PT"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
        theirs, _ = await open_attempt(other, await web_course.token("PT"))
        # my cookie on their attempt, their cookie on mine, no cookie, a forged secret
        for client, path in ((page_client, theirs), (other, mine)):
            html = assert_html_page(await client.get(path), 404)
            assert "not open in this browser" in html and 'href="/take"' in html
            assert_html_page(await client.post(f"{path}/start", data={"csrf": "x"}), 404)
    bare = httpx.AsyncClient(transport=transport, base_url="http://testserver")
    async with bare:
        assert_html_page(await bare.get(mine), 404)
        bare.cookies.set("etest_take", f"{mine.rsplit('/', 1)[1]}:forged", path="/take")
        assert_html_page(await bare.get(mine), 404)
        assert_html_page(await bare.get("/take/not-a-uuid"), 404)
        assert_html_page(await bare.get(f"{mine}/no-such-page"), 404)


async def test_answers_are_checked_with_sentences(
    app: FastAPI, web_course: WebCourse, page_client: httpx.AsyncClient
) -> None:
    path, start = await open_attempt(page_client, await web_course.token("CT", "A1"))
    await page_client.post(f"{path}/start", data={"csrf": csrf_of(start)})
    attempt_id = path.rsplit("/", 1)[1]
    seen: set[str] = set()
    for _ in range(7):
        html = assert_html_page(await page_client.get(path), 200)
        if "Your result" in html:
            break
        position = position_of(html)
        item_type, key = await key_of(app, attempt_id, position)
        seen.add(item_type)
        base = {"position": str(position), "csrf": csrf_of(html)}
        refused = await page_client.post(f"{path}/answer", data=base)
        page = assert_html_page(refused, 422)
        assert 'role="alert"' in page and 'id="answer-error"' in page
        assert "answer-error" in re.search(r'aria-describedby="([^"]*answer-error[^"]*)"', page)[1]  # type: ignore[index]
        if item_type == "ordering":
            # a part twice: refused, and the choices are kept on the page
            twice = {**base, "order-1": "w1", "order-2": "w1", "order-3": "w3", "order-4": "w4"}
            page = assert_html_page(await page_client.post(f"{path}/answer", data=twice), 422)
            assert "exactly one position" in page
            assert page.count('value="w1" selected') == 2
        data = {**base, **right_form(item_type, key, html)}
        saved = await page_client.post(f"{path}/answer", data=data)
        assert saved.status_code == 303 and saved.headers["location"] == f"{path}?n=saved"
        # the same form again (a double click, Back then submit): the current item is shown
        again = await page_client.post(f"{path}/answer", data=data)
        assert again.status_code == 303
        assert again.headers["location"] in (f"{path}?n=saved", f"{path}?n=answered")
    assert seen == {"single_choice", "multiple_choice", "text_entry", "ordering", "matching"}
    result = assert_html_page(await page_client.get(path), 200)
    assert "You passed" in result and "100%" in result


async def test_finish_is_for_a_ct_only_and_confirmed(
    app: FastAPI, web_course: WebCourse, page_client: httpx.AsyncClient
) -> None:
    pt, start = await open_attempt(page_client, await web_course.token("PT"))
    assert "The test adapts to you" in start and "Check your sound" in start
    await page_client.post(f"{pt}/start", data={"csrf": csrf_of(start)})
    item = assert_html_page(await page_client.get(pt), 200)
    assert "Finish the test now" not in item and "Questions answered: 0" in item
    assert (await page_client.get(f"{pt}/finish")).status_code == 303
    resp = await page_client.post(f"{pt}/finish", data={"csrf": csrf_of(item)})
    assert resp.status_code == 303
    assert "Question 1" in (await page_client.get(pt)).text  # a PT is not finished early

    ct, start = await open_attempt(page_client, await web_course.token("CT", "A1"))
    assert "7 questions" in start and "30 minutes" in start
    await page_client.post(f"{ct}/start", data={"csrf": csrf_of(start)})
    item = assert_html_page(await page_client.get(ct), 200)
    assert "Question 1 of 7" in item and '<progress id="progress" max="7" value="0"' in item
    assert "Time left for the test" in item
    confirm = assert_html_page(await page_client.get(f"{ct}/finish"), 200)
    assert "count as wrong" in confirm
    resp = await page_client.post(f"{ct}/finish", data={"csrf": csrf_of(confirm)})
    assert resp.status_code == 303
    result = assert_html_page(await page_client.get(ct), 200)
    assert "You did not pass this time" in result and "What to work on" in result
    assert "your score is 0%." in result


async def test_hidden_result_shows_thanks(
    web_course: WebCourse, page_client: httpx.AsyncClient
) -> None:
    ct, start = await open_attempt(
        page_client, await web_course.token("CT", "A1", hide_result=True)
    )
    await page_client.post(f"{ct}/start", data={"csrf": csrf_of(start)})
    confirm = (await page_client.get(f"{ct}/finish")).text
    await page_client.post(f"{ct}/finish", data={"csrf": csrf_of(confirm)})
    html = assert_html_page(await page_client.get(ct), 200)
    assert "Thank you" in html and "score" not in html and "pass" not in html.lower()


async def test_unexpected_errors_are_an_html_page(
    monkeypatch: pytest.MonkeyPatch, web_course: WebCourse, page_client: httpx.AsyncClient
) -> None:
    path, start = await open_attempt(page_client, await web_course.token("PT"))

    async def broken(*_: object, **__: object) -> None:
        raise RuntimeError("boom: secret internals")

    monkeypatch.setattr("etest.web.take.delivery.serve", broken)
    resp = await page_client.post(f"{path}/start", data={"csrf": csrf_of(start)})
    html = assert_html_page(resp, 500)
    assert "boom" not in html and "Something went wrong" in html

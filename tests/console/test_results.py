"""The console's results: the filterable list, a placement result (level, confidence chart,
skills), a certification result (score, pass mark, Can't-Do, review list, the answer log with
answers and keys only for the roles that read keys), tenancy (another tree's result is the one
404 page), in process without JavaScript and in Chromium.

The world is real: every attempt runs through the candidate API (tests/attempt/conftest.py)."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from playwright.async_api import expect

from etest.console.results import Filters, _read
from tests.attempt.conftest import Course, Taker, make_course, right, wrong
from tests.conftest import Headers, create_candidate, create_key, create_org
from tests.console.conftest import ConsoleClient, Staff, make_staff


@dataclass
class World:
    """P (the course's organization) with child A; X, another customer's tree.

    Finished: ``pt_alice`` (P, all right: placed A2), ``ct_bob`` (A, CT A1 passed),
    ``ct_carol`` (A, CT A1 failed), ``pt_xena`` (X, placed). ``running``: a PT of P that has
    served one item. One token of P expires in three days."""

    course: Course
    uic: dict[str, str]
    key: dict[str, Headers]
    candidate: dict[str, dict[str, Any]]
    attempt: dict[str, str]
    before: datetime


async def _finish(
    app: FastAPI, client: httpx.AsyncClient, w: World, name: str, who: str, kind: str, good: bool
) -> None:
    org = "X" if who == "xena" else ("A" if who in ("bob", "carol") else "P")
    body: dict[str, Any] = {"candidate_id": w.candidate[who]["id"], "type": kind}
    if kind == "CT":
        body["level"] = "A1"
    resp = await client.post("/api/v1/tokens", headers=w.key[org], json=body)
    assert resp.status_code == 201, resp.text
    taker = Taker(app, client, resp.json()["code"])
    assert (await taker.start(**{"User-Agent": "Console test browser"})).status_code == 201
    await taker.run(lambda _n, t, k: right(t, k) if good else wrong(t, k))
    w.attempt[name] = taker.attempt_id


async def build_world(app: FastAPI, client: httpx.AsyncClient, su: Headers) -> World:
    course = await make_course(app, client, su, pt_engine="irt")
    uic = {"P": course.uic}
    uic["A"] = (await create_org(client, su, parent=uic["P"], name="A", plan_code=course.plan))[
        "uic"
    ]
    uic["X"] = (await create_org(client, su, name="X", plan_code=course.plan))["uic"]
    key = {
        "P": course.admin,
        "A": await create_key(app, "admin", uic["A"]),
        "X": await create_key(app, "admin", uic["X"]),
    }
    candidate = {}
    for name, org in (("alice", "P"), ("bob", "A"), ("carol", "A"), ("xena", "X")):
        candidate[name] = await create_candidate(
            client, key[org], uic=uic[org], first_name=name.title(), last_name="Tester"
        )
    w = World(course, uic, key, candidate, {}, datetime.now(UTC))
    await _finish(app, client, w, "pt_alice", "alice", "PT", True)
    await _finish(app, client, w, "ct_bob", "bob", "CT", True)
    await _finish(app, client, w, "ct_carol", "carol", "CT", False)
    await _finish(app, client, w, "pt_xena", "xena", "PT", True)
    running = Taker(app, client, await course.token(client, "PT"))
    assert (await running.start()).status_code == 201
    await running.item()
    w.attempt["running"] = running.attempt_id
    dave = await create_candidate(client, course.admin, uic=uic["P"], first_name="Dave")
    soon = await client.post(
        "/api/v1/tokens",
        headers=course.admin,
        json={"candidate_id": dave["id"], "type": "PT", "expires_in_days": 3},
    )
    assert soon.status_code == 201, soon.text
    return w


@pytest.fixture(scope="module")
async def world(app: FastAPI, client: httpx.AsyncClient, su: Headers) -> World:
    return await build_world(app, client, su)


async def signed_in(app: FastAPI, console: ConsoleClient, role: str, uic: str | None) -> Staff:
    staff = await make_staff(app, role, uic)
    await console.sign_in(staff)
    return staff


def listed(html: str) -> set[str]:
    return set(re.findall(r'href="/console/results/([0-9a-f-]{36})"', html))


def names(world: World, ids: set[str]) -> set[str]:
    by_id = {v: k for k, v in world.attempt.items()}
    return {by_id.get(i, i) for i in ids}


FINISHED_P = {"pt_alice", "ct_bob", "ct_carol"}


async def test_the_list_shows_the_subtree_and_filters_it(
    app: FastAPI, world: World, console: ConsoleClient
) -> None:
    await signed_in(app, console, "viewer", world.uic["P"])
    page = await console.get("/console/results")
    assert page.status_code == 200
    assert "<h1>Results</h1>" in page.text
    assert names(world, listed(page.text)) == FINISHED_P  # not X's, not the running one
    today = datetime.now(UTC).date()
    cases: list[tuple[dict[str, str], set[str]]] = [
        ({"type": "PT"}, {"pt_alice"}),
        ({"type": "CT"}, {"ct_bob", "ct_carol"}),
        ({"outcome": "passed"}, {"ct_bob"}),
        ({"outcome": "failed"}, {"ct_carol"}),
        ({"outcome": "placed"}, {"pt_alice"}),
        ({"level": "A2"}, {"pt_alice"}),
        ({"level": "A1", "type": "CT"}, {"ct_bob", "ct_carol"}),
        ({"q": "caro"}, {"ct_carol"}),
        ({"q": "BOB TESTER"}, {"ct_bob"}),
        ({"q": world.candidate["alice"]["email"][:8]}, {"pt_alice"}),
        ({"uic": world.uic["A"]}, {"ct_bob", "ct_carol"}),
        ({"uic": world.uic["P"], "scope": "only"}, {"pt_alice"}),
        ({"uic": world.uic["P"].lower()}, FINISHED_P),
        ({"from": today.isoformat(), "to": today.isoformat()}, FINISHED_P),
        ({"to": (today - timedelta(days=1)).isoformat()}, set()),
        ({"review": "decided"}, set()),
    ]
    for params, expected in cases:
        resp = await console.get("/console/results", params=params)
        assert resp.status_code == 200, (params, resp.text[:300])
        assert names(world, listed(resp.text)) == expected, params
        assert f"{len(expected)} results" in resp.text


async def test_bad_filters_re_render_the_form_with_the_error(
    app: FastAPI, world: World, console: ConsoleClient
) -> None:
    await signed_in(app, console, "admin", world.uic["P"])
    bad_level = await console.get("/console/results", params={"level": "Z9", "q": "bob"})
    assert bad_level.status_code == 422
    assert "Unknown level" in bad_level.text and 'value="bob"' in bad_level.text
    reversed_ = await console.get(
        "/console/results", params={"from": "2026-02-02", "to": "2026-02-01"}
    )
    assert reversed_.status_code == 422
    assert "The last day must not be before the first day." in reversed_.text
    not_a_date = await console.get("/console/results", params={"from": "yesterday"})
    assert not_a_date.status_code == 422 and "YYYY-MM-DD" in not_a_date.text
    # another tree's organization reads exactly like one that does not exist
    foreign = await console.get("/console/results", params={"uic": world.uic["X"]})
    missing = await console.get("/console/results", params={"uic": "NOSUCHUIC1"})
    assert foreign.status_code == missing.status_code == 422
    assert "No organization with this UIC among yours." in foreign.text
    assert foreign.text.replace(world.uic["X"], "NOSUCHUIC1") == missing.text
    odd = await console.get("/console/results", params={"outcome": "maybe", "type": "XX"})
    assert odd.status_code == 422 and "Choose an outcome from the list." in odd.text


async def test_the_list_is_the_apis_list(
    app: FastAPI, client: httpx.AsyncClient, world: World, console: ConsoleClient
) -> None:
    """The page and GET /api/v1/results are one service: the same filters give the same
    results in the same order."""
    await signed_in(app, console, "admin", world.uic["P"])
    for page_params, api_params in (
        ({}, {}),
        ({"type": "CT", "outcome": "failed"}, {"type": "CT", "passed": "false"}),
        (
            {"uic": world.uic["A"], "scope": "only"},
            {"uic": world.uic["A"], "include_descendants": "false"},
        ),
        ({"q": "BOB TESTER"}, {"q": "BOB TESTER"}),
    ):
        html = (await console.get("/console/results", params=page_params)).text
        api = await client.get("/api/v1/results", headers=world.key["P"], params=api_params)
        assert api.status_code == 200, api.text
        in_page = re.findall(r'href="/console/results/([0-9a-f-]{36})"', html)
        assert in_page == [i["attempt_id"] for i in api.json()["items"]], page_params
        if "q" in api_params:
            assert in_page == [world.attempt["ct_bob"]]


def test_the_filters_read_from_the_query() -> None:
    f, kwargs, page = _read(
        {
            "type": "CT",
            "uic": "abc",
            "scope": "only",
            "to": "2026-03-01",
            "q": " a\x00b ",
            "page": "3",
        }
    )
    assert not f.errors and page == 3
    assert kwargs["kind"] == "CT" and kwargs["uic"] == "ABC"
    assert kwargs["include_descendants"] is False
    assert kwargs["finished_to"] == datetime(2026, 3, 2, tzinfo=UTC)  # the day is included
    assert kwargs["search"] == "ab"
    assert f.query() == "type=CT&uic=abc&scope=only&to=2026-03-01&q=ab"
    assert Filters().query() == "" and _read({"page": "x"})[2] == 1


async def test_a_placement_result_page(app: FastAPI, world: World, console: ConsoleClient) -> None:
    await signed_in(app, console, "admin", world.uic["P"])
    page = await console.get(f"/console/results/{world.attempt['pt_alice']}")
    assert page.status_code == 200, page.text[:500]
    html = page.text
    assert "<h1>Placement result</h1>" in html
    assert "<strong>A2</strong>" in html
    assert "Confidence" in html and 'class="chart chart-columns"' in html
    assert "<title id=" in html and "<desc id=" in html and " style=" not in html
    assert "Right answers by skill" in html and "Reading" in html
    assert "Answer by answer" in html and "Alice Tester" in html
    assert "Not shown" in html  # the items are active: no answers for an admin
    assert ">Key<" not in html


async def test_a_certification_result_page_with_its_answer_log(
    app: FastAPI, world: World, console: ConsoleClient
) -> None:
    await signed_in(app, console, "support", world.uic["P"])
    failed = await console.get(f"/console/results/{world.attempt['ct_carol']}")
    assert failed.status_code == 200, failed.text[:500]
    html = failed.text
    assert "<h1>Certification result A1</h1>" in html
    assert "pass mark 70 %" in html and "Failed" in html
    assert "Cannot yet" in html  # Can't-Do statements of the missed items
    assert "Lesson A1" in html  # the review list
    assert html.count('class="badge badge-bad">Wrong<') == 4
    assert "Not shown" in html and "goed" not in html and ">Key<" not in html
    passed = await console.get(f"/console/results/{world.attempt['ct_bob']}")
    assert "Passed" in passed.text and passed.text.count(">Right</span>") == 4


async def test_a_global_superadmin_reads_answers_and_keys(
    app: FastAPI, world: World, console: ConsoleClient
) -> None:
    await signed_in(app, console, "superadmin", None)
    page = await console.get(f"/console/results/{world.attempt['ct_carol']}")
    assert page.status_code == 200
    assert ">Key<" in page.text and "Not shown" not in page.text
    assert "goed" in page.text  # the text typed
    assert "went" in page.text  # the text entry item's key


async def test_another_trees_result_is_the_same_404_as_a_missing_one(
    app: FastAPI, world: World, console: ConsoleClient
) -> None:
    await signed_in(app, console, "admin", world.uic["X"])
    foreign = await console.get(f"/console/results/{world.attempt['pt_alice']}")
    missing = await console.get(f"/console/results/{uuid.uuid4()}")
    garbled = await console.get("/console/results/not-an-id")
    assert foreign.status_code == missing.status_code == garbled.status_code == 404
    assert foreign.text == missing.text == garbled.text
    assert "<h1>Page not found</h1>" in foreign.text
    own = await console.get(f"/console/results/{world.attempt['pt_xena']}")
    assert own.status_code == 200
    listing = await console.get("/console/results")
    assert names(world, listed(listing.text)) == {"pt_xena"}


async def test_a_running_attempt_has_no_result_yet(
    app: FastAPI, world: World, console: ConsoleClient
) -> None:
    await signed_in(app, console, "viewer", world.uic["P"])
    resp = await console.get(f"/console/results/{world.attempt['running']}")
    assert resp.status_code == 409
    assert "has not finished yet" in resp.text


async def test_a_content_manager_sees_no_results(
    app: FastAPI, world: World, console: ConsoleClient
) -> None:
    await signed_in(app, console, "content_manager", None)
    listing = await console.get("/console/results")
    assert listing.status_code == 200 and not listed(listing.text)
    one = await console.get(f"/console/results/{world.attempt['pt_alice']}")
    assert one.status_code == 404


# ---------------------------------------------------------------------------- in Chromium


async def test_results_in_a_browser(app: FastAPI, world: World, open_tab: Any) -> None:
    staff = await make_staff(app, "admin", world.uic["P"], name="Results Admin")
    tab = await open_tab("results-")
    await tab.sign_in(staff)
    await tab.goto("/console/results")
    await expect(tab.page.get_by_role("heading", level=1)).to_have_text("Results")
    await tab.check("list")
    await tab.page.get_by_label("Candidate").fill("carol")
    await tab.page.get_by_label("Test", exact=True).select_option("CT")
    await tab.submit("Filter")
    assert "q=carol" in tab.page.url
    await expect(tab.page.get_by_role("status")).to_have_text("1 results")
    await tab.check("list-filtered")
    async with tab.page.expect_navigation():
        await tab.page.get_by_role("link", name="Carol Tester").click()
    await expect(tab.page.get_by_role("heading", level=1)).to_have_text("Certification result A1")
    await expect(tab.page.get_by_role("region", name="Answer log")).to_be_visible()
    await tab.check("ct")
    await tab.goto(f"/console/results/{world.attempt['pt_alice']}")
    await expect(tab.page.get_by_role("img", name=re.compile("How sure"))).to_be_visible()
    await tab.check("pt")
    tab.assert_clean()


async def test_a_result_page_on_a_phone_and_the_404_of_another_tree(
    app: FastAPI, world: World, open_tab: Any
) -> None:
    staff = await make_staff(app, "viewer", world.uic["X"])
    tab = await open_tab("results-phone-", phone=True)
    await tab.sign_in(staff)
    await tab.goto(f"/console/results/{world.attempt['pt_xena']}")
    await expect(tab.page.get_by_role("heading", level=1)).to_have_text("Placement result")
    await tab.check("pt")
    await tab.goto(f"/console/results/{world.attempt['ct_bob']}")
    await expect(tab.page.get_by_role("heading", level=1)).to_have_text("Page not found")
    await tab.check("404")
    tab.assert_clean()


async def test_answers_to_retired_items_are_shown_to_an_admin(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, console: ConsoleClient
) -> None:
    course = await make_course(app, client, su)
    taker = Taker(app, client, await course.token(client, "CT", "A1"))
    assert (await taker.start()).status_code == 201
    await taker.run(lambda _n, t, k: wrong(t, k))
    served = await client.get(f"/api/v1/results/{taker.attempt_id}", headers=course.admin)
    grammar = next(r for r in served.json()["responses"] if r["skill"] == "grammar")
    retired = await client.patch(
        f"/api/v1/items/{grammar['item_id']}", headers=su, json={"status": "retired"}
    )
    assert retired.status_code == 200, retired.text
    await console.sign_in(await make_staff(app, "admin", course.uic))
    html = (await console.get(f"/console/results/{taker.attempt_id}")).text
    assert html.count(">Not shown<") == 3  # the reading and vocabulary items are still active
    assert "<td>goed</td>" in html  # the retired text-entry item's answer
    assert ">Key<" not in html


async def test_the_list_pages(
    app: FastAPI, world: World, console: ConsoleClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("etest.console.results.PER_PAGE", 2)
    await signed_in(app, console, "viewer", world.uic["P"])
    first = await console.get("/console/results", params={"uic": world.uic["P"]})
    assert "Page 1 of 2" in first.text and 'rel="next"' in first.text
    next_link = re.search(r'href="\?([^"]+)" rel="next"', first.text)
    assert next_link and f"uic={world.uic['P']}" in next_link.group(1)
    second = await console.get("/console/results?" + next_link.group(1).replace("&amp;", "&"))
    assert "Page 2 of 2" in second.text and 'rel="prev"' in second.text
    assert len(listed(first.text) | listed(second.text)) == 3
    assert not listed(first.text) & listed(second.text)


async def test_the_results_pages_only_read(
    app: FastAPI, world: World, console: ConsoleClient
) -> None:
    """Nothing on these pages posts: a forged post is refused by CSRF before any route, and a
    post with the token finds no action (the console's 404 page)."""
    await signed_in(app, console, "admin", world.uic["P"])
    target = f"/console/results/{world.attempt['pt_alice']}"
    forged = await console.http.post(target, data={"csrf": "forged"})
    assert forged.status_code == 403
    await console.get("/console/results")
    with_token = await console.post(target)
    assert with_token.status_code in (404, 405)
    assert "<h1>Page not found</h1>" in with_token.text or "Not allowed" in with_token.text

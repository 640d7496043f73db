"""The console's home page: the counts of the staff member's subtree (tests running, finished this
week, placements by level and pass rates by level as server-drawn charts, reviews pending,
failing callbacks, tokens about to expire), another tree's numbers never in them, the item
bank for a content manager, the charts' accessible structure, and the page in Chromium."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from playwright.async_api import expect

from etest.console.charts import Bar, bar_chart, probability_chart
from etest.db import transaction
from etest.models import Organization, OutboxEvent
from etest.organization.repository import find_by_uic
from etest.result import repository
from etest.webhook.tasks import TOPIC
from tests.conftest import Headers
from tests.console.conftest import ConsoleClient, make_staff
from tests.console.test_results import World, build_world


async def _callback(app: FastAPI, uic: str, status: str, tries: int) -> None:
    async with transaction(app.state.sessionmaker) as session:
        org: Organization | None = await find_by_uic(session, uic)
        assert org is not None
        session.add(
            OutboxEvent(
                topic=TOPIC,
                payload={"type": "attempt.finished"},
                status=status,
                tries=tries,
                organization_id=org.id,
                last_error="HTTP 500" if tries else None,
            )
        )


@pytest.fixture(scope="module")
async def world(app: FastAPI, client: httpx.AsyncClient, su: Headers) -> World:
    w = await build_world(app, client, su)
    await _callback(app, w.uic["A"], "dead", 5)
    await _callback(app, w.uic["P"], "pending", 2)
    await _callback(app, w.uic["P"], "done", 1)
    await _callback(app, w.uic["X"], "dead", 5)
    return w


def card(html: str, title: str) -> str:
    """The big number of the card titled ``title``."""
    found = re.search(
        rf'<h3 class="card-title">{re.escape(title)}</h3>\s*<p class="figure">(\d+)</p>', html
    )
    assert found, f"no card {title!r}"
    return found.group(1)


async def test_the_home_page_counts_the_subtree(
    app: FastAPI, world: World, console: ConsoleClient
) -> None:
    await console.sign_in(await make_staff(app, "viewer", world.uic["P"]))
    page = await console.get("/console")
    assert page.status_code == 200
    html = page.text
    assert card(html, "Tests in progress") == "1"
    assert card(html, "Finished in the last 7 days") == "3"
    assert "2 placement" not in html and "1 placement, 2 certification" in html
    assert card(html, "Reviews pending") == "0"
    assert card(html, "Callbacks failing") == "2"  # A's dead one and P's retrying one
    assert '>1 given up</a>, <a href="/console/callbacks?status=pending">1 retrying<' in html
    assert card(html, "Tokens expiring in 7 days") == "1"
    assert 'href="/console/callbacks"' in html and 'href="/console/tokens"' in html
    # the charts: server-drawn SVG with a title, a description and the numbers as a table
    assert html.count('class="chart chart-bars"') == 2
    assert "Placement results by level, last 30 days" in html
    assert re.search(r'<th scope="row">A2</th><td class="num">1 \(100 %\)</td>', html)
    assert re.search(r'<th scope="row">A1</th><td class="num">50 % \(1 of 2\)</td>', html)
    assert " style=" not in html and "<script>" not in html


async def test_an_admin_of_a_child_sees_only_its_subtree(
    app: FastAPI, world: World, console: ConsoleClient
) -> None:
    await console.sign_in(await make_staff(app, "admin", world.uic["A"]))
    html = (await console.get("/console", params={"days": "7"})).text
    assert card(html, "Tests in progress") == "0"
    assert card(html, "Finished in the last 7 days") == "2"
    assert card(html, "Callbacks failing") == "1"
    assert card(html, "Tokens expiring in 7 days") == "0"
    assert "No placement test finished in this period." in html
    assert "last 7 days" in html and '<option value="7" selected>' in html


async def test_another_tree_sees_none_of_it(
    app: FastAPI, world: World, console: ConsoleClient
) -> None:
    await console.sign_in(await make_staff(app, "support", world.uic["X"]))
    html = (await console.get("/console", params={"days": "nonsense"})).text
    assert card(html, "Finished in the last 7 days") == "1"
    assert card(html, "Callbacks failing") == "1"
    assert "0 placement" not in html and "1 placement, 0 certification" in html
    assert "No certification test finished in this period." in html
    assert "Placement results by level, last 30 days" in html  # a bad period: the default


async def test_a_content_manager_sees_the_item_bank(
    app: FastAPI, world: World, console: ConsoleClient
) -> None:
    await console.sign_in(await make_staff(app, "content_manager", None))
    html = (await console.get("/console")).text
    assert "Tests in progress" not in html
    assert '<h2 id="bank">Item bank</h2>' in html
    assert int(card(html, "Item versions")) >= 21  # the course's bank at least
    assert int(card(html, "Active")) >= 21
    assert "Items by level and status" in html and 'href="/console/bank?level=A1%2B"' in html


def test_the_callback_topic_is_the_webhook_packages() -> None:
    assert repository.WEBHOOK_TOPIC == TOPIC


def test_charts_are_accessible_svg_without_inline_style() -> None:
    bars = bar_chart(
        [Bar("A1 <b>", 3, "3"), Bar("A2", 1, "1")],
        title="Placed & counted",
        desc="Two bars",
        headers=("Level", "Placed"),
    )
    assert 'role="img"' in bars and "aria-labelledby=" in bars
    assert "<title id=" in bars and "<desc id=" in bars and "Placed &amp; counted" in bars
    assert "A1 &lt;b&gt;" in bars and "<b>" not in bars  # escaped
    assert 'class="visually-hidden"' in bars and "<caption>" in bars
    assert " style=" not in bars
    widths = re.findall(r'<rect x="96" y="\d+" width="([\d.]+)" height="20" fill="#1a4d8f"', bars)
    assert widths == ["248", "82.7"]  # the longest bar fills the track
    columns = probability_chart(
        [("A1", 0.1), ("A2", 0.85), ("B1", 0.05)],
        title="Sure",
        desc="d",
        headers=("Level", "Probability"),
        highlight="A2",
        highlight_note="placed",
    )
    assert "85 %" in columns and "A2 placed" in columns and 'font-weight="700"' in columns
    assert 'tabindex="0" role="region"' in columns  # a visible table by default
    empty = bar_chart([], title="t", desc="d", headers=("a", "b"))
    assert "<svg" in empty


async def test_home_in_a_browser_on_desktop_and_phone(
    app: FastAPI, world: World, open_tab: Any
) -> None:
    staff = await make_staff(app, "admin", world.uic["P"], name="Home Admin")
    tab = await open_tab("home-")
    await tab.sign_in(staff)
    await expect(tab.page.get_by_role("heading", level=1)).to_have_text("Home")
    await expect(
        tab.page.get_by_role("img", name=re.compile("Placement results by level"))
    ).to_be_visible()
    await tab.check("admin")
    await tab.page.get_by_label("Period").select_option("90")
    await tab.submit("Show")
    assert "days=90" in tab.page.url
    await expect(
        tab.page.get_by_role("heading", name="Results of the last 90 days")
    ).to_be_visible()
    async with tab.page.expect_navigation():
        await tab.page.get_by_role("link", name="Callback deliveries").click()
    assert tab.page.url.endswith("/console/callbacks")
    tab.assert_clean()
    phone = await open_tab("home-phone-", phone=True)
    await phone.sign_in(staff)
    await phone.check("admin")
    phone.assert_clean()
    manager = await open_tab("home-bank-")
    await manager.sign_in(await make_staff(app, "content_manager", None))
    await expect(manager.page.get_by_role("heading", name="Item bank")).to_be_visible()
    await manager.check("content-manager")
    manager.assert_clean()

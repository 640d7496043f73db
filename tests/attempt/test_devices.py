"""What the candidate's device tells: every answer stores the IP and user agent it came from, on
the hot path and on the full rules, from the API and from the /take pages; the result detail
shows the start device, the devices seen and a flag when more than one device or network
answered. Each device here is its own client with its own socket address."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from etest.attempt import cache
from etest.db import transaction
from etest.models import Response
from tests.attempt.conftest import Course, key_of, right

PHONE = ("203.0.113.7", "Mozilla/5.0 (Linux; Android 14) phone")
PHONE_ON_WIFI = ("203.0.113.99", PHONE[1])  # same /24: the same network
LAPTOP = ("198.51.100.20", "Mozilla/5.0 (X11; Linux x86_64) laptop")


@asynccontextmanager
async def device(app: FastAPI, ip: str, user_agent: str) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(ip, 40000))
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers={"User-Agent": user_agent}
    ) as client:
        yield client


async def _start(client: httpx.AsyncClient, token: str) -> tuple[str, dict[str, str]]:
    resp = await client.post("/api/v1/attempts", json={"token": token})
    assert resp.status_code in (200, 201), resp.text
    return resp.json()["attempt_id"], {"Authorization": f"Bearer {resp.json()['secret']}"}


async def _answer_next(
    app: FastAPI, client: httpx.AsyncClient, attempt_id: str, headers: dict[str, str]
) -> int:
    current = (await client.get(f"/api/v1/attempts/{attempt_id}/item", headers=headers)).json()
    position: int = current["item"]["position"]
    item_type, key = await key_of(app, attempt_id, position)
    resp = await client.post(
        f"/api/v1/attempts/{attempt_id}/responses",
        headers=headers,
        json={"position": position, "answer": right(item_type, key)},
    )
    assert resp.status_code == 200, resp.text
    return position


async def _stored(app: FastAPI, attempt_id: str) -> dict[int, tuple[str | None, str | None]]:
    async with transaction(app.state.sessionmaker) as session:
        rows = (
            await session.scalars(
                select(Response).where(Response.attempt_id == uuid.UUID(attempt_id))
            )
        ).all()
    return {r.position: (r.ip, r.user_agent) for r in rows}


async def _finish_and_read(
    client: httpx.AsyncClient, course: Course, attempt_id: str, headers: dict[str, str]
) -> dict[str, Any]:
    assert (
        await client.post(f"/api/v1/attempts/{attempt_id}/finish", headers=headers)
    ).status_code == 200
    resp = await client.get(f"/api/v1/results/{attempt_id}", headers=course.admin)
    assert resp.status_code == 200, resp.text
    detail: dict[str, Any] = resp.json()
    return detail


async def test_each_answer_keeps_its_device_and_the_result_shows_them(
    app: FastAPI, client: httpx.AsyncClient, course: Course
) -> None:
    token = await course.token(client, "CT", "A1")
    async with device(app, *PHONE) as phone, device(app, *LAPTOP) as laptop:
        attempt_id, on_phone = await _start(phone, token)
        first = await _answer_next(app, phone, attempt_id, on_phone)  # the hot path
        _, on_laptop = await _start(laptop, token)  # resumed on another device
        second = await _answer_next(app, laptop, attempt_id, on_laptop)
        # the full rules store it too (a process that has not cached the item yet)
        await laptop.get(f"/api/v1/attempts/{attempt_id}/item", headers=on_laptop)
        cache.ITEMS.clear()
        third = await _answer_next(app, laptop, attempt_id, on_laptop)
    assert await _stored(app, attempt_id) == {first: PHONE, second: LAPTOP, third: LAPTOP}

    detail = await _finish_and_read(client, course, attempt_id, on_phone)
    assert detail["start_device"] == {
        "ip": PHONE[0],
        "network": "203.0.113.0/24",
        "user_agent": PHONE[1],
    }
    devices = [(d["ip"], d["network"], d["user_agent"], d["answers"]) for d in detail["devices"]]
    assert devices == [
        (PHONE[0], "203.0.113.0/24", PHONE[1], 1),
        (LAPTOP[0], "198.51.100.0/24", LAPTOP[1], 2),
    ]
    assert all(d["first_answered_at"] <= d["last_answered_at"] for d in detail["devices"])
    assert detail["multiple_devices"] is True
    # the list stays as it was: no device facts there
    listed = (
        await client.get(
            "/api/v1/results", headers=course.admin, params={"candidate_id": course.candidate["id"]}
        )
    ).json()
    assert "devices" not in listed["items"][0]


async def test_one_device_on_one_network_is_not_flagged(
    app: FastAPI, client: httpx.AsyncClient, course: Course
) -> None:
    token = await course.token(client, "CT", "A1")
    async with device(app, *PHONE) as phone, device(app, *PHONE_ON_WIFI) as moved:
        attempt_id, headers = await _start(phone, token)
        await _answer_next(app, phone, attempt_id, headers)
        await _answer_next(app, moved, attempt_id, headers)  # a new address in the same /24
    detail = await _finish_and_read(client, course, attempt_id, headers)
    assert detail["multiple_devices"] is False
    assert [d["ip"] for d in detail["devices"]] == [PHONE[0], PHONE_ON_WIFI[0]]
    assert {d["network"] for d in detail["devices"]} == {"203.0.113.0/24"}


async def test_ipv6_networks_are_64_bit_prefixes(
    app: FastAPI, client: httpx.AsyncClient, course: Course
) -> None:
    for other, flagged in (("2001:db8:1:2::99", False), ("2001:db8:1:3::5", True)):
        token = await course.token(client, "CT", "A1")
        async with (
            device(app, "2001:db8:1:2::7", PHONE[1]) as first,
            device(app, other, PHONE[1]) as second,
        ):
            attempt_id, headers = await _start(first, token)
            await _answer_next(app, first, attempt_id, headers)
            await _answer_next(app, second, attempt_id, headers)
        detail = await _finish_and_read(client, course, attempt_id, headers)
        assert detail["start_device"]["network"] == "2001:db8:1:2::/64"
        assert detail["multiple_devices"] is flagged, detail["devices"]


async def test_another_browser_is_flagged_and_the_start_device_counts(
    app: FastAPI, client: httpx.AsyncClient, course: Course
) -> None:
    token = await course.token(client, "CT", "A1")
    async with device(app, PHONE[0], "Firefox/128") as starter, device(app, *PHONE) as answerer:
        attempt_id, headers = await _start(starter, token)
        await _answer_next(app, answerer, attempt_id, headers)
        await _answer_next(app, answerer, attempt_id, headers)
    detail = await _finish_and_read(client, course, attempt_id, headers)
    assert [d["user_agent"] for d in detail["devices"]] == [PHONE[1]]
    assert detail["start_device"]["user_agent"] == "Firefox/128"
    assert detail["multiple_devices"] is True  # the test was started in another browser


async def test_the_take_pages_store_the_device_of_each_answer(
    app: FastAPI, client: httpx.AsyncClient, course: Course
) -> None:
    token = await course.token(client, "CT", "A1")
    async with device(app, *LAPTOP) as browser:
        entered = await browser.get("/take", params={"token": token})  # the invitation link
        assert entered.status_code == 303, entered.text
        path = entered.headers["location"]
        attempt_id = path.rsplit("/", 1)[1]
        start = (await browser.get(path)).text
        csrf = re.search(r'name="csrf" value="([^"]+)"', start)
        assert csrf is not None
        await browser.post(f"{path}/start", data={"csrf": csrf[1]})
        page = (await browser.get(path)).text
        position = int(re.search(r'name="position" value="(\d+)"', page)[1])  # type: ignore[index]
        item_type, key = await key_of(app, attempt_id, position)
        answer = right(item_type, key)
        data: dict[str, Any] = {
            "position": str(position),
            "csrf": csrf[1],
            "answer": answer.strip() if isinstance(answer, str) else answer,
        }
        saved = await browser.post(f"{path}/answer", data=data)
        assert saved.status_code == 303 and saved.headers["location"].endswith("n=saved")
    assert await _stored(app, attempt_id) == {position: LAPTOP}


async def test_a_long_user_agent_is_cut_to_the_column(
    app: FastAPI, client: httpx.AsyncClient, course: Course
) -> None:
    token = await course.token(client, "CT", "A1")
    async with device(app, LAPTOP[0], "x" * 2000) as noisy:
        attempt_id, headers = await _start(noisy, token)
        position = await _answer_next(app, noisy, attempt_id, headers)
    assert await _stored(app, attempt_id) == {position: (LAPTOP[0], "x" * 500)}

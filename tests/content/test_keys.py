"""Answer keys, IRT parameters and transcripts belong to the people who own the content
(``content_manager`` and ``superadmin``), never to a tenant: an organization admin who reads every
item it can, and then takes a certification test answering with what it learnt, fails. The same
flow from a content manager's view passes, so the test can fail."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.attempt.conftest import Taker
from tests.conftest import Headers, create_candidate, create_key, create_org, unique
from tests.content.test_import import package, upload
from tests.report.conftest import table, workbook

#: Field names that would carry a key, IRT parameters or a transcript, at any depth.
SECRETS = frozenset(
    {
        "key",
        "correct",
        "accepted",
        "order",
        "pairs",
        "irt",
        "irt_model",
        "irt_a",
        "irt_b",
        "irt_c",
        "transcript",
    }
)

Item = dict[str, Any]


def _opts(*texts: str) -> list[dict[str, str]]:
    return [{"id": chr(ord("a") + n), "text": t} for n, t in enumerate(texts)]


def _bank(tag: str) -> list[Item]:
    """Nine A1 items of every type; no key is the first option shown in the item's own order,
    so a blind guess from the authored order gets nothing right."""

    def item(
        n: int, type_: str, skill: str, prompt: str, key: dict[str, Any], **extra: Any
    ) -> Item:
        return {
            "code": f"{tag}-{n}",
            "type": type_,
            "skill": skill,
            "level": "A1",
            "prompt": f"{prompt} ({tag} #{n})",
            "key": key,
            "irt": {"a": 1.1, "b": -1.5 + n / 20},
            **extra,
        }

    return [
        item(
            1,
            "single_choice",
            "reading",
            "Which one is a colour?",
            {"correct": ["c"]},
            options=_opts("dog", "table", "red", "run"),
        ),
        item(
            2,
            "single_choice",
            "reading",
            "Which one is a day?",
            {"correct": ["d"]},
            options=_opts("June", "noon", "cold", "Monday"),
        ),
        item(
            3,
            "single_choice",
            "reading",
            "Which one is a number?",
            {"correct": ["b"]},
            options=_opts("blue", "seven", "happy", "bread"),
        ),
        item(
            4,
            "ordering",
            "reading",
            "Put the words in order.",
            {"order": ["c", "a", "b"]},
            options=_opts("am", "here", "I"),
        ),
        item(
            5,
            "multiple_choice",
            "vocabulary",
            "Pick the fruits.",
            {"correct": ["b", "d"]},
            options=_opts("chair", "apple", "shoe", "pear"),
        ),
        item(
            6,
            "matching",
            "vocabulary",
            "Match the opposites.",
            {"pairs": [["a", "2"], ["b", "1"]]},
            options=_opts("big", "hot"),
            targets=[{"id": "1", "text": "cold"}, {"id": "2", "text": "small"}],
        ),
        item(7, "text_entry", "grammar", "Yesterday I ___ (go) home.", {"accepted": ["went"]}),
        item(8, "text_entry", "grammar", "He ___ (be) my friend.", {"accepted": ["is"]}),
        item(
            9,
            "single_choice",
            "listening",
            "Where is Rosa from?",
            {"correct": ["c"]},
            options=_opts("Spain", "Peru", "Chile"),
            stimulus={
                "audio": {"src": "media/a.opus"},
                "transcript": "Hi, I am Rosa and I come from Chile.",
            },
        ),
    ]


@dataclass
class Course:
    tag: str
    plan: str
    uic: str
    admin: Headers
    content_manager: Headers


async def _course(app: FastAPI, client: httpx.AsyncClient, su: Headers) -> Course:
    """A plan whose A1 CT serves all nine items, imported by a content manager."""
    tag = unique("k").lower()
    plan = f"p_{tag}"
    resp = await client.put(
        f"/api/v1/plans/{plan}",
        headers=su,
        json={
            "name": "Keys plan",
            "pt_assessment": f"pt-{tag}",
            "levels": [{"level": "A1", "pass_mark": 70, "ct_assessment": f"ct-{tag}"}],
        },
    )
    assert resp.status_code == 200, resp.text
    items = _bank(tag)
    sections = []
    for skill in ("reading", "vocabulary", "grammar", "listening"):
        pool = [i["code"] for i in items if i["skill"] == skill]
        sections.append({"skill": skill, "count": len(pool), "pool": pool})
    bank = {
        "format": "etest-flow/1",
        "kind": "bank",
        "code": f"bank-{tag}",
        "version": 1,
        "title": "Keys bank",
        "items": items,
    }
    ct = {
        "format": "etest-flow/1",
        "kind": "CT",
        "code": f"ct-{tag}",
        "version": 1,
        "title": "CT A1",
        "plan": plan,
        "level": "A1",
        "engine": {"type": "fixed", "time_limit_seconds": 1800, "sections": sections},
    }
    cm = await create_key(app, "content_manager", None)
    resp = await upload(client, cm, package(bank, ct))
    assert resp.status_code == 200, resp.text
    org = await create_org(client, su, plan_code=plan)
    return Course(tag, plan, org["uic"], await create_key(app, "admin", org["uic"]), cm)


async def _everything_readable(client: httpx.AsyncClient, headers: Headers, tag: str) -> list[Item]:
    """Every item of the course the caller can list, then read one by one."""
    listed: list[Item] = []
    page = 1
    while True:
        resp = await client.get(
            "/api/v1/items", headers=headers, params={"q": tag, "per_page": 200, "page": page}
        )
        assert resp.status_code == 200, resp.text
        listed += resp.json()["items"]
        if len(listed) >= resp.json()["total"]:
            break
        page += 1
    assert len(listed) == 9
    details = []
    for summary in listed:
        resp = await client.get(f"/api/v1/items/{summary['id']}", headers=headers)
        assert resp.status_code == 200, resp.text
        details.append(resp.json())
    return listed + details


def _secret_fields(value: Any, path: str = "$") -> list[str]:
    """Where a field of :data:`SECRETS` occurs in ``value`` (any depth)."""
    found = []
    if isinstance(value, dict):
        for k, v in value.items():
            if k in SECRETS and v is not None:
                found.append(f"{path}.{k}")
            found += _secret_fields(v, f"{path}.{k}")
    elif isinstance(value, list):
        for n, v in enumerate(value):
            found += _secret_fields(v, f"{path}[{n}]")
    return found


def _answer(known: Item, shown: Item) -> Any:
    """The best answer from what the staff view of the item says: its key when there is one,
    otherwise a guess from the order the options were authored in."""
    ids = [o["id"] for o in known["options"]]
    key = known.get("key")
    match shown["type"]:
        case "single_choice":
            return key["correct"][0] if key else ids[0]
        case "multiple_choice":
            return key["correct"] if key else ids[:1]
        case "ordering":
            return key["order"] if key else ids
        case "matching":
            return (
                key["pairs"]
                if key
                else [[o, t["id"]] for o, t in zip(ids, known["targets"], strict=False)]
            )
        case _:
            return key["accepted"][0] if key else "x"


async def _sit_ct(
    app: FastAPI, client: httpx.AsyncClient, course: Course, answer: Callable[[Item], Any]
) -> dict[str, Any]:
    """A new candidate of the course's organization takes the A1 CT through the candidate API;
    ``answer`` gets each item as the candidate sees it."""
    candidate = await create_candidate(client, course.admin, uic=course.uic)
    resp = await client.post(
        "/api/v1/tokens",
        headers=course.admin,
        json={"candidate_id": candidate["id"], "type": "CT", "level": "A1"},
    )
    assert resp.status_code == 201, resp.text
    taker = Taker(app, client, resp.json()["code"])
    assert (await taker.start()).status_code == 201
    for _ in range(20):
        current = await taker.item()
        if current["finished"]:
            outcome: dict[str, Any] = current["state"]["outcome"]
            return outcome
        shown = current["item"]
        resp = await taker.answer(shown["position"], answer(shown))
        assert resp.status_code == 200, resp.text
    raise AssertionError("the CT did not finish")


async def _cheat(
    app: FastAPI, client: httpx.AsyncClient, course: Course, view: Headers
) -> tuple[list[str], dict[str, Any]]:
    """Read every item with ``view``'s credential, match the served items by their text and
    answer from what was read: (the secret fields that were seen, the CT's outcome)."""
    readable = await _everything_readable(client, view, course.tag)
    by_prompt = {i["prompt"]: i for i in readable if "prompt" in i}
    assert len(by_prompt) == 9
    outcome = await _sit_ct(
        app, client, course, lambda shown: _answer(by_prompt[shown["prompt"]], shown)
    )
    return _secret_fields(readable), outcome


async def test_an_admin_cannot_read_its_way_to_a_certificate(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    course = await _course(app, client, su)
    seen, outcome = await _cheat(app, client, course, course.admin)
    assert seen == []
    assert outcome["passed"] is False and outcome["score"] == 0
    # the same flow with the content manager's view passes: what the admin lacks is the keys
    seen, outcome = await _cheat(app, client, course, course.content_manager)
    assert {p.rsplit(".", 1)[-1] for p in seen} >= {"key", "irt_a", "irt_b", "transcript"}
    assert outcome["passed"] is True and outcome["score"] == 100


@pytest.mark.parametrize("role", ["admin", "support", "viewer", "content_manager", "superadmin"])
async def test_who_sees_keys_irt_and_transcripts(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, role: str
) -> None:
    course = await _course(app, client, su)
    global_role = role in ("content_manager", "superadmin")
    headers = await create_key(app, role, None if global_role else course.uic)
    readable = await _everything_readable(client, headers, course.tag)
    fields = {p.rsplit(".", 1)[-1] for p in _secret_fields(readable)}
    if global_role:
        assert fields == {
            "key",
            "correct",
            "accepted",
            "order",
            "pairs",
            "irt_model",
            "irt_a",
            "irt_b",
            "irt_c",
            "transcript",
        }
    else:
        assert fields == set()
        detail = next(i for i in readable if i.get("stimulus"))
        assert detail["stimulus"]["audio"]["media"]  # the audio itself is not a secret


async def test_only_content_managers_and_superadmins_write_items(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    course = await _course(app, client, su)
    listed = (
        await client.get("/api/v1/items", headers=course.admin, params={"q": f"{course.tag} #1)"})
    ).json()["items"]
    (item,) = listed
    path = f"/api/v1/items/{item['id']}"
    again = package(
        {
            "format": "etest-flow/1",
            "kind": "bank",
            "code": f"bank2-{course.tag}",
            "version": 1,
            "title": "x",
            "items": _bank(course.tag + "x"),
        }
    )
    for role in ("admin", "support", "viewer"):
        headers = course.admin if role == "admin" else await create_key(app, role, course.uic)
        assert (await upload(client, headers, again)).status_code == 403, role
        resp = await client.patch(path, headers=headers, json={"status": "retired"})
        assert resp.status_code == 403, role
    resp = await client.patch(path, headers=course.content_manager, json={"status": "pilot"})
    assert resp.status_code == 200 and resp.json()["status"] == "pilot"
    assert resp.json()["key"] == {"correct": ["c"]}
    resp = await client.patch(path, headers=su, json={"status": "active"})
    assert resp.status_code == 200


async def test_reports_keep_live_answers_and_irt_to_key_readers(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    """A right answer in a report is the key: the CT log shows an organization's staff whether
    each answer was right, and the answer itself only for items no longer in use. The item
    statistics carry IRT parameters for content managers and superadmins only."""
    course = await _course(app, client, su)
    readable = await _everything_readable(client, course.content_manager, course.tag)
    by_prompt = {i["prompt"]: i for i in readable if "prompt" in i}
    outcome = await _sit_ct(
        app, client, course, lambda shown: _answer(by_prompt[shown["prompt"]], shown)
    )
    assert outcome["passed"] is True
    today = datetime.now(UTC).date()
    dates = {
        "from": str(today - timedelta(days=1)),
        "to": str(today + timedelta(days=1)),
        "level": "A1",
    }
    params = {"uic": course.uic, **dates}

    async def ct_log(headers: Headers) -> list[dict[str, Any]]:
        return table(await workbook(client, headers, "ct-log", **params), "CT log A1")[1]

    staff = await ct_log(course.admin)
    assert len(staff) == 9 and all(r["Correct"] is True for r in staff)
    assert all(r["Answer"] is None for r in staff)
    full = await ct_log(su)
    assert all(r["Answer"] is not None for r in full)
    # an item that is no longer in use has nothing left to protect
    retired = next(i for i in readable if i.get("code") == f"{course.tag}-7" and "prompt" in i)
    resp = await client.patch(
        f"/api/v1/items/{retired['id']}", headers=course.content_manager, json={"status": "retired"}
    )
    assert resp.status_code == 200
    staff = await ct_log(course.admin)
    assert {r["Item code"]: r["Answer"] for r in staff if r["Answer"] is not None} == {
        f"{course.tag}-7": "went"
    }

    irt = ["IRT model", "a", "b", "c"]
    for headers, shown in ((course.admin, False), (su, True), (course.content_manager, True)):
        book = await workbook(
            client,
            headers,
            "item-stats",
            **(dates if headers is course.content_manager else params),
        )
        headers_row, rows = table(book, "Item statistics")
        assert (set(irt) <= set(headers_row)) is shown
        mine = [r for r in rows if str(r["Item code"]).startswith(f"{course.tag}-")]
        assert len(mine) == 9 and all(r["Exposures"] == 1 for r in mine)

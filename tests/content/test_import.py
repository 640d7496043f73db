"""Flow import over the API and the CLI: validate everything, write all or nothing, idempotent
by (code, version), versions pinned, media stored by hash and served with ranges."""

from __future__ import annotations

import copy
import io
import json
import uuid
import zipfile
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from etest.db import transaction
from etest.models import AssessmentVersion, ContentImport, Item
from tests.conftest import Headers, create_key, unique
from tests.support.qti import sample_package

OGG = b"OggS" + bytes(range(256)) * 8
SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><circle r="4"/></svg>'


def _item(code: str, level: str, skill: str, b: float, **extra: Any) -> dict[str, Any]:
    return {
        "code": code,
        "type": "single_choice",
        "skill": skill,
        "level": level,
        "prompt": "<p onclick='x()'>Pick <b>one</b><script>alert(1)</script></p>",
        "options": [{"id": "A", "text": "yes"}, {"id": "B", "text": "no"}],
        "key": {"correct": ["A"]},
        "can_do": f"{code}-cd",
        "irt": {"model": "2PL", "a": 1.1, "b": b},
        **extra,
    }


def make_bank(tag: str, version: int = 1) -> dict[str, Any]:
    items = [_item(f"{tag}-r{n}", "A1", "reading", -1.5 + n / 10) for n in range(3)]
    items.append(
        _item(
            f"{tag}-l0",
            "A1",
            "listening",
            -1.6,
            stimulus={
                "audio": {"src": "media/a.opus"},
                "transcript": "Hello there",
                "image": {"src": "media/p.svg", "alt": "a circle"},
            },
        )
    )
    items.append(
        {
            "code": f"{tag}-t0",
            "type": "text_entry",
            "skill": "grammar",
            "level": "A1",
            "prompt": "She ___ (go) home.",
            "key": {"accepted": ["went"]},
            "can_do": f"{tag}-t0-cd",
            "irt": {"b": -1.4},
        }
    )
    can_do = [
        {
            "code": f"{i['code']}-cd",
            "level": "A1",
            "skill": i["skill"],
            "text": "Can do it",
            "cannot_text": "Cannot yet do it",
        }
        for i in items
    ]
    return {
        "format": "etest-flow/1",
        "kind": "bank",
        "code": f"bank-{tag}",
        "version": version,
        "title": "Test bank",
        "can_do": can_do,
        "review_lessons": [
            {
                "code": f"{tag}-lesson",
                "title": "Past simple",
                "url": "https://learn.example.org/past",
            }
        ],
        "items": items,
    }


def make_ct(tag: str, version: int = 1) -> dict[str, Any]:
    return {
        "format": "etest-flow/1",
        "kind": "CT",
        "code": f"ct-{tag}",
        "version": version,
        "title": "CT A1",
        "plan": "neo_plus",
        "level": "A1",
        "engine": {
            "type": "fixed",
            "time_limit_seconds": 1200,
            "sections": [
                {"skill": "reading", "count": 2, "pool": [f"{tag}-r0", f"{tag}-r1", f"{tag}-r2"]},
                {"skill": "listening", "count": 1, "pool": [f"{tag}-l0"]},
            ],
        },
    }


def make_pt(tag: str) -> dict[str, Any]:
    return {
        "format": "etest-flow/1",
        "kind": "PT",
        "code": f"pt-{tag}",
        "version": 1,
        "title": "PT",
        "plan": "neo_jr",
        "engine": {
            "type": "irt",
            "pool": [f"{tag}-r0", f"{tag}-r1", f"{tag}-l0"],
            "cut_scores": [-2.25, -1.75],
            "min_items": 2,
            "max_items": 3,
        },
    }


def package(*flows: dict[str, Any], media: dict[str, bytes] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for n, flow in enumerate(flows):
            zf.writestr(f"flow{n}.json", json.dumps(flow))
        for name, data in (
            media if media is not None else {"media/a.opus": OGG, "media/p.svg": SVG}
        ).items():
            zf.writestr(name, data)
    return buf.getvalue()


async def upload(
    client: httpx.AsyncClient, headers: Headers, data: bytes, name: str = "content.zip"
) -> httpx.Response:
    return await client.post(
        "/api/v1/content/import",
        headers=headers,
        files={"file": (name, data, "application/octet-stream")},
    )


async def counts(app: FastAPI) -> tuple[int, int, int]:
    async with transaction(app.state.sessionmaker) as session:
        return (
            await session.scalar(select(func.count()).select_from(Item)) or 0,
            await session.scalar(select(func.count()).select_from(ContentImport)) or 0,
            await session.scalar(select(func.count()).select_from(AssessmentVersion)) or 0,
        )


async def test_import_then_reimport_is_a_no_op(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    tag = unique("t").lower()
    data = package(make_bank(tag), make_ct(tag), make_pt(tag))
    resp = await upload(client, su, data)
    assert resp.status_code == 200, resp.text
    files = {f["code"]: f for f in resp.json()["files"]}
    assert files[f"bank-{tag}"]["items_new"] == 5
    assert files[f"bank-{tag}"]["media"] == 2
    assert {f["status"] for f in files.values()} == {"imported"}
    before = await counts(app)
    again = await upload(client, su, data)
    assert again.status_code == 200
    assert {f["status"] for f in again.json()["files"]} == {"unchanged"}
    assert await counts(app) == before


async def test_items_are_sanitised_and_keys_for_key_readers(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    tag = unique("t").lower()
    assert (await upload(client, su, package(make_bank(tag)))).status_code == 200
    listed = (
        await client.get("/api/v1/items", headers=su, params={"q": tag, "skill": "listening"})
    ).json()
    assert [i["code"] for i in listed["items"]] == [f"{tag}-l0"]
    assert "key" not in listed["items"][0]
    item_id = listed["items"][0]["id"]
    detail = (await client.get(f"/api/v1/items/{item_id}", headers=su)).json()
    assert detail["key"] == {"correct": ["A"]}
    assert detail["prompt"] == "<p>Pick <b>one</b></p>"
    audio = detail["stimulus"]["audio"]
    assert audio["content_type"] == "audio/ogg" and len(audio["media"]) == 64
    uic = unique()
    await client.post("/api/v1/organizations", headers=su, json={"uic": uic, "name": "x"})
    viewer = await create_key(app, "viewer", uic)
    seen = await client.get(f"/api/v1/items/{item_id}", headers=viewer)  # tests/content/test_keys
    assert seen.status_code == 200 and "key" not in seen.json()
    assert (await client.get("/api/v1/items", headers=viewer)).status_code == 200
    admin = await create_key(app, "admin", uic)
    assert (await upload(client, admin, package(make_bank(tag + "x")))).status_code == 403


async def test_media_served_with_ranges_and_cache(client: httpx.AsyncClient, su: Headers) -> None:
    tag = unique("t").lower()
    await upload(client, su, package(make_bank(tag)))
    listed = (await client.get("/api/v1/items", headers=su, params={"q": f"{tag}-l0"})).json()
    detail = (await client.get(f"/api/v1/items/{listed['items'][0]['id']}", headers=su)).json()
    url = f"/media/{detail['stimulus']['audio']['media']}"
    full = await client.get(url)
    assert full.status_code == 200 and full.content == OGG
    assert full.headers["content-type"] == "audio/ogg"
    assert "immutable" in full.headers["cache-control"]
    part = await client.get(url, headers={"Range": "bytes=0-3"})
    assert part.status_code == 206 and part.content == b"OggS"
    svg = await client.get(f"/media/{detail['stimulus']['image']['media']}")
    assert svg.headers["content-type"].startswith("image/svg+xml")
    assert "sandbox" in svg.headers["content-security-policy"]
    assert (await client.get("/media/" + "0" * 64)).status_code == 404
    assert (await client.get("/media/../../etc/passwd")).status_code == 404


async def test_new_version_keeps_the_old_one(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    tag = unique("t").lower()
    await upload(client, su, package(make_bank(tag), make_ct(tag)))
    bank2 = make_bank(tag, version=2)
    bank2["items"][0]["options"][1]["text"] = "no way"
    ct2 = make_ct(tag, version=2)
    resp = await upload(client, su, package(bank2, ct2))
    assert resp.status_code == 200, resp.text
    bank_report = next(f for f in resp.json()["files"] if f["kind"] == "bank")
    assert (bank_report["items_new"], bank_report["items_reused"]) == (1, 4)
    versions = (
        await client.get(
            "/api/v1/items", headers=su, params={"q": f"{tag}-r0", "all_versions": True}
        )
    ).json()
    assert [i["version"] for i in versions["items"]] == [1, 2]
    assessments = {
        a["code"]: a
        for a in (await client.get("/api/v1/assessments", headers=su, params={"kind": "CT"})).json()
    }
    ct = assessments[f"ct-{tag}"]
    assert ct["current_version"] == 2 and [v["version"] for v in ct["versions"]] == [2, 1]
    async with transaction(app.state.sessionmaker) as session:
        engines = {
            v.version: v.engine
            for v in (
                await session.scalars(
                    select(AssessmentVersion).where(
                        AssessmentVersion.id.in_([uuid.UUID(v["id"]) for v in ct["versions"]])
                    )
                )
            ).all()
        }
    assert engines[1]["sections"][0]["pool"][0] != engines[2]["sections"][0]["pool"][0]
    conflict = make_ct(tag, version=2)
    conflict["title"] = "changed without a new version"
    resp = await upload(client, su, package(conflict))
    assert resp.status_code == 422
    assert resp.json()["errors"][0]["path"] == "$.version"


@pytest.mark.parametrize(
    ("mutate", "path_part"),
    [
        (lambda b: b["items"][1].update(type="essay"), "$.items[1]"),
        (lambda b: b["items"][1].pop("key"), "$.items[1].key"),
        (lambda b: b["items"].append(copy.deepcopy(b["items"][0])), "$"),
        (
            lambda b: b["items"][3]["stimulus"]["audio"].update(src="media/missing.opus"),
            "$.items[3].stimulus.audio.src",
        ),
        (
            lambda b: b["items"][3]["stimulus"]["audio"].update(src="../../etc/passwd"),
            "$.items[3].stimulus.audio.src",
        ),
        (lambda b: b["items"][3]["stimulus"]["image"].pop("alt"), "$.items[3].stimulus.image"),
        (lambda b: b["items"][0].update(can_do="nope"), "$.items[0].can_do"),
        (lambda b: b["items"][0]["key"].update(correct=["Z"]), "$.items[0]"),
        (lambda b: b["items"][0]["irt"].update(a=-1), "$.items[0].irt.a"),
        (lambda b: b["items"][0]["irt"].update(c=1.2), "$.items[0].irt.c"),
        (lambda b: b["items"][0].update(level="Z9"), "$.items[0].level"),
    ],
)
async def test_one_bad_item_writes_nothing(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, mutate: Any, path_part: str
) -> None:
    tag = unique("t").lower()
    bank = make_bank(tag)
    mutate(bank)
    before = await counts(app)
    resp = await upload(client, su, package(bank, make_ct(tag)))
    assert resp.status_code == 422, resp.text
    body = resp.json()
    assert body["type"] == "/errors/invalid-content"
    assert any(
        e["path"].startswith(path_part) and e["file"].endswith("flow0.json") for e in body["errors"]
    ), body["errors"]
    assert await counts(app) == before


async def test_bad_files(app: FastAPI, client: httpx.AsyncClient, su: Headers) -> None:
    before = await counts(app)
    malformed = await upload(client, su, b'{"format": "etest-flow/1", ', "x.json")
    assert malformed.status_code == 422
    assert "malformed JSON" in malformed.json()["errors"][0]["message"]
    tag = unique("t").lower()
    ct = make_ct(tag)
    ct["engine"]["sections"][0]["pool"].append("no-such-item")
    resp = await upload(client, su, package(make_bank(tag), ct))
    assert resp.status_code == 422
    assert any("unknown item" in e["message"] for e in resp.json()["errors"])
    pt = make_pt(tag)
    pt["engine"]["cut_scores"] = [0.0]
    resp = await upload(client, su, package(make_bank(tag), pt))
    assert any(e["path"] == "$.engine.cut_scores" for e in resp.json()["errors"])
    slip = io.BytesIO()
    with zipfile.ZipFile(slip, "w") as zf:
        zf.writestr("../evil.json", "{}")
        zf.writestr("a.json", "{}")
    assert (await upload(client, su, slip.getvalue())).status_code == 422
    assert (await upload(client, su, b"\x00\x01garbage", "x.bin")).status_code == 422
    assert await counts(app) == before


async def test_upload_size_limit(app: FastAPI, client: httpx.AsyncClient, su: Headers) -> None:
    settings = app.state.settings
    old = settings.max_content_bytes
    settings.max_content_bytes = 1000
    try:
        resp = await upload(client, su, b"{" + b" " * 2000 + b"}", "big.json")
        assert resp.status_code == 413
        assert resp.json()["type"] == "/errors/payload-too-large"
    finally:
        settings.max_content_bytes = old


async def test_flow_schema_published(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/schemas/flow.json")).json()
    assert schema["$id"] == "/schemas/flow.json"
    assert set(schema["properties"]) >= {"format", "kind", "code", "version", "items", "engine"}
    assert "ItemIn" in schema["$defs"]


async def test_item_status_change_is_audited(client: httpx.AsyncClient, su: Headers) -> None:
    tag = unique("t").lower()
    await upload(client, su, package(make_bank(tag)))
    item = (await client.get("/api/v1/items", headers=su, params={"q": f"{tag}-r1"})).json()
    item_id = item["items"][0]["id"]
    resp = await client.patch(f"/api/v1/items/{item_id}", headers=su, json={"status": "retired"})
    assert resp.status_code == 200 and resp.json()["status"] == "retired"
    bad = await client.patch(f"/api/v1/items/{item_id}", headers=su, json={"status": "gone"})
    assert bad.status_code == 422
    retired = (
        await client.get("/api/v1/items", headers=su, params={"q": tag, "status": "retired"})
    ).json()
    assert [i["id"] for i in retired["items"]] == [item_id]
    audit = await client.get("/api/v1/audit", headers=su, params={"action": "item.status"})
    assert any(e["target_id"] == item_id for e in audit.json()["items"])


async def test_qti_package_over_the_api(client: httpx.AsyncClient, su: Headers) -> None:
    data = sample_package()
    name = f"{unique('pkg')}.zip"
    resp = await client.post(
        "/api/v1/content/import",
        headers=su,
        files={"file": (name, data, "application/zip")},
        data={"skill": "reading", "level": "B1"},
    )
    assert resp.status_code == 200, resp.text
    body = resp.json()
    imported = [r for r in body["qti"] if r["status"] == "imported"]
    assert len(imported) == 2 and all(r["reason"] is None for r in imported)
    skipped = [r for r in body["qti"] if r["status"] == "skipped"]
    assert len(skipped) == 1 and skipped[0]["reason"].startswith("unsupported interaction")
    codes = {r["code"] for r in imported}
    item = (await client.get("/api/v1/items", headers=su, params={"q": sorted(codes)[0]})).json()[
        "items"
    ][0]
    assert (item["status"], item["level"], item["skill"]) == ("draft", "B1", "reading")
    again = await client.post(
        "/api/v1/content/import",
        headers=su,
        files={"file": (name, data, "application/zip")},
        data={"skill": "reading", "level": "B1"},
    )
    assert [f["status"] for f in again.json()["files"]] == ["unchanged"]
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;">]><assessmentItem>&lol2;</assessmentItem>'
    )
    refused = await client.post(
        "/api/v1/content/import", headers=su, files={"file": ("bomb.xml", bomb, "application/xml")}
    )
    assert refused.status_code == 422
    assert "lollol" not in refused.text

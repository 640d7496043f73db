"""A candidate's photo is personal data: it is served only to those who may see the candidate
(``GET /api/v1/candidates/{id}/photo``, scoped like the candidate), never by its hash at
``/media`` (public for the items' pictures and sounds only), not even once it is removed."""

from __future__ import annotations

import io
import uuid

import httpx
import pytest
from fastapi import FastAPI
from PIL import Image

from tests.conftest import Headers, Tree, create_candidate
from tests.web.conftest import WebCourse, web_course  # noqa: F401

pytestmark = pytest.mark.asyncio


def a_photo() -> bytes:
    """A PNG no item uses (its colour is random)."""
    buf = io.BytesIO()
    colour = tuple(uuid.uuid4().bytes[:3])
    Image.new("RGB", (40, 50), colour).save(buf, "PNG")
    return buf.getvalue()


async def test_a_photo_is_served_only_within_the_candidates_subtree(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, tree: Tree
) -> None:
    candidate = await create_candidate(client, tree.key["A1"], uic=tree.uic["A1"])
    url = f"/api/v1/candidates/{candidate['id']}/photo"
    none_yet = await client.get(url, headers=tree.key["A1"])
    assert none_yet.status_code == 404
    assert none_yet.json()["type"] == "/errors/no-photo"  # found, but it has none
    photo = a_photo()
    stored = await client.put(
        url, headers=tree.key["A1"], files={"file": ("me.png", photo, "image/png")}
    )
    assert stored.status_code == 200, stored.text
    digest = stored.json()["photo_sha256"]

    for who in ("A1", "A", "ROOT"):
        seen = await client.get(url, headers=tree.key[who])
        assert seen.status_code == 200, (who, seen.text[:200])
        assert seen.content == photo
        assert seen.headers["content-type"] == "image/png"
        assert "no-store" in seen.headers["cache-control"]
        assert seen.headers["x-content-type-options"] == "nosniff"
    assert (await client.get(url, headers=su)).status_code == 200
    for who in ("B",):
        outside = await client.get(url, headers=tree.key[who])
        assert outside.status_code == 404
        assert outside.json()["type"] == "/errors/not-found"
    assert (await client.get(url)).status_code == 401

    # by its hash, to anyone: nothing
    public = await client.get(f"/media/{digest}")
    assert public.status_code == 404, "a candidate's photo is public by its hash"
    assert public.json()["type"] == "/errors/not-found"

    removed = await client.delete(url, headers=tree.key["A1"])
    assert removed.status_code == 200
    gone = await client.get(url, headers=tree.key["A1"])
    assert gone.status_code == 404 and gone.json()["type"] == "/errors/no-photo"
    assert (await client.get(f"/media/{digest}")).status_code == 404


async def test_item_media_stay_public(
    client: httpx.AsyncClient,
    su: Headers,
    web_course: WebCourse,  # noqa: F811
) -> None:
    listed = await client.get(
        "/api/v1/items", headers=su, params={"q": f"{web_course.tag}-w-listen"}
    )
    assert listed.status_code == 200, listed.text
    [summary] = listed.json()["items"]
    detail = (await client.get(f"/api/v1/items/{summary['id']}", headers=su)).json()
    for kind in ("image", "audio"):
        digest = detail["stimulus"][kind]["media"]
        for _ in range(2):  # the second time from the per-process cache
            resp = await client.get(f"/media/{digest}")
            assert resp.status_code == 200
            assert "public" in resp.headers["cache-control"]

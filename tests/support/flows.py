"""Flow files (``etest-flow/1``) posted to the real content API, as a zip: the one way tests
import content they build."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterable
from typing import Any

import httpx


def flow_zip(flows: Iterable[dict[str, Any]]) -> bytes:
    """The flows as a zip, in order (banks first: they are imported before the tests using
    them)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for n, flow in enumerate(flows):
            zf.writestr(f"{n:03d}.json", json.dumps(flow))
    return buf.getvalue()


async def import_flows(
    client: httpx.AsyncClient, headers: dict[str, str], *flows: dict[str, Any]
) -> None:
    """Import the flows and require success."""
    resp = await client.post(
        "/api/v1/content/import",
        headers=headers,
        files={"file": ("flows.zip", flow_zip(flows), "application/zip")},
    )
    assert resp.status_code == 200, resp.text

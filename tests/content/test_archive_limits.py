"""One set of zip limits for every zip eTest reads from outside (etest.kit.archive): the flow
path gets the QTI path's bounds (total size, entries, compression ratio, unsafe paths), both
refuse before anything expands; and an import's reading runs off the event loop.

The hostile zips are written byte by byte (:func:`deflated_zip`): one deflate stream of padding
is computed once and shared by every entry, so a zip that expands to 760 MB costs the test a
fraction of a second to build, and nothing in the test ever expands it."""

from __future__ import annotations

import asyncio
import io
import json
import struct
import tracemalloc
import zipfile
import zlib
from typing import Any

import httpx
import pytest
from anyio import to_thread
from fastapi import FastAPI

from etest.content.qti import QtiLimits, QtiPackageError, read_qti
from etest.content.sources import sources_from_bytes
from etest.kit.archive import ArchiveLimits, ArchiveRefused, SafeZip, declared_entries
from tests.conftest import create_key, unique

MB = 1024 * 1024


def _deflated(head: bytes, pad: int) -> tuple[bytes, int]:
    """``head`` + ``pad`` spaces as a raw deflate stream, and their CRC-32, 1 MB at a time."""
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    parts = [comp.compress(head)]
    crc = zlib.crc32(head)
    chunk = b" " * MB
    left = pad
    while left:
        piece = chunk[: min(left, MB)]
        parts.append(comp.compress(piece))
        crc = zlib.crc32(piece, crc)
        left -= len(piece)
    parts.append(comp.flush())
    return b"".join(parts), crc


def deflated_zip(entries: list[tuple[str, bytes, int]]) -> bytes:
    """A zip of ``(name, head, pad)`` entries: each is ``head`` followed by ``pad`` spaces,
    deflated. Entries alike share one compressed stream (computed once), so the zip is small
    and quick to write however far it expands."""
    streams: dict[tuple[bytes, int], tuple[bytes, int]] = {}
    out = io.BytesIO()
    central = []
    for name, head, pad in entries:
        if (head, pad) not in streams:
            streams[head, pad] = _deflated(head, pad)
        data, crc = streams[head, pad]
        size = len(head) + pad
        raw = name.encode()
        offset = out.tell()
        fields = (20, 0, 8, 0, 0x21, crc, len(data), size, len(raw))
        out.write(struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", *fields, 0) + raw + data)
        central.append(
            struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, *fields, 0, 0, 0, 0, 0, offset)
            + raw
        )
    start = out.tell()
    directory = b"".join(central)
    out.write(directory)
    count = len(central)
    out.write(
        struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, count, count, len(directory), start, 0)
    )
    return out.getvalue()


def flow_bomb() -> bytes:
    """The finding: a zip of 40 flow files, each under the flow path's 20 MB per-file limit,
    expanding to 760 MB in all (40 x 19 MB), at a compression ratio of about 1,000."""
    head = json.dumps({"format": "etest-flow/1", "kind": "bank"}).encode()[:-1] + b", "
    return deflated_zip(
        [(f"flows/f{n:02d}.json", head, 19 * MB - len(head) - 2) for n in range(40)]
    )


def test_the_zip_writer_writes_real_zips() -> None:
    """The test's own tool: a small one reads back (and checks its CRC) with zipfile."""
    data = deflated_zip([("a.json", b'{"x": 1', 1000), ("b.json", b'{"y": 2', 1000)])
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.read("a.json") == b'{"x": 1' + b" " * 1000
        assert zf.testzip() is None


# --- the flow path has the QTI path's limits ------------------------------------------------


def _refusal(sources: list[Any]) -> str:
    assert len(sources) == 1 and sources[0].flow is None, sources
    return str(sources[0].problems[0].message)


def test_a_flow_zip_expanding_to_760_mb_is_refused_before_anything_expands() -> None:
    data = flow_bomb()
    assert len(data) < 2 * MB
    tracemalloc.start()
    try:
        sources = sources_from_bytes("bomb.zip", data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "compression ratio" in _refusal(sources) or "uncompresses" in _refusal(sources)
    assert peak < 20 * MB, f"{peak} bytes allocated: something expanded"


def test_a_flow_zip_over_the_total_size_is_refused() -> None:
    """Ratio within bounds (so the total is what refuses it): 7 x 50 MB of low-ratio data is
    too much to build here, so the same check runs on SafeZip with a small total."""
    entries = [(f"f{n}.json", b'{"n": 1', 300 * 1024) for n in range(5)]
    data = deflated_zip(entries)
    limits = ArchiveLimits(max_total_uncompressed=1 * MB, max_ratio=1e9)
    with pytest.raises(ArchiveRefused, match="uncompresses to more than"):
        SafeZip(data, limits)
    assert len(SafeZip(data, ArchiveLimits(max_ratio=1e9)).infos) == 5


def test_a_flow_zip_with_too_many_entries_is_refused_before_its_directory_is_read() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("bank.json", "{}")
        for n in range(5001):
            zf.writestr(f"m/{n}.txt", b"")
    data = buf.getvalue()
    assert declared_entries(data) == 5002
    assert "entries" in _refusal(sources_from_bytes("many.zip", data))
    with pytest.raises(QtiPackageError, match="entries"):  # the same bound on the QTI path
        read_qti(data, name="many.zip")


@pytest.mark.parametrize("entry", ["../evil.json", "/etc/evil.json", "a/../../evil.json"])
def test_a_flow_zip_with_an_unsafe_path_is_refused(entry: str) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("bank.json", "{}")
        zf.writestr(zipfile.ZipInfo(entry), "{}")
    assert "unsafe path" in _refusal(sources_from_bytes("evil.zip", buf.getvalue()))


def test_both_paths_share_one_implementation() -> None:
    """QtiLimits' zip bounds are the archive's defaults, and a bomb reads the same sentence
    on either path."""
    assert QtiLimits().archive() == ArchiveLimits()
    zeros = deflated_zip([("imsmanifest.xml", b"<manifest/>", 0), ("z.bin", b"", 8 * MB)])
    with pytest.raises(QtiPackageError, match="compression ratio") as qti:
        read_qti(zeros, name="p.zip")
    flows = deflated_zip([("bank.json", b"{", 0), ("z.bin", b"", 8 * MB)])
    assert _refusal(sources_from_bytes("f.zip", flows)) == qti.value.detail


async def test_the_api_refuses_the_flow_bomb(app: FastAPI, client: httpx.AsyncClient) -> None:
    headers = await create_key(app, "content_manager", None)
    resp = await client.post(
        "/api/v1/content/import",
        headers=headers,
        files={"file": (f"{unique('bomb')}.zip", flow_bomb(), "application/zip")},
    )
    assert resp.status_code == 422, resp.text
    body = resp.json()
    assert body["type"] == "/errors/invalid-content"
    assert "compression ratio" in body["errors"][0]["message"]


# --- imports leave the event loop ------------------------------------------------------------


def big_bank(tag: str, items: int) -> bytes:
    """A valid bank flow of ``items`` items (many HTML prompts to sanitise and hash)."""
    flow = {
        "format": "etest-flow/1",
        "kind": "bank",
        "code": f"bank-{tag}",
        "version": 1,
        "title": "Big bank",
        "items": [
            {
                "code": f"{tag}-{n}",
                "type": "single_choice",
                "skill": "reading",
                "level": "A1",
                "status": "draft",
                "prompt": f"<p>Pick <b>one</b>, number {n}.</p>" * 2,
                "options": [{"id": "A", "text": "<i>yes</i>"}, {"id": "B", "text": "no"}],
                "key": {"correct": ["A"]},
            }
            for n in range(items)
        ],
    }
    return json.dumps(flow).encode()


async def test_health_answers_while_an_import_is_read(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """Order of completion, not time: once the import is inside a worker thread (the thread
    limiter has a token out), ``/health`` on the same app answers before the import ends. Had
    the import read its file on the event loop, no token would ever be out and ``/health``
    could only run after it."""
    headers = await create_key(app, "content_manager", None)
    data = big_bank(unique("big"), 3000)
    # under Starlette's 1 MB spool: the upload itself never touches the thread pool, so a
    # token out can only be the import's
    assert len(data) < 1024 * 1024
    limiter = to_thread.current_default_thread_limiter()
    assert limiter.borrowed_tokens == 0
    order: list[str] = []

    async def import_it() -> httpx.Response:
        resp = await client.post(
            "/api/v1/content/import",
            headers=headers,
            files={"file": ("big.json", data, "application/json")},
        )
        order.append("import")
        return resp

    task = asyncio.create_task(import_it())
    while not task.done() and limiter.borrowed_tokens == 0:  # noqa: ASYNC110 (a counter)
        await asyncio.sleep(0.001)
    assert not task.done(), "the import never left the event loop"
    health = await client.get("/health")
    order.append("health")
    assert health.status_code == 200
    resp = await task
    assert resp.status_code == 200, resp.text
    assert order == ["health", "import"]
    assert resp.json()["files"][0]["items_new"] == 3000

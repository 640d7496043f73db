"""Every report opens in LibreOffice: converted headless (a profile of its own, so parallel runs
and a desktop session never share one) and read back, its cells unchanged. A CSV export keeps
the formula escaping."""

from __future__ import annotations

import asyncio
import csv
import io
import shutil
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest

from etest.report import REPORTS
from tests.report.conftest import HOSTILE_FIRST, Seed, download

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
pytestmark = pytest.mark.skipif(
    SOFFICE is None, reason="LibreOffice is missing: run scripts/install_system_packages office"
)


def convert(profile: Path, out: Path, target: str, *files: Path) -> None:
    assert SOFFICE is not None
    result = subprocess.run(
        [
            SOFFICE,
            f"-env:UserInstallation={profile.as_uri()}",
            "--headless",
            "--norestore",
            "--convert-to",
            target,
            "--outdir",
            str(out),
            *map(str, files),
        ],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def normalized(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Sheet values, floats rounded and times to the second (LibreOffice keeps 15 digits and
    rounds fractions of seconds); the About sheet's generation time left out. ``data_only``:
    LibreOffice saves a boolean as the formula ``=TRUE()`` with its cached value."""

    def value(v: Any) -> Any:
        if isinstance(v, float):
            return round(v, 9)
        if isinstance(v, datetime):
            return v.replace(microsecond=0)
        return v

    book = openpyxl.load_workbook(path, data_only=True)
    return {
        ws.title: [
            tuple(value(v) for v in row)
            for row in ws.iter_rows(values_only=True)
            if any(v is not None for v in row) and row[0] != "Generated (UTC)"
        ]
        for ws in book.worksheets
    }


async def test_every_report_opens_in_libreoffice(
    client: httpx.AsyncClient, seed: Seed, tmp_path: Path
) -> None:
    originals = []
    for name in REPORTS:
        params: dict[str, Any] = {"uic": seed.uic["R"], **seed.range}
        if name == "responses":
            params["emails"] = [c["email"] for c in seed.candidates.values()]
        resp = await download(client, seed.key["R"], name, **params)
        assert resp.status_code == 200, resp.text
        path = tmp_path / "in" / f"{name}.xlsx"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(resp.content)
        originals.append(path)
    out = tmp_path / "out"
    await asyncio.to_thread(
        convert, tmp_path / "profile", out, "xlsx:Calc MS Excel 2007 XML", *originals
    )
    for path in originals:
        converted = out / path.name
        assert converted.exists(), f"LibreOffice did not write {converted.name}"
        before, after = normalized(path), normalized(converted)
        assert after == before, path.name
    assert len(openpyxl.load_workbook(out / "placement.xlsx")["Summary"]._charts) == 1

    # CSV of the Placements sheet (the second): the escaped names stay inert text
    await asyncio.to_thread(
        convert,
        tmp_path / "profile",
        tmp_path / "csv",
        "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,2",
        originals[0],
    )
    (exported,) = (tmp_path / "csv").glob("placement*.csv")
    rows = list(csv.DictReader(io.StringIO(exported.read_text(encoding="utf-8"))))
    assert len(rows) == 3
    assert {r["First name"] for r in rows} >= {"'" + HOSTILE_FIRST, "'@SUM(1)"}
    names = [r[column] for r in rows for column in ("First name", "Last name")]
    assert not any(v.startswith(("=", "+", "-", "@")) for v in names)
    assert any(float(r["Theta"]) < 0 for r in rows)  # while numbers keep their sign

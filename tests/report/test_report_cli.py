"""``etest report`` writes the same workbook as the API, as the superadmin operator (compared
with the API as a superadmin: answers and IRT parameters are hidden from other roles)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openpyxl
import pytest
from openpyxl.workbook import Workbook
from typer.testing import CliRunner

from etest.cli import app as cli
from etest.config import Settings, get_settings
from tests.conftest import Headers
from tests.report.conftest import Seed, download


@pytest.fixture
def runner(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CliRunner]:
    monkeypatch.setenv("ETEST_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("ETEST_VAR_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


async def invoke(runner: CliRunner, *args: str) -> Any:
    # the CLI runs its own event loop: give it a thread of its own
    return await asyncio.to_thread(runner.invoke, cli, list(args))


def leftovers(folder: Path) -> list[Path]:
    """Files an aborted or finished CLI run left behind (a partial file, a failed output)."""
    return [p for p in folder.iterdir() if p.name.startswith(".") or p.name == "r.xlsx"]


def cells(book: Workbook) -> dict[str, list[tuple[Any, ...]]]:
    """Every sheet's values, without the About sheet's generation time."""
    return {
        ws.title: [row for row in ws.iter_rows(values_only=True) if row[0] != "Generated (UTC)"]
        for ws in book.worksheets
    }


@pytest.mark.parametrize(
    ("name", "extra"),
    [("placement", ()), ("ct-log", ("--level", "A1")), ("responses", ("--emails", "EMAILS"))],
)
async def test_cli_writes_the_same_workbook(
    client: httpx.AsyncClient,
    seed: Seed,
    su: Headers,
    runner: CliRunner,
    tmp_path: Path,
    name: str,
    extra: tuple[str, ...],
) -> None:
    emails = ",".join(c["email"] for c in seed.candidates.values())
    args = [emails if a == "EMAILS" else a for a in extra]
    out = tmp_path / f"{name}.xlsx"
    result = await invoke(
        runner,
        "report",
        name,
        "--uic",
        seed.uic["R"],
        "--from",
        seed.range["from"],
        "--to",
        seed.range["to"],
        "--out",
        str(out),
        *args,
    )
    assert result.exit_code == 0, result.output
    assert f"rows to {out}" in result.output
    params: dict[str, Any] = {"uic": seed.uic["R"], **seed.range}
    if extra:
        params[extra[0].lstrip("-")] = emails if extra[1] == "EMAILS" else extra[1]
    resp = await download(client, su, name, **params)
    assert resp.status_code == 200
    api = openpyxl.load_workbook(io.BytesIO(resp.content))
    written = openpyxl.load_workbook(out)
    assert cells(written) == cells(api)
    assert sum(len(rows) - 1 for title, rows in cells(api).items() if title != "About") > 0
    assert not leftovers(tmp_path)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["placement", "--from", "2026-02-01", "--to", "2026-01-31"], "(reversed-date-range)"),
        (["nope", "--from", "2026-01-01", "--to", "2026-01-31"], "(unknown-report)"),
        (
            ["placement", "--from", "2026-01-01", "--to", "2026-01-31", "--uic", "NO-SUCH"],
            "(not-found)",
        ),
    ],
)
async def test_cli_errors(runner: CliRunner, tmp_path: Path, args: list[str], message: str) -> None:
    out = tmp_path / "r.xlsx"
    result = await invoke(runner, "report", *args, "--out", str(out))
    assert result.exit_code == 1
    # one message (Rich wraps it at 80 columns when stderr is not a terminal), no traceback
    assert result.output.startswith("error (") and message in result.output.replace("\n", " ")
    assert "Traceback" not in result.output
    assert not leftovers(tmp_path)

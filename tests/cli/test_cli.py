"""The CLI against a real SQLite file: migrate, create an organization and a key, issue a token."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from etest.cli import app
from etest.config import get_settings


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("ETEST_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("ETEST_VAR_DIR", str(tmp_path))
    get_settings.cache_clear()
    yield CliRunner()
    get_settings.cache_clear()


def test_cli_flow(cli_env: CliRunner) -> None:
    result = cli_env.invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "11 levels and 5 plans added" in result.output
    again = cli_env.invoke(app, ["db", "upgrade"])
    assert "0 levels and 0 plans added" in again.output
    assert cli_env.invoke(app, ["org", "create", "SCHOOL1", "--name", "School",
                                "--plan", "neo_plus"]).exit_code == 0
    key = cli_env.invoke(app, ["apikey", "create", "--role", "admin", "--uic", "SCHOOL1"])
    assert key.exit_code == 0 and "etk_" in key.output
    listed = cli_env.invoke(app, ["apikey", "list"])
    assert "admin\tSCHOOL1\tactive" in listed.output


def test_cli_errors_are_clear(cli_env: CliRunner) -> None:
    cli_env.invoke(app, ["db", "upgrade"])
    bad = cli_env.invoke(app, ["apikey", "create", "--role", "admin", "--uic", "NOWHERE"])
    assert bad.exit_code == 1
    assert "not-found" in bad.output and "NOWHERE" in bad.output
    bad = cli_env.invoke(app, ["org", "create", "bad uic!", "--name", "x"])
    assert bad.exit_code == 2 and "uic" in bad.output
    bad = cli_env.invoke(app, ["token", "issue", "--email", "ghost@example.org"])
    assert bad.exit_code == 1 and "No candidate" in bad.output

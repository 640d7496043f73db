"""The CLI against a real SQLite file: migrate, create an organization and a key, issue a token."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from etest.cli import app
from etest.config import get_settings
from tests.support.qti import require_samples, write_sample_folder


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
    assert (
        cli_env.invoke(
            app, ["org", "create", "SCHOOL1", "--name", "School", "--plan", "neo_plus"]
        ).exit_code
        == 0
    )
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


def test_content_import_folder(cli_env: CliRunner, tmp_path: Path) -> None:
    import json

    from tests.content.test_import import OGG, SVG, make_bank, make_ct

    folder = tmp_path / "flows"
    (folder / "media").mkdir(parents=True)
    (folder / "media" / "a.opus").write_bytes(OGG)
    (folder / "media" / "p.svg").write_bytes(SVG)
    (folder / "z-bank.json").write_text(json.dumps(make_bank("cli")))
    (folder / "a-ct.json").write_text(json.dumps(make_ct("cli")))
    assert cli_env.invoke(app, ["db", "upgrade"]).exit_code == 0
    first = cli_env.invoke(app, ["content", "import", str(folder)])
    assert first.exit_code == 0, first.output
    assert "imported  bank bank-cli v1  items: 5 new" in first.output
    assert "imported  CT   ct-cli v1" in first.output
    again = cli_env.invoke(app, ["content", "import", str(folder)])
    assert again.output.count("unchanged") == 2
    bad = make_bank("cli", version=2)
    bad["items"][0]["key"] = {"correct": ["Q"]}
    (folder / "z-bank.json").write_text(json.dumps(bad))
    failed = cli_env.invoke(app, ["content", "import", str(folder)])
    assert failed.exit_code == 1
    assert "z-bank.json: $.items[0]" in failed.output


def test_demo_loads_content_and_prints_a_take_url(cli_env: CliRunner) -> None:
    from etest.demo import DEMO_CONTENT

    assert DEMO_CONTENT.is_dir(), "the demo bank ships with eTest"
    assert cli_env.invoke(app, ["db", "upgrade"]).exit_code == 0
    first = cli_env.invoke(app, ["demo"])
    assert first.exit_code == 0, first.output
    urls = [line for line in first.output.splitlines() if "/take?token=" in line]
    assert len(urls) == 1 and "new items" in first.output
    again = cli_env.invoke(app, ["demo"])
    assert [line for line in again.output.splitlines() if "/take?token=" in line] == urls
    assert "0 new items" in again.output
    # the staff console's URL and a demo sign-in whose password stays the same across runs
    console = [line for line in first.output.splitlines() if "/console" in line]
    assert console and console[0].split()[-1].endswith("/console"), first.output
    admin = next(line for line in first.output.splitlines() if "demo.admin@example.org" in line)
    assert admin in again.output
    password = admin.split("password")[-1].strip()
    assert len(password) >= 10


def test_staff_create_prints_a_password_that_signs_in(cli_env: CliRunner) -> None:
    import asyncio

    from etest.config import get_settings
    from etest.db import create_engine, create_sessionmaker, transaction
    from etest.staff.service import authenticate

    assert cli_env.invoke(app, ["db", "upgrade"]).exit_code == 0
    made = cli_env.invoke(
        app, ["staff", "create", "--email", "Ops@Example.test", "--role", "superadmin"]
    )
    assert made.exit_code == 0, made.output
    password = made.output.strip().splitlines()[-1]
    twice = cli_env.invoke(
        app, ["staff", "create", "--email", "ops@example.test", "--role", "superadmin"]
    )
    assert twice.exit_code != 0 and "has an account already" in twice.output

    async def check() -> bool:
        engine = create_engine(get_settings())
        try:
            async with transaction(create_sessionmaker(engine)) as session:
                return await authenticate(session, "ops@example.test", password) is not None
        finally:
            await engine.dispose()

    assert asyncio.run(check())


def test_content_import_of_a_qti_folder(cli_env: CliRunner, tmp_path: Path) -> None:
    folder = write_sample_folder(tmp_path / "qti")
    assert cli_env.invoke(app, ["db", "upgrade"]).exit_code == 0
    first = cli_env.invoke(app, ["content", "import", str(folder)])
    assert first.exit_code == 3, first.output  # the rest imported, a package refused
    summary = next(line for line in first.output.splitlines() if line.startswith("QTI:"))
    assert int(summary.split()[1]) == 2, summary
    assert "refused   broken/BadManifest.zip" in first.output
    assert "unsupported interaction" in first.output
    again = cli_env.invoke(app, ["content", "import", str(folder)])
    assert again.exit_code == 3
    assert "imported " not in again.output.replace("items imported", "")


def test_content_import_of_the_shared_qti_samples(cli_env: CliRunner) -> None:
    samples = require_samples()
    assert cli_env.invoke(app, ["db", "upgrade"]).exit_code == 0
    first = cli_env.invoke(app, ["content", "import", str(samples)])
    assert first.exit_code == 3, first.output  # malformed/ holds refused packages
    summary = next(line for line in first.output.splitlines() if line.startswith("QTI:"))
    imported = int(summary.split()[1])
    assert imported >= 35, summary
    assert "refused   davemckain-qtiworks/malformed/BadManifest.zip" in first.output


def test_simulate_a_demo_flow(cli_env: CliRunner, tmp_path: Path) -> None:
    import json

    from etest.demo import DEMO_CONTENT

    result = cli_env.invoke(
        app,
        [
            "simulate",
            str(DEMO_CONTENT / "pt_neo_jr.json"),
            "--per-level",
            "10",
            "-o",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "| Pre A1 |" in result.output and "| all |" in result.output
    report = json.loads((tmp_path / "placement.json").read_text())
    assert [r["level"] for r in report["levels"]] == ["Pre A1", "A1", "A1+"]
    assert report["overall"]["n"] == 30 and 0 <= report["overall"]["within_one"] <= 1
    assert report["overall"]["max_length"] <= 19


def test_setting_only_the_port_moves_the_printed_take_link(
    cli_env: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ETEST_PORT", "8765")
    monkeypatch.delenv("ETEST_BASE_URL", raising=False)
    get_settings.cache_clear()
    assert cli_env.invoke(app, ["db", "upgrade"]).exit_code == 0
    demo = cli_env.invoke(app, ["demo"])
    assert demo.exit_code == 0, demo.output
    links = [line for line in demo.output.splitlines() if "/take?token=" in line]
    assert links and all("http://127.0.0.1:8765/take?token=" in line for line in links)


def test_token_issue_names_the_tree_when_an_email_is_in_two(cli_env: CliRunner) -> None:
    from etest.candidate import service as candidates
    from etest.candidate.schemas import CandidateCreate
    from etest.cli import cli_actor, run_in_transaction

    assert cli_env.invoke(app, ["db", "upgrade"]).exit_code == 0
    assert cli_env.invoke(app, ["demo"]).exit_code == 0
    assert (
        cli_env.invoke(
            app, ["org", "create", "OTHERCO", "--name", "Other", "--plan", "neo_plus"]
        ).exit_code
        == 0
    )

    async def register(session, _settings):  # type: ignore[no-untyped-def]
        for uic in ("DEMO", "OTHERCO"):
            await candidates.create(
                session, cli_actor(), CandidateCreate(email="twin@example.org", uic=uic)
            )

    run_in_transaction(register)
    ambiguous = cli_env.invoke(app, ["token", "issue", "--email", "twin@example.org"])
    assert ambiguous.exit_code == 1 and "email-ambiguous" in ambiguous.output
    issued = cli_env.invoke(
        app, ["token", "issue", "--email", "twin@example.org", "--uic", "OTHERCO"]
    )
    assert issued.exit_code == 0, issued.output
    assert "/take?token=" in issued.output

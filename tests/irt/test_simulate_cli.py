"""``etest simulate`` end to end through Typer's runner: files written, errors on stderr."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from etest.simulation.bankfile import BankFileError, parse_bank, parse_config
from etest.simulation.cli import simulate_command
from etest.simulation.example import example_bank, example_config, example_paths

TINY_BANK = {
    "items": [
        {
            "id": f"t{j:02d}",
            "a": 1.0 + 0.05 * (j % 7),
            "b": -2.0 + 0.2 * j,
            "c": 0.2,
            "skill": ("reading", "grammar")[j % 2],
            "level": j * 3 // 21,
        }
        for j in range(21)
    ]
}
TINY_CONFIG = {
    "cut_scores": [-0.6, 0.6],
    "level_names": ["low", "mid", "high"],
    "min_items": 5,
    "max_items": 12,
    "content_targets": {"reading": 0.5, "grammar": 0.5},
}


def cli() -> typer.Typer:
    # How the main CLI registers it: app.command("simulate")(simulate_command).
    app = typer.Typer()
    app.callback()(lambda: None)
    app.command("simulate")(simulate_command)
    return app


def write(tmp_path: Path, name: str, data: object) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def test_simulate_writes_json_and_png(tmp_path: Path) -> None:
    bank = write(tmp_path, "bank.json", TINY_BANK)
    config = write(tmp_path, "config.json", TINY_CONFIG)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        cli(),
        ["simulate", str(bank), "--config", str(config), "-n", "40", "--seed", "3", "-o", str(out)],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "simulation.json").read_text())
    assert summary["simulees"] == 40 and summary["seed"] == 3 and summary["bank_items"] == 21
    assert 5 <= summary["length"]["mean"] <= 12
    assert summary["level_names"] == ["low", "mid", "high"]
    assert set(summary["classification"]) >= {"accuracy_exact", "accuracy_within_one"}
    assert {"max_rate", "share_never_used"} <= set(summary["exposure"])
    # Item t13 (b = 0.6) is labelled "mid" but sits on the cut, in the "high" band: 20 of 21.
    assert summary["item_levels_in_band"] == pytest.approx(20 / 21)
    png = (out / "simulation.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 10_000
    again = CliRunner().invoke(
        cli(),
        [
            "simulate",
            str(bank),
            "--config",
            str(config),
            "-n",
            "40",
            "--seed",
            "3",
            "-o",
            str(tmp_path / "again"),
        ],
    )
    assert again.exit_code == 0
    repeat = json.loads((tmp_path / "again" / "simulation.json").read_text())
    assert repeat["rmse"] == summary["rmse"] and repeat["length"] == summary["length"]


def test_cuts_on_the_command_line(tmp_path: Path) -> None:
    bank = write(tmp_path, "bank.json", TINY_BANK["items"])
    result = CliRunner().invoke(
        cli(), ["simulate", str(bank), "--cuts", "-0.5, 0.5", "-n", "10", "-o", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "simulation.json").read_text())["config"]["cut_scores"] == [
        -0.5,
        0.5,
    ]


@pytest.mark.parametrize(
    ("bank", "args", "message"),
    [
        (None, [], "no such file"),
        (
            {"items": [{"id": "x", "a": -1.0, "b": 0.0}]},
            ["--cuts", "0"],
            "item 'x': discrimination",
        ),
        ({"items": [{"id": "x", "a": 1.0, "b": "hard"}]}, ["--cuts", "0"], "'b' must be a number"),
        ({"items": []}, ["--cuts", "0"], "no items"),
        (TINY_BANK, [], "cut scores are plan data"),
        (TINY_BANK, ["--cuts", "1,0"], "strictly increasing"),
        (TINY_BANK, ["--cuts", "zero"], "comma-separated numbers"),
        (TINY_BANK, ["--cuts", "0", "--ability-sd", "0"], "--ability-sd"),
    ],
)
def test_errors_go_to_stderr_with_a_nonzero_exit(
    tmp_path: Path, bank: object, args: list[str], message: str
) -> None:
    path = tmp_path / "missing.json" if bank is None else write(tmp_path, "bank.json", bank)
    result = CliRunner().invoke(cli(), ["simulate", str(path), *args, "-o", str(tmp_path)])
    assert result.exit_code == 1
    assert message in result.stderr
    assert result.stdout == ""
    assert not (tmp_path / "simulation.json").exists()


def test_bad_config_file_is_reported(tmp_path: Path) -> None:
    bank = write(tmp_path, "bank.json", TINY_BANK)
    config = write(tmp_path, "config.json", {"cut_scores": [0.0], "max_itmes": 3})
    result = CliRunner().invoke(
        cli(), ["simulate", str(bank), "-c", str(config), "-o", str(tmp_path)]
    )
    assert result.exit_code == 1 and "unknown engine setting(s) 'max_itmes'" in result.stderr
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    result = CliRunner().invoke(
        cli(), ["simulate", str(bank), "-c", str(broken), "-o", str(tmp_path)]
    )
    assert result.exit_code == 1 and "not valid JSON" in result.stderr


def test_file_format_details() -> None:
    bank = parse_bank(TINY_BANK, ["low", "mid", "high"])
    assert bank.levels is not None and bank.levels[0] == 0 and bank.skills[1] == "grammar"
    named = parse_bank([{"id": "x", "a": 1, "b": 0, "level": "MID"}], ["low", "mid", "high"])
    assert named.levels == (1,)
    with pytest.raises(BankFileError, match="unknown field"):
        parse_bank([{"id": "x", "a": 1, "b": 0, "diff": 2}])
    with pytest.raises(BankFileError, match="level 'B3'"):
        parse_bank([{"id": "x", "a": 1, "b": 0, "level": "B3"}], ["low"])
    with pytest.raises(BankFileError, match="'level_names' must list 2 names"):
        parse_config({"cut_scores": [0.0], "level_names": ["one"]})


def test_the_shipped_example_matches_its_generator() -> None:
    bank_path, config_path = example_paths()
    assert json.loads(bank_path.read_text()) == {"items": example_bank()}
    assert json.loads(config_path.read_text()) == example_config()
    setup = parse_config(example_config())
    bank = parse_bank({"items": example_bank()}, setup.level_names)
    assert len(bank) == 300 and len(setup.config.cut_scores) == 10
    assert bank.levels is not None and sorted(set(bank.levels)) == list(range(11))


def test_a_bank_with_gpcm_items_is_simulated_with_their_scores(tmp_path: Path) -> None:
    items = [
        *TINY_BANK["items"],
        *(
            {
                "id": f"cz{j}",
                "a": 1.1,
                "steps": [-1.5 + j * 0.5, -0.8 + j * 0.5, 0.1 + j * 0.5],
                "skill": ("reading", "grammar")[j % 2],
            }
            for j in range(5)
        ),
    ]
    bank = write(tmp_path, "bank.json", {"items": items})
    config = write(tmp_path, "config.json", TINY_CONFIG)
    result = CliRunner().invoke(
        cli(), ["simulate", str(bank), "-c", str(config), "-n", "30", "-o", str(tmp_path)]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "simulation.json").read_text())
    assert summary["bank_items"] == 26 and summary["gpcm_items"] == 5
    assert "26  (5 GPCM)" in result.stdout
    parsed = parse_bank(items)
    assert parsed.max_score.tolist() == [1] * 21 + [3] * 5
    assert parsed.b[21] == pytest.approx(-0.7333333)  # the mean of the steps
    with pytest.raises(BankFileError, match="two or more finite numbers"):
        parse_bank([{"id": "x", "a": 1, "steps": [0.2]}])
    with pytest.raises(BankFileError, match="no 'c' or 'd'"):
        parse_bank([{"id": "x", "a": 1, "steps": [0.2, 0.4], "c": 0.2}])

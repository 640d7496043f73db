"""``etest simulate BANK``: run simulated candidates through the irt engine, write JSON and PNG.

Register it on the main CLI with ``cli.command("simulate")(simulate_command)``; ``app`` runs it
standalone (``python -m etest.simulation.cli simulate BANK``).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from etest.irt import CatEngine, EngineConfig, IRTError, simulate
from etest.simulation.bankfile import BankFileError, SimulationSetup, load_bank, load_config
from etest.simulation.example import example_paths
from etest.simulation.plot import write_plot

__all__ = ["app", "simulate_command"]

app = typer.Typer(help="Psychometric simulation of the irt placement engine.", no_args_is_help=True)


@app.callback()
def _group() -> None:
    """Psychometric simulation of the irt placement engine."""


def _cut_scores(text: str) -> tuple[float, ...]:
    try:
        cuts = tuple(float(part) for part in text.replace(";", ",").split(",") if part.strip())
    except ValueError:
        raise BankFileError(f"--cuts must be comma-separated numbers, got {text!r}") from None
    if not all(math.isfinite(c) for c in cuts):
        raise BankFileError("--cuts must be finite numbers")
    return cuts


def _setup(config: Path | None, cuts: str | None) -> SimulationSetup:
    if config is None and cuts is None:
        raise BankFileError("cut scores are plan data: give --config FILE or --cuts a,b,c")
    setup = load_config(config) if config is not None else None
    if cuts is None:
        assert setup is not None
        return setup
    cut_scores = _cut_scores(cuts)
    names = tuple(f"level {k}" for k in range(len(cut_scores) + 1))
    if setup is None:
        return SimulationSetup(EngineConfig(cut_scores=cut_scores), names)
    if len(setup.level_names) == len(cut_scores) + 1:
        names = setup.level_names
    return SimulationSetup(setup.config.replace(cut_scores=cut_scores), names)


def _report(summary: dict[str, Any], json_path: Path, png_path: Path) -> Table:
    table = Table(title="etest simulate", show_header=False)
    cls = summary["classification"]
    rows = [
        ("simulees", f"{summary['simulees']}  (seed {summary['seed']})"),
        (
            "bank items",
            f"{summary['bank_items']}"
            + (f"  ({summary['gpcm_items']} GPCM)" if summary.get("gpcm_items") else ""),
        ),
        (
            "mean length",
            f"{summary['length']['mean']:.1f}  (min {summary['length']['min']}, "
            f"max {summary['length']['max']})",
        ),
        ("bias / RMSE", f"{summary['bias']:+.3f} / {summary['rmse']:.3f}"),
        ("mean reported SE", f"{summary['mean_se']:.3f}"),
        (
            "level accuracy exact",
            f"{cls['accuracy_exact']:.3f} ± {cls['accuracy_exact_mc_se']:.3f}",
        ),
        ("within one level", f"{cls['accuracy_within_one']:.3f}"),
        ("stop reasons", ", ".join(f"{k} {v:.0%}" for k, v in summary["stop_reasons"].items())),
        ("max exposure", f"{summary['exposure']['max_rate']:.3f}"),
        ("items never used", f"{summary['exposure']['share_never_used']:.1%}"),
        ("ms per step", f"{summary['ms_per_step']:.3f}"),
        ("written", f"{json_path}\n{png_path}"),
    ]
    for label, value in rows:
        table.add_row(label, value)
    return table


def _is_flow(path: Path) -> bool:
    try:
        return bool(json.loads(path.read_text()).get("format") == "etest-flow/1")
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        return False


def _simulate_flow(path: Path, per_level: int, seed: int, output: Path, err: Console) -> None:
    from etest.attempt.quality import flow_study, markdown

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
    ) as progress:
        task = progress.add_task(f"simulating {path.name}", total=None)
        try:
            result = flow_study(
                path, per_level=per_level, seed=seed, progress=lambda k: progress.advance(task, k)
            )
        except ValueError as exc:
            raise BankFileError(str(exc)) from exc
    Console().print(markdown(result), highlight=False, soft_wrap=True)
    output.mkdir(parents=True, exist_ok=True)
    (output / "placement.json").write_text(json.dumps(result, indent=1))
    err.print(f"wrote {output / 'placement.json'}")


def simulate_command(
    bank: Annotated[
        str,
        typer.Argument(
            metavar="BANK",
            help="Bank JSON file (see docs/irt.md), or 'example' for the shipped bank.",
        ),
    ],
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", help="Engine configuration JSON (cut scores, level names, rules)."
        ),
    ] = None,
    cuts: Annotated[
        str | None,
        typer.Option("--cuts", help="Comma-separated cut scores; override the configuration's."),
    ] = None,
    examinees: Annotated[
        int, typer.Option("--examinees", "-n", min=1, help="Simulated candidates.")
    ] = 1000,
    seed: Annotated[
        int, typer.Option(min=0, help="Seed: the same seed gives the same report.")
    ] = 0,
    ability_mean: Annotated[float, typer.Option(help="Mean of the true abilities.")] = 0.0,
    ability_sd: Annotated[float, typer.Option(help="SD of the true abilities.")] = 1.0,
    output: Annotated[
        Path,
        typer.Option("--output", "-o", help="Directory for simulation.json and simulation.png."),
    ] = Path("."),
    per_level: Annotated[
        int, typer.Option(min=1, help="For a PT flow file: simulated candidates per level.")
    ] = 200,
) -> None:
    """Simulate candidates taking the placement test on BANK; write JSON and PNG reports.

    BANK may also be a placement-test flow file (``etest-flow/1``, e.g.
    ``src/etest/data/demo/pt_neo_plus.json``): candidates at every level then take that flow
    through the delivery engines (staged or irt), and the placement-quality table is printed
    and written to ``placement.json`` (see docs/placement.md)."""
    err = Console(stderr=True)
    try:
        bank_path = Path(bank)
        if bank == "example" and not bank_path.exists():
            bank_path, example_config = example_paths()
            config = config if config is not None or cuts is not None else example_config
        if not bank_path.is_file():
            raise BankFileError(f"{bank_path}: no such file")
        if _is_flow(bank_path):
            _simulate_flow(bank_path, per_level, seed, output, err)
            return
        if not (math.isfinite(ability_mean) and math.isfinite(ability_sd) and ability_sd > 0):
            raise BankFileError("--ability-sd must be > 0 and both ability options finite")
        setup = _setup(config, cuts)
        item_bank = load_bank(bank_path, setup.level_names)
        engine = CatEngine(item_bank, setup.config)
        with Progress(
            TextColumn("simulating"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=err,
            transient=True,
        ) as progress:
            task = progress.add_task("simulate", total=examinees)
            result = simulate(
                item_bank,
                setup.config,
                n=examinees,
                seed=seed,
                ability_mean=ability_mean,
                ability_sd=ability_sd,
                engine=engine,
                progress=lambda k: progress.advance(task, k),
            )
        summary = result.summary()
        summary["bank"] = str(bank_path)
        # items scored 0 … k (GPCM): the simulees earn their points, the engine counts them
        summary["gpcm_items"] = int(np.sum(item_bank.max_score > 1))
        summary["level_names"] = list(setup.level_names)
        summary["ability_distribution"] = {"mean": ability_mean, "sd": ability_sd}
        summary["bank_warnings"] = item_bank.warnings()
        summary["content_warnings"] = list(engine.content_warnings)
        if item_bank.levels is not None:
            known = [(j, lv) for j, lv in enumerate(item_bank.levels) if lv is not None]
            bands = np.searchsorted(np.asarray(setup.config.cut_scores), item_bank.b, side="right")
            summary["item_levels_in_band"] = float(np.mean([bands[j] == lv for j, lv in known]))
        output.mkdir(parents=True, exist_ok=True)
        json_path, png_path = output / "simulation.json", output / "simulation.png"
        json_path.write_text(json.dumps(summary, indent=2, default=_json_default) + "\n")
        write_plot(result, png_path, setup.level_names)
    except (BankFileError, IRTError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    except OSError as exc:
        typer.echo(f"error: cannot write output: {exc}", err=True)
        raise typer.Exit(1) from None
    Console().print(_report(summary, json_path, png_path))


def _json_default(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    raise TypeError(f"not JSON serialisable: {value!r}")


app.command("simulate")(simulate_command)

if __name__ == "__main__":
    app()

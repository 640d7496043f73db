"""The PNG of ``etest simulate``: conditional precision and item exposure."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from etest.irt import SimulationResult

__all__ = ["write_plot"]


def write_plot(result: SimulationResult, path: Path, level_names: Sequence[str] = ()) -> None:
    """Two panels: reported SE and empirical RMSE by true ability, and sorted exposure rates."""
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    left, right = fig.subplots(1, 2)

    rows = [r for r in result.conditional(np.arange(-3.0, 3.01, 0.5)) if r["n"] >= 20]
    mids = [0.5 * (max(r["from"], -3.75) + min(r["to"], 3.75)) for r in rows]
    left.plot(mids, [r["mean_se"] for r in rows], marker="o", ms=3, label="mean reported SE")
    left.plot(mids, [r["rmse"] for r in rows], marker="s", ms=3, label="empirical RMSE")
    if result.config.se_target is not None:
        left.axhline(result.config.se_target, color="grey", ls=":", lw=1, label="SE target")
    for cut in result.config.cut_scores:
        left.axvline(cut, color="lightgrey", lw=0.8, zorder=0)
    left.set_xlabel("true ability θ (bins of 0.5 with ≥ 20 simulees; cut scores as lines)")
    left.set_ylabel("logits")
    left.set_title(f"Conditional precision ({result.n} simulees)")
    left.legend(fontsize=8)
    axis2 = left.twinx()
    axis2.bar(mids, [r["mean_length"] for r in rows], width=0.4, alpha=0.15, color="green")
    axis2.set_ylabel("mean test length (bars)")

    rates = np.sort(result.exposure_rates())[::-1]
    right.plot(np.arange(1, rates.size + 1), rates, lw=1.2)
    right.set_xlabel("items, most exposed first")
    right.set_ylabel("exposure rate")
    never = float(np.mean(rates == 0))
    right.set_title(f"Exposure: max {rates[0]:.2f}, never used {never:.0%}")
    if level_names and result.bank.levels is not None:
        right.text(
            0.98,
            0.95,
            f"{len(level_names)} levels, {len(result.bank)} items",
            transform=right.transAxes,
            ha="right",
            va="top",
            fontsize=8,
        )
    fig.savefig(path, dpi=110)

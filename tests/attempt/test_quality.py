"""Placement quality by simulation (``etest.attempt.quality``): candidates who guess on choice
items, and the exposure count, on the shipped demo PT through the real engine."""

from __future__ import annotations

import dataclasses
import uuid
from pathlib import Path

import numpy as np
import pytest

from etest import irt
from etest.attempt.engines import ItemInfo
from etest.attempt.quality import (
    Bank,
    engine_config,
    flow_study,
    load_bank,
    simulated_points,
    study,
)
from etest.content.schemas import FlowFile

DEMO = Path(__file__).resolve().parents[2] / "src" / "etest" / "data" / "demo"
CUTS = [-2.25, -1.75, -1.25, -0.75, -0.25, 0.25, 0.75, 1.25, 1.75, 2.25]
LEVELS = ["Pre A1", "A1", "A1+", "A2", "A2+", "B1", "B1+", "B2", "B2+", "C1", "C1-Bridge"]


def _setup(*, without_c: bool = False) -> tuple[dict[str, object], Bank]:
    bank = load_bank(DEMO)
    if without_c:  # the bank as stored before it had guessing parameters
        bank = dataclasses.replace(
            bank, items={k: dataclasses.replace(i, c=None) for k, i in bank.items.items()}
        )
    flow = FlowFile.model_validate_json((DEMO / "pt_neo_plus.json").read_text())
    return engine_config(flow, bank), bank


def test_the_bank_knows_its_choice_items() -> None:
    bank = load_bank(DEMO)
    assert len(bank.choice) == 186 + 15 + 11  # single + multiple choice + hottext
    assert bank.by_code["demo-b1-l01"] in bank.choice
    text_entry = [c for c, k in bank.by_code.items() if k not in bank.choice]
    assert len(text_entry) == 299 - 212


def test_guessers_are_placed_too_high_by_a_bank_without_c() -> None:
    config, bank = _setup(without_c=True)
    honest = study(config, bank, LEVELS, CUTS, per_level=20, seed=5)
    guessers = study(config, bank, LEVELS, CUTS, per_level=20, seed=5, guessing=0.25)
    # Pre A1 candidates who guess look like A1 or A1+ to an engine that ignores guessing (with
    # the gap items of the demo bank, scored by the GPCM, most still land within one level)
    assert guessers[0].exact < honest[0].exact
    assert guessers[0].within_one <= honest[0].within_one


def test_guessing_touches_only_choice_items() -> None:
    config, bank = _setup(without_c=True)
    no_choice = dataclasses.replace(bank, choice=frozenset())
    plain = study(config, no_choice, LEVELS, CUTS, per_level=3, seed=2)
    guessed = study(config, no_choice, LEVELS, CUTS, per_level=3, seed=2, guessing=0.5)
    assert [r.as_dict() for r in plain] == [r.as_dict() for r in guessed]


def test_exposure_counts_every_served_item() -> None:
    config, bank = _setup()
    counts: dict[uuid.UUID, int] = {}
    rows = study(config, bank, LEVELS, CUTS, per_level=3, seed=1, exposure=counts)
    assert sum(counts.values()) == sum(sum(r.lengths) for r in rows)
    assert set(counts) <= set(bank.items)


def test_flow_study_reports_guessing_and_exposure() -> None:
    counts: dict[uuid.UUID, int] = {}
    result = flow_study(
        DEMO / "pt_neo_plus.json", per_level=2, seed=1, guessing=0.2, exposure=counts
    )
    assert result["guessing"] == 0.2
    exposure = result["exposure"]
    candidates = result["overall"]["n"]
    assert exposure["items"] == 299
    assert exposure["max_rate"] == round(max(counts.values()) / candidates, 3)
    assert exposure["mean_rate"] == round(sum(counts.values()) / candidates / 299, 3)
    assert 0 < exposure["never_used"] < 1


def test_guessing_outside_zero_to_one_is_refused() -> None:
    config, bank = _setup()
    with pytest.raises(ValueError, match="guessing"):
        study(config, bank, LEVELS, CUTS, per_level=1, guessing=1.0)


def test_simulated_candidates_earn_gpcm_points_by_the_category_probabilities() -> None:
    cloze = ItemInfo(uuid.UUID(int=1), "grammar", "B1", 1.2, 0.0, 0.0, (-0.8, 0.1, 0.9), 3)
    rng = np.random.default_rng(4)
    counts = np.bincount([simulated_points(cloze, 0.3, rng) for _ in range(20_000)], minlength=4)
    expected = irt.gpcm_probabilities(0.3, 1.2, [-0.8, 0.1, 0.9]).reshape(-1)
    assert np.max(np.abs(counts / 20_000 - expected)) < 0.015
    # a dichotomous-model item with four gaps: all four points with its 2PL probability, or none
    binary = ItemInfo(uuid.UUID(int=2), "grammar", "B1", 1.2, 0.0, 0.0, None, 4)
    drawn = {simulated_points(binary, 0.0, rng) for _ in range(200)}
    assert drawn == {0, 4}

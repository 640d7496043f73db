"""Item bank validation: every bad parameter is a typed error naming the item."""

from __future__ import annotations

import math

import numpy as np
import pytest

from etest.irt import (
    EmptyBank,
    InvalidItemParameters,
    ItemBank,
    ShapeMismatch,
    item_information,
)
from tests.irt.support import create_bank


def test_valid_bank_is_read_only_and_knows_its_model() -> None:
    bank = ItemBank.from_arrays(["x", "y"], [1.0, 2.0], [0.0, 1.0], 0.2, skills=["r", "g"])
    assert len(bank) == 2 and bank.model == "3pl"
    assert bank.skill_names == ("g", "r") and bank.skill_codes.tolist() == [1, 0]
    assert bank.index_of("y") == 1
    with pytest.raises(ValueError, match="read-only"):
        bank.a[0] = 3.0
    assert ItemBank.from_arrays(["x", "y"], [1.0, 1.0], [0.0, 1.0]).model == "1pl"
    assert ItemBank.from_arrays(["x", "y"], [1.0, 2.0], [0.0, 1.0]).model == "2pl"
    assert ItemBank.from_arrays(["x"], [1.0], [0.0], 0.1, 0.9).model == "4pl"


@pytest.mark.parametrize(
    ("a", "b", "c", "d", "words"),
    [
        (1.0, math.nan, 0.0, 1.0, "b = nan"),
        (math.inf, 0.0, 0.0, 1.0, "a = inf"),
        (-0.5, 0.0, 0.0, 1.0, "discrimination a = -0.5 must be > 0"),
        (0.0, 0.0, 0.0, 1.0, "must be > 0"),
        (1.0, 0.0, 1.0, 1.0, "lower asymptote c = 1.0"),
        (1.0, 0.0, -0.1, 1.0, "lower asymptote c = -0.1"),
        (1.0, 0.0, 0.3, 0.2, "upper asymptote d = 0.2"),
        (1.0, 0.0, 0.0, 1.2, "upper asymptote d = 1.2"),
    ],
)
def test_bad_parameters_name_the_item(a: float, b: float, c: float, d: float, words: str) -> None:
    with pytest.raises(InvalidItemParameters, match="item 'bad'") as info:
        ItemBank.from_arrays(["ok", "bad"], [1.0, a], [0.0, b], [0.0, c], [1.0, d])
    assert info.value.item_id == "bad"
    assert words in str(info.value)
    assert isinstance(info.value, ValueError)


def test_several_bad_items_report_the_first_and_count_the_rest() -> None:
    with pytest.raises(InvalidItemParameters, match=r"item 'y'.*\(and 1 more invalid item\)"):
        ItemBank.from_arrays(["x", "y", "z"], [1.0, -1.0, -2.0], [0.0, 0.0, 0.0])


def test_empty_bank_mismatched_shapes_and_duplicates() -> None:
    with pytest.raises(EmptyBank):
        ItemBank.from_arrays([], [], [])
    with pytest.raises(ShapeMismatch, match="a has shape"):
        ItemBank.from_arrays(["x"], [1.0, 1.0], [0.0])
    with pytest.raises(ShapeMismatch, match="skills"):
        ItemBank.from_arrays(["x", "y"], [1.0, 1.0], [0.0, 0.0], skills=["r"])
    with pytest.raises(ShapeMismatch, match="levels"):
        ItemBank.from_arrays(["x", "y"], [1.0, 1.0], [0.0, 0.0], levels=[1])
    with pytest.raises(ShapeMismatch, match="not an array of numbers"):
        ItemBank.from_arrays(["x"], ["one"], [0.0])
    with pytest.raises(InvalidItemParameters, match="duplicate") as info:
        ItemBank.from_arrays(["x", "x"], [1.0, 1.0], [0.0, 0.0])
    assert info.value.item_id == "x"


def test_fast_information_matches_the_model_function() -> None:
    bank = create_bank(500, seed=3)
    for theta in (-7.0, -1.3, 0.0, 2.2, 9.0):
        expected = item_information(theta, bank.a, bank.b, bank.c, bank.d)
        assert bank.information(theta) == pytest.approx(expected, rel=1e-12, abs=1e-300)
    idx = np.array([5, 1, 400])
    assert bank.information_of(0.4, idx) == pytest.approx(bank.information(0.4)[idx], rel=1e-15)


def test_subset_and_warnings() -> None:
    bank = ItemBank.from_arrays(["x", "y", "z"], [0.1, 1.0, 5.0], [0.0, 1.0, 2.0], levels=[0, 1, 2])
    sub = bank.subset([2, 0])
    assert sub.ids == ("z", "x") and sub.levels == (2, 0) and sub.a.tolist() == [5.0, 0.1]
    assert [w.split(":")[0] for w in bank.warnings()] == ["item 'x'", "item 'z'"]

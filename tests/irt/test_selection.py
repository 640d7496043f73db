"""Item selection: MFI, randomesque, Sympson–Hetter, content balancing, exclusions."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chisquare

from etest.irt import (
    InvalidConfiguration,
    ItemBank,
    NoEligibleItem,
    StepRandom,
    item_information,
    select_item,
)
from etest.irt.infoindex import information_index
from etest.irt.selection import ContentPlan, content_deficits
from tests.irt.support import SKILLS, create_bank


def test_maximum_information_picks_the_argmax_and_skips_administered() -> None:
    bank = create_bank(300, seed=1)
    info = item_information(0.4, bank.a, bank.b, bank.c, bank.d)
    order = np.argsort(-info, kind="stable")
    assert select_item(bank, 0.4).item == order[0]
    chosen = select_item(bank, 0.4, administered=[int(order[0]), int(order[1])])
    assert chosen.item == order[2]
    assert chosen.information == pytest.approx(info[order[2]])


def test_ties_go_to_the_lower_position() -> None:
    bank = ItemBank.from_arrays(["a", "b", "c"], [1.0, 1.0, 1.0], [0.5, 0.0, 0.0])
    assert select_item(bank, 0.0).item == 1
    assert select_item(bank, 0.0, randomesque_k=2, rng=StepRandom(1, 0)).candidates == (1, 2)


def test_randomesque_draws_each_of_the_top_k_equally_often() -> None:
    bank = create_bank(100, seed=2)
    k1 = select_item(bank, 0.0)
    picks = [
        select_item(bank, 0.0, StepRandom(seed, 0), randomesque_k=5).item for seed in range(3000)
    ]
    top5 = select_item(bank, 0.0, StepRandom(0, 0), randomesque_k=5).candidates
    assert top5[0] == k1.item
    counts = [picks.count(j) for j in top5]
    assert sum(counts) == 3000
    assert chisquare(counts).pvalue > 0.001


def test_randomesque_with_a_numpy_generator_is_reproducible() -> None:
    bank = create_bank(100, seed=2)
    first = select_item(bank, 0.3, np.random.default_rng(5), randomesque_k=5)
    again = select_item(bank, 0.3, np.random.default_rng(5), randomesque_k=5)
    assert first == again
    with pytest.raises(InvalidConfiguration, match="need an rng"):
        select_item(bank, 0.3, randomesque_k=5)
    with pytest.raises(InvalidConfiguration):
        select_item(bank, 0.3, randomesque_k=0)


def test_seen_items_are_a_recorded_last_resort_and_excluded_items_never_come() -> None:
    bank = create_bank(6, seed=3)
    best = select_item(bank, 0.0).item
    assert select_item(bank, 0.0, seen=[best]).item != best
    others = [j for j in range(6) if j != best]
    fallback = select_item(bank, 0.0, administered=others, seen=[best])
    assert fallback.item == best and fallback.seen_fallback
    assert not select_item(bank, 0.0, seen=[best]).seen_fallback
    assert select_item(bank, 0.0, excluded=[best]).item != best
    with pytest.raises(NoEligibleItem):
        select_item(bank, 0.0, administered=others, excluded=[best])
    with pytest.raises(NoEligibleItem):
        select_item(bank, 0.0, excluded=range(6))


def test_sympson_hetter_gives_an_item_with_k_half_about_half_the_time() -> None:
    bank = create_bank(50, seed=4)
    best = select_item(bank, 0.0).item
    exposure = {bank.ids[best]: 0.5}
    given = [
        select_item(bank, 0.0, StepRandom(s, 0), exposure=exposure).item == best
        for s in range(2000)
    ]
    assert 0.45 < np.mean(given) < 0.55
    rejected = select_item(bank, 0.0, StepRandom(0, 0), exposure=np.zeros(50))
    assert rejected.exposure_override and rejected.item == best
    assert len(rejected.exposure_rejections) == 50
    with pytest.raises(InvalidConfiguration, match="unknown item"):
        select_item(bank, 0.0, StepRandom(0, 0), exposure={"nope": 0.5})


def test_content_balancing_keeps_every_skill_within_one_item_of_target() -> None:
    bank = create_bank(400, seed=5)
    targets = {"listening": 0.4, "reading": 0.3, "grammar": 0.2, "vocabulary": 0.1}
    administered: list[int] = []
    for _ in range(40):
        sel = select_item(bank, 0.2, administered=administered, content_targets=targets)
        assert sel.skill is not None and not sel.relaxations
        administered.append(sel.item)
        n = len(administered)
        counts = {s: sum(bank.skills[j] == s for j in administered) for s in SKILLS}
        for skill, share in targets.items():
            assert abs(counts[skill] - share * n) < 1.1, (n, counts)


def test_an_exhausted_skill_is_relaxed_and_reported() -> None:
    skills = ["reading"] * 2 + ["grammar"] * 20
    bank = ItemBank.from_arrays(
        [f"i{j}" for j in range(22)], np.ones(22), np.zeros(22), skills=skills
    )
    targets = {"reading": 0.5, "grammar": 0.5}
    sel = select_item(bank, 0.0, administered=[0, 1, 2, 3], content_targets=targets)
    assert sel.skill == "grammar"
    assert [(r.skill, r.reason, r.position) for r in sel.relaxations] == [
        ("reading", "exhausted", 4)
    ]
    seen = select_item(bank, 0.0, administered=[0, 2], seen=[1], content_targets=targets)
    assert seen.skill == "grammar" and seen.relaxations[0].reason == "only_seen_items"


def test_infeasible_targets_are_refused() -> None:
    bank = create_bank(20, seed=6, skills=("reading", "grammar"))
    with pytest.raises(InvalidConfiguration, match="'listening', which no item has"):
        ContentPlan.build(bank, {"reading": 0.5, "listening": 0.5})
    deficits, order = content_deficits(bank, {"reading": 0.75, "grammar": 0.25}, [0, 2])
    assert dict(zip(bank.skill_names, deficits.tolist(), strict=True)) == {
        "grammar": pytest.approx(0.75),
        "reading": pytest.approx(0.25),
    }
    assert [bank.skill_names[k] for k in order] == ["grammar", "reading"]


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    size=st.sampled_from([3, 40, 64, 65, 500, 3000]),
    theta=st.floats(-7.0, 7.0),
    share=st.floats(0.02, 1.0),
    k=st.integers(1, 12),
)
def test_the_information_index_equals_a_full_scan(
    seed: int, size: int, theta: float, share: float, k: int
) -> None:
    bank = create_bank(size, seed=seed)
    mask = np.random.default_rng(seed).random(size) < share
    info = bank.information(theta)
    items = np.flatnonzero(mask)
    expected = items[np.lexsort((items, -info[items]))][:k].tolist()
    got, values = information_index(bank).top(theta, mask, k)
    assert got == expected
    assert values == info[expected].tolist()

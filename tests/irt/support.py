"""Plain helpers for the irt tests: small banks with known parameters."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from etest.irt import ItemBank

SKILLS = ("listening", "reading", "grammar", "vocabulary")
CUTS = (-2.7, -2.1, -1.5, -0.9, -0.3, 0.3, 0.9, 1.5, 2.1, 2.7)


def baker_bank() -> ItemBank:
    """The three 2PL items of Baker (2001, ch. 5): a = (1, 1.2, 0.8), b = (−1, 0, 1)."""
    return ItemBank.from_arrays(["i1", "i2", "i3"], [1.0, 1.2, 0.8], [-1.0, 0.0, 1.0])


def create_bank(
    n: int = 200,
    seed: int = 0,
    *,
    c: float | None = 0.2,
    b_sd: float = 1.5,
    skills: Sequence[str] = SKILLS,
) -> ItemBank:
    """A random 3PL (or 2PL with ``c=None``) bank with skills assigned round robin."""
    rng = np.random.default_rng(seed)
    a = np.clip(rng.lognormal(0.1, 0.25, n), 0.4, 2.5)
    b = rng.normal(0.0, b_sd, n)
    guess = 0.0 if c is None else c
    return ItemBank.from_arrays(
        [f"q{j:04d}" for j in range(n)],
        a,
        b,
        guess,
        skills=[skills[j % len(skills)] for j in range(n)],
    )


def answer(bank: ItemBank, item: int, theta: float, rng: np.random.Generator) -> int:
    """A simulated 0/1 answer of a candidate with ability ``theta``."""
    z = bank.a[item] * (theta - bank.b[item])
    p = bank.c[item] + (bank.d[item] - bank.c[item]) / (1.0 + np.exp(-z))
    return int(rng.random() < p)

"""The example bank and configuration shipped for ``etest simulate example``.

300 plausible 3PL items across the 11 levels of the design (Pre A1 … C1-Bridge), four skills,
cut scores 0.6 logits apart. Each item's ``b`` lies inside its level's band (the design's meaning
of a level); ``a`` ~ lognormal around 1.3; ``c`` ≈ 0.2 for choice items and 0 for the 20 % that are
text entry. Regenerate the files with ``python -m etest.simulation.example``.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["CUT_SCORES", "LEVEL_NAMES", "example_bank", "example_config", "example_paths"]

LEVEL_NAMES = ("Pre A1", "A1", "A1+", "A2", "A2+", "B1", "B1+", "B2", "B2+", "C1", "C1-Bridge")
CUT_SCORES = (-2.7, -2.1, -1.5, -0.9, -0.3, 0.3, 0.9, 1.5, 2.1, 2.7)
SKILLS = ("listening", "reading", "grammar", "vocabulary")
_SLUG = ("PreA1", "A1", "A1p", "A2", "A2p", "B1", "B1p", "B2", "B2p", "C1", "C1B")


def example_bank(seed: int = 11, items: int = 300) -> list[dict[str, Any]]:
    """The example items as JSON-ready records (deterministic for a seed)."""
    rng = np.random.default_rng(seed)
    width = CUT_SCORES[1] - CUT_SCORES[0]
    edges = (CUT_SCORES[0] - width, *CUT_SCORES, CUT_SCORES[-1] + width)
    per_level = np.full(len(LEVEL_NAMES), items // len(LEVEL_NAMES))
    per_level[: items - int(per_level.sum())] += 1
    records: list[dict[str, Any]] = []
    for level, count in enumerate(per_level.tolist()):
        lo, hi = edges[level], edges[level + 1]
        for k in range(count):
            skill = SKILLS[(level + k) % len(SKILLS)]
            text_entry = rng.random() < 0.2
            records.append(
                {
                    "id": f"{_SLUG[level]}-{skill[:3]}-{k + 1:03d}",
                    "a": round(float(np.clip(rng.lognormal(np.log(1.3), 0.25), 0.6, 2.5)), 3),
                    "b": round(float(rng.uniform(lo + 0.02, hi - 0.02)), 3),
                    "c": 0.0 if text_entry else round(float(rng.uniform(0.15, 0.27)), 3),
                    "skill": skill,
                    "level": LEVEL_NAMES[level],
                }
            )
    return records


def example_config() -> dict[str, Any]:
    """The example engine configuration: the design's defaults with these cut scores."""
    return {
        "cut_scores": list(CUT_SCORES),
        "level_names": list(LEVEL_NAMES),
        "estimator": "eap",
        "randomesque_k": 5,
        "min_items": 10,
        "max_items": 40,
        "se_target": 0.35,
        "classification": "ci",
        "ci_level": 0.95,
        "content_targets": dict.fromkeys(SKILLS, 0.25),
    }


def example_paths() -> tuple[Path, Path]:
    """Paths of the packaged ``example_bank.json`` and ``example_config.json``."""
    base = resources.files("etest.simulation")
    return Path(str(base / "example_bank.json")), Path(str(base / "example_config.json"))


def main() -> None:
    """Write the two example files next to this module."""
    here = Path(__file__).parent
    lines = ",\n".join("  " + json.dumps(item) for item in example_bank())
    (here / "example_bank.json").write_text('{"items": [\n' + lines + "\n]}\n")
    (here / "example_config.json").write_text(json.dumps(example_config(), indent=2) + "\n")


if __name__ == "__main__":
    main()

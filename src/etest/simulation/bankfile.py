"""Reading the JSON files of ``etest simulate``: an item bank and an engine configuration.

**Bank file** — a JSON list of items, or an object with an ``"items"`` list::

    {"items": [
        {"id": "B1-rea-001", "a": 1.21, "b": 0.45, "c": 0.2, "skill": "reading", "level": "B1"},
        ...
    ]}

Per item: ``id`` (string, unique), ``a`` (> 0), ``b``, ``c`` (in [0, 1), default 0), optional ``d``
(upper asymptote, default 1), ``skill`` (string, default ``""``) and optional ``level`` (a level
name from the configuration's ``level_names`` or a 0-based level index). Parameters are on the
logistic metric (D = 1).

An item scored 0 … k (a cloze or gap_match item, one point a gap) is a GPCM item: it gives its
``steps`` (k step difficulties, k ≥ 2) and ``a``; its ``b`` may be left out (it is the mean of
the steps) and it has no ``c`` or ``d``::

    {"id": "B1-cloze-004", "a": 1.1, "steps": [-0.2, 0.4, 1.1], "skill": "grammar", "level": "B1"}

**Config file** — a JSON object with the fields of :class:`etest.irt.EngineConfig`
(``cut_scores`` required, everything else optional) plus optional ``level_names`` (one name per
level, i.e. one more than the cut scores)::

    {"cut_scores": [-2.7, -2.1, -1.5, -0.9, -0.3, 0.3, 0.9, 1.5, 2.1, 2.7],
     "level_names": ["Pre A1", "A1", "A1+", "A2", "A2+", "B1", "B1+", "B2", "B2+", "C1",
                     "C1-Bridge"],
     "content_targets": {"listening": 0.25, "reading": 0.25, "grammar": 0.25, "vocabulary": 0.25}}
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from etest.irt import EngineConfig, ItemBank

__all__ = [
    "BankFileError",
    "SimulationSetup",
    "load_bank",
    "load_config",
    "parse_bank",
    "parse_config",
]

_ITEM_KEYS = {"id", "a", "b", "c", "d", "skill", "level", "steps"}


class BankFileError(ValueError):
    """A bank or configuration file that does not follow the documented format."""


@dataclass(frozen=True)
class SimulationSetup:
    """An engine configuration and the names of its levels."""

    config: EngineConfig
    level_names: tuple[str, ...]


def _read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise BankFileError(f"{path}: no such file") from None
    except OSError as exc:
        raise BankFileError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BankFileError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None


def _number(item: Mapping[str, Any], key: str, where: str, default: float | None = None) -> float:
    if key not in item:
        if default is None:
            raise BankFileError(f"{where}: missing {key!r}")
        return default
    value = item[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BankFileError(f"{where}: {key!r} must be a number, got {value!r}")
    return float(value)


def parse_bank(data: Any, level_names: Sequence[str] = ()) -> ItemBank:
    """Build an :class:`ItemBank` from parsed bank JSON (see the module docstring)."""
    items = data.get("items") if isinstance(data, Mapping) else data
    if not isinstance(items, list):
        raise BankFileError("a bank is a JSON list of items or an object with an 'items' list")
    lookup = {name.casefold(): k for k, name in enumerate(level_names)}
    ids: list[str] = []
    a: list[float] = []
    b: list[float] = []
    c: list[float] = []
    d: list[float] = []
    skills: list[str] = []
    levels: list[int | None] = []
    steps: list[list[float]] = []
    for n, item in enumerate(items):
        where = f"item #{n}"
        if not isinstance(item, Mapping):
            raise BankFileError(f"{where}: must be an object, got {type(item).__name__}")
        if not isinstance(item.get("id"), str) or not item["id"]:
            raise BankFileError(f"{where}: 'id' must be a non-empty string")
        where = f"item {item['id']!r}"
        unknown = sorted(set(item) - _ITEM_KEYS)
        if unknown:
            raise BankFileError(f"{where}: unknown field(s) {', '.join(unknown)}")
        ids.append(item["id"])
        a.append(_number(item, "a", where))
        steps.append(_steps(item, where))
        b.append(_number(item, "b", where, sum(steps[-1]) / len(steps[-1]) if steps[-1] else None))
        c.append(_number(item, "c", where, 0.0))
        d.append(_number(item, "d", where, 1.0))
        skill = item.get("skill", "")
        if not isinstance(skill, str):
            raise BankFileError(f"{where}: 'skill' must be a string")
        skills.append(skill)
        level = item.get("level")
        if level is None:
            levels.append(None)
        elif isinstance(level, int) and not isinstance(level, bool):
            levels.append(level)
        elif isinstance(level, str) and level.casefold() in lookup:
            levels.append(lookup[level.casefold()])
        else:
            raise BankFileError(
                f"{where}: level {level!r} is neither a level index nor one of "
                f"the configured level names"
            )
    has_levels = any(v is not None for v in levels)
    width = max(len(s) for s in steps) if steps else 0
    padded = [[*s, *[math.nan] * (width - len(s))] for s in steps] if width else None
    return ItemBank.from_arrays(
        ids, a, b, c, d, skills=skills, levels=levels if has_levels else None, steps=padded
    )


def _steps(item: Mapping[str, Any], where: str) -> list[float]:
    """A GPCM item's steps (two or more finite numbers, no ``c`` or ``d``), else ``[]``."""
    if "steps" not in item:
        return []
    value = item["steps"]
    if (
        not isinstance(value, list)
        or len(value) < 2
        or not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            for v in value
        )
    ):
        raise BankFileError(f"{where}: 'steps' must list two or more finite numbers")
    if "c" in item or "d" in item:
        raise BankFileError(f"{where}: a GPCM item (with 'steps') has no 'c' or 'd'")
    return [float(v) for v in value]


def parse_config(data: Any) -> SimulationSetup:
    """Build the engine configuration (and level names) from parsed config JSON."""
    if not isinstance(data, Mapping):
        raise BankFileError("a configuration is a JSON object")
    values = dict(data)
    names = values.pop("level_names", None)
    if "cut_scores" in values and isinstance(values["cut_scores"], list):
        cuts = values["cut_scores"]
        if not all(
            isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            for v in cuts
        ):
            raise BankFileError("'cut_scores' must be a list of finite numbers")
    config = EngineConfig.from_dict(values)
    levels = len(config.cut_scores) + 1
    if names is None:
        level_names = tuple(f"level {k}" for k in range(levels))
    elif (
        isinstance(names, list) and all(isinstance(v, str) for v in names) and len(names) == levels
    ):
        level_names = tuple(names)
    else:
        raise BankFileError(
            f"'level_names' must list {levels} names (one more than the cut scores)"
        )
    return SimulationSetup(config=config, level_names=level_names)


def load_bank(path: Path, level_names: Sequence[str] = ()) -> ItemBank:
    """Read a bank file."""
    return parse_bank(_read_json(path), level_names)


def load_config(path: Path) -> SimulationSetup:
    """Read a config file."""
    return parse_config(_read_json(path))

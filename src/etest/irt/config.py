"""The adaptive engine's configuration: estimation, selection, exposure, content, stopping."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal, TypeAlias

from etest.irt.errors import InvalidConfiguration
from etest.irt.estimation import EstimatorName, QuadratureGrid
from etest.irt.placement import check_cut_scores

__all__ = ["ClassificationRule", "EngineConfig"]

ClassificationRule: TypeAlias = Literal["ci", "sprt", "off"]


@dataclass(frozen=True, kw_only=True)
class EngineConfig:
    """Settings of the ``irt`` placement engine; defaults follow the design (§3 of design.md).

    Attributes:
        cut_scores: strictly increasing cut scores on θ (10 cuts for 11 levels); plan data,
            always supplied by the caller.
        estimator: ability estimator used for selection, stopping and the result (EAP default).
        prior_mean, prior_sd: the normal prior of EAP and MAP (and of the MLE fallback).
        grid_points, grid_bound: the EAP quadrature grid, ``linspace(−bound, bound, points)``.
        randomesque_k: serve one of the ``k`` most informative eligible items, uniformly.
        min_items, max_items: test length bounds (no rule stops before ``min_items`` except an
            exhausted pool; ``max_items`` always stops).
        se_target: stop once the SE is at most this (``None`` disables the rule).
        classification: ``"ci"`` stops when ``θ̂ ± z·SE`` lies inside one level band; ``"sprt"``
            runs one SPRT per cut and stops when they agree on a level; ``"off"`` disables both.
        ci_level: coverage of the classification interval (0.95 → z = 1.96).
        sprt_delta, sprt_alpha, sprt_beta: SPRT indifference half-width and error rates.
        min_information: after ``min_items``, stop when no eligible item has at least this much
            information at θ̂ (``0`` disables the rule).
        content_targets: target share per skill (sum 1); ``None`` disables content balancing.
        exposure_control: Sympson–Hetter ``K_j = P(administer | selected)`` by item id; items
            not listed have ``K = 1``; ``None`` disables the lottery.
    """

    cut_scores: tuple[float, ...]
    estimator: EstimatorName = "eap"
    prior_mean: float = 0.0
    prior_sd: float = 1.0
    grid_points: int = 121
    grid_bound: float = 6.0
    randomesque_k: int = 5
    min_items: int = 10
    max_items: int = 40
    se_target: float | None = 0.35
    classification: ClassificationRule = "ci"
    ci_level: float = 0.95
    sprt_delta: float = 0.2
    sprt_alpha: float = 0.05
    sprt_beta: float = 0.05
    min_information: float = 0.01
    content_targets: Mapping[str, float] | None = None
    exposure_control: Mapping[str, float] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        cuts = check_cut_scores(list(self.cut_scores))
        object.__setattr__(self, "cut_scores", tuple(float(c) for c in cuts))
        if self.estimator not in ("eap", "map", "mle", "wle"):
            raise InvalidConfiguration(
                f"estimator must be eap, map, mle or wle, got {self.estimator!r}"
            )
        QuadratureGrid.normal(self.prior_mean, self.prior_sd, self.grid_points, self.grid_bound)
        if self.randomesque_k < 1:
            raise InvalidConfiguration(f"randomesque_k must be >= 1, got {self.randomesque_k}")
        if not 0 <= self.min_items <= self.max_items or self.max_items < 1:
            raise InvalidConfiguration(
                f"need 0 <= min_items <= max_items and max_items >= 1, got "
                f"{self.min_items}, {self.max_items}"
            )
        if self.se_target is not None and not (
            math.isfinite(self.se_target) and self.se_target > 0
        ):
            raise InvalidConfiguration(f"se_target must be > 0 or None, got {self.se_target}")
        if self.classification not in ("ci", "sprt", "off"):
            raise InvalidConfiguration(
                f"classification must be ci, sprt or off, got {self.classification!r}"
            )
        if self.classification != "off" and not self.cut_scores:
            raise InvalidConfiguration("a classification stop needs at least one cut score")
        if not 0 < self.ci_level < 1:
            raise InvalidConfiguration(f"ci_level must be in (0, 1), got {self.ci_level}")
        if self.classification == "sprt" and len(self.cut_scores) > 1:
            half_band = (
                float(
                    min(b - a for a, b in zip(self.cut_scores, self.cut_scores[1:], strict=False))
                )
                / 2
            )
            if not 0 < self.sprt_delta <= half_band:
                raise InvalidConfiguration(
                    f"sprt_delta must be in (0, {half_band:g}] (half the narrowest band), "
                    f"got {self.sprt_delta}"
                )
        if not self.sprt_delta > 0:
            raise InvalidConfiguration(f"sprt_delta must be > 0, got {self.sprt_delta}")
        for name in ("sprt_alpha", "sprt_beta"):
            value = getattr(self, name)
            if not 0 < value < 0.5:
                raise InvalidConfiguration(f"{name} must be in (0, 0.5), got {value}")
        if not (math.isfinite(self.min_information) and self.min_information >= 0):
            raise InvalidConfiguration(f"min_information must be >= 0, got {self.min_information}")
        if self.content_targets is not None:
            targets = {str(k): float(v) for k, v in self.content_targets.items()}
            bad = [k for k, v in targets.items() if not (math.isfinite(v) and v >= 0)]
            if bad:
                raise InvalidConfiguration(
                    f"content target of skill {bad[0]!r} must be a share >= 0"
                )
            total = sum(targets.values())
            if abs(total - 1.0) > 1e-6:
                raise InvalidConfiguration(f"content targets must sum to 1, got {total:.6g}")
            object.__setattr__(self, "content_targets", MappingProxyType(targets))
        if self.exposure_control is not None:
            ks = {str(k): float(v) for k, v in self.exposure_control.items()}
            bad = [k for k, v in ks.items() if not (math.isfinite(v) and 0 <= v <= 1)]
            if bad:
                raise InvalidConfiguration(
                    f"exposure parameter of item {bad[0]!r} must be in [0, 1], got {ks[bad[0]]}"
                )
            object.__setattr__(self, "exposure_control", MappingProxyType(ks))

    @property
    def grid(self) -> QuadratureGrid:
        """The EAP quadrature grid with this configuration's prior."""
        return QuadratureGrid.normal(
            self.prior_mean, self.prior_sd, self.grid_points, self.grid_bound
        )

    def replace(self, **changes: Any) -> EngineConfig:
        """A copy with some settings changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready settings (exposure parameters summarised by their count)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name == "exposure_control":
                out["exposure_control_items"] = None if value is None else len(value)
            elif isinstance(value, Mapping):
                out[f.name] = dict(value)
            elif isinstance(value, tuple):
                out[f.name] = list(value)
            else:
                out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EngineConfig:
        """Build from a JSON-like mapping with the field names above; unknown keys are an error."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            listed = ", ".join(map(repr, unknown))
            raise InvalidConfiguration(
                f"unknown engine setting(s) {listed}; known: {', '.join(sorted(names))}"
            )
        if "cut_scores" not in data:
            raise InvalidConfiguration("engine configuration needs 'cut_scores'")
        values = dict(data)
        values["cut_scores"] = tuple(values["cut_scores"])
        try:
            return cls(**values)
        except TypeError as exc:
            raise InvalidConfiguration(f"invalid engine configuration: {exc}") from None

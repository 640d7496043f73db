"""etest.irt — pure numpy item response theory for adaptive placement tests.

Arrays in, arrays out: no database, no framework, no global randomness (seeds or generators are
passed in). The delivery layer calls :func:`next_step` (or a cached :class:`CatEngine`) on every
answer; psychometric tooling uses calibration, item statistics and simulation.

* Models: :func:`probability`, :func:`log_probability`, :func:`log_likelihood`,
  :func:`item_information`, :func:`total_information`, :func:`max_information`; :class:`ItemBank`
  (dichotomous items mixed with polytomous ones scored 0..k).
* Polytomous (generalized partial credit model): :func:`gpcm_probabilities`,
  :func:`gpcm_log_probabilities`, :func:`gpcm_information`, :func:`gpcm_expected_score`,
  :func:`gpcm_log_likelihood`; :func:`calibrate_gpcm` → :class:`PolytomousCalibration` (with
  :class:`HeldItems`: on the scale of items already calibrated).
* Estimation: :func:`eap` (default), :func:`map_estimate`, :func:`mle`, :func:`wle`,
  :func:`estimate_ability`, :func:`posterior_weights`; :class:`QuadratureGrid`.
* Selection: :func:`select_item` (MFI, randomesque, Sympson–Hetter, content balancing,
  exclusions); :class:`Selection`, :class:`ContentRelaxation`.
* Stopping: :func:`stop_reason`, :class:`StopReason`, :func:`interval_level`,
  :func:`sprt_log_ratios`, :func:`sprt_decisions`, :func:`sprt_level`, :func:`wald_bounds`.
* Placement: :func:`place`, :class:`Placement`, :func:`level_of`, :func:`position_in_level`,
  :func:`level_probabilities`, :func:`posterior_level_probabilities`.
* Engine: :class:`EngineConfig`, :class:`CatEngine`, :class:`EngineState`, :class:`Step`,
  :func:`next_step`, :class:`StepRandom`.
* Calibration: :func:`calibrate` (Bock–Aitkin EM for Rasch/1PL/2PL/3PL, mixed per column, with
  anchored items) → :class:`Calibration`; :func:`classical_statistics`, :func:`item_fit` (a
  grouped chi-square on the rest pattern, flagged at p < 0.01), :func:`drift` (changes against
  stored parameters beyond 2 SE).
* Simulation: :func:`simulate` → :class:`SimulationResult`; :func:`sympson_hetter`.

Errors derive from :class:`IRTError` (a ``ValueError``); see :mod:`etest.irt.errors`.
"""

from etest.irt.bank import ItemBank
from etest.irt.calibration import Calibration, calibrate
from etest.irt.calibration_polytomous import HeldItems, PolytomousCalibration, calibrate_gpcm
from etest.irt.config import EngineConfig
from etest.irt.engine import CatEngine, EngineState, Step, next_step
from etest.irt.errors import (
    EmptyBank,
    InvalidConfiguration,
    InvalidItemParameters,
    InvalidResponses,
    IRTError,
    NoEligibleItem,
    ShapeMismatch,
)
from etest.irt.estimation import (
    AbilityEstimate,
    QuadratureGrid,
    eap,
    estimate_ability,
    map_estimate,
    mle,
    posterior_weights,
    wle,
)
from etest.irt.models import (
    item_information,
    log_likelihood,
    log_probability,
    max_information,
    probability,
    total_information,
)
from etest.irt.placement import (
    Placement,
    level_of,
    level_probabilities,
    place,
    position_in_level,
    posterior_level_probabilities,
)
from etest.irt.polytomous import (
    gpcm_expected_score,
    gpcm_information,
    gpcm_log_likelihood,
    gpcm_log_probabilities,
    gpcm_probabilities,
)
from etest.irt.randomness import StepRandom
from etest.irt.selection import ContentRelaxation, Selection, select_item
from etest.irt.simulation import ExposureCalibration, SimulationResult, simulate, sympson_hetter
from etest.irt.statistics import (
    ClassicalStatistics,
    ItemFit,
    ParameterDrift,
    classical_statistics,
    drift,
    item_fit,
)
from etest.irt.stopping import (
    StopReason,
    interval_level,
    sprt_decisions,
    sprt_level,
    sprt_log_ratios,
    stop_reason,
    wald_bounds,
)

__all__ = [
    "AbilityEstimate",
    "Calibration",
    "CatEngine",
    "ClassicalStatistics",
    "ContentRelaxation",
    "EmptyBank",
    "EngineConfig",
    "EngineState",
    "ExposureCalibration",
    "HeldItems",
    "IRTError",
    "InvalidConfiguration",
    "InvalidItemParameters",
    "InvalidResponses",
    "ItemBank",
    "ItemFit",
    "NoEligibleItem",
    "ParameterDrift",
    "Placement",
    "PolytomousCalibration",
    "QuadratureGrid",
    "Selection",
    "ShapeMismatch",
    "SimulationResult",
    "Step",
    "StepRandom",
    "StopReason",
    "calibrate",
    "calibrate_gpcm",
    "classical_statistics",
    "drift",
    "eap",
    "estimate_ability",
    "gpcm_expected_score",
    "gpcm_information",
    "gpcm_log_likelihood",
    "gpcm_log_probabilities",
    "gpcm_probabilities",
    "interval_level",
    "item_fit",
    "item_information",
    "level_of",
    "level_probabilities",
    "log_likelihood",
    "log_probability",
    "map_estimate",
    "max_information",
    "mle",
    "next_step",
    "place",
    "position_in_level",
    "posterior_level_probabilities",
    "posterior_weights",
    "probability",
    "select_item",
    "simulate",
    "sprt_decisions",
    "sprt_level",
    "sprt_log_ratios",
    "stop_reason",
    "sympson_hetter",
    "total_information",
    "wald_bounds",
    "wle",
]

"""Evidence before a placement test goes live (``docs/flows.md``, "Evidence").

Publishing a PT version (importing a PT flow) runs the placement simulation of
:mod:`etest.attempt.quality` on the version's own engine and items, as stored, and keeps the
report with the version (``AssessmentVersion.evidence``): exact and within-one-level placement
per level, mean and maximum length, item exposure, and the thresholds it was held to. Below the
thresholds of the flow (its ``evidence`` block) or of the settings the version is refused
(:class:`EvidenceInsufficient`, nothing written) unless a superadmin gives a reason, which is
stored on the version and audited.

When an ``irt`` flow asks for exposure control (``exposure_max_rate``), the Sympson–Hetter
parameters are computed first on the version's bank and stored in its engine
(``exposure_control``), so the evidence is that of the engine candidates will meet.

Registered as a publish check of the content import by ``etest.tasks`` (``content`` cannot
import this package)."""

from __future__ import annotations

import asyncio
import math
import uuid
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession

from etest import irt
from etest.attempt import engines
from etest.attempt import repository as attempt_repository
from etest.attempt.engines import item_info
from etest.attempt.quality import CHOICE_TYPES, Bank, bands, exposure_rates, overall, study
from etest.audit.service import record
from etest.auth.actor import Actor
from etest.bank import repository
from etest.bank.errors import EvidenceInsufficient
from etest.content import repository as content_repository
from etest.content.schemas import IrtEngine
from etest.content.service import Publication
from etest.models import AssessmentVersion, Plan
from etest.plan import repository as plan_repository

#: The simulation's seed: the same version gives the same evidence.
SEED = 0


@dataclass(frozen=True)
class Thresholds:
    """What a placement test must reach to be published: at least ``within_one_level`` of the
    simulated candidates of every level placed within one level of their true level, and at
    most ``max_mean_length`` items on average."""

    within_one_level: float
    max_mean_length: float
    #: Where each came from: ``flow`` (its ``evidence`` block) or ``settings``.
    source: dict[str, str]

    @classmethod
    def of(cls, publication: Publication) -> Thresholds:
        given = publication.flow.evidence
        settings = publication.settings
        within = given.within_one_level if given is not None else None
        length = given.max_mean_length if given is not None else None
        return cls(
            within_one_level=within if within is not None else settings.evidence_within_one_level,
            max_mean_length=length if length is not None else settings.evidence_max_mean_length,
            source={
                "within_one_level": "settings" if within is None else "flow",
                "max_mean_length": "settings" if length is None else "flow",
            },
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "within_one_level": self.within_one_level,
            "max_mean_length": self.max_mean_length,
            "source": self.source,
        }

    def failures(self, report: dict[str, Any]) -> list[dict[str, Any]]:
        """The figures of ``report`` below the thresholds, each with its threshold."""
        out: list[dict[str, Any]] = [
            {
                "level": row["level"],
                "figure": "within_one",
                "value": row["within_one"],
                "threshold": self.within_one_level,
            }
            for row in report["levels"]
            if row["n"] and row["within_one"] < self.within_one_level
        ]
        mean = report["overall"]["mean_length"]
        if mean > self.max_mean_length:
            out.append(
                {
                    "level": "all",
                    "figure": "mean_length",
                    "value": mean,
                    "threshold": self.max_mean_length,
                }
            )
        return out


async def check(session: AsyncSession, actor: Actor, publication: Publication) -> None:
    """The publish check of a placement-test version: store its evidence (:func:`evidence_of`);
    below the thresholds refuse it (:class:`EvidenceInsufficient` with the failing figures)
    unless a superadmin gave ``override_reason`` (stored on the version, audited)."""
    version, flow = publication.version, publication.flow
    report = version.evidence = await evidence_of(session, publication)
    if report["passed"]:
        return
    reason = (publication.override_reason or "").strip()
    if not reason or actor.role != "superadmin":
        raise EvidenceInsufficient(
            _refusal(flow.code, version.version, report["failures"], bool(reason)),
            assessment=flow.code,
            version=version.version,
            failures=report["failures"],
            levels=report.get("levels", []),
            overall=report.get("overall"),
            thresholds=report["thresholds"],
        )
    version.override_reason = reason
    await session.flush()
    record(
        session,
        actor,
        "assessment.evidence_override",
        target_type="assessment_version",
        target_id=version.id,
        organization_id=None,
        reason=reason,
        details={
            "assessment": flow.code,
            "version": version.version,
            "failures": report["failures"],
        },
    )


async def evidence_of(session: AsyncSession, publication: Publication) -> dict[str, Any]:
    """The evidence report of a new PT version, judged against its thresholds. When the flow
    asks for exposure control, its Sympson–Hetter parameters are computed first and stored in
    the version's engine (``exposure_control``), so the report is that of the engine served."""
    version, settings = publication.version, publication.settings
    assert publication.flow.plan is not None
    plan = await session.get(Plan, publication.flow.plan)
    assert plan is not None  # the import validated the plan
    levels = [str(lv["level"]) for lv in plan.levels]
    config = dict(version.engine)
    prior = None
    if (config.get("prior") or {}).get("estimated"):
        prior = await estimated_prior(session, publication.flow.code)
        config["prior"] = {"mean": prior["mean"], "sd": prior["sd"]}
        version.engine = config
    bank = await _bank(session, config)
    thresholds = Thresholds.of(publication)
    missing = sorted(i for i in _operational(config) if bank.items[uuid.UUID(i)].b is None)
    if missing:
        return _unsimulated(thresholds, missing)
    known = await scale(session) if config["type"] == "staged" else None
    cuts, cuts_from = cut_scores(config, bank, levels, known)
    control, r_max = None, _exposure_max_rate(publication)
    if r_max is not None:
        n = settings.evidence_per_level * len(levels)
        control = await asyncio.to_thread(exposure_control, config, bank, levels, cuts, r_max, n=n)
        config["exposure_control"] = control.parameters
        version.engine = config
    report = await asyncio.to_thread(
        simulate, config, bank, levels, cuts, settings.evidence_per_level
    )
    report["simulation"]["cut_scores_from"] = cuts_from
    report["exposure_control"] = None if control is None else _control(control, r_max)
    report["thresholds"] = thresholds.as_dict()
    report["failures"] = thresholds.failures(report)
    if prior is not None:
        report["estimated_prior"] = prior
        if prior["placements"] < ESTIMATED_PRIOR_MIN:
            report["failures"].append(
                {
                    "level": "all",
                    "figure": "estimated_prior_placements",
                    "value": prior["placements"],
                    "threshold": ESTIMATED_PRIOR_MIN,
                }
            )
    report["passed"] = not report["failures"]
    return report


#: The fewest finished placements an ``estimated`` prior is computed from; fewer, and the
#: version is refused (a superadmin may publish it, with the N(0, 1) prior, with a reason).
ESTIMATED_PRIOR_MIN = 100


async def estimated_prior(session: AsyncSession, assessment_code: str) -> dict[str, Any]:
    """The normal prior of an ``estimated`` flow: the mean of this test's finished placements'
    ability estimates, and their spread with the estimates' own uncertainty added back (the
    variance of EAP estimates understates the abilities' by about the mean posterior
    variance: SD = sqrt(var(theta) + mean(SE^2))). N(0, 1) below
    :data:`ESTIMATED_PRIOR_MIN` placements (reported: the check then refuses the version)."""
    found = await repository.placed_abilities(session, assessment_code)
    n = len(found)
    if n < ESTIMATED_PRIOR_MIN:
        return {"mean": 0.0, "sd": 1.0, "placements": n, "estimated": False}
    thetas = np.array([t for t, _ in found])
    ses = np.array([s for _, s in found])
    mean = float(np.clip(thetas.mean(), -4, 4))
    sd = float(np.clip(np.sqrt(thetas.var() + (ses**2).mean()), 0.2, 5))
    return {"mean": round(mean, 3), "sd": round(sd, 3), "placements": n, "estimated": True}


def _control(control: irt.ExposureCalibration, r_max: float | None) -> dict[str, Any]:
    realised = control.realised_max_rate
    return {
        "max_rate": r_max,
        "converged": control.converged,
        "rounds": control.rounds,
        "allowance": round(control.allowance, 4),
        "realised_max_rate": None if math.isnan(realised) else round(realised, 4),
        "items_controlled": len(control.parameters),
    }


def _exposure_max_rate(publication: Publication) -> float | None:
    engine = publication.flow.engine
    return engine.exposure_max_rate if isinstance(engine, IrtEngine) else None


def _refusal(code: str, number: int, failures: list[dict[str, Any]], had_reason: bool) -> str:
    figures = "; ".join(
        f"{f['value']} items without IRT parameters"
        if f["figure"] == "items_without_irt"
        else f"{f['value']} finished placements to estimate the prior from (at least "
        f"{f['threshold']})"
        if f["figure"] == "estimated_prior_placements"
        else f"{f['figure']} {f['value']} at {f['level']} (threshold {f['threshold']})"
        for f in failures
    )
    tail = (
        "only a superadmin may publish below the thresholds"
        if had_reason
        else "a superadmin may publish it anyway with override_reason"
    )
    return f"{code} version {number} is below its evidence thresholds: {figures}; {tail}."


def _unsimulated(thresholds: Thresholds, missing: list[str]) -> dict[str, Any]:
    """The report of a version that cannot be simulated: items it serves have no IRT
    parameters, so no simulated candidate can answer them."""
    return {
        "simulation": None,
        "thresholds": thresholds.as_dict(),
        "items_without_irt": missing,
        "failures": [
            {
                "level": "all",
                "figure": "items_without_irt",
                "value": len(missing),
                "threshold": 0,
            }
        ],
        "passed": False,
    }


async def _bank(session: AsyncSession, config: dict[str, Any]) -> Bank:
    """The version's operational items as the simulation's bank (their stored parameters)."""
    ids = [uuid.UUID(i) for i in _operational(config)]
    rows = await attempt_repository.items_by_ids(session, ids)
    return Bank(
        items={r.id: item_info(r) for r in rows},
        by_code={r.code: r.id for r in rows},
        choice=frozenset(r.id for r in rows if r.type in CHOICE_TYPES),
    )


def _operational(config: dict[str, Any]) -> list[str]:
    """The ids of the items a stored PT engine places with (its pilot items are not)."""
    if config["type"] == "staged":
        return list(dict.fromkeys(i for g in config["groups"] for i in g["items"]))
    return list(config["pool"])


async def scale(session: AsyncSession) -> dict[tuple[str, str], float]:
    """The ability scale's cut score between each pair of consecutive levels, read from the
    newest version of every ``irt`` placement test (the latest import wins where two differ):
    "placed at B1" means the same band of the one ability scale on every plan."""
    levels_of = {
        p.code: [str(lv["level"]) for lv in p.levels] for p in await plan_repository.plans(session)
    }
    plan_of = {a.id: a.plan_code for a in await content_repository.assessments(session, kind="PT")}
    newest: dict[uuid.UUID, AssessmentVersion] = {}
    for version in await content_repository.versions_newest_first(session):
        newest.setdefault(version.assessment_id, version)
    between: dict[tuple[str, str], float] = {}
    for version in sorted(newest.values(), key=lambda v: v.imported_at):
        scale = levels_of.get(plan_of.get(version.assessment_id) or "", [])
        cuts = version.engine.get("cut_scores") or []
        if version.engine.get("type") == "irt" and len(cuts) == len(scale) - 1:
            between.update({pair: float(c) for pair, c in zip(pairwise(scale), cuts, strict=True)})
    return between


def cut_scores(
    config: dict[str, Any],
    bank: Bank,
    levels: list[str],
    scale: dict[tuple[str, str], float] | None = None,
) -> tuple[list[float], str]:
    """The ability values between the plan's levels that the simulated candidates are drawn
    within, and where they came from: an ``irt`` engine's own (``engine``); for a ``staged``
    engine (which has none) those of the ability ``scale`` when it has every pair of the plan's
    levels (``scale``), else the midpoints between the median difficulties of its groups of
    consecutive levels, a level without a group placed by linear interpolation (or
    extrapolation) over the level order (``item difficulties``)."""
    if config["type"] == "irt":
        return [float(c) for c in config["cut_scores"]], "engine"
    pairs = list(pairwise(levels))
    if scale and all(pair in scale for pair in pairs):
        return [scale[pair] for pair in pairs], "scale"
    difficulties: dict[int, list[float]] = {}
    for group in config["groups"]:
        if group["level"] in levels:
            difficulties.setdefault(levels.index(group["level"]), []).extend(
                b for i in group["items"] if (b := bank.items[uuid.UUID(i)].b) is not None
            )
    centres = {n: float(np.median(bs)) for n, bs in difficulties.items() if bs}
    if len(centres) == 1:  # one level: the others one logit apart
        ((n, b),) = centres.items()
        centres[n + 1] = b + 1.0
    xs = np.array(sorted(centres), dtype=float)
    ys = np.array([centres[int(x)] for x in xs])
    slopes = ((ys[1] - ys[0]) / (xs[1] - xs[0]), (ys[-1] - ys[-2]) / (xs[-1] - xs[-2]))
    points = [
        float(ys[0] + slopes[0] * (n - xs[0]))
        if n < xs[0]
        else float(ys[-1] + slopes[1] * (n - xs[-1]))
        if n > xs[-1]
        else float(np.interp(n, xs, ys))
        for n in range(len(levels))
    ]
    return [round((a + b) / 2, 3) for a, b in pairwise(points)], "item difficulties"


def exposure_control(
    config: dict[str, Any],
    bank: Bank,
    levels: list[str],
    cuts: list[float],
    r_max: float,
    *,
    n: int,
) -> irt.ExposureCalibration:
    """Sympson–Hetter parameters for an ``irt`` engine on the version's bank. The simulated
    population is normal with the mean and SD of the evidence's (abilities spread evenly over
    the level bands), so the two simulations meet the same candidates on average."""
    engine = engines.build_engine(config, bank.items, levels)
    assert isinstance(engine, engines.IrtEngine)
    low, high = bands(cuts, levels)[0][0], bands(cuts, levels)[-1][1]
    return irt.sympson_hetter(
        engine.engine.bank,
        engine.engine.config,
        r_max=r_max,
        n=n,
        seed=SEED,
        ability_mean=(low + high) / 2,
        ability_sd=(high - low) / 12**0.5,
    )


def simulate(
    config: dict[str, Any], bank: Bank, levels: list[str], cuts: list[float], per_level: int
) -> dict[str, Any]:
    """The evidence report of one engine: ``per_level`` simulated candidates per level,
    answering by the items' stored parameters (CPU-heavy: run it in a worker thread)."""
    counts: dict[uuid.UUID, int] = {}
    rows = study(config, bank, levels, cuts, per_level=per_level, seed=SEED, exposure=counts)
    return {
        "simulation": {
            "engine": config["type"],
            "per_level": per_level,
            "seed": SEED,
            "guessing": None,
            "cut_scores": cuts,
        },
        "levels": [r.as_dict() for r in rows],
        "overall": overall(rows),
        "exposure": exposure_rates(counts, set(_operational(config)), sum(r.n for r in rows)),
    }

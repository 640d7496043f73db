"""Calibration of items from the responses eTest collected: request, run, report, proposal.

A content manager asks for one (:func:`request`: an assessment or a set of item codes, a date
range, the model choice, anchoring); the ``calibration.run`` job (:func:`execute`, also called
inline by ``etest calibrate``) reads the scored responses of finished attempts, fits the items
off the event loop and stores a reviewable report and the proposed parameters on the
:class:`~etest.models.CalibrationRun`. Nothing in the bank changes until :func:`publish`
(``bank/publish`` rules below) writes new item versions and assessment versions.

Modelling (docs/calibration.md):

* ``auto``: choice items (single and multiple choice) get the 3PL with the guessing prior, every
  other type the 2PL (no one guesses a typed answer); ``2pl`` or ``1pl``: every item.
* Operational items (status ``active`` with stored parameters) are **anchored** at their stored
  values unless ``free``: the ability scale is then the bank's, and the estimates of pilot and
  new items land on it. Anchored items are not proposed (their values do not move).
* Items with fewer than ``min_responses`` scored responses are listed, not estimated; items
  everyone answered alike (no variance) are excluded by the core and listed with the reason.
* Items scored 0 … k (cloze, gap_match: ``max_points`` > 1) get the **GPCM**, whatever the
  model asked for, from their points. They are calibrated in a second EM
  (:func:`etest.irt.calibrate_gpcm`) that holds the 0/1 items at the first run's estimates
  (anchors included) and its population as the prior (:class:`etest.irt.HeldItems`): the gap
  items land on the same scale as if calibrated in one run, and the 3PL's guessing stays in
  the run built for it. A stored GPCM item that is operational is held at its stored values
  (anchored) unless ``free``; one stored with a dichotomous model is estimated as GPCM.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import math
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import numpy as np
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from etest import irt
from etest.audit.service import record
from etest.auth.actor import Actor
from etest.bank import repository
from etest.bank.errors import CalibrationNotFound, CalibrationNotReady, NotEnoughResponses
from etest.bank.schemas import CalibrationCreate
from etest.config import Settings
from etest.content import repository as content_repository
from etest.content.media import MediaStore
from etest.content.schemas import max_points
from etest.content.service import import_content
from etest.content.sources import sources_from_bytes
from etest.db import create_read_sessionmaker, transaction
from etest.errors import NotFound
from etest.irt._types import FloatArray
from etest.models import Assessment, AssessmentVersion, CalibrationRun, Item
from etest.models.base import utcnow
from etest.outbox.jobs import enqueue

#: The outbox job that runs a queued calibration (handler: ``etest.bank.tasks``).
RUN_JOB = "calibration.run"
#: Item types a candidate can answer by picking: the 3PL with a guessing prior under ``auto``.
CHOICE_TYPES = frozenset({"single_choice", "multiple_choice"})
#: Ability bins of the observed proportions drawn beside each item's curve.
ICC_EDGES = tuple(float(e) for e in np.arange(-3.0, 3.01, 0.5))
#: A bin's observed proportion is kept only with at least this many responses.
ICC_MIN_BIN = 5

#: ``await progress(share_done, what)``: a run reports its stages (0 … 1).
Progress = Callable[[float, str], Awaitable[None]]


# -- request ----------------------------------------------------------------------------------


def _bounds(body: CalibrationCreate) -> tuple[datetime | None, datetime | None]:
    start = datetime.combine(body.date_from, time(), UTC) if body.date_from else None
    end = None  # the last day is included; 9999-12-31 has no next day and means "open"
    if body.date_to is not None and body.date_to < date.max:
        end = datetime.combine(body.date_to + timedelta(days=1), time(), UTC)
    return start, end


async def _scope(session: AsyncSession, body: CalibrationCreate) -> repository.Scope:
    start, end = _bounds(body)
    if body.assessment is not None:
        assessment = await repository.assessment_by_code(session, body.assessment)
        if assessment is None:
            raise NotFound(f"No assessment {body.assessment!r}.")
        return repository.Scope(assessment.id, (), start, end)
    return repository.Scope(None, tuple(dict.fromkeys(body.items or ())), start, end)


async def request(
    session: AsyncSession, actor: Actor, body: CalibrationCreate, *, queue: bool = True
) -> CalibrationRun:
    """Queue a calibration (content managers and global superadmins, audited). Refused with
    :class:`NotEnoughResponses` when no item of the request has ``min_responses`` scored
    responses, so a run that cannot estimate anything is never queued. ``queue`` False: no
    job is enqueued (``etest calibrate`` runs it at once with :func:`execute`)."""
    repository.require_calibrator(actor)
    counts = await repository.response_counts(session, await _scope(session, body))
    if not any(n >= body.min_responses for n in counts.values()):
        best = max(counts.values(), default=0)
        raise NotEnoughResponses(
            f"No item has {body.min_responses} scored responses of finished attempts in the "
            f"range (the most any has is {best}).",
            most_responses=best,
        )
    run = CalibrationRun(
        status="queued",
        progress=0.0,
        requested_by=actor.subject,
        params=body.model_dump(mode="json"),
    )
    session.add(run)
    await session.flush()
    if queue:
        await enqueue(session, RUN_JOB, {"calibration_id": str(run.id)}, key=str(run.id))
    record(
        session,
        actor,
        "calibration.request",
        target_type="calibration",
        target_id=run.id,
        organization_id=None,
        details={"params": run.params, "items_with_enough": _enough(counts, body.min_responses)},
    )
    return run


def _enough(counts: dict[str, int], minimum: int) -> int:
    return sum(1 for n in counts.values() if n >= minimum)


async def get(session: AsyncSession, actor: Actor, run_id: uuid.UUID) -> CalibrationRun:
    """A run (content managers and global superadmins)."""
    repository.require_calibrator(actor)
    run = await repository.calibration_run(session, run_id)
    if run is None:
        raise CalibrationNotFound("No such calibration.")
    return run


# -- collecting -------------------------------------------------------------------------------


@dataclass(frozen=True)
class BankItem:
    """An item code as calibration sees it: its latest stored version."""

    code: str
    id: str
    version: int
    type: str
    status: str
    model: str | None
    a: float | None
    b: float | None
    c: float | None
    #: The stored GPCM steps (``model`` "GPCM"), else None.
    steps: tuple[float, ...] | None = None
    #: The points the item is scored out of (one per gap of a cloze or gap_match, else 1).
    max_points: int = 1

    @property
    def polytomous(self) -> bool:
        """Scored 0 … k with k > 1: calibrated with the GPCM from its points."""
        return self.max_points > 1

    @property
    def operational(self) -> bool:
        """Live with stored parameters: anchored unless the request says ``free`` (an item
        scored 0 … k only with stored GPCM steps: there is nothing else to hold it at)."""
        if self.polytomous:
            return self.status == "active" and self.steps is not None
        return self.status == "active" and self.b is not None

    @property
    def stored(self) -> tuple[float, float, float] | None:
        if self.b is None:
            return None
        return (self.a if self.a is not None else 1.0, self.b, self.c or 0.0)

    @classmethod
    def of(cls, item: Item) -> BankItem:
        return cls(
            item.code,
            str(item.id),
            item.version,
            item.type,
            item.status,
            item.irt_model,
            item.irt_a,
            item.irt_b,
            item.irt_c,
            tuple(float(v) for v in item.irt_steps)
            if item.irt_model == "GPCM" and item.irt_steps
            else None,
            max_points(item.type, item.gaps),
        )


@dataclass(frozen=True, eq=False)
class Collected:
    """The responses of a calibration as a persons (attempts) × item codes matrix (the score:
    1 or 0, the points of an item scored 0 … k; NaN for not answered), the items, and the
    exposure counts."""

    codes: tuple[str, ...]
    matrix: FloatArray
    items: dict[str, BankItem]
    #: item code -> the versions whose responses were pooled (one item, however many rows)
    versions: dict[str, list[int]]
    served: dict[str, int]
    attempts: int
    #: requested codes that name no item
    unknown: tuple[str, ...] = ()


async def collect(session: AsyncSession, body: CalibrationCreate) -> Collected:
    """Read what a calibration needs in one transaction: responses, items, exposure."""
    scope = await _scope(session, body)
    rows = await repository.scored_responses(session, scope)
    by_id = {
        item.id: item
        for item in await repository.items_by_id(session, list({row[1] for row in rows}))
    }
    wanted = list(dict.fromkeys([*scope.item_codes, *(i.code for i in by_id.values())]))
    latest = await repository.latest_items(session, wanted)
    codes = tuple(sorted(latest))
    column = {code: n for n, code in enumerate(codes)}
    attempts: dict[uuid.UUID, int] = {}
    for attempt_id, *_ in rows:
        attempts.setdefault(attempt_id, len(attempts))
    matrix = np.full((len(attempts), len(codes)), np.nan)
    versions: dict[str, set[int]] = {}
    for attempt_id, item_id, correct, points in rows:
        item = by_id[item_id]
        top = latest[item.code]
        # the points of an item scored 0 … k (a timed-out one stored none: 0); a version
        # scored otherwise than the latest counts as full credit or nothing on its scale
        if max_points(top.type, top.gaps) > 1 and points is not None:
            score = float(points)
        else:
            score = float(max_points(top.type, top.gaps)) if correct else 0.0
        matrix[attempts[attempt_id], column[item.code]] = score
        versions.setdefault(item.code, set()).add(item.version)
    served, total = await repository.exposure_counts(session, scope)
    return Collected(
        codes=codes,
        matrix=matrix,
        items={code: BankItem.of(item) for code, item in latest.items()},
        versions={code: sorted(v) for code, v in versions.items()},
        served=served,
        attempts=total,
        unknown=tuple(c for c in scope.item_codes if c not in latest),
    )


# -- fitting (CPU: runs in a thread) ----------------------------------------------------------


@dataclass(frozen=True)
class Options:
    model: str = "auto"
    free: bool = False
    min_responses: int = 200

    @classmethod
    def of(cls, body: CalibrationCreate) -> Options:
        return cls(body.model, body.free, body.min_responses)

    def model_for(self, item: BankItem) -> str:
        if item.polytomous:
            return "gpcm"
        if self.model != "auto":
            return self.model
        return "3pl" if item.type in CHOICE_TYPES else "2pl"

    def anchored(self, item: BankItem) -> bool:
        return not self.free and item.operational


@dataclass(frozen=True, eq=False)
class Fitted:
    """The core's answers for the columns that had enough responses: the 0/1 items' run
    (``calibration``, ``None`` when there were none) and the GPCM run of the items scored
    0 … k (``gpcm``), with the codes of the stored GPCM items it held (``held``)."""

    codes: tuple[str, ...]
    models: tuple[str, ...]
    x: FloatArray
    calibration: irt.Calibration | None
    fit: irt.ItemFit | None
    drift: irt.ParameterDrift | None
    too_few: dict[str, int] = field(default_factory=dict)
    gpcm: irt.PolytomousCalibration | None = None
    held: tuple[str, ...] = ()

    @property
    def theta(self) -> FloatArray:
        """Each person's ability: the GPCM run's (it holds the 0/1 items too), else the
        0/1 run's."""
        if self.gpcm is not None:
            return np.asarray(self.gpcm.theta, dtype=np.float64)
        assert self.calibration is not None
        return np.asarray(self.calibration.theta, dtype=np.float64)


def fit(data: Collected, options: Options) -> Fitted:
    """Calibrate the columns with enough responses (mixed models, anchors), then item fit and
    drift against the stored parameters; then the items scored 0 … k with the GPCM, holding
    the 0/1 items at that run's estimates. Pure computation: call it off the event loop."""
    counts = (~np.isnan(data.matrix)).sum(axis=0) if data.matrix.size else np.zeros(0, int)
    enough = np.asarray(counts >= options.min_responses, dtype=bool)
    too_few = {c: int(n) for c, n, ok in zip(data.codes, counts, enough, strict=True) if not ok}
    if not enough.any():
        raise NotEnoughResponses(
            f"No item has {options.min_responses} scored responses of finished attempts.",
            most_responses=int(counts.max()) if counts.size else 0,
        )
    codes = tuple(c for c, ok in zip(data.codes, enough, strict=True) if ok)
    x = data.matrix[:, enough]
    x = x[(~np.isnan(x)).any(axis=1)]
    items = [data.items[c] for c in codes]
    models = tuple(options.model_for(i) for i in items)
    dich = [j for j, i in enumerate(items) if not i.polytomous]
    calibration = fit_result = drift_result = None
    if dich:
        d_items = [items[j] for j in dich]
        d_codes = [codes[j] for j in dich]
        fixed = {i.code: i.stored for i in d_items if options.anchored(i) and i.stored is not None}
        calibration = irt.calibrate(
            x[:, dich],
            models=[models[j] for j in dich],
            item_ids=d_codes,
            fixed=fixed,
            min_responses=1,
        )
        fit_result, drift_result = _fit_and_drift(x[:, dich], d_codes, calibration, d_items)
    gpcm, held = _fit_gpcm(x, codes, items, options, calibration)
    return Fitted(codes, models, x, calibration, fit_result, drift_result, too_few, gpcm, held)


def _fit_gpcm(
    x: FloatArray,
    codes: tuple[str, ...],
    items: list[BankItem],
    options: Options,
    calibration: irt.Calibration | None,
) -> tuple[irt.PolytomousCalibration | None, tuple[str, ...]]:
    """The GPCM run of the items scored 0 … k: the free ones estimated, the anchored ones and
    every item of the 0/1 run held (:class:`etest.irt.HeldItems`)."""
    poly = [j for j, i in enumerate(items) if i.polytomous]
    free = [j for j in poly if not options.anchored(items[j])]
    if not free:
        return None, tuple(codes[j] for j in poly)
    anchored = [j for j in poly if options.anchored(items[j])]
    ids: list[str] = []
    a: list[float] = []
    b: list[float] = []
    c: list[float] = []
    width = max((items[j].max_points for j in anchored), default=1)
    steps: list[list[float]] = []
    columns: list[FloatArray] = []
    nan = float("nan")
    if calibration is not None:
        col = {code: n for n, code in enumerate(codes)}
        for k, code in enumerate(calibration.item_ids):
            ids.append(code)
            a.append(float(calibration.a[k]))
            b.append(float(calibration.b[k]))
            c.append(float(calibration.c[k]))
            steps.append([nan] * width)
            columns.append(x[:, col[code]])
    for j in anchored:
        item = items[j]
        assert item.steps is not None
        ids.append(codes[j])
        a.append(item.a if item.a is not None else 1.0)
        b.append(float(np.mean(item.steps)))
        c.append(0.0)
        steps.append([*item.steps, *[nan] * (width - len(item.steps))])
        columns.append(x[:, j])
    held = None
    if ids:
        bank = irt.ItemBank.from_arrays(ids, a=a, b=b, c=c, steps=steps if width > 1 else None)
        held = irt.HeldItems(
            bank,
            np.column_stack(columns),
            calibration.population_mean if calibration is not None else 0.0,
            calibration.population_sd if calibration is not None else 1.0,
        )
    try:
        gpcm = irt.calibrate_gpcm(
            x[:, free],
            item_ids=[codes[j] for j in free],
            max_scores=[items[j].max_points for j in free],
            min_responses=1,
            held=held,
        )
    except irt.InvalidResponses:
        # every free item has a score nobody obtained: none can be estimated (listed)
        return None, tuple(codes[j] for j in anchored)
    return gpcm, tuple(codes[j] for j in anchored)


def _fit_and_drift(
    x: FloatArray, codes: Sequence[str], calibration: irt.Calibration, items: Sequence[BankItem]
) -> tuple[irt.ItemFit, irt.ParameterDrift]:
    """Item fit of the calibrated items, and drift of the free ones against their stored
    parameters (new items and anchored ones have none)."""
    fit_result = irt.item_fit(x, calibration, item_ids=list(codes))
    stored = {i.code: i.stored for i in items if i.stored is not None}
    return fit_result, irt.drift(calibration, stored)


#: How misfit and drift are decided (stored in the report: a reader sees the rule applied).
FIT_RULE = (
    "grouped chi-square in the manner of S-X2 (Orlando & Thissen 2000), each person's "
    "expectation conditioned on their other responses; flagged 'misfit' when p < 0.01 "
    "(etest.irt.item_fit)"
)
DRIFT_RULE = (
    "new minus stored, z = change / new SE; flagged 'drift' when |z| > 2 for any parameter "
    "the run estimated (etest.irt.drift); anchored and new items have no drift"
)


def _at(values: Any, j: int) -> float | None:
    return _number(values[j])


def _item_checks(fitted: Fitted) -> dict[str, dict[str, Any]]:
    """Per calibrated item code: its fit, its drift, and the flags they raise (``misfit``,
    ``drift``, ``out-of-range`` for estimates an item cannot store, ``not-converged``)."""
    cal, fit_result, drift_result = fitted.calibration, fitted.fit, fitted.drift
    out: dict[str, dict[str, Any]] = {}
    gpcm = fitted.gpcm
    if gpcm is not None:
        for k, code in enumerate(gpcm.item_ids):
            steps = gpcm.steps[k][: int(gpcm.max_score[k])]
            stored = 0 < float(gpcm.a[k]) <= 6 and all(-8 <= float(v) <= 8 for v in steps)
            out[code] = {
                "fit": None,
                "drift": None,
                "flags": [
                    *([] if stored else ["out-of-range"]),
                    *([] if gpcm.converged else ["not-converged"]),
                ],
            }
    if cal is None or fit_result is None or drift_result is None:
        return out
    fits = {code: j for j, code in enumerate(fit_result.item_ids)}
    drifts = {code: j for j, code in enumerate(drift_result.item_ids)}
    for k, code in enumerate(cal.item_ids):
        flags: list[str] = []
        fit_row = None
        if code in fits:
            j = fits[code]
            fit_row = {
                "statistic": _at(fit_result.statistic, j),
                "df": int(fit_result.df[j]),
                "p": _at(fit_result.p, j),
                "infit": _at(fit_result.infit, j),
                "outfit": _at(fit_result.outfit, j),
            }
            if bool(fit_result.flagged[j]):
                flags.append("misfit")
        drift_row = None
        if code in drifts:
            j = drifts[code]
            drift_row = {
                name: _at(getattr(drift_result, name), j)
                for name in ("delta_a", "delta_b", "delta_c", "z_a", "z_b", "z_c")
            }
            if bool(drift_result.beyond[j]):
                flags.append("drift")
        a, b, c = float(cal.a[k]), float(cal.b[k]), float(cal.c[k])
        if not (0 < a <= 6 and -8 <= b <= 8 and 0 <= c < 1):
            flags.append("out-of-range")
        if not cal.converged:
            flags.append("not-converged")
        out[code] = {"fit": fit_row, "drift": drift_row, "flags": flags}
    return out


def _excluded(fitted: Fitted) -> dict[str, str]:
    """The items left out, with the reason: by the 0/1 run (no variance), by the GPCM run (a
    score nobody obtained), or every free GPCM item when none could be estimated."""
    out = dict(fitted.calibration.excluded) if fitted.calibration is not None else {}
    if fitted.gpcm is not None:
        out.update(fitted.gpcm.excluded)
    else:
        for code, model in zip(fitted.codes, fitted.models, strict=True):
            if model == "gpcm" and code not in fitted.held:
                out[code] = "a score nobody obtained"
    return out


# -- the report -------------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    """A JSON number, or None for NaN/inf (JSON has neither)."""
    if value is None:
        return None
    v = float(value)
    return round(v, 6) if math.isfinite(v) else None


def _icc(
    x: FloatArray, theta: FloatArray, top: int = 1
) -> dict[str, list[float | None] | list[int]]:
    """Observed proportion correct per ability bin (EAP under the new parameters); for an item
    scored 0 … ``top``, the mean share of its points."""
    edges = np.asarray(ICC_EDGES)
    mids: list[float | None] = []
    observed: list[float | None] = []
    counts: list[int] = []
    seen = ~np.isnan(x)
    for lo, hi in itertools.pairwise(edges):
        rows = seen & (theta >= lo) & (theta < hi)
        n = int(rows.sum())
        if n >= ICC_MIN_BIN:
            mids.append(_number((lo + hi) / 2))
            observed.append(_number(x[rows].mean() / top))
            counts.append(n)
    return {"theta": mids, "observed": observed, "n": counts}


#: How the items scored 0 … k are calibrated (stored in the report).
GPCM_RULE = (
    "items scored 0 … k (one point a gap) get the GPCM from their points, in a second EM "
    "that holds the 0/1 items at this run's estimates and its population as the prior "
    "(etest.irt.calibrate_gpcm with HeldItems); stored GPCM items that are operational are "
    "held at their stored values unless free; no item fit or drift is computed for them"
)


def _row(
    data: Collected, item: BankItem, x: FloatArray, anchored: bool, model: str
) -> dict[str, Any]:
    """The fields of a report row every item has."""
    served = data.served.get(item.code, 0)
    return {
        "code": item.code,
        "item_id": item.id,
        "version": item.version,
        "versions_pooled": data.versions.get(item.code, []),
        "type": item.type,
        "status": item.status,
        "model": model,
        "anchored": anchored,
        "n": int((~np.isnan(x)).sum()),
        # the mean share of the points (the proportion right of a 0/1 item)
        "p_value": _number(np.nanmean(x) / item.max_points),
        "stored": None
        if item.stored is None
        else {
            "model": item.model,
            "a": item.a,
            "b": item.b,
            "c": item.c,
            **({"steps": list(item.steps)} if item.steps is not None else {}),
        },
        "served": served,
        "exposure": _number(served / data.attempts) if data.attempts else None,
    }


def _dichotomous_rows(
    data: Collected,
    fitted: Fitted,
    options: Options,
    per_item: dict[str, dict[str, Any]],
    proposal: dict[str, Any],
) -> list[dict[str, Any]]:
    cal = fitted.calibration
    if cal is None:
        return []
    theta = np.asarray(cal.theta, dtype=np.float64)
    col = {c: n for n, c in enumerate(fitted.codes)}
    rows = []
    for k, code in enumerate(cal.item_ids):
        item = data.items[code]
        x = fitted.x[:, col[code]]
        anchored = options.anchored(item)
        # an anchored item keeps its stored model (the fitted column's model is moot for it)
        model = (item.model or "2pl").lower() if anchored else fitted.models[col[code]]
        estimate = {
            "a": _number(cal.a[k]),
            "b": _number(cal.b[k]),
            "c": _number(cal.c[k]),
            "se_a": _number(cal.se_a[k]),
            "se_b": _number(cal.se_b[k]),
            "se_c": _number(cal.se_c[k]),
        }
        checks = per_item.get(code, {})
        flags = list(checks.get("flags", []))
        row = _row(data, item, x, anchored, model)
        row.update(n=int(cal.n_responses[k]), **estimate)
        row.update(fit=checks.get("fit"), drift=checks.get("drift"), flags=flags)
        row["icc"] = _icc(x, theta)
        rows.append(row)
        if not anchored and "out-of-range" not in flags:
            proposal[code] = {
                "a": estimate["a"],
                "b": estimate["b"],
                "c": estimate["c"] if model == "3pl" else 0.0,
                "model": model,
                "from_item_id": item.id,
                "from_version": item.version,
            }
    return rows


def _gpcm_rows(
    data: Collected,
    fitted: Fitted,
    per_item: dict[str, dict[str, Any]],
    proposal: dict[str, Any],
) -> list[dict[str, Any]]:
    """Rows of the items scored 0 … k: estimated ones (with a proposal) and held ones."""
    theta = fitted.theta
    col = {c: n for n, c in enumerate(fitted.codes)}
    rows = []
    gpcm = fitted.gpcm
    for k, code in enumerate(gpcm.item_ids if gpcm is not None else ()):
        assert gpcm is not None
        item = data.items[code]
        x = fitted.x[:, col[code]]
        top = int(gpcm.max_score[k])
        steps = [_number(v) for v in gpcm.steps[k][:top]]
        flags = list(per_item.get(code, {}).get("flags", []))
        row = _row(data, item, x, False, "gpcm")
        row.update(
            n=int(gpcm.n_responses[k]),
            a=_number(gpcm.a[k]),
            b=_number(np.mean(gpcm.steps[k][:top])),
            c=None,
            se_a=_number(gpcm.se_a[k]),
            se_b=None,
            se_c=None,
            steps=steps,
            se_steps=[_number(v) for v in gpcm.se_steps[k][:top]],
            fit=None,
            drift=None,
            flags=flags,
            icc=_icc(x, theta, top),
        )
        rows.append(row)
        if "out-of-range" not in flags and all(v is not None for v in steps):
            proposal[code] = {
                "a": row["a"],
                "b": row["b"],
                "c": 0.0,
                "steps": steps,
                "model": "gpcm",
                "from_item_id": item.id,
                "from_version": item.version,
            }
    for code in fitted.held:
        item = data.items[code]
        x = fitted.x[:, col[code]]
        row = _row(data, item, x, True, "gpcm")
        row.update(
            a=item.a,
            b=item.b,
            c=None,
            se_a=None,
            se_b=None,
            se_c=None,
            steps=list(item.steps or ()),
            se_steps=None,
            fit=None,
            drift=None,
            flags=[],
            icc=_icc(x, theta, item.max_points),
        )
        rows.append(row)
    return rows


def compose(
    data: Collected, fitted: Fitted, options: Options
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The reviewable report (JSON) and the proposal (new parameters by item code, for the
    items that were estimated: anchored ones keep theirs)."""
    cal, gpcm = fitted.calibration, fitted.gpcm
    per_item = _item_checks(fitted)
    proposal: dict[str, Any] = {}
    rows = _dichotomous_rows(data, fitted, options, per_item, proposal)
    rows += _gpcm_rows(data, fitted, per_item, proposal)
    excluded = [{"code": code, "reason": reason} for code, reason in _excluded(fitted).items()]
    converged = all(r.converged for r in (cal, gpcm) if r is not None)
    report = {
        "model": options.model,
        "free": options.free,
        "min_responses": options.min_responses,
        "attempts": data.attempts,
        "persons": int(fitted.x.shape[0]),
        "responses": int((~np.isnan(fitted.x)).sum()),
        "converged": bool(converged),
        "iterations": int(cal.iterations) if cal is not None else None,
        "log_likelihood": _number(cal.log_likelihood) if cal is not None else None,
        # the candidates' ability distribution on the bank's scale (N(0, 1) unless anchored)
        "population_mean": _number(cal.population_mean) if cal is not None else 0.0,
        "population_sd": _number(cal.population_sd) if cal is not None else 1.0,
        "anchored": sum(1 for r in rows if r["anchored"]),
        "estimated": len(proposal),
        "fit_rule": FIT_RULE,
        "drift_rule": DRIFT_RULE,
        "gpcm": None
        if gpcm is None and not fitted.held
        else {
            "rule": GPCM_RULE,
            "estimated": len(gpcm.item_ids) if gpcm is not None else 0,
            "held": list(fitted.held),
            "converged": bool(gpcm.converged) if gpcm is not None else None,
            "iterations": int(gpcm.iterations) if gpcm is not None else None,
            "log_likelihood": _number(gpcm.log_likelihood) if gpcm is not None else None,
        },
        "items": rows,
        "too_few": [
            {"code": c, "n": n, "type": data.items[c].type, "status": data.items[c].status}
            for c, n in sorted(fitted.too_few.items())
        ],
        "excluded": excluded,
        "unknown": list(data.unknown),
    }
    return report, proposal


# -- running ----------------------------------------------------------------------------------


async def _set_progress(
    maker: async_sessionmaker[AsyncSession],
    run_id: uuid.UUID,
    share: float,
    what: str,
    progress: Progress | None,
) -> None:
    async with transaction(maker) as session:
        run = await repository.calibration_run(session, run_id)
        if run is not None:
            run.progress = share
    if progress is not None:
        await progress(share, what)


async def _finish(
    maker: async_sessionmaker[AsyncSession], run_id: uuid.UUID, **values: Any
) -> CalibrationRun:
    async with transaction(maker) as session:
        run = await repository.calibration_run(session, run_id, lock=True)
        if run is None:
            raise CalibrationNotFound("No such calibration.")
        for name, value in values.items():
            setattr(run, name, value)
        return run


async def execute(
    maker: async_sessionmaker[AsyncSession], run_id: uuid.UUID, progress: Progress | None = None
) -> CalibrationRun:
    """Run a queued calibration: read (a snapshot, no write lock), fit and compose in a thread
    (the EM is CPU-heavy; the event loop keeps serving), store report and proposal. Progress
    is written on the run between stages. A run that is done, failed or published already is
    returned untouched (a repeated job). A failure is stored on the run (``failed``, ``error``)
    and raised."""
    async with transaction(maker) as session:
        run = await repository.calibration_run(session, run_id, lock=True)
        if run is None:
            raise CalibrationNotFound("No such calibration.")
        if run.status not in ("queued", "running"):
            return run
        run.status, run.progress, run.error = "running", 0.05, None
        body = CalibrationCreate.model_validate(run.params)
    options = Options.of(body)
    try:
        # a snapshot that takes no write lock (SQLite): candidates' answers need not wait
        async with create_read_sessionmaker(maker.kw["bind"])() as session:
            data = await collect(session, body)
        await _set_progress(maker, run_id, 0.2, f"{data.matrix.shape[0]} attempts read", progress)
        fitted = await asyncio.to_thread(fit, data, options)
        await _set_progress(maker, run_id, 0.8, "items calibrated", progress)
        report, proposal = await asyncio.to_thread(compose, data, fitted, options)
    except asyncio.CancelledError:  # the worker's time budget ran out: say so, then stop
        await _finish(maker, run_id, status="failed", error="the run was cancelled (time budget)")
        raise
    except Exception as exc:
        await _finish(maker, run_id, status="failed", error=f"{type(exc).__name__}: {exc}"[:2000])
        raise
    done = await _finish(
        maker, run_id, status="done", progress=1.0, report=report, proposal=proposal
    )
    if progress is not None:
        await progress(1.0, "report stored")
    return done


# -- publishing -------------------------------------------------------------------------------

#: The item columns an item's content hash covers (the import's ``item_row_values``), so a
#: later import of the same content and parameters reuses the row a calibration wrote.
_HASHED = (
    "type",
    "skill",
    "level",
    "status",
    "prompt",
    "stimulus",
    "options",
    "targets",
    "key",
    "can_do",
    "review_lessons",
    "irt_model",
    "irt_a",
    "irt_b",
    "irt_c",
    "shuffle_options",
    "time_limit_seconds",
    "source",
)


def _content_hash(values: dict[str, Any]) -> str:
    data = json.dumps(values, sort_keys=True, default=str).encode()
    return hashlib.sha256(data).hexdigest()


#: Columns the import writes (and hashes) only when used: gap items' body and gaps, GPCM steps.
_HASHED_IF_SET = ("body", "gaps", "irt_steps")


def new_item_version(item: Item, params: dict[str, Any]) -> Item:
    """The next version of ``item`` with the proposed parameters; everything else as it was
    (item rows are immutable: assessment versions pin them). A GPCM proposal writes its steps
    (``b`` their mean); a dichotomous one drops any."""
    values = {name: getattr(item, name) for name in _HASHED}
    values.update(
        {name: getattr(item, name) for name in _HASHED_IF_SET if getattr(item, name) is not None}
    )
    values.update(
        irt_model=str(params["model"]).upper(),
        irt_a=float(params["a"]),
        irt_b=float(params["b"]),
        irt_c=float(params["c"] or 0.0),
    )
    values.pop("irt_steps", None)
    if params.get("steps"):
        values["irt_steps"] = [float(v) for v in params["steps"]]
        values["irt_b"] = round(sum(values["irt_steps"]) / len(values["irt_steps"]), 6)
    return Item(
        code=item.code, version=item.version + 1, content_hash=_content_hash(values), **values
    )


def _swap(value: Any, mapping: dict[str, str]) -> Any:
    """``value`` (an engine's JSON) with every string in ``mapping`` replaced: item ids sit in
    groups, pools, sections and the pilot block, and an id is never anything else."""
    if isinstance(value, str):
        return mapping.get(value, value)
    if isinstance(value, list):
        return [_swap(v, mapping) for v in value]
    if isinstance(value, dict):
        return {k: _swap(v, mapping) for k, v in value.items()}
    return value


def _ids_in(value: Any) -> set[str]:
    if isinstance(value, str):
        return {value}
    if isinstance(value, list):
        return set().union(*(_ids_in(v) for v in value)) if value else set()
    if isinstance(value, dict):
        return _ids_in(list(value.values()))
    return set()


async def _renewed_flow(
    session: AsyncSession, assessment: Assessment, version: AssessmentVersion
) -> dict[str, Any]:
    """The flow file that publishes ``version``'s engine again as the next version, by item
    codes (the import pins each code's latest version: the rows publishing just wrote)."""
    strings = _ids_in(version.engine)
    ids = []
    for s in strings:
        try:
            ids.append(uuid.UUID(s))
        except ValueError:
            continue
    code_of = {str(i.id): i.code for i in await repository.items_by_id(session, ids)}
    engine = _swap(version.engine, code_of)
    if engine.get("type") == "irt" and engine.get("pool") is not None:
        engine["pool_levels"] = None  # the pool was resolved and pinned when it was imported
    previous = [i.version for i in await content_repository.imports_of(session, assessment.code)]
    flow: dict[str, Any] = {
        "format": "etest-flow/1",
        "kind": assessment.kind,
        "code": assessment.code,
        "version": max([version.version, *previous]) + 1,
        "title": version.title,
        "plan": assessment.plan_code,
        "level": assessment.level,
        "engine": engine,
    }
    if assessment.kind == "PT":
        flow["evidence"] = _flow_thresholds(version.evidence)
    return flow


def _flow_thresholds(evidence: dict[str, Any] | None) -> dict[str, Any] | None:
    """The thresholds the previous version's flow set itself (its ``evidence`` block), read back
    from its stored evidence (``etest.bank.evidence``: each threshold with its ``source``);
    those that came from the settings are left to the settings again."""
    thresholds = (evidence or {}).get("thresholds")
    if not isinstance(thresholds, dict):
        return None
    source = thresholds.get("source") or {}
    own = {k: v for k, v in thresholds.items() if k != "source" and source.get(k) == "flow"}
    return own or None


async def publish(
    session: AsyncSession,
    actor: Actor,
    settings: Settings,
    run_id: uuid.UUID,
    override_reason: str | None = None,
) -> dict[str, Any]:
    """Publish a done calibration (content managers and global superadmins, audited): a new
    version of each proposed item with its new parameters, and a new version of every
    assessment whose newest version serves one of them, written by the content import (so a
    placement test's publish checks run: evidence, or a superadmin's ``override_reason``).
    Attempts in progress keep the versions they pinned. Refused with
    :class:`CalibrationNotReady` unless the run is done (published already included)."""
    repository.require_calibrator(actor)
    run = await repository.calibration_run(session, run_id, lock=True)
    if run is None:
        raise CalibrationNotFound("No such calibration.")
    if run.status != "done" or not run.proposal:
        why = "has nothing to publish" if run.status == "done" else f"is {run.status}"
        raise CalibrationNotReady(f"The calibration {why}.", run_status=run.status)
    latest = await repository.latest_items(session, sorted(run.proposal))
    renamed: dict[str, str] = {}
    items_out: list[dict[str, Any]] = []
    for code, params in sorted(run.proposal.items()):
        old = latest.get(code)
        if old is None or str(old.id) != params.get("from_item_id"):
            raise CalibrationNotReady(
                f"{code} changed since the calibration ran (its latest version is "
                f"{old.version if old else 'gone'}): run it again."
            )
        row = new_item_version(old, params)
        session.add(row)
        await session.flush()
        renamed[str(old.id)] = str(row.id)
        items_out.append({"code": code, "item_id": str(row.id), "version": row.version})
    flows = [
        await _renewed_flow(session, assessment, version)
        for assessment, version in await repository.latest_assessment_versions(session)
        if _ids_in(version.engine) & renamed.keys()
    ]
    sources = [
        source
        for n, flow in enumerate(flows)
        for source in sources_from_bytes(
            f"calibration-{run.id}-{n}.json", json.dumps(flow).encode()
        )
    ]
    result = await import_content(
        session,
        actor,
        MediaStore(settings.media_path),
        sources,
        settings=settings,
        override_reason=override_reason,
    )
    assessments_out = [
        {"code": f.code, "version": f.version, "status": f.status} for f in result.files
    ]
    run.status, run.published_at, run.published_by = "published", utcnow(), actor.subject
    record(
        session,
        actor,
        "calibration.publish",
        target_type="calibration",
        target_id=run.id,
        organization_id=None,
        reason=override_reason,
        details={"items": items_out, "assessments": assessments_out},
    )
    await session.flush()
    return {"items": items_out, "assessments": assessments_out}

"""A placement test's psychometric settings, its evidence thresholds and the pilot block in the
flow: validated with messages a content manager can act on, defaulting to the adaptive core's
values, stored with the version and read back by the engine."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy import select

from etest import irt
from etest.attempt.engines import IRT_SETTINGS, engine_config
from etest.content.schemas import FixedEngine, FlowFile, IrtEngine, StagedEngine
from etest.content.sources import parse_flow
from etest.db import transaction
from etest.models import Assessment, AssessmentVersion
from tests.conftest import Headers, unique
from tests.content.test_import import counts, make_bank, make_pt, package, upload

IRT = {"type": "irt", "pool": ["r0", "r1", "r2"], "cut_scores": [-1.0, 0.0, 1.0]}
STAGED = {"type": "staged", "groups": [{"level": "A1", "items": ["r0", "r1"]}]}
FIXED = {"type": "fixed", "sections": [{"skill": "reading", "count": 1, "pool": ["r0"]}]}


def _irt(**settings: Any) -> IrtEngine:
    return IrtEngine.model_validate({**IRT, **settings})


def _refused(model: Any, data: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as info:
        model.model_validate(data)
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in info.value.errors())


# ------------------------------------------------------------------------------- defaults


def test_the_defaults_are_the_adaptive_cores() -> None:
    flow, core = _irt(), irt.EngineConfig(cut_scores=(-1.0, 0.0, 1.0))
    assert (flow.prior.mean, flow.prior.sd) == (core.prior_mean, core.prior_sd)
    for key, name in IRT_SETTINGS.items():
        if key in IrtEngine.model_fields:
            assert getattr(flow, key) == getattr(core, name), key
    assert flow.exposure_max_rate is None and flow.pilot is None and core.exposure_control is None
    # every setting of the core but the grid reaches it from the stored engine: all from the
    # flow, but the exposure parameters that publishing computes from exposure_max_rate
    assert set(IRT_SETTINGS) - set(IrtEngine.model_fields) == {"exposure_control"}
    settable = {*IRT_SETTINGS.values(), "prior_mean", "prior_sd"}
    core_fields = {f.name for f in dataclasses.fields(core)}
    assert core_fields - settable == {"cut_scores", "grid_points", "grid_bound"}


def test_the_stored_engine_runs_what_the_flow_says() -> None:
    flow = _irt(
        prior={"mean": -0.5, "sd": 1.3},
        estimator="mle",
        min_items=8,
        max_items=30,
        se_target=None,
        randomesque=3,
        classification="sprt",
        classification_ci=0.9,
        sprt_delta=0.4,
        sprt_alpha=0.1,
        sprt_beta=0.1,
        min_information=0.2,
        skill_targets={"reading": 0.5, "grammar": 0.5},
    )
    config = engine_config(flow.model_dump(mode="json"))
    assert config == irt.EngineConfig(
        cut_scores=(-1.0, 0.0, 1.0),
        prior_mean=-0.5,
        prior_sd=1.3,
        estimator="mle",
        min_items=8,
        max_items=30,
        se_target=None,
        randomesque_k=3,
        classification="sprt",
        ci_level=0.9,
        sprt_delta=0.4,
        sprt_alpha=0.1,
        sprt_beta=0.1,
        min_information=0.2,
        content_targets={"reading": 0.5, "grammar": 0.5},
    )


# ----------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"prior": "guessed"}, "prior 'guessed' is not supported: give {'mean': ..., 'sd': ...}"),
        ({"prior": {"mean": 0, "sd": 0}}, "prior.sd: Input should be greater than or equal to 0.2"),
        ({"prior": {"mean": 9}}, "prior.mean: Input should be less than or equal to 4"),
        ({"prior": {"mean": 0, "sd": 1, "n": 3}}, "prior.n: Extra inputs are not permitted"),
        ({"estimator": "ml"}, "estimator: Input should be 'eap', 'map', 'mle' or 'wle'"),
        ({"se_target": 0}, "se_target: Input should be greater than 0"),
        ({"min_items": 20, "max_items": 15}, "min_items must not exceed max_items"),
        ({"randomesque": 0}, "randomesque: Input should be greater than or equal to 1"),
        ({"exposure_max_rate": 1.0}, "exposure_max_rate: Input should be less than 1"),
        ({"exposure_max_rate": 0}, "exposure_max_rate: Input should be greater than 0"),
        ({"classification": "bayes"}, "classification: Input should be 'ci', 'sprt' or 'off'"),
        ({"classification_ci": 0.5}, "classification_ci: Input should be greater than 0.5"),
        (
            {"classification": "sprt", "sprt_delta": 0.6},
            "sprt_delta must be at most half the narrowest band between cut scores (0.5), got 0.6",
        ),
        ({"sprt_alpha": 0.5}, "sprt_alpha: Input should be less than 0.5"),
        ({"sprt_beta": 0}, "sprt_beta: Input should be greater than 0"),
        ({"min_information": -1}, "min_information: Input should be greater than or equal to 0"),
        ({"skill_targets": {"reading": 0.7}}, "skill_targets must sum to 1, got 0.7"),
        ({"skill_targets": {"reading": -0.5, "grammar": 1.5}}, "skill_targets.reading: Input"),
        ({"exposure_control": {"x": 0.5}}, "exposure_control: Extra inputs are not permitted"),
    ],
)
def test_a_bad_setting_is_refused_with_a_clear_message(
    settings: dict[str, Any], message: str
) -> None:
    assert message in _refused(IrtEngine, {**IRT, **settings})


def test_sprt_delta_is_only_bounded_by_the_bands_when_sprt_runs() -> None:
    assert _irt(sprt_delta=0.6).classification == "ci"  # unused: no band check
    assert _irt(classification="sprt", sprt_delta=0.5).sprt_delta == 0.5


@pytest.mark.parametrize("engine", [IRT, STAGED, FIXED], ids=["irt", "staged", "fixed"])
def test_every_engine_takes_a_pilot_block(engine: dict[str, Any]) -> None:
    model = {"irt": IrtEngine, "staged": StagedEngine, "fixed": FixedEngine}[engine["type"]]
    parsed = model.model_validate({**engine, "pilot": {"items": ["p1", "p2"], "rate": 0.2}})
    assert parsed.pilot is not None
    assert parsed.pilot.model_dump() == {"items": ["p1", "p2"], "rate": 0.2}
    assert model.model_validate(engine).model_dump(mode="json")["pilot"] is None
    for pilot, message in (
        ({"items": [], "rate": 0.1}, "pilot.items: List should have at least 1 item"),
        ({"items": ["p1", "p1"], "rate": 0.1}, "pilot items are named twice: ['p1']"),
        ({"items": ["p1"], "rate": 0}, "pilot.rate: Input should be greater than 0"),
        ({"items": ["p1"], "rate": 0.6}, "pilot.rate: Input should be less than or equal to 0.5"),
        ({"items": ["p1"]}, "pilot.rate: Field required"),
        (
            {"items": ["p1", "r0"], "rate": 0.1},
            "pilot items must not be operational items of the engine too: ['r0']",
        ),
    ):
        assert message in _refused(model, {**engine, "pilot": pilot})


def _flow(kind: str, **extra: Any) -> dict[str, Any]:
    engine = {"PT": IRT, "CT": FIXED, "bank": None}[kind]
    return {
        "format": "etest-flow/1",
        "kind": kind,
        "code": "x",
        "version": 1,
        "title": "X",
        **({"plan": "neo_plus", "engine": engine} if engine else {}),
        **({"level": "A1"} if kind == "CT" else {}),
        **extra,
    }


def test_evidence_thresholds_belong_to_a_placement_test() -> None:
    flow = FlowFile.model_validate(_flow("PT", evidence={"within_one_level": 0.9}))
    assert flow.evidence is not None
    assert flow.evidence.model_dump() == {"within_one_level": 0.9, "max_mean_length": None}
    assert FlowFile.model_validate(_flow("PT")).evidence is None
    assert FlowFile.model_validate(_flow("PT", evidence={"within_one_level": 0})).evidence
    for kind in ("CT", "bank"):
        assert "only a placement test (kind PT) has evidence thresholds" in _refused(
            FlowFile, _flow(kind, evidence={"max_mean_length": 30})
        )
    for evidence, message in (
        ({"within_one_level": 1.2}, "less than or equal to 1"),
        ({"within_one_level": -0.1}, "greater than or equal to 0"),
        ({"max_mean_length": 0}, "greater than 0"),
        ({"exact": 0.5}, "evidence.exact: Extra inputs are not permitted"),
    ):
        assert message in _refused(FlowFile, _flow("PT", evidence=evidence))


def test_the_published_schema_names_the_settings() -> None:
    schema = json.dumps(FlowFile.model_json_schema())
    for name in ("exposure_max_rate", "sprt_delta", "min_information", "within_one_level", "rate"):
        assert f'"{name}"' in schema


# ------------------------------------------------------------------------------- database

#: Thresholds any test flow meets, should a publish check run on these imports.
EASY = {"within_one_level": 0.01, "max_mean_length": 200}


async def _stored_engine(app: FastAPI, code: str) -> dict[str, Any]:
    async with transaction(app.state.sessionmaker) as session:
        engine = await session.scalar(
            select(AssessmentVersion.engine)
            .join(Assessment, Assessment.id == AssessmentVersion.assessment_id)
            .where(Assessment.code == code)
        )
    assert isinstance(engine, dict)
    return engine


def _bank(tag: str) -> dict[str, Any]:
    """16 items spread over the abilities of the neo_jr plan (cut scores -2.25 and -1.75)."""
    items = [
        {
            "code": f"{tag}-{n}",
            "type": "single_choice",
            "skill": ("reading", "grammar")[n % 2],
            "level": "Pre A1" if b < -2.25 else "A1" if b < -1.75 else "A1+",
            "prompt": "Pick one",
            "options": [{"id": "A", "text": "yes"}, {"id": "B", "text": "no"}],
            "key": {"correct": ["A"]},
            "irt": {"a": 1.6, "b": b},
        }
        for n, b in enumerate(-3.5 + n * 0.2 for n in range(16))
    ]
    return {
        "format": "etest-flow/1",
        "kind": "bank",
        "code": f"bank-{tag}",
        "version": 1,
        "title": "Bank",
        "items": items,
    }


def _pt(code: str, bank: str, **settings: Any) -> dict[str, Any]:
    engine = {
        "type": "irt",
        "pool": [f"{bank}-{n}" for n in range(16)],
        "cut_scores": [-2.25, -1.75],
        "min_items": 4,
        "max_items": 12,
    }
    return {
        "format": "etest-flow/1",
        "kind": "PT",
        "code": code,
        "version": 1,
        "title": "PT",
        "plan": "neo_jr",
        "evidence": EASY,
        "engine": engine | settings,
    }


async def test_a_pt_stores_its_settings_and_a_reimport_is_a_no_op(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    tag = unique("s").lower()
    settings = {
        "prior": {"mean": -1.5, "sd": 0.8},
        "estimator": "map",
        "se_target": None,
        "classification": "sprt",
        "sprt_delta": 0.25,
        "min_information": 0.0,
    }
    data = package(_bank(tag), _pt(f"pt-{tag}", tag, **settings), _pt(f"pt-{tag}p", tag), media={})
    resp = await upload(client, su, data)
    assert resp.status_code == 200, resp.text
    stored = await _stored_engine(app, f"pt-{tag}")
    assert {k: stored[k] for k in settings} == settings
    config = engine_config(stored)
    assert (config.prior_mean, config.prior_sd, config.estimator) == (-1.5, 0.8, "map")
    assert (config.se_target, config.classification, config.min_information) == (None, "sprt", 0)
    # a flow without settings stores the defaults, and they run the core's defaults
    defaults = await _stored_engine(app, f"pt-{tag}p")
    assert defaults["prior"] == {"mean": 0.0, "sd": 1.0} and defaults["pilot"] is None
    assert engine_config(defaults) == irt.EngineConfig(
        cut_scores=(-2.25, -1.75), min_items=4, max_items=12
    )
    before = await counts(app)
    again = await upload(client, su, data)
    assert again.status_code == 200
    assert {f["status"] for f in again.json()["files"]} == {"unchanged"}
    assert await counts(app) == before


def test_a_files_content_hash_is_its_bytes() -> None:
    # re-imports are recognised by the file's bytes, never by the parsed models: defaults the
    # schema gains cannot make a stored file look changed
    raw = json.dumps(make_pt("h")).encode()
    assert (
        parse_flow("pt.json", raw, lambda _: None).content_hash == hashlib.sha256(raw).hexdigest()
    )


async def test_bad_settings_are_reported_with_their_path(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    tag = unique("s").lower()
    pt = make_pt(tag)
    pt["engine"] |= {"prior": "guessed", "pilot": {"items": [f"{tag}-r0"], "rate": 0.7}}
    before = await counts(app)
    resp = await upload(client, su, package(make_bank(tag), pt))
    assert resp.status_code == 422
    problems = {p["path"]: p["message"] for p in resp.json()["errors"]}
    assert "prior 'guessed' is not supported" in problems["$.engine.irt.prior"]
    assert "less than or equal to 0.5" in problems["$.engine.irt.pilot.rate"]
    assert await counts(app) == before

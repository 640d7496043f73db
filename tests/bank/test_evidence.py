"""Evidence before a placement test goes live: importing a PT flow simulates it on its stored
engine and items, keeps the report with the version, and refuses it below the thresholds of the
flow or the settings (nothing written) unless a superadmin gives a reason (stored, audited).
CTs are fixed tests: not simulated. An irt flow asking for exposure control gets its
Sympson–Hetter parameters in the stored engine before the simulation."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from etest.attempt.engines import ItemInfo
from etest.attempt.quality import Bank
from etest.bank import evidence
from etest.cli import cli_actor
from etest.config import Settings
from etest.content import service as content_service
from etest.content.media import MediaStore
from etest.content.schemas import FlowFile
from etest.content.service import PUBLISH_CHECKS, Publication, import_content
from etest.content.sources import sources_from_bytes
from etest.db import transaction
from etest.models import Assessment, AssessmentVersion, AuditEntry, ContentImport, Item
from tests.conftest import Headers, create_key, unique

#: neo Jr's levels and the cut scores between them (the demo scale's).
LEVELS = ["Pre A1", "A1", "A1+"]
CUTS = [-2.25, -1.75]
STRICT = {"within_one_level": 0.95, "max_mean_length": 40}


def _item(code: str, level: str, b: float, status: str = "active") -> dict[str, Any]:
    return {
        "code": code,
        "type": "single_choice",
        "skill": "reading",
        "level": level,
        "status": status,
        "prompt": "Pick one",
        "options": [{"id": "A", "text": "yes"}, {"id": "B", "text": "no"}],
        "key": {"correct": ["A"]},
        "irt": {"a": 1.8, "b": b},
    }


def bank(tag: str) -> dict[str, Any]:
    """Eight items spread across each of the three levels' bands, and two pilot items."""
    items = [
        _item(f"{tag}-{n}-{k}", level, centre - 0.35 + 0.1 * k)
        for n, (level, centre) in enumerate(zip(LEVELS, (-2.6, -2.0, -1.4), strict=True))
        for k in range(8)
    ]
    items += [_item(f"{tag}-p{k}", "A1", -2.0, status="pilot") for k in range(2)]
    return {
        "format": "etest-flow/1",
        "kind": "bank",
        "code": f"bank-{tag}",
        "version": 1,
        "title": "bank",
        "items": items,
    }


def pt(tag: str, **engine: Any) -> dict[str, Any]:
    return {
        "format": "etest-flow/1",
        "kind": "PT",
        "code": f"pt-{tag}",
        "version": 1,
        "title": "PT",
        "plan": "neo_jr",
        "evidence": STRICT,
        "engine": {
            "type": "irt",
            "pool": [f"{tag}-{n}-{k}" for n in range(3) for k in range(8)],
            "cut_scores": CUTS,
            "min_items": 6,
            "max_items": 15,
            "se_target": 0.3,
        }
        | engine,
    }


def poor_pt(tag: str) -> dict[str, Any]:
    """Two items of A1 and at most two answers: the Pre A1 and A1+ candidates end up in the
    middle or beyond, so within-one-level accuracy falls far below 95 % somewhere."""
    return pt(tag, pool=[f"{tag}-1-0", f"{tag}-1-1"], min_items=2, max_items=2)


def ct(tag: str) -> dict[str, Any]:
    return {
        "format": "etest-flow/1",
        "kind": "CT",
        "code": f"ct-{tag}",
        "version": 1,
        "title": "CT",
        "plan": "neo_jr",
        "level": "A1",
        "engine": {
            "type": "fixed",
            "sections": [
                {"skill": "reading", "count": 2, "pool": [f"{tag}-1-{k}" for k in range(4)]}
            ],
        },
    }


def package(*flows: dict[str, Any]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for n, flow in enumerate(flows):
            zf.writestr(f"flow{n}.json", json.dumps(flow))
    return buf.getvalue()


async def upload(
    client: httpx.AsyncClient, headers: Headers, data: bytes, override_reason: str | None = None
) -> httpx.Response:
    return await client.post(
        "/api/v1/content/import",
        headers=headers,
        files={"file": ("content.zip", data, "application/zip")},
        data={"override_reason": override_reason} if override_reason is not None else {},
    )


async def counts(app: FastAPI) -> tuple[int, int, int, int]:
    async with transaction(app.state.sessionmaker) as session:
        return (
            await session.scalar(select(func.count()).select_from(Item)) or 0,
            await session.scalar(select(func.count()).select_from(ContentImport)) or 0,
            await session.scalar(select(func.count()).select_from(AssessmentVersion)) or 0,
            await session.scalar(select(func.count()).select_from(AuditEntry)) or 0,
        )


async def stored(app: FastAPI, code: str) -> AssessmentVersion:
    async with transaction(app.state.sessionmaker) as session:
        version = await session.scalar(
            select(AssessmentVersion)
            .join(Assessment, Assessment.id == AssessmentVersion.assessment_id)
            .where(Assessment.code == code)
        )
    assert version is not None
    return version


async def overrides(app: FastAPI, version_id: uuid.UUID) -> list[AuditEntry]:
    async with transaction(app.state.sessionmaker) as session:
        rows = await session.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "assessment.evidence_override",
                AuditEntry.target_id == str(version_id),
            )
        )
        return list(rows)


@pytest.fixture(scope="module")
async def cm(app: FastAPI) -> Headers:
    return await create_key(app, "content_manager", None)


# ------------------------------------------------------------------------- publishing


async def test_a_good_pt_is_published_with_its_evidence(
    app: FastAPI, client: httpx.AsyncClient, cm: Headers
) -> None:
    tag = unique("e").lower()
    resp = await upload(client, cm, package(bank(tag), pt(tag)))
    assert resp.status_code == 200, resp.text
    version = await stored(app, f"pt-{tag}")
    report = version.evidence
    assert report is not None and version.override_reason is None
    assert report["passed"] is True and report["failures"] == []
    per_level = app.state.settings.evidence_per_level
    assert report["simulation"] == {
        "engine": "irt",
        "per_level": per_level,
        "seed": evidence.SEED,
        "guessing": None,
        "cut_scores": CUTS,
        "cut_scores_from": "engine",
    }
    assert [r["level"] for r in report["levels"]] == LEVELS
    for row in report["levels"]:
        assert row["n"] == per_level and row["within_one"] >= 0.95
        assert 6 <= row["mean_length"] <= row["max_length"] <= 15
        assert set(row) == {"level", "n", "exact", "within_one", "mean_length", "max_length"}
    assert report["overall"]["n"] == 3 * per_level
    exposure = report["exposure"]
    assert exposure["items"] == 24
    assert 0 < exposure["mean_rate"] <= exposure["max_rate"] <= 1
    # the mean rate over the pool is the mean length over the pool's size
    assert exposure["mean_rate"] == pytest.approx(report["overall"]["mean_length"] / 24, abs=0.01)
    assert report["thresholds"] == {
        "within_one_level": 0.95,
        "max_mean_length": 40,
        "source": {"within_one_level": "flow", "max_mean_length": "flow"},
    }
    assert report["exposure_control"] is None and "exposure_control" not in version.engine


async def test_a_pt_below_its_thresholds_is_refused_with_the_figures_and_nothing_is_written(
    app: FastAPI, client: httpx.AsyncClient, cm: Headers
) -> None:
    tag = unique("e").lower()
    before = await counts(app)
    resp = await upload(client, cm, package(bank(tag), ct(tag), poor_pt(tag)))
    assert resp.status_code == 422, resp.text
    problem = resp.json()
    assert problem["type"] == "/errors/evidence-insufficient"
    assert problem["assessment"] == f"pt-{tag}" and problem["version"] == 1
    failures = problem["failures"]
    assert failures and all(f["figure"] == "within_one" for f in failures)
    assert all(f["value"] < 0.95 and f["threshold"] == 0.95 for f in failures)
    by_level = {r["level"]: r for r in problem["levels"]}
    assert {f["level"] for f in failures} == {
        lv for lv, r in by_level.items() if r["within_one"] < 0.95
    }
    assert problem["overall"]["max_length"] == 2
    assert problem["thresholds"]["within_one_level"] == 0.95
    for f in failures:
        assert f"within_one {f['value']} at {f['level']}" in problem["detail"]
    assert "override_reason" in problem["detail"]
    # the bank and the CT of the same import are not written either
    assert await counts(app) == before


async def test_mean_length_above_its_threshold_is_refused(
    app: FastAPI, client: httpx.AsyncClient, cm: Headers
) -> None:
    tag = unique("e").lower()
    flow = pt(tag) | {"evidence": {"max_mean_length": 5}}
    resp = await upload(client, cm, package(bank(tag), flow))
    assert resp.status_code == 422, resp.text
    failures = resp.json()["failures"]
    assert [(f["level"], f["figure"], f["threshold"]) for f in failures] == [
        ("all", "mean_length", 5)
    ]
    assert failures[0]["value"] >= 6  # min_items
    # within_one_level was left to the settings (the tests' settings: no accuracy threshold)
    assert resp.json()["thresholds"]["source"] == {
        "within_one_level": "settings",
        "max_mean_length": "flow",
    }


async def test_a_superadmin_publishes_below_the_thresholds_with_a_reason(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    tag = unique("e").lower()
    resp = await upload(
        client, su, package(bank(tag), poor_pt(tag)), override_reason="  pilot school only  "
    )
    assert resp.status_code == 200, resp.text
    version = await stored(app, f"pt-{tag}")
    assert version.override_reason == "pilot school only"
    report = version.evidence
    assert report is not None and report["passed"] is False and report["failures"]
    [entry] = await overrides(app, version.id)
    assert entry.reason == "pilot school only"
    assert entry.actor_role == "superadmin" and entry.target_type == "assessment_version"
    assert entry.details["assessment"] == f"pt-{tag}"
    assert entry.details["failures"] == report["failures"]
    # staff see the evidence and the reason with the version
    listed = await client.get("/api/v1/assessments", headers=su, params={"kind": "PT"})
    assert listed.status_code == 200, listed.text
    [shown] = [a for a in listed.json() if a["code"] == f"pt-{tag}"]
    assert shown["versions"][0]["evidence"] == report
    assert shown["versions"][0]["override_reason"] == "pilot school only"


async def test_a_blank_reason_is_no_reason(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    tag = unique("e").lower()
    resp = await upload(client, su, package(bank(tag), poor_pt(tag)), override_reason="   ")
    assert resp.status_code == 422, resp.text
    assert resp.json()["type"] == "/errors/evidence-insufficient"


async def test_a_content_manager_cannot_override(
    app: FastAPI, client: httpx.AsyncClient, cm: Headers
) -> None:
    tag = unique("e").lower()
    before = await counts(app)
    resp = await upload(client, cm, package(bank(tag), poor_pt(tag)), override_reason="trust me")
    assert resp.status_code == 422, resp.text
    problem = resp.json()
    assert problem["type"] == "/errors/evidence-insufficient" and problem["failures"]
    assert "only a superadmin" in problem["detail"]
    assert await counts(app) == before


async def test_a_reason_for_a_pt_that_meets_its_thresholds_is_not_stored(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    tag = unique("e").lower()
    resp = await upload(client, su, package(bank(tag), pt(tag)), override_reason="just in case")
    assert resp.status_code == 200, resp.text
    version = await stored(app, f"pt-{tag}")
    assert version.override_reason is None
    assert version.evidence is not None and version.evidence["passed"] is True
    assert await overrides(app, version.id) == []


async def test_ct_imports_are_not_simulated(
    app: FastAPI, client: httpx.AsyncClient, cm: Headers
) -> None:
    tag = unique("e").lower()
    resp = await upload(client, cm, package(bank(tag), ct(tag)))
    assert resp.status_code == 200, resp.text
    version = await stored(app, f"ct-{tag}")
    assert version.evidence is None and version.override_reason is None


async def test_the_settings_give_the_thresholds_a_flow_leaves_out(
    app: FastAPI, client: httpx.AsyncClient, cm: Headers
) -> None:
    tag = unique("e").lower()
    flow = poor_pt(tag)
    del flow["evidence"]
    settings = app.state.settings
    app.state.settings = settings.model_copy(update={"evidence_within_one_level": 0.95})
    try:
        resp = await upload(client, cm, package(bank(tag), flow))
    finally:
        app.state.settings = settings
    assert resp.status_code == 422, resp.text
    assert resp.json()["thresholds"] == {
        "within_one_level": 0.95,
        "max_mean_length": 40.0,
        "source": {"within_one_level": "settings", "max_mean_length": "settings"},
    }


async def test_a_staged_pt_is_simulated_between_the_scales_cut_scores(
    app: FastAPI, client: httpx.AsyncClient, cm: Headers
) -> None:
    tag = unique("e").lower()
    scale = [-2.2, -1.8]  # the newest irt placement test's: the one ability scale
    flow = pt(tag)
    flow["engine"] = {
        "type": "staged",
        "advance_threshold": 0.6,
        "stop_threshold": 0.4,
        "groups": [
            {"level": lv, "items": [f"{tag}-{n}-{k}" for k in range(0, 8, 2)]}
            for n, lv in enumerate(LEVELS)
        ],
    }
    flow["evidence"] = {"within_one_level": 0.5}
    irt = pt(f"{tag}i", cut_scores=scale) | {"code": f"pt-{tag}-irt"}
    resp = await upload(client, cm, package(bank(tag), bank(f"{tag}i"), irt, flow))
    assert resp.status_code == 200, resp.text
    report = (await stored(app, f"pt-{tag}")).evidence
    assert report is not None
    assert report["simulation"]["engine"] == "staged"
    assert report["simulation"]["cut_scores_from"] == "scale"
    assert report["simulation"]["cut_scores"] == scale
    assert report["exposure"]["items"] == 12


async def test_a_pt_whose_items_lack_irt_parameters_cannot_be_simulated(
    app: FastAPI, client: httpx.AsyncClient, cm: Headers
) -> None:
    tag = unique("e").lower()
    items = bank(tag)
    for item in items["items"]:
        if item["code"] == f"{tag}-1-0":
            del item["irt"]
    flow = pt(tag)
    flow["engine"] = {
        "type": "staged",
        "groups": [{"level": "A1", "items": [f"{tag}-1-0", f"{tag}-1-1"]}],
    }
    resp = await upload(client, cm, package(items, flow))
    assert resp.status_code == 422, resp.text
    assert resp.json()["failures"] == [
        {"level": "all", "figure": "items_without_irt", "value": 1, "threshold": 0}
    ]


# ------------------------------------------------------------------ exposure control


async def test_exposure_control_is_computed_and_stored_before_the_simulation(
    app: FastAPI, client: httpx.AsyncClient, cm: Headers
) -> None:
    tag = unique("e").lower()
    # without randomesque every candidate starts on the same item: exposure 1 unless controlled
    flow = pt(tag, randomesque=1, exposure_max_rate=0.4)
    resp = await upload(client, cm, package(bank(tag), flow))
    assert resp.status_code == 200, resp.text
    version = await stored(app, f"pt-{tag}")
    control = version.engine["exposure_control"]
    assert control and set(control) <= set(version.engine["pool"])
    assert all(0 < k < 1 for k in control.values())
    report = version.evidence
    assert report is not None
    assert report["exposure_control"]["max_rate"] == 0.4
    assert report["exposure_control"]["items_controlled"] == len(control)
    assert report["exposure_control"]["rounds"] >= 1
    # the evidence was simulated with the control: no item is given to every candidate
    assert report["exposure"]["max_rate"] < 1


# --------------------------------------------------------------------------- pilots


async def test_pilot_items_are_stored_by_id(
    app: FastAPI, client: httpx.AsyncClient, cm: Headers
) -> None:
    tag = unique("e").lower()
    flow = pt(tag, pilot={"items": [f"{tag}-p0", f"{tag}-p1"], "rate": 0.2})
    resp = await upload(client, cm, package(bank(tag), flow))
    assert resp.status_code == 200, resp.text
    version = await stored(app, f"pt-{tag}")
    async with transaction(app.state.sessionmaker) as session:
        ids = {
            code: str(item_id)
            for code, item_id in (
                await session.execute(
                    select(Item.code, Item.id).where(Item.code.in_([f"{tag}-p0", f"{tag}-p1"]))
                )
            ).all()
        }
    assert version.engine["pilot"] == {"items": [ids[f"{tag}-p0"], ids[f"{tag}-p1"]], "rate": 0.2}
    # the evidence is that of the operational pool: pilots are never placed with
    assert version.evidence is not None and version.evidence["exposure"]["items"] == 24


@pytest.mark.parametrize(
    ("code", "message"),
    [("nope", "unknown item"), ("1-5", "has status 'active'; pilot items need 'pilot'")],
)
async def test_pilot_items_must_exist_with_status_pilot(
    app: FastAPI, client: httpx.AsyncClient, cm: Headers, code: str, message: str
) -> None:
    tag = unique("e").lower()
    flow = ct(tag)
    flow["engine"]["pilot"] = {"items": [f"{tag}-p0", f"{tag}-{code}"], "rate": 0.1}
    resp = await upload(client, cm, package(bank(tag), flow))
    assert resp.status_code == 422, resp.text
    problem = resp.json()
    assert problem["type"] == "/errors/invalid-content"
    [error] = problem["errors"]
    assert error["path"] == "$.engine.pilot.items[1]"
    assert message in error["message"] and f"{tag}-{code}" in error["message"]


# ------------------------------------------------------------------------ the hook


def test_the_composition_registers_the_evidence_check() -> None:
    import etest.tasks  # noqa: F401

    assert [evidence.check] == PUBLISH_CHECKS


async def test_a_pt_import_without_a_publish_check_is_a_programming_error(
    app: FastAPI, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(content_service, "PUBLISH_CHECKS", [])
    tag = unique("e").lower()
    sources = sources_from_bytes("c.zip", package(bank(tag), pt(tag)), skill="reading")
    async with app.state.sessionmaker() as session:
        try:
            with pytest.raises(RuntimeError, match="no publish check"):
                await import_content(session, cli_actor(), MediaStore(tmp_path), sources)
        finally:
            await session.rollback()


# ------------------------------------------------------------------------- pure parts


def _publication(flow: dict[str, Any], settings: Settings) -> Publication:
    return Publication(AssessmentVersion(), FlowFile.model_validate(flow), settings, None)


def test_thresholds_come_from_the_flow_field_by_field_else_the_settings() -> None:
    settings = Settings(evidence_within_one_level=0.9, evidence_max_mean_length=30)
    flow = pt("x")
    del flow["evidence"]
    plain = evidence.Thresholds.of(_publication(flow, settings))
    assert (plain.within_one_level, plain.max_mean_length) == (0.9, 30)
    half = evidence.Thresholds.of(
        _publication(flow | {"evidence": {"max_mean_length": 25}}, settings)
    )
    assert (half.within_one_level, half.max_mean_length) == (0.9, 25)
    assert half.source == {"within_one_level": "settings", "max_mean_length": "flow"}


def test_production_defaults() -> None:
    settings = Settings()
    assert settings.evidence_per_level == 200
    assert settings.evidence_within_one_level == 0.95
    assert settings.evidence_max_mean_length == 40


def test_staged_cut_scores_fill_levels_without_groups() -> None:
    ids = [uuid.uuid4() for _ in range(4)]
    bank = Bank(
        items={
            i: ItemInfo(i, "reading", None, 1.0, b, 0.0)
            for i, b in zip(ids, (-1.0, -0.8, 0.0, 0.2), strict=True)
        },
        by_code={},
    )
    config = {
        "type": "staged",
        "groups": [
            {"level": "A1", "items": [str(ids[0]), str(ids[1])]},
            {"level": "A2", "items": [str(ids[2]), str(ids[3])]},
        ],
    }
    levels = ["Pre A1", "A1", "A1+", "A2", "A2+"]
    partial = {("Pre A1", "A1"): -2.25}  # a scale without every pair of the plan's levels
    cuts, source = evidence.cut_scores(config, bank, levels, partial)
    # centres -0.9 (A1) and 0.1 (A2), 0.5 apart per level: Pre A1 -1.4, A1+ -0.4, A2+ 0.6
    assert source == "item difficulties"
    assert cuts == pytest.approx([-1.15, -0.65, -0.15, 0.35])
    one = {"type": "staged", "groups": [{"level": "A1", "items": [str(ids[0])]}]}
    assert evidence.cut_scores(one, bank, ["Pre A1", "A1", "A1+"])[0] == pytest.approx([-1.5, -0.5])

"""Calibration from the service's own data: a bank with known parameters, finished attempts
with simulated responses, the API job (``calibration.run``) and the report, publishing.

The responses are written straight into attempts, served items and responses (several hundred
finished attempts through the HTTP API would take minutes); the in-progress attempt of the
publishing test goes through the API, since what it serves next is what is tested."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from fastapi import FastAPI
from sqlalchemy import insert, select
from typer.testing import CliRunner

from etest.bank import calibration
from etest.db import transaction
from etest.models import (
    Assessment,
    AssessmentVersion,
    Attempt,
    AttemptItem,
    AuditEntry,
    Item,
    Response,
    TestToken,
)
from etest.models.base import utcnow
from etest.outbox.worker import drain
from etest.tasks import job_context
from tests.attempt.conftest import Taker, right
from tests.conftest import Headers, create_candidate, create_key, create_org, unique
from tests.report import test_report_cli as report_cli
from tests.support.flows import import_flows

#: ``etest`` on the session's database in a thread of its own (the report CLI's fixture).
runner, invoke = report_cli.runner, report_cli.invoke
LEVELS = ["A1", "A1+", "A2"]
#: Operational items: single choice, stored 3PL parameters = the truth.
OPERATIONAL = [
    (1.2, -1.5, 0.2),
    (1.0, -0.8, 0.2),
    (1.5, -0.2, 0.2),
    (1.3, 0.4, 0.2),
    (1.1, 1.0, 0.2),
    (1.4, 1.6, 0.2),
]
#: Pilot items: (type, true a, b, c); served to everyone; no stored parameters.
PILOTS = [
    ("single_choice", 1.3, -0.5, 0.2),
    ("single_choice", 1.0, 0.7, 0.2),
    ("text_entry", 1.4, 0.0, 0.0),
    ("text_entry", 0.9, -0.9, 0.0),
]
SIMULEES = 600
FEW = 50  # responses of the pilot item "few"
EASY = 300  # responses of the pilot item "easy" (everyone right)


@dataclass
class Bank:
    tag: str
    plan: str
    uic: str
    admin: Headers
    org_id: uuid.UUID
    pt_code: str
    version_id: uuid.UUID
    ids: dict[str, uuid.UUID]  # item code -> id (version 1)

    @property
    def operational(self) -> list[str]:
        return [f"{self.tag}-op{n}" for n in range(len(OPERATIONAL))]

    @property
    def pilots(self) -> list[str]:
        return [f"{self.tag}-p{n}" for n in range(len(PILOTS))]


def _item(code: str, type_: str, level: str, status: str, irt: Any = None) -> dict[str, Any]:
    item: dict[str, Any] = {"code": code, "type": type_, "skill": "reading", "level": level}
    item["status"] = status
    if type_ == "single_choice":
        item |= {
            "prompt": f"Pick A ({code})",
            "options": [{"id": o, "text": o.lower()} for o in "ABCD"],
            "key": {"correct": ["A"]},
        }
    else:
        item |= {"prompt": f"Type went ({code})", "key": {"accepted": ["went"]}}
    if irt is not None:
        item["irt"] = irt
    return item


async def make_bank(app: FastAPI, client: httpx.AsyncClient, su: Headers) -> Bank:
    """Plan, bank (6 operational items, 6 pilot items), a staged PT piloting them, an org."""
    tag = unique("k").lower()
    plan = f"p_{tag}"
    levels = [
        {"level": lv, "pass_mark": 70, "ct_assessment": f"ct-{tag}-{n}"}
        for n, lv in enumerate(LEVELS)
    ]
    resp = await client.put(
        f"/api/v1/plans/{plan}",
        headers=su,
        json={"name": "Calibration plan", "pt_assessment": f"pt-{tag}", "levels": levels},
    )
    assert resp.status_code == 200, resp.text
    items = [
        _item(
            f"{tag}-op{n}",
            "single_choice",
            LEVELS[n // 2],
            "active",
            {"model": "3PL", "a": a, "b": b, "c": c},
        )
        for n, (a, b, c) in enumerate(OPERATIONAL)
    ]
    items += [_item(f"{tag}-p{n}", t, "A1", "pilot") for n, (t, *_) in enumerate(PILOTS)]
    items += [_item(f"{tag}-few", "text_entry", "A1", "pilot")]
    items += [_item(f"{tag}-easy", "text_entry", "A1", "pilot")]
    bank = {
        "format": "etest-flow/1",
        "kind": "bank",
        "code": f"bank-{tag}",
        "version": 1,
        "title": "bank",
        "items": items,
    }
    pilots = [i["code"] for i in items if i["status"] == "pilot"]
    pt = {
        "format": "etest-flow/1",
        "kind": "PT",
        "code": f"pt-{tag}",
        "version": 1,
        "title": "PT",
        "plan": plan,
        "engine": {
            "type": "staged",
            "groups": [
                {"level": lv, "items": [f"{tag}-op{2 * n}", f"{tag}-op{2 * n + 1}"]}
                for n, lv in enumerate(LEVELS)
            ],
            "pilot": {"items": pilots, "rate": 0.5},
        },
    }
    await import_flows(client, su, bank, pt)
    org = await create_org(client, su, plan_code=plan)
    admin = await create_key(app, "admin", org["uic"])
    async with transaction(app.state.sessionmaker) as session:
        rows = (await session.scalars(select(Item).where(Item.code.like(f"{tag}-%")))).all()
        version_id = await session.scalar(
            select(AssessmentVersion.id)
            .join(Assessment, Assessment.id == AssessmentVersion.assessment_id)
            .where(Assessment.code == f"pt-{tag}")
        )
    assert version_id is not None
    return Bank(
        tag,
        plan,
        org["uic"],
        admin,
        uuid.UUID(org["id"]),
        f"pt-{tag}",
        version_id,
        {r.code: r.id for r in rows},
    )


def _p(theta: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
    return c + (1 - c) / (1 + np.exp(-a * (theta - b)))


async def simulate(app: FastAPI, client: httpx.AsyncClient, bank: Bank, seed: int = 7) -> None:
    """SIMULEES finished PTs of simulees θ ~ N(0, 1): every operational and pilot item answered
    (3PL truth), the item "few" by the first FEW, "easy" (always right) by the first EASY."""
    rng = np.random.default_rng(seed)
    theta = rng.normal(size=SIMULEES)
    columns: list[tuple[uuid.UUID, np.ndarray]] = []
    for n, (a, b, c) in enumerate(OPERATIONAL):
        columns.append((bank.ids[f"{bank.tag}-op{n}"], _p(theta, a, b, c)))
    for n, (_, a, b, c) in enumerate(PILOTS):
        columns.append((bank.ids[f"{bank.tag}-p{n}"], _p(theta, a, b, c)))
    answered = rng.random((SIMULEES, len(columns))) < np.stack([p for _, p in columns], axis=1)
    sheets: list[list[Answered]] = []
    for s in range(SIMULEES):
        row = [(item_id, bool(answered[s, k])) for k, (item_id, _) in enumerate(columns)]
        if s < FEW:
            row.append((bank.ids[f"{bank.tag}-few"], bool(s % 2)))
        if s < EASY:
            row.append((bank.ids[f"{bank.tag}-easy"], True))
        sheets.append([(i, "A" if ok else "B", ok, None, None) for i, ok in row])
    await store_finished(app, client, bank, sheets)


#: One answered position of a simulated attempt: item, answer, correct, points, max points.
Answered = tuple[uuid.UUID, Any, bool, int | None, int | None]


async def store_finished(
    app: FastAPI, client: httpx.AsyncClient, bank: Bank, sheets: list[list[Answered]]
) -> None:
    """One finished PT a day ago per sheet (of one token of a new candidate), each position
    served and answered as the sheet says: the rows calibration reads, written directly."""
    candidate = await create_candidate(client, bank.admin, uic=bank.uic)
    resp = await client.post(
        "/api/v1/tokens", headers=bank.admin, json={"candidate_id": candidate["id"], "type": "PT"}
    )
    assert resp.status_code == 201, resp.text
    finished = utcnow() - timedelta(days=1)
    async with transaction(app.state.sessionmaker) as session:
        token = await session.scalar(
            select(TestToken).where(TestToken.id == uuid.UUID(resp.json()["id"]))
        )
        assert token is not None
        attempts, served, responses = [], [], []
        for s, sheet in enumerate(sheets):
            attempt_id = uuid.uuid4()
            attempts.append(
                {
                    "id": attempt_id,
                    "token_id": token.id,
                    "candidate_id": token.candidate_id,
                    "organization_id": bank.org_id,
                    "assessment_version_id": bank.version_id,
                    "kind": "PT",
                    "plan_code": bank.plan,
                    "seed": s,
                    "status": "completed",
                    "started_at": finished - timedelta(minutes=20),
                    "finished_at": finished,
                    "finish_reason": "completed",
                }
            )
            for position, (item_id, answer, correct, points, top) in enumerate(sheet, start=1):
                served.append(
                    {
                        "attempt_id": attempt_id,
                        "position": position,
                        "item_id": item_id,
                        "served_at": finished,
                        "option_order": [],
                        "target_order": [],
                    }
                )
                responses.append(
                    {
                        "attempt_id": attempt_id,
                        "position": position,
                        "item_id": item_id,
                        "answer": answer,
                        "correct": correct,
                        "points": points,
                        "max_points": top,
                        "time_spent_ms": 1000,
                        "answered_at": finished,
                    }
                )
        await session.execute(insert(Attempt), attempts)
        await session.execute(insert(AttemptItem), served)
        await session.execute(insert(Response), responses)


async def calibrated(
    app: FastAPI, client: httpx.AsyncClient, headers: Headers, body: dict[str, Any]
) -> dict[str, Any]:
    """POST a calibration, run the outbox, return the run as GET shows it."""
    resp = await client.post("/api/v1/calibrations", headers=headers, json=body)
    assert resp.status_code == 202, resp.text
    run = resp.json()
    assert run["status"] == "queued" and run["progress"] == 0
    await drain(job_context(app.state.settings, app.state.sessionmaker))
    resp = await client.get(f"/api/v1/calibrations/{run['id']}", headers=headers)
    assert resp.status_code == 200, resp.text
    data: dict[str, Any] = resp.json()
    return data


@pytest.fixture(scope="module")
async def cm(app: FastAPI) -> Headers:
    return await create_key(app, "content_manager", None)


@pytest.fixture(scope="module")
async def bank(app: FastAPI, client: httpx.AsyncClient, su: Headers) -> Bank:
    """One bank with its simulated responses for the tests that only read it."""
    made = await make_bank(app, client, su)
    await simulate(app, client, made)
    return made


def _rows(run: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["code"]: r for r in run["report"]["items"]}


async def test_calibration_anchors_operational_items_and_recovers_pilots(
    app: FastAPI, client: httpx.AsyncClient, cm: Headers, bank: Bank
) -> None:
    run = await calibrated(app, client, cm, {"assessment": bank.pt_code})
    assert run["status"] == "done", run["error"]
    assert run["progress"] == 1.0
    report, rows = run["report"], _rows(run)
    assert report["attempts"] == SIMULEES and report["anchored"] == len(OPERATIONAL)
    # the simulees are N(0, 1) on the bank's scale: the anchors say so
    assert abs(report["population_mean"]) < 0.25 and 0.7 < report["population_sd"] < 1.3
    for n, (a, b, c) in enumerate(OPERATIONAL):  # anchored: exactly the stored values
        row = rows[f"{bank.tag}-op{n}"]
        assert row["anchored"] and row["model"] == "3pl"
        assert (row["a"], row["b"], row["c"]) == pytest.approx((a, b, c))
        assert row["se_b"] == 0
    for n, (type_, a, b, _) in enumerate(PILOTS):  # free, on the anchors' scale
        row = rows[f"{bank.tag}-p{n}"]
        assert not row["anchored"]
        assert row["model"] == ("3pl" if type_ == "single_choice" else "2pl")
        assert row["b"] == pytest.approx(b, abs=0.5), row
        assert row["a"] == pytest.approx(a, abs=0.6), row
        if type_ == "text_entry":
            assert row["c"] == 0  # no guessing prior on a typed answer
        assert row["se_b"] > 0 and row["n"] == SIMULEES
        assert 0.2 < row["p_value"] < 0.95
        assert row["exposure"] == 1.0 and row["served"] == SIMULEES
        assert row["fit"] is not None and row["stored"] is None
        assert row["icc"]["theta"]
    assert all(r["drift"] is None for r in rows.values())  # anchored or new: nothing to drift
    assert {r["code"]: r["n"] for r in report["too_few"]} == {f"{bank.tag}-few": FEW}
    assert report["excluded"] == [{"code": f"{bank.tag}-easy", "reason": "all_correct"}]
    assert sorted(run["proposal"]) == bank.pilots  # anchored items are not proposed
    p0 = run["proposal"][f"{bank.tag}-p0"]
    assert p0["model"] == "3pl" and p0["from_item_id"] == str(bank.ids[f"{bank.tag}-p0"])


async def test_free_estimates_operational_items_and_reports_their_drift(
    app: FastAPI, client: httpx.AsyncClient, cm: Headers, bank: Bank
) -> None:
    run = await calibrated(
        app, client, cm, {"items": bank.operational, "free": True, "model": "2pl"}
    )
    assert run["status"] == "done", run["error"]
    rows = _rows(run)
    assert sorted(rows) == bank.operational and run["report"]["anchored"] == 0
    for code in bank.operational:
        row = rows[code]
        assert row["model"] == "2pl" and not row["anchored"]
        assert row["drift"] is not None and row["stored"]["b"] is not None
        assert row["exposure"] == 1.0
    assert sorted(run["proposal"]) == bank.operational
    again = await calibration.execute(app.state.sessionmaker, uuid.UUID(run["id"]))
    assert (again.status, again.report) == ("done", run["report"])  # a repeated job: no rerun
    resp = await client.get(f"/api/v1/calibrations/{run['id']}/report.xlsx", headers=cm)
    assert resp.status_code == 200
    with zipfile.ZipFile(io.BytesIO(resp.content)) as book:
        pictures = [n for n in book.namelist() if n.startswith("xl/media/")]
    assert len(pictures) == len(OPERATIONAL)


async def test_nothing_with_enough_responses_is_refused(
    client: httpx.AsyncClient, cm: Headers, bank: Bank
) -> None:
    resp = await client.post(
        "/api/v1/calibrations", headers=cm, json={"items": [f"{bank.tag}-few"]}
    )
    assert resp.status_code == 422
    assert resp.json()["type"].endswith("not-enough-responses")
    resp = await client.post(
        "/api/v1/calibrations",
        headers=cm,
        json={"assessment": bank.pt_code, "date_to": "2001-01-01"},
    )
    assert resp.status_code == 422


async def test_only_content_managers_and_global_superadmins_calibrate(
    app: FastAPI, client: httpx.AsyncClient, cm: Headers, su: Headers, bank: Bank
) -> None:
    body = {"assessment": bank.pt_code}
    scoped_su = await create_key(app, "superadmin", bank.uic)
    for headers in (bank.admin, scoped_su):
        resp = await client.post("/api/v1/calibrations", headers=headers, json=body)
        assert resp.status_code == 403, resp.text
    resp = await client.post("/api/v1/calibrations", headers=su, json=body)
    assert resp.status_code == 202
    run_id = resp.json()["id"]
    for headers in (bank.admin, scoped_su):
        for path in ("", "/report.xlsx"):
            resp = await client.get(f"/api/v1/calibrations/{run_id}{path}", headers=headers)
            assert resp.status_code == 403, resp.text
        resp = await client.post(f"/api/v1/calibrations/{run_id}/publish", headers=headers)
        assert resp.status_code == 403
    resp = await client.get(f"/api/v1/calibrations/{uuid.uuid4()}", headers=cm)
    assert resp.status_code == 404 and resp.json()["type"].endswith("calibration-not-found")
    # queued, not run yet: nothing to read or publish
    resp = await client.get(f"/api/v1/calibrations/{run_id}/report.xlsx", headers=cm)
    assert resp.status_code == 409
    resp = await client.post(f"/api/v1/calibrations/{run_id}/publish", headers=cm)
    assert resp.status_code == 409 and resp.json()["type"].endswith("calibration-not-ready")


async def _token(client: httpx.AsyncClient, bank: Bank) -> str:
    candidate = await create_candidate(client, bank.admin, uic=bank.uic)
    resp = await client.post(
        "/api/v1/tokens", headers=bank.admin, json={"candidate_id": candidate["id"], "type": "PT"}
    )
    assert resp.status_code == 201, resp.text
    code: str = resp.json()["code"]
    return code


async def _versions(app: FastAPI, code: str) -> list[AssessmentVersion]:
    async with transaction(app.state.sessionmaker) as session:
        return list(
            (
                await session.scalars(
                    select(AssessmentVersion)
                    .join(Assessment, Assessment.id == AssessmentVersion.assessment_id)
                    .where(Assessment.code == code)
                    .order_by(AssessmentVersion.version)
                )
            ).all()
        )


async def test_publish_writes_new_versions_and_started_attempts_keep_theirs(
    app: FastAPI, client: httpx.AsyncClient, cm: Headers, su: Headers
) -> None:
    bank = await make_bank(app, client, su)
    await simulate(app, client, bank, seed=11)
    started = Taker(app, client, await _token(client, bank))
    assert (await started.start()).status_code == 201
    run = await calibrated(app, client, cm, {"assessment": bank.pt_code})
    assert run["status"] == "done", run["error"]

    resp = await client.post(f"/api/v1/calibrations/{run['id']}/publish", headers=cm)
    assert resp.status_code == 200, resp.text
    published = resp.json()
    assert published["calibration"]["status"] == "published"
    assert published["calibration"]["published_by"] is not None
    assert sorted(i["code"] for i in published["items"]) == bank.pilots
    assert {i["version"] for i in published["items"]} == {2}
    assert published["assessments"] == [{"code": bank.pt_code, "version": 2, "status": "imported"}]
    async with transaction(app.state.sessionmaker) as session:
        rows = {
            (i.code, i.version): i
            for i in (await session.scalars(select(Item).where(Item.code.like(f"{bank.tag}-%"))))
        }
    for code in bank.pilots:  # a new row: new parameters, the same content and status
        old, new = rows[(code, 1)], rows[(code, 2)]
        proposed = run["proposal"][code]
        assert (new.irt_model, new.irt_b, new.irt_a) == (
            proposed["model"].upper(),
            pytest.approx(proposed["b"]),
            pytest.approx(proposed["a"]),
        )
        assert (new.prompt, new.key, new.status, new.type) == (
            old.prompt,
            old.key,
            old.status,
            old.type,
        )
        assert old.irt_b is None and new.content_hash != old.content_hash
    assert (f"{bank.tag}-op0", 2) not in rows  # anchored: unchanged, not renewed

    v1, v2 = await _versions(app, bank.pt_code)
    new_ids = {str(rows[(c, 2)].id) for c in bank.pilots}
    assert set(v2.engine["pilot"]["items"]) >= new_ids
    assert not set(v2.engine["pilot"]["items"]) & {str(rows[(c, 1)].id) for c in bank.pilots}
    assert v2.engine["groups"] == v1.engine["groups"]  # the operational items stay pinned
    assert v2.evidence is not None  # the placement test's publish check ran

    # the attempt started before keeps version 1 and its items to the end
    state = await started.run(lambda n, item_type, key: right(item_type, key))
    assert state["status"] == "completed"
    async with transaction(app.state.sessionmaker) as session:
        attempt = await session.get(Attempt, uuid.UUID(started.attempt_id))
        served = set(
            (
                await session.scalars(
                    select(AttemptItem.item_id).where(
                        AttemptItem.attempt_id == uuid.UUID(started.attempt_id)
                    )
                )
            ).all()
        )
    assert attempt is not None and attempt.assessment_version_id == v1.id
    assert not {str(i) for i in served} & new_ids
    later = Taker(app, client, await _token(client, bank))
    assert (await later.start()).status_code == 201
    async with transaction(app.state.sessionmaker) as session:
        attempt = await session.get(Attempt, uuid.UUID(later.attempt_id))
    assert attempt is not None and attempt.assessment_version_id == v2.id

    resp = await client.post(f"/api/v1/calibrations/{run['id']}/publish", headers=cm)
    assert resp.status_code == 409 and resp.json()["type"].endswith("calibration-not-ready")
    assert len(await _versions(app, bank.pt_code)) == 2
    async with transaction(app.state.sessionmaker) as session:
        actions = (
            await session.scalars(
                select(AuditEntry.action).where(AuditEntry.target_id == run["id"])
            )
        ).all()
    assert sorted(actions) == ["calibration.publish", "calibration.request"]


async def test_cli_calibrates_and_writes_the_report(
    runner: CliRunner, bank: Bank, tmp_path: Path
) -> None:
    out = tmp_path / "report.json"
    items = ",".join([*bank.pilots, f"{bank.tag}-few"])
    result = await invoke(runner, "calibrate", "--items", items, "--out", str(out))
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert data["status"] == "done" and sorted(data["proposal"]) == bank.pilots
    assert [r["code"] for r in data["report"]["too_few"]] == [f"{bank.tag}-few"]
    book = tmp_path / "report.xlsx"
    result = await invoke(
        runner, "calibrate", "--items", items, "--model", "2pl", "--out", str(book)
    )
    assert result.exit_code == 0, result.output
    with zipfile.ZipFile(book) as zf:
        assert len([n for n in zf.namelist() if n.startswith("xl/media/")]) == len(PILOTS)
    result = await invoke(runner, "calibrate", "--items", f"{bank.tag}-few")
    assert result.exit_code == 1
    assert "not-enough-responses" in result.output
    # publishing: the CLI's settings hold the PT to the default evidence thresholds (0.95
    # within one level), which this toy PT misses; the operator may override, with a reason
    publish = ["calibrate", "--items", ",".join(bank.pilots), "--publish"]
    result = await invoke(runner, *publish)
    assert result.exit_code == 1 and "evidence-insufficient" in result.output
    # last in the module: it changes the shared bank (new item and PT versions)
    result = await invoke(runner, *publish, "--override-reason", "a toy bank of a test")
    assert result.exit_code == 0, result.output
    assert f"published {len(PILOTS)} item versions, assessments {bank.pt_code} v2" in result.output

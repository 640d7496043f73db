"""Schemathesis against a real ``uvicorn`` process on loopback, on the session's database
(SQLite or PostgreSQL): whatever the input, no operation answers 5xx, and every 4xx is
problem+json, and no write reaches a database constraint that a rule should have kept.

Four runs, each bounded by examples and by a wall-clock cap (together 65-90 s on a 2-core
machine; ~5,000 requests):

- schemathesis's coverage phase over every operation, as the admin of a child organization,
  with path values that name real resources: each field in turn takes its boundary and wrong
  values (null where null is no value, a wrong type, missing, unexpected, another method);
- every operation with random schema-conforming and schema-violating input (Hypothesis), as a
  global superadmin and again as the admin of a child organization;
- a stateful run: schemathesis's state machine follows the OpenAPI links the app serves
  (``etest.openapi``): organization → candidate → token → attempt → item → answer → finish,
  with the admin's key and, on attempt routes, the attempt's own secret.

What each run sent is printed (``-s``) and written to ``test-artifacts/api-fuzz-<db>.json``.
Run it alone: ``.venv/bin/python -m pytest -q -s tests/test_api_fuzz.py``.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import zoneinfo
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Flaky
from schemathesis import GenerationMode

from etest.config import Settings
from etest.kit.levels import canonical_level
from etest.kit.text import refused_character
from etest.openapi import LINKS
from tests.conftest import Headers, Tree, create_candidate
from tests.support.plan_content import import_plan_content
from tests.support.server import Server

#: ``ETEST_FUZZ_SCALE=10`` runs ten times longer (examples, scenarios and caps), to hunt.
SCALE = float(os.environ.get("ETEST_FUZZ_SCALE", "1"))
#: Examples per operation and role, then the scenarios and steps of the stateful run.
EXAMPLES = round(10 * SCALE)
SCENARIOS, STEPS = round(150 * SCALE), 15
#: Wall-clock caps (seconds) of the runs: an operation gets an equal share of its run's cap,
#: and always at least one request, so every operation is exercised on a slow machine too.
PER_OPERATION_CAP, COVERAGE_CAP, STATEFUL_CAP = 35.0 * SCALE, 55.0 * SCALE, 40.0 * SCALE


#: Problems the error handlers give when the database refuses a write (IntegrityError,
#: DataError). One client sending one request at a time races nobody, so here they mean a
#: value no rule refused reached a constraint (a null name was a 409 "retry it").
SAFETY_NETS = ("conflict", "invalid-data")


@dataclass
class Tally:
    """What a run sent and what came back. A 5xx, a 4xx that is not problem+json or a safety
    net's problem is kept here as well as failing the step (a stateful scenario that fails may
    be retried differently)."""

    requests: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    operations: set[str] = field(default_factory=set)
    successes: Counter[str] = field(default_factory=Counter)  # 2xx per operation

    def check(self, case: Any, response: Any) -> None:
        where = f"{case.method} {case.formatted_path}"
        operation = f"{case.method} {case.path}"
        self.requests += 1
        self.statuses[response.status_code] += 1
        self.operations.add(operation)
        if response.status_code < 300:
            self.successes[operation] += 1
        failure = None
        if response.status_code >= 500:
            failure = f"{where}: {response.status_code} {response.text[:300]}"
        elif response.status_code in (409, 422) and any(
            f'"/errors/{code}"' in response.text for code in SAFETY_NETS
        ):
            failure = f"{where}: the database refused what a rule should have: {response.text}"
        elif response.status_code >= 400 and "application/problem+json" not in str(
            response.headers.get("content-type")
        ):  # a list in schemathesis 4
            failure = f"{where}: {response.status_code} is not problem+json"
        if failure is not None:
            self.failures.append(f"{failure}\n{case.as_curl_command()}")
            raise AssertionError(self.failures[-1])

    def summary(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "server_errors": sum(n for code, n in self.statuses.items() if code >= 500),
            "operations": len(self.operations),
            "statuses": dict(sorted(self.statuses.items())),
        }


@pytest.fixture(scope="session")
def live_server(
    settings: Settings, app: FastAPI, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    server = Server(settings, tmp_path_factory.mktemp("fuzz-server"))
    try:
        server.start()
        yield server.base
    finally:
        server.stop()


@pytest.fixture(scope="module")
def report(settings: Settings) -> Iterator[dict[str, Any]]:
    """The runs' figures: printed (``-s``) and written to test-artifacts/api-fuzz-<db>.json."""
    runs: dict[str, Any] = {}
    yield runs
    database = "postgresql" if settings.database_url.startswith("postgresql") else "sqlite"
    folder = Path(__file__).resolve().parents[1] / "test-artifacts"
    folder.mkdir(exist_ok=True)
    (folder / f"api-fuzz-{database}.json").write_text(json.dumps(runs, indent=1) + "\n")
    print(f"\napi fuzz on {database}: {json.dumps(runs)}")


def _schema(app: FastAPI) -> Any:
    return schemathesis.openapi.from_dict(app.openapi())


@dataclass
class Real:
    """Path values that name real resources of the test's tree (a candidate, its token and a
    started attempt in A1), so generated bodies reach the rules behind the 404. Plans and items
    stay random: a valid generated body would change what other tests read."""

    path: dict[str, str]
    secret: str | None  # of the attempt, when content let it start


@pytest.fixture
async def content(client: httpx.AsyncClient, su: Headers) -> None:
    """Content for the tree's plans (idempotent): tokens are refused for a test without it."""
    await import_plan_content(client, su)


@pytest.fixture
async def real(client: httpx.AsyncClient, tree: Tree, content: None) -> Real:
    admin = tree.key["A"]
    candidate = await create_candidate(client, admin, uic=tree.uic["A1"], first_name="Real")
    path = {"uic": tree.uic["A1"], "candidate_id": candidate["id"]}
    token = await client.post(
        "/api/v1/tokens", headers=admin, json={"candidate_id": candidate["id"], "type": "PT"}
    )
    secret = None
    if token.status_code == 201:
        path["token_id"] = token.json()["id"]
        started = await client.post("/api/v1/attempts", json={"token": token.json()["code"]})
        if started.status_code == 201:
            path["attempt_id"] = started.json()["attempt_id"]
            secret = started.json()["secret"]
    return Real(path, secret)


def _strategies(operation: Any, real: Real) -> list[Any]:
    """Schema-conforming and schema-violating cases, with random and with real path values."""
    real_path = {
        k: v for k, v in real.path.items() if any(p.name == k for p in operation.path_parameters)
    }
    out = []
    for fixed in [None, real_path] if real_path else [None]:
        out.append(operation.as_strategy(GenerationMode.POSITIVE, path_parameters=fixed))
        if operation.body or any(True for _ in operation.iter_parameters()):
            out.append(operation.as_strategy(GenerationMode.NEGATIVE, path_parameters=fixed))
    return out


def test_every_operation_coverage(
    app: FastAPI, live_server: str, tree: Tree, real: Real, report: dict[str, Any]
) -> None:
    """Schemathesis's coverage phase, every operation, as the admin of A: each field and
    parameter in turn takes its boundary and wrong values (null where null is not allowed, a
    wrong type, a missing required field, an unexpected one, another method), the rest valid;
    path values name real resources unless the path is what varies."""
    schema = _schema(app)
    operations = [result.ok() for result in schema.get_all_operations()]
    tally = Tally()
    share = COVERAGE_CAP / len(operations)
    for operation in operations:
        stop_at = time.monotonic() + share
        real_path = {
            k: v
            for k, v in real.path.items()
            if any(p.name == k for p in operation.path_parameters)
        }
        cases = schema.iter_coverage_cases(
            operation,
            generation_modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE],
            generation_config=schema.config.generation_for(operation=operation, phase="coverage"),
        )
        for n, case in enumerate(cases):
            if n and time.monotonic() > stop_at:
                break
            data = getattr(getattr(case._meta, "phase", None), "data", None)
            if real_path and getattr(data, "parameter_location", None) != "path":
                case.path_parameters = {**(case.path_parameters or {}), **real_path}
            headers = tree.key["A"]
            if real.secret and (case.path_parameters or {}).get("attempt_id") == real.path.get(
                "attempt_id"
            ):
                headers = {"Authorization": f"Bearer {real.secret}"}
            with contextlib.suppress(AssertionError):  # kept in the tally: go on to the others
                tally.check(case, case.call(base_url=live_server, headers=headers, timeout=30))
    report["coverage phase as admin"] = tally.summary()
    assert len(tally.operations) >= len(operations)
    assert not tally.failures, "\n\n".join(tally.failures)


@pytest.mark.parametrize("role", ["superadmin", "admin"])
def test_every_operation(
    app: FastAPI,
    live_server: str,
    su: Headers,
    tree: Tree,
    real: Real,
    role: str,
    report: dict[str, Any],
) -> None:
    """Every operation, positive and negative input, ``EXAMPLES`` cases each, as a global
    superadmin and as the admin of A (a child of ROOT)."""
    staff = su if role == "superadmin" else tree.key["A"]
    operations = [result.ok() for result in _schema(app).get_all_operations()]
    assert len(operations) >= 50
    tally = Tally()
    share = PER_OPERATION_CAP / len(operations)

    def headers(case: Any) -> Headers:
        if real.secret and (case.path_parameters or {}).get("attempt_id") == real.path.get(
            "attempt_id"
        ):
            return {"Authorization": f"Bearer {real.secret}"}
        return staff

    def fuzz(operation: Any) -> None:
        stop_at, sent = time.monotonic() + share, 0

        @given(case=st.one_of(_strategies(operation, real)))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.generate],
        )
        def check(case: Any) -> None:
            nonlocal sent
            if sent and time.monotonic() > stop_at:
                return
            sent += 1
            tally.check(case, case.call(base_url=live_server, headers=headers(case), timeout=30))

        check()

    for operation in operations:
        fuzz(operation)
    report[f"every operation as {role}"] = tally.summary()
    assert len(tally.operations) == len(operations)
    assert not tally.failures


def _time_zone(value: Any) -> bool:
    try:
        return isinstance(value, str) and bool(zoneinfo.ZoneInfo(value))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False


#: Optional fields the schema types as any text but a rule narrows (a time zone, a level, a
#: plan): creations drop them when the generated value is refused.
_FREE_TEXT_WITH_A_RULE: dict[str, Callable[[Any], bool]] = {
    "timezone": _time_zone,
    "current_level": lambda v: v is None or (isinstance(v, str) and bool(canonical_level(v))),
    "plan_code": lambda v: v in (None, "neo_plus"),
}


class Steering:
    """What the stateful run made, and the few nudges that let its sequences get deep.

    Hypothesis draws each step's input independently, so a sequence organization → candidate
    → token → attempt → item → answer, six links deep with several links to choose from at each
    step, would end almost always at a rule refusing a random value. The values random input
    is for are tested by the runs above; here, creations keep to those rules: an admin creates
    below its own organization and in its top-level organization's UIC namespace; names are the
    generated text without what names refuse (etest.kit.text); rule-narrowed text fields are
    dropped when refused; a token names a candidate made here (every other token), by id alone;
    every other start uses a token issued here, every other call on an unknown attempt goes to
    the last one started here, and every other answer is to the item served last, one of its
    options. Attempt routes carry the attempt's own secret, every other route the staff key."""

    def __init__(self, tree: Tree) -> None:
        self.tree = tree
        self.uics: list[str] = []
        self.candidates: list[str] = []
        self.codes: list[str] = []
        self.secrets: dict[str, str] = {}  # attempt id -> secret
        #: attempt id -> position and option ids of the item it served last
        self.served: dict[str, tuple[int, list[str]]] = {}
        self.steps = 0

    def before(self, case: Any) -> None:
        self.steps += 1
        if (
            case.path.startswith("/api/v1/attempts/{attempt_id}")
            and self.secrets
            and self._attempt(case) not in self.secrets
            and self.steps % 2
        ):
            case.path_parameters["attempt_id"] = list(self.secrets)[-1]
        body = case.body if isinstance(case.body, dict) else None
        if body is None or case.method != "POST":
            return
        if case.path == "/api/v1/organizations":
            if body.get("parent_uic") not in self.uics:
                body["parent_uic"] = self.tree.uic["A"]
            prefix = f"{self.tree.uic['ROOT']}-"
            if isinstance(body.get("uic"), str) and not body["uic"].startswith(prefix):
                body["uic"] = (prefix + body["uic"])[:64]
        if case.path in ("/api/v1/organizations", "/api/v1/candidates"):
            for key in ("name", "first_name", "last_name", "username"):
                if isinstance(body.get(key), str):
                    kept = "".join(ch for ch in body[key] if refused_character(ch) is None)
                    body[key] = kept.strip() or "N"
            for key, valid in _FREE_TEXT_WITH_A_RULE.items():
                if key in body and not valid(body[key]):
                    del body[key]
        if case.path == "/api/v1/tokens":
            if self.candidates and self.steps % 2:
                body["candidate_id"] = self.candidates[-1]
            if body.get("candidate_id") in self.candidates:
                body.pop("email", None)
                body.pop("uic", None)
                if body.get("type") == "PT":
                    body.pop("level", None)
                elif not (isinstance(body.get("level"), str) and canonical_level(body["level"])):
                    body["level"] = "A1"
        if case.path == "/api/v1/attempts" and self.codes and self.steps % 2:
            body["token"] = self.codes[-1]
        if case.path == "/api/v1/attempts/{attempt_id}/responses" and self.steps % 2:
            position, options = self.served.get(self._attempt(case), (0, []))
            if options:
                body.update(position=position, answer=options[0])

    def headers(self, case: Any) -> Headers:
        if case.path.startswith("/api/v1/attempts/{attempt_id}"):
            secret = self.secrets.get(self._attempt(case))
            return {"Authorization": f"Bearer {secret}"} if secret else {}
        return self.tree.key["A"]

    def after(self, case: Any, response: Any) -> None:
        if response.status_code not in (200, 201):
            return
        if "json" not in str(response.headers.get("content-type")):
            return  # a file (an open link's QR code, a PDF): nothing to steer by
        body = response.json()
        where = (case.method, case.path)
        if where == ("POST", "/api/v1/organizations"):
            self.uics.append(body["uic"])
        elif where == ("POST", "/api/v1/candidates"):
            self.candidates.append(body["id"])
        elif where in (("POST", "/api/v1/tokens"), ("POST", "/api/v1/tokens/{token_id}/reset")):
            self.codes.append(body["code"])
        elif where == ("POST", "/api/v1/attempts"):
            self.secrets[body["attempt_id"]] = body["secret"]
        elif where == ("GET", "/api/v1/attempts/{attempt_id}/item"):
            item = body.get("item") or {}
            self.served[self._attempt(case)] = (
                item.get("position", 0),
                [o["id"] for o in item.get("options") or []],
            )

    @staticmethod
    def _attempt(case: Any) -> str:
        return str((case.path_parameters or {}).get("attempt_id"))


class _OutOfTime(Exception):
    """The stateful run's wall-clock cap is reached: no further step is sent."""


def test_stateful_links(
    app: FastAPI, live_server: str, tree: Tree, content: None, report: dict[str, Any]
) -> None:
    """Scenarios along the served links (``etest.openapi``), as the admin of a child
    organization, steered by :class:`Steering`.

    The server's state changes under Hypothesis (an email taken by an earlier scenario), so a
    suite can end as "flaky" before its examples are spent: the next suite starts with the next
    seed until ``SCENARIOS`` scenarios ran or the cap is reached. Failures are in the tally
    either way."""
    # Sequences are this run's subject, so it keeps to the linked operations (every other one,
    # and input that violates the schema, is the runs' above).
    linked = {f"{method} {path}" for method, path, _ in LINKS} | {
        link.target for links in LINKS.values() for link in links.values()
    }
    schema = _schema(app).include(name=sorted(linked))
    schema.config.phases.stateful.generation.update(modes=[GenerationMode.POSITIVE])
    steering = Steering(tree)
    tally = Tally()
    stop_at = time.monotonic() + STATEFUL_CAP
    scenarios = 0

    class Machine(schema.as_state_machine()):  # type: ignore[misc]
        def step(self, input: Any) -> Any:
            if time.monotonic() > stop_at:
                raise _OutOfTime
            return super().step(input)

        def teardown(self) -> None:
            nonlocal scenarios
            scenarios += 1
            super().teardown()

        def before_call(self, case: Any) -> None:
            steering.before(case)

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"base_url": live_server, "headers": steering.headers(case), "timeout": 30}

        def after_call(self, response: Any, case: Any) -> None:
            super().after_call(response, case)
            steering.after(case, response)

        def validate_response(self, response: Any, case: Any, *args: Any, **kwargs: Any) -> None:
            tally.check(case, response)

    suites = 0
    while scenarios < SCENARIOS and time.monotonic() < stop_at and not tally.failures:
        try:
            hypothesis.seed(suites)(Machine).run(
                settings=settings(
                    max_examples=SCENARIOS - scenarios,
                    stateful_step_count=STEPS,
                    deadline=None,
                    database=None,
                    suppress_health_check=list(HealthCheck),
                    phases=[Phase.generate],
                )
            )
        except _OutOfTime:
            break
        except Flaky:
            pass
        suites += 1
    report["stateful (links)"] = {
        **tally.summary(),
        "scenarios": scenarios,
        "suites": suites,
        "made": {
            "organizations": len(steering.uics),
            "candidates": len(steering.candidates),
            "tokens": len(steering.codes),
            "attempts": len(steering.secrets),
            "items served": tally.successes["GET /api/v1/attempts/{attempt_id}/item"],
            "answers": tally.successes["POST /api/v1/attempts/{attempt_id}/responses"],
            "finished": tally.successes["POST /api/v1/attempts/{attempt_id}/finish"],
        },
    }
    assert not tally.failures, tally.failures
    # the links were followed down to attempts
    assert steering.candidates and steering.codes and steering.secrets, report

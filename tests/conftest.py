"""Session fixtures: a real database built by the migrations, the app with its lifespan, an
in-process HTTP client, two SSO issuers with a real JWKS server, and ``create_*`` helpers.

Tests do not share rows: each creates its own organizations under unique UICs, so no test
depends on another's data and nothing needs cleaning between tests."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from etest import migrate
from etest.app import create_app
from etest.config import Settings, TrustedIssuer
from etest.db import transaction
from etest.ops.ratelimits import DEFAULTS as RATE_LIMITS
from etest.plan.service import load_reference
from tests.support.databases import throwaway_database
from tests.support.jwks import Issuer, JwksServer, SigningKey

Headers = dict[str, str]


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with throwaway_database(tmp_path_factory.mktemp("db")) as url:
        migrate.upgrade(url)
        yield url


@pytest.fixture(scope="session")
def issuers() -> Iterator[list[Issuer]]:
    row = Issuer("https://sso-row.example.test", "etest-api", [SigningKey("row-1")])
    cn = Issuer("https://sso-cn.example.test", "etest-api-cn", [SigningKey("cn-1")])
    with JwksServer([row, cn]):
        yield [row, cn]


@pytest.fixture(scope="session")
def settings(
    database_url: str, issuers: list[Issuer], tmp_path_factory: pytest.TempPathFactory
) -> Settings:
    return Settings(
        env="test",
        database_url=database_url,
        var_dir=tmp_path_factory.mktemp("var"),
        secret_key="test-pepper-not-secret",
        base_url="http://testserver",
        log_json=True,
        log_level="WARNING",
        jwks_refetch_interval=0.0,
        sweep_interval=0,
        worker_mode="external",
        # the fixtures' placement tests are toys (a few items on a plan's first levels): their
        # evidence is simulated quickly and held to no accuracy threshold by default; the
        # evidence tests set their thresholds in the flow (tests/bank/test_evidence.py)
        evidence_per_level=10,
        evidence_within_one_level=0,
        # the suite imports hundreds of packages and sends thousands of wrong credentials from
        # one address with one key: the named rate limits are out of its way here, and tested
        # with limits of their own (tests/ops/test_ratelimits.py, test_import_limits.py ...)
        rate_limits=dict.fromkeys(RATE_LIMITS, "1000000/minute"),
        # the ROW issuer may mint the global roles (no organization); the CN issuer may not
        sso_issuers=[
            TrustedIssuer(
                issuer=i.issuer,
                jwks_url=i.jwks_url,
                audience=i.audience,
                region=region,
                global_roles=global_roles,
            )
            for i, region, global_roles in zip(
                issuers, ("ROW", "CN"), (["superadmin", "content_manager"], []), strict=True
            )
        ],
    )


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        async with transaction(application.state.sessionmaker) as session:
            await load_reference(session)
        yield application


@pytest.fixture(scope="session")
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


async def create_key(app: FastAPI, role: str, uic: str | None) -> Headers:
    """An API key straight from the service (as ``etest apikey create`` makes one)."""
    from etest.apikey import create_api_key
    from etest.cli import cli_actor

    async with transaction(app.state.sessionmaker) as session:
        key = await create_api_key(session, app.state.settings, cli_actor(), role=role, uic=uic)
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture(scope="session")
async def su(app: FastAPI) -> Headers:
    return await create_key(app, "superadmin", None)


def unique(prefix: str = "O") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10].upper()}"


async def create_org(
    client: httpx.AsyncClient,
    headers: Headers,
    *,
    parent: str | None = None,
    uic: str | None = None,
    **fields: Any,
) -> dict[str, Any]:
    body = {
        "uic": uic or unique(),
        "name": fields.pop("name", "Org"),
        "parent_uic": parent,
        "plan_code": fields.pop("plan_code", "neo_plus"),
        **fields,
    }
    resp = await client.post("/api/v1/organizations", json=body, headers=headers)
    assert resp.status_code == 201, resp.text
    org: dict[str, Any] = resp.json()
    return org


async def create_candidate(
    client: httpx.AsyncClient, headers: Headers, *, uic: str, **fields: Any
) -> dict[str, Any]:
    body = {"email": f"{uuid.uuid4().hex[:12]}@example.org", "uic": uic, **fields}
    resp = await client.post("/api/v1/candidates", json=body, headers=headers)
    assert resp.status_code == 201, resp.text
    candidate: dict[str, Any] = resp.json()
    return candidate


class Tree:
    """ROOT with children A and B (siblings) and A1 below A; an admin key for each."""

    def __init__(self, uics: dict[str, str], keys: dict[str, Headers]) -> None:
        self.uic = uics
        self.key = keys


@pytest.fixture(scope="session")
async def plan_content(client: httpx.AsyncClient, su: Headers) -> None:
    """Content for neo_plus, neo_jr and neo_pro: a token needs content to be issued."""
    from tests.support.plan_content import import_plan_content

    await import_plan_content(client, su)


@pytest.fixture
async def tree(app: FastAPI, client: httpx.AsyncClient, su: Headers, plan_content: None) -> Tree:
    root = await create_org(client, su, uic=unique("ROOT"), name="Root")
    a = await create_org(client, su, parent=root["uic"], name="A")
    b = await create_org(client, su, parent=root["uic"], name="B")
    a1 = await create_org(client, su, parent=a["uic"], name="A1")
    uics = {"ROOT": root["uic"], "A": a["uic"], "B": b["uic"], "A1": a1["uic"]}
    keys = {name: await create_key(app, "admin", uic) for name, uic in uics.items()}
    return Tree(uics, keys)


@pytest.fixture
def artifacts_dir() -> Path:
    path = Path(__file__).resolve().parents[1] / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path

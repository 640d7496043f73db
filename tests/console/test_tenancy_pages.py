"""The tenancy test of the console: an admin of A gets the SAME 404 page for anything of
sibling B (and of the parent) as for an id that does not exist, on every console route with a
path parameter, GET and POST alike, and a POST against B's row changes nothing. The routes are
read from the app: a new console route is covered automatically, and a new kind of path
parameter fails here until a resolver for it is added below."""

from __future__ import annotations

import difflib
import re
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import func, select

from etest.auth.actor import Actor
from etest.background import service as background
from etest.console import router as console_router
from etest.db import transaction
from etest.models import AuditEntry, Certificate
from etest.organization import repository as org_repository
from tests.certificate.conftest import certificate_under
from tests.conftest import Headers, Tree, create_key
from tests.console.conftest import ConsoleClient, make_staff
from tests.console.test_accounts import account
from tests.test_tenancy import _all_resources

pytestmark = pytest.mark.asyncio

#: Parameters naming what every organization shares (the item bank, assessments, the OIDC
#: providers of the configuration): not tenants'.
GLOBAL_PARAMS = {"item_id", "assessment_id", "name"}
#: Parameters that are not ids: the route's own words.
WORDS = {"action": "disable", "rest": None, "kind": "svg"}


def _walk(routes: list[Any], prefix: str = "") -> list[tuple[str, set[str]]]:
    """Every API route's full path and methods, through included routers."""
    found: list[tuple[str, set[str]]] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append((prefix + route.path, set(route.methods)))
        elif hasattr(route, "original_router"):  # FastAPI's lazily included router
            found += _walk(route.original_router.routes, prefix + route.include_context.prefix)
    return found


def _console_routes() -> list[tuple[str, str, list[str]]]:
    found = []
    for path, methods in _walk(console_router.routes):
        params = re.findall(r"{(\w+)(?::\w+)?}", path)
        if not params or "rest" in params or set(params) & GLOBAL_PARAMS:
            continue
        for method in sorted(methods - {"HEAD"}):
            found.append((method, path, params))
    return found


async def _resources(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, tree: Tree, org: str
) -> dict[str, str]:
    """One row of every kind a console page names, in organization ``org``."""
    found = await _all_resources(app, client, su, tree, org)
    certificate_id = found.get("certificate_id") or await certificate_under(
        app, client, su, tree.uic[org]
    )
    key = await create_key(app, "admin", tree.uic[org])
    found["prefix"] = key["Authorization"].split("_")[1]
    staff = await make_staff(app, "viewer", tree.uic[org])
    found["account_id"] = str((await account(app, staff.email)).id)
    async with transaction(app.state.sessionmaker) as session:
        cert = await session.get(Certificate, uuid.UUID(certificate_id))
        assert cert is not None
        found["attempt_id"] = str(cert.attempt_id)
        row = await org_repository.find_by_uic(session, tree.uic[org])
        assert row is not None
        asker = Actor(f"staff:asker-{org}@example.test", "admin", row.id, row.path)
        for section, kind in TASK_KINDS.items():
            params = {
                "report.build": {
                    "name": "placement",
                    "from": "2026-01-01",
                    "to": "2026-01-31",
                    "uic": tree.uic[org],
                    "emails": [],
                    "level": None,
                },
                "candidate.import": {"filename": "class.csv", "uic": tree.uic[org]},
                "content.import": {"file_name": "bank.zip", "skill": "reading", "level": None},
            }[kind]
            task = await background.start(
                session, app.state.settings, asker, kind, params=params, organization_id=row.id
            )
            found[f"task_id:{section}"] = str(task.id)
    return found


#: The background tasks a console section shows, by the section's path.
TASK_KINDS = {
    "/console/reports/": "report.build",
    "/console/candidates/": "candidate.import",
    "/console/content/": "content.import",
}


def _resolve(rows: dict[str, str], path: str) -> dict[str, str]:
    """``rows`` with ``task_id`` set to the task of the kind the route's section shows."""
    section = next((s for s in TASK_KINDS if path.startswith(s)), None)
    return {**rows, "task_id": rows[f"task_id:{section}"]} if section else rows


def _missing(param: str) -> str:
    if param == "uic":
        return f"MISSING{uuid.uuid4().hex[:8].upper()}"
    if param == "prefix":
        return uuid.uuid4().hex[:8]
    return str(uuid.uuid4())


def _path(path: str, values: dict[str, str]) -> str:
    return re.sub(r"{(\w+)(?::\w+)?}", lambda m: values[m.group(1)], path)


async def _audit_count(app: FastAPI) -> int:
    async with transaction(app.state.sessionmaker) as session:
        return int(
            (await session.execute(select(func.count()).select_from(AuditEntry))).scalar_one()
        )


async def test_foreign_rows_are_the_missing_page_on_every_console_route(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, tree: Tree, console: ConsoleClient
) -> None:
    foreign = await _resources(app, client, su, tree, "B")
    parent = {"uic": tree.uic["ROOT"]}
    own = await _resources(app, client, su, tree, "A1")
    await console.sign_in(await make_staff(app, "admin", tree.uic["A"]))
    routes = _console_routes()
    assert len(routes) >= 20, routes
    checked = 0
    for method, path, params in routes:
        unknown = [p for p in params if p not in _resolve(foreign, path) and p not in WORDS]
        assert not unknown, f"{method} {path}: add a resolver for {unknown}"

        async def call(values: dict[str, str], *, method: str = method, path: str = path) -> Any:
            url = _path(path, {**{k: v for k, v in WORDS.items() if v}, **values})
            # a notice left by the previous route's redirect belongs to no page compared here
            for cookie in [c for c in console.http.cookies.jar if c.name == "etest_notice"]:
                console.http.cookies.jar.clear(cookie.domain, cookie.path, cookie.name)
            if method == "GET":
                return await console.http.get(url, follow_redirects=False)
            return await console.http.post(
                url,
                data={"csrf": console.csrf, "reason": "tenancy check"},
                follow_redirects=False,
            )

        for target in (_resolve(foreign, path), parent):
            ids = [p for p in params if p not in WORDS]
            if not all(p in target for p in ids):
                continue
            before = await _audit_count(app)
            got = await call({p: target[p] for p in ids})
            missing = {p: _missing(p) for p in ids}
            ref = await call(missing)
            assert got.status_code in (403, 404), f"{method} {path}: {got.status_code}"
            value, other = target[ids[0]], missing[ids[0]]
            assert got.status_code == ref.status_code, f"{method} {path}"
            seen, expected = got.text.replace(value, "<id>"), ref.text.replace(other, "<id>")
            assert seen == expected, f"{method} {path} tells a foreign id from a missing one:\n" + (
                "\n".join(
                    difflib.unified_diff(expected.splitlines(), seen.splitlines(), lineterm="")
                )
            )
            assert await _audit_count(app) == before, f"{method} {path} changed something"
            checked += 1
        if method == "GET":
            ids = [p for p in params if p not in WORDS]
            mine = await call({p: _resolve(own, path)[p] for p in ids})
            # a route the admin's role may not use refuses everything alike (403)
            gated = mine.status_code == 403 and got.status_code == 403
            assert mine.status_code < 400 or gated, f"GET {path} refused the admin's own subtree"
    assert checked >= 20, checked

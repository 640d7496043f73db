"""An admin of organization A cannot read, list, change, transfer into or issue tokens for
anything of sibling B (nor of its parent). Every route with an id is taken from the OpenAPI
document: a new route is covered automatically, and a new kind of path parameter fails here
until a resolver for it is added below."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from etest.db import transaction
from etest.outbox.jobs import enqueue
from tests.certificate.conftest import certificate_under
from tests.conftest import Headers, Tree, create_candidate
from tests.support.openapi import Operation, operations, sample

#: Path parameters that name data shared by every organization (reference data, the item
#: bank and its media, report names): not tenant-owned.
GLOBAL_PARAMS = {"code", "item_id", "sha256", "name"}
#: Path parameters of candidate routes: only the attempt's own secret opens them (attempt-to-
#: attempt isolation is tested in tests/attempt; staff reading an attempt's result through
#: ``/api/v1/results/{attempt_id}`` is scoped in tests/result).
CANDIDATE_PARAMS = {"attempt_id"}


async def _resources(client: httpx.AsyncClient, tree: Tree, org: str) -> dict[str, str]:
    """One resource of every kind an API call can create inside organization ``org``."""
    key = tree.key[org]
    cand = await create_candidate(client, key, uic=tree.uic[org])
    token = (await client.post("/api/v1/tokens", headers=key,
                               json={"candidate_id": cand["id"], "type": "PT"})).json()
    return {"uic": tree.uic[org], "candidate_id": cand["id"], "token_id": token["id"]}


async def _all_resources(app: FastAPI, client: httpx.AsyncClient, su: Headers, tree: Tree,
                         org: str) -> dict[str, str]:
    """One resource of every tenant-owned kind, also those only the outbox writes: a
    certificate (a CT passed below ``org``) and a callback delivery."""
    found = await _resources(client, tree, org)
    found["certificate_id"] = await certificate_under(app, client, su, tree.uic[org])
    org_id = (await client.get(f"/api/v1/organizations/{tree.uic[org]}", headers=su)).json()["id"]
    async with transaction(app.state.sessionmaker) as session:
        delivery = await enqueue(session, "webhook.deliver", {
            "webhook_id": str(uuid.uuid4()), "type": "attempt.finished", "body": {}},
            key=str(uuid.uuid4()), organization_id=uuid.UUID(org_id))
    found["delivery_id"] = str(delivery)
    return found


def _missing(param: str) -> str:
    return f"MISSING{uuid.uuid4().hex[:8].upper()}" if param == "uic" else str(uuid.uuid4())


async def _call(client: httpx.AsyncClient, doc: dict[str, Any], op: Operation,
                values: dict[str, str], headers: Headers, target_uic: str) -> httpx.Response:
    path = op.path.format(**values)
    body = None
    schema = op.json_body_schema(doc)
    if schema is not None:
        body = sample(doc, schema, {"uic": target_uic, "reason": "tenancy check"})
    if op.is_multipart:
        return await client.request(op.method, path, headers=headers,
                                    files={"file": ("x.csv", b"email\n", "text/csv")})
    return await client.request(op.method, path, headers=headers, json=body)


def _normalized(resp: httpx.Response, value: str) -> tuple[int, str, dict[str, str]]:
    headers = {k: v for k, v in resp.headers.items()
               if k not in ("x-request-id", "content-length")}
    return resp.status_code, resp.text.replace(value, "<id>"), headers


async def test_foreign_ids_look_exactly_like_missing_ids(app: FastAPI, client: httpx.AsyncClient,
                                                         tree: Tree, su: Headers) -> None:
    doc = (await client.get("/openapi.json")).json()
    foreign = await _all_resources(app, client, su, tree, "B")
    parent = {"uic": tree.uic["ROOT"]}
    own = await _all_resources(app, client, su, tree, "A1")
    checked = 0
    for op in operations(doc):
        params = [p for p in op.path_params if p not in GLOBAL_PARAMS]
        if any(p in CANDIDATE_PARAMS for p in params):
            resp = await _call(client, doc, op, {p: str(uuid.uuid4()) for p in params},
                               tree.key["A"], tree.uic["A1"])
            assert resp.status_code in (404, 422), f"{op.method} {op.path}: {resp.text}"
            continue
        if not params:
            continue
        unknown = [p for p in params if p not in foreign]
        assert not unknown, f"{op.method} {op.path}: add a resolver for {unknown}"
        for target in (foreign, parent):
            if not all(p in target for p in params):
                continue
            values = {p: target[p] for p in params}
            missing = {p: _missing(p) for p in params}
            got = await _call(client, doc, op, values, tree.key["A"], tree.uic["A1"])
            ref = await _call(client, doc, op, missing, tree.key["A"], tree.uic["A1"])
            assert got.status_code == 404, f"{op.method} {op.path}: {got.status_code} {got.text}"
            value = next(iter(values.values()))
            assert _normalized(got, value) == _normalized(ref, next(iter(missing.values()))), \
                f"{op.method} {op.path} tells a foreign id from a missing one"
            checked += 1
        allowed = await _call(client, doc, op, {p: own[p] for p in params}, tree.key["A"],
                              tree.uic["A1"])
        # a 404 with a code of its own (``no-result``) found the actor's row and says that
        # something of it does not exist yet; the plain ``not-found`` would be a refusal
        refused = allowed.status_code == 404 and \
            allowed.json().get("type") == "/errors/not-found"
        assert not refused and allowed.status_code < 500, \
            f"{op.method} {op.path} refused the actor's own subtree: {allowed.text}"
    assert checked >= 10


async def test_uic_query_filters_refuse_foreign_orgs(client: httpx.AsyncClient,
                                                     tree: Tree) -> None:
    doc = (await client.get("/openapi.json")).json()
    covered = 0
    for op in operations(doc):
        # routes with path parameters (reports) check their own uic scoping in their tests
        if op.method == "GET" and not op.path_params and \
                any(p["name"] == "uic" for p in op.query_params()):
            resp = await client.get(op.path, headers=tree.key["A"], params={"uic": tree.uic["B"]})
            assert resp.status_code == 404, op.path
            covered += 1
    assert covered >= 2


async def test_lists_never_show_foreign_rows(client: httpx.AsyncClient, tree: Tree) -> None:
    foreign = await _resources(client, tree, "B")
    await _resources(client, tree, "A1")
    doc = (await client.get("/openapi.json")).json()
    for op in operations(doc):
        if op.method != "GET" or op.path_params or not op.path.startswith("/api/v1/"):
            continue
        resp = await client.get(op.path, headers=tree.key["A"], params={"per_page": 200})
        assert resp.status_code in (200, 403), op.path
        text = resp.text
        for value in foreign.values():
            assert value not in text, f"{op.path} lists a row of sibling B"


@pytest.mark.parametrize("field", ["organization_id", "organization_uic", "uic_path", "role",
                                   "is_admin", "id", "created_by", "status"])
async def test_mass_assignment_rejected(client: httpx.AsyncClient, tree: Tree,
                                        field: str) -> None:
    cand = await create_candidate(client, tree.key["A"], uic=tree.uic["A"])
    resp = await client.patch(f"/api/v1/candidates/{cand['id']}", headers=tree.key["A"],
                              json={"first_name": "Changed", field: tree.uic["B"]})
    assert resp.status_code == 422
    after = (await client.get(f"/api/v1/candidates/{cand['id']}", headers=tree.key["A"])).json()
    assert after == cand


async def test_body_references_to_foreign_rows_are_404(client: httpx.AsyncClient,
                                                       tree: Tree) -> None:
    foreign = await create_candidate(client, tree.key["B"], uic=tree.uic["B"])
    key = tree.key["A"]
    cases = [
        ("/api/v1/tokens", {"candidate_id": foreign["id"], "type": "PT"},
         {"candidate_id": str(uuid.uuid4()), "type": "PT"}),
        ("/api/v1/tokens", {"email": foreign["email"], "type": "PT"},
         {"email": "nobody-here@example.org", "type": "PT"}),
        ("/api/v1/candidates", {"email": "new-a@example.org", "uic": tree.uic["B"]},
         {"email": "new-a@example.org", "uic": "MISSINGUIC"}),
        ("/api/v1/organizations", {"uic": "NEWCHILD", "name": "x", "parent_uic": tree.uic["B"]},
         {"uic": "NEWCHILD", "name": "x", "parent_uic": "MISSINGUIC"}),
    ]
    for path, body, missing in cases:
        got = await client.post(path, headers=key, json=body)
        ref = await client.post(path, headers=key, json=missing)
        assert got.status_code == ref.status_code == 404, (path, got.text)
        assert got.json()["type"] == ref.json()["type"]
    import_resp = await client.post("/api/v1/candidates/import", headers=key,
                                    data={"uic": tree.uic["B"]},
                                    files={"file": ("x.csv", b"email\nz@example.org\n")})
    assert import_resp.status_code == 404

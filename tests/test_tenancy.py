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
from tests.conftest import Headers, Tree, create_candidate, create_key, create_org, unique
from tests.support.openapi import Operation, operations, sample

#: Path parameters that name data shared by every organization (reference data, the item
#: bank and its media, its calibrations, report names): not tenant-owned (a calibration is
#: a content manager's, over every organization's responses: an admin gets 403 by role,
#: tests/bank/test_calibration.py).
GLOBAL_PARAMS = {"code", "item_id", "sha256", "name", "calibration_id"}
#: Path parameters of candidate routes: only the attempt's own secret opens them (attempt-to-
#: attempt isolation is tested in tests/attempt; staff reading an attempt's result through
#: ``/api/v1/results/{attempt_id}`` is scoped in tests/result).
CANDIDATE_PARAMS = {"attempt_id"}


async def _resources(client: httpx.AsyncClient, tree: Tree, org: str) -> dict[str, str]:
    """One resource of every kind an API call can create inside organization ``org``."""
    key = tree.key[org]
    cand = await create_candidate(client, key, uic=tree.uic[org])
    token = (
        await client.post(
            "/api/v1/tokens", headers=key, json={"candidate_id": cand["id"], "type": "PT"}
        )
    ).json()
    link = (
        await client.post(
            "/api/v1/open-links",
            headers=key,
            json={"uic": tree.uic[org], "title": "Tenancy", "type": "PT"},
        )
    ).json()
    return {
        "uic": tree.uic[org],
        "candidate_id": cand["id"],
        "token_id": token["id"],
        "link_id": link["id"],
    }


async def _all_resources(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, tree: Tree, org: str
) -> dict[str, str]:
    """One resource of every tenant-owned kind, also those only the outbox writes: a
    certificate (a CT passed below ``org``) and a callback delivery."""
    found = await _resources(client, tree, org)
    found["certificate_id"] = await certificate_under(app, client, su, tree.uic[org])
    org_id = (await client.get(f"/api/v1/organizations/{tree.uic[org]}", headers=su)).json()["id"]
    async with transaction(app.state.sessionmaker) as session:
        delivery = await enqueue(
            session,
            "webhook.deliver",
            {"webhook_id": str(uuid.uuid4()), "type": "attempt.finished", "body": {}},
            key=str(uuid.uuid4()),
            organization_id=uuid.UUID(org_id),
        )
    found["delivery_id"] = str(delivery)
    # a report written in the background (report/tasks.py), asked for by the org's admin
    started = await client.post(
        "/api/v1/reports/placement/tasks",
        headers=tree.key[org],
        json={"from": "2026-01-01", "to": "2026-01-31", "uic": tree.uic[org]},
    )
    assert started.status_code == 202, started.text
    found["task_id"] = started.json()["id"]
    return found


def _missing(param: str) -> str:
    return f"MISSING{uuid.uuid4().hex[:8].upper()}" if param == "uic" else str(uuid.uuid4())


async def _call(
    client: httpx.AsyncClient,
    doc: dict[str, Any],
    op: Operation,
    values: dict[str, str],
    headers: Headers,
    target_uic: str,
) -> httpx.Response:
    path = op.path.format(**values)
    body = None
    schema = op.json_body_schema(doc)
    if schema is not None:
        body = sample(doc, schema, {"uic": target_uic, "reason": "tenancy check", "level": "A1"})
    if op.is_multipart:
        return await client.request(
            op.method, path, headers=headers, files={"file": ("x.csv", b"email\n", "text/csv")}
        )
    return await client.request(op.method, path, headers=headers, json=body)


def _normalized(resp: httpx.Response, value: str) -> tuple[int, str, dict[str, str]]:
    headers = {k: v for k, v in resp.headers.items() if k not in ("x-request-id", "content-length")}
    return resp.status_code, resp.text.replace(value, "<id>"), headers


async def test_foreign_ids_look_exactly_like_missing_ids(
    app: FastAPI, client: httpx.AsyncClient, tree: Tree, su: Headers
) -> None:
    doc = (await client.get("/openapi.json")).json()
    foreign = await _all_resources(app, client, su, tree, "B")
    parent = {"uic": tree.uic["ROOT"]}
    own = await _all_resources(app, client, su, tree, "A1")
    checked = 0
    for op in operations(doc):
        params = [p for p in op.path_params if p not in GLOBAL_PARAMS]
        if any(p in CANDIDATE_PARAMS for p in params):
            resp = await _call(
                client,
                doc,
                op,
                {p: str(uuid.uuid4()) for p in params},
                tree.key["A"],
                tree.uic["A1"],
            )
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
            assert _normalized(got, value) == _normalized(ref, next(iter(missing.values()))), (
                f"{op.method} {op.path} tells a foreign id from a missing one"
            )
            checked += 1
        allowed = await _call(
            client, doc, op, {p: own[p] for p in params}, tree.key["A"], tree.uic["A1"]
        )
        # a 404 with a code of its own (``no-result``) found the actor's row and says that
        # something of it does not exist yet; the plain ``not-found`` would be a refusal
        refused = allowed.status_code == 404 and allowed.json().get("type") == "/errors/not-found"
        assert not refused and allowed.status_code < 500, (
            f"{op.method} {op.path} refused the actor's own subtree: {allowed.text}"
        )
    assert checked >= 10


async def test_uic_query_filters_refuse_foreign_orgs(client: httpx.AsyncClient, tree: Tree) -> None:
    doc = (await client.get("/openapi.json")).json()
    covered = 0
    for op in operations(doc):
        # routes with path parameters (reports) check their own uic scoping in their tests
        if (
            op.method == "GET"
            and not op.path_params
            and any(p["name"] == "uic" for p in op.query_params())
        ):
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


@pytest.mark.parametrize(
    "field",
    [
        "organization_id",
        "organization_uic",
        "uic_path",
        "role",
        "is_admin",
        "id",
        "created_by",
        "status",
    ],
)
async def test_mass_assignment_rejected(client: httpx.AsyncClient, tree: Tree, field: str) -> None:
    cand = await create_candidate(client, tree.key["A"], uic=tree.uic["A"])
    resp = await client.patch(
        f"/api/v1/candidates/{cand['id']}",
        headers=tree.key["A"],
        json={"first_name": "Changed", field: tree.uic["B"]},
    )
    assert resp.status_code == 422
    after = (await client.get(f"/api/v1/candidates/{cand['id']}", headers=tree.key["A"])).json()
    assert after == cand


async def test_body_references_to_foreign_rows_are_404(
    client: httpx.AsyncClient, tree: Tree
) -> None:
    foreign = await create_candidate(client, tree.key["B"], uic=tree.uic["B"])
    key = tree.key["A"]
    cases = [
        (
            "/api/v1/tokens",
            {"candidate_id": foreign["id"], "type": "PT"},
            {"candidate_id": str(uuid.uuid4()), "type": "PT"},
        ),
        (
            "/api/v1/tokens",
            {"email": foreign["email"], "type": "PT"},
            {"email": "nobody-here@example.org", "type": "PT"},
        ),
        (
            "/api/v1/candidates",
            {"email": "new-a@example.org", "uic": tree.uic["B"]},
            {"email": "new-a@example.org", "uic": "MISSINGUIC"},
        ),
        (
            "/api/v1/organizations",
            {"uic": "NEWCHILD", "name": "x", "parent_uic": tree.uic["B"]},
            {"uic": "NEWCHILD", "name": "x", "parent_uic": "MISSINGUIC"},
        ),
    ]
    for path, body, missing in cases:
        got = await client.post(path, headers=key, json=body)
        ref = await client.post(path, headers=key, json=missing)
        assert got.status_code == ref.status_code == 404, (path, got.text)
        assert got.json()["type"] == ref.json()["type"]
    import_resp = await client.post(
        "/api/v1/candidates/import",
        headers=key,
        data={"uic": tree.uic["B"]},
        files={"file": ("x.csv", b"email\nz@example.org\n")},
    )
    assert import_resp.status_code == 404


# ------------------------------------------------- no oracle across customers' trees
# docs/tenancy.md: an email is unique inside one top-level organization's tree; a UIC created
# by a non-global caller lives in its root's namespace ("<ROOT UIC>-...").


async def _other_tree(app: FastAPI, client: httpx.AsyncClient, su: Headers) -> tuple[str, Headers]:
    """A second customer: a top-level organization of its own and its admin's key."""
    root = await create_org(client, su, uic=unique("OTHER"), name="Other customer")
    return root["uic"], await create_key(app, "admin", root["uic"])


async def test_same_email_in_two_trees_is_two_candidates(
    app: FastAPI, client: httpx.AsyncClient, tree: Tree, su: Headers
) -> None:
    other_uic, other = await _other_tree(app, client, su)
    email = f"shared.{uuid.uuid4().hex[:8]}@example.org"
    theirs = await create_candidate(client, other, uic=other_uic, email=email)
    # tree A's admin cannot tell that the email is registered at another customer
    mine = await client.post(
        "/api/v1/candidates",
        headers=tree.key["A"],
        json={"email": email.upper(), "uic": tree.uic["A1"]},
    )
    assert mine.status_code == 201, mine.text
    assert mine.json()["id"] != theirs["id"]
    for key, cand in ((other, theirs), (tree.key["A"], mine.json())):
        got = await client.get(f"/api/v1/candidates/{cand['id']}", headers=key)
        assert got.status_code == 200 and got.json()["email"] == email
    # inside one customer's tree an email is one person, even across siblings
    again = await client.post(
        "/api/v1/candidates", headers=tree.key["B"], json={"email": email, "uic": tree.uic["B"]}
    )
    assert again.status_code == 409
    assert again.json()["type"] == "/errors/email-registered"
    # a PATCH to an email of another tree succeeds; to one of the same tree it does not
    free = await create_candidate(client, tree.key["B"], uic=tree.uic["B"])
    taken_elsewhere = await create_candidate(client, other, uic=other_uic)
    moved = await client.patch(
        f"/api/v1/candidates/{free['id']}",
        headers=tree.key["B"],
        json={"email": taken_elsewhere["email"]},
    )
    assert moved.status_code == 200, moved.text
    clash = await client.patch(
        f"/api/v1/candidates/{free['id']}", headers=tree.key["B"], json={"email": email}
    )
    assert clash.status_code == 409 and clash.json()["type"] == "/errors/email-registered"


async def test_lookups_by_email_stay_in_the_callers_tree(
    app: FastAPI, client: httpx.AsyncClient, tree: Tree, su: Headers
) -> None:
    other_uic, other = await _other_tree(app, client, su)
    email = f"twice.{uuid.uuid4().hex[:8]}@example.org"
    mine = await create_candidate(client, tree.key["A"], uic=tree.uic["A"], email=email)
    theirs = await create_candidate(client, other, uic=other_uic, email=email)
    found = await client.post(
        "/api/v1/candidates/lookup", headers=tree.key["ROOT"], json={"emails": [email]}
    )
    assert [c["id"] for c in found.json()] == [mine["id"]]
    searched = await client.get(
        "/api/v1/candidates", headers=tree.key["ROOT"], params={"email": email}
    )
    assert [c["id"] for c in searched.json()["items"]] == [mine["id"]]
    issued = await client.post(
        "/api/v1/tokens", headers=tree.key["A"], json={"email": email, "type": "PT"}
    )
    assert issued.status_code == 201 and issued.json()["candidate_id"] == mine["id"]
    # the operator sees both people: it must say which one it means, not get either
    ambiguous = await client.post("/api/v1/tokens", headers=su, json={"email": email, "type": "PT"})
    assert ambiguous.status_code == 409, ambiguous.text
    assert ambiguous.json()["type"] == "/errors/email-ambiguous"
    named = await client.post(
        "/api/v1/tokens", headers=su, json={"email": email, "type": "PT", "uic": other_uic}
    )
    assert named.status_code == 201 and named.json()["candidate_id"] == theirs["id"]
    both = await client.post("/api/v1/candidates/lookup", headers=su, json={"emails": [email]})
    assert {c["id"] for c in both.json()} == {mine["id"], theirs["id"]}


async def test_results_and_reports_by_email_never_mix_two_trees(
    app: FastAPI, client: httpx.AsyncClient, tree: Tree, su: Headers
) -> None:
    other_uic, other = await _other_tree(app, client, su)
    email = f"twin.{uuid.uuid4().hex[:8]}@example.org"
    await create_candidate(client, tree.key["A"], uic=tree.uic["A"], email=email)
    await create_candidate(client, other, uic=other_uic, email=email)
    period = {"from": "2026-01-01", "to": "2026-01-31"}
    for path, params in [
        ("/api/v1/results", {"email": email}),
        ("/api/v1/reports/responses.xlsx", {**period, "emails": email}),
    ]:
        mixed = await client.get(path, headers=su, params=params)
        assert mixed.status_code == 409, (path, mixed.text)
        assert mixed.json()["type"] == "/errors/email-ambiguous"
        named = await client.get(path, headers=su, params={**params, "uic": other_uic})
        assert named.status_code == 200, (path, named.text)
        # a tree's own admin sees one person, with nothing to disambiguate
        own = await client.get(path, headers=tree.key["ROOT"], params=params)
        assert own.status_code == 200, (path, own.text)


async def test_transfer_across_trees_checks_the_target_tree(
    app: FastAPI, client: httpx.AsyncClient, tree: Tree, su: Headers
) -> None:
    other_uic, other = await _other_tree(app, client, su)
    email = f"mover.{uuid.uuid4().hex[:8]}@example.org"
    await create_candidate(client, tree.key["B"], uic=tree.uic["B"], email=email)
    twin = await create_candidate(client, other, uic=other_uic, email=email)
    clash = await client.post(
        f"/api/v1/candidates/{twin['id']}/transfer", headers=su, json={"uic": tree.uic["A1"]}
    )
    assert clash.status_code == 409 and clash.json()["type"] == "/errors/email-registered"
    single = await create_candidate(client, other, uic=other_uic)
    moved = await client.post(
        f"/api/v1/candidates/{single['id']}/transfer", headers=su, json={"uic": tree.uic["A1"]}
    )
    assert moved.status_code == 200 and moved.json()["uic"] == tree.uic["A1"]
    # it now belongs to the tree: the tree's admin sees it, the old customer does not, and
    # the tree's own uniqueness holds for it
    assert (
        await client.get(f"/api/v1/candidates/{single['id']}", headers=tree.key["A"])
    ).status_code == 200
    assert (
        await client.get(f"/api/v1/candidates/{single['id']}", headers=other)
    ).status_code == 404
    dup = await client.post(
        "/api/v1/candidates",
        headers=tree.key["B"],
        json={"email": single["email"], "uic": tree.uic["B"]},
    )
    assert dup.status_code == 409


def _probe_view(resp: httpx.Response, uic: str) -> tuple[int, str]:
    return resp.status_code, resp.text.replace(uic, "<uic>")


async def test_uic_of_another_tree_reads_like_a_free_code(
    app: FastAPI, client: httpx.AsyncClient, tree: Tree, su: Headers
) -> None:
    other_uic, other = await _other_tree(app, client, su)
    kid = await client.post(
        "/api/v1/organizations",
        headers=other,
        json={"uic": f"{other_uic}-KID", "name": "Their school", "parent_uic": other_uic},
    )
    assert kid.status_code == 201, kid.text
    key, parent = tree.key["A"], tree.uic["A"]

    async def create(uic: str) -> httpx.Response:
        return await client.post(
            "/api/v1/organizations",
            headers=key,
            json={"uic": uic, "name": "x", "parent_uic": parent},
        )

    free = unique("FREE")
    reference = _probe_view(await create(free), free)
    assert reference[0] == 422 and "uic-outside-namespace" in reference[1]
    for taken in (other_uic, f"{other_uic}-KID", f"{other_uic}-FREE"):
        assert _probe_view(await create(taken), taken) == reference, taken
    # inside its own tree's namespace a collision is the tree's own business: 409
    own = f"{tree.uic['ROOT']}-{uuid.uuid4().hex[:6].upper()}"
    assert (await create(own)).status_code == 201
    sibling = await client.post(
        "/api/v1/organizations",
        headers=tree.key["B"],
        json={"uic": own, "name": "x", "parent_uic": tree.uic["B"]},
    )
    assert sibling.status_code == 409 and sibling.json()["type"] == "/errors/uic-taken"


async def test_operator_keeps_namespaces_apart(
    app: FastAPI, client: httpx.AsyncClient, tree: Tree, su: Headers
) -> None:
    root = tree.uic["ROOT"]

    async def create(uic: str, parent: str | None = None) -> httpx.Response:
        return await client.post(
            "/api/v1/organizations",
            headers=su,
            json={"uic": uic, "name": "x", "parent_uic": parent},
        )

    inside = await create(f"{root}-NEWROOT")  # a top-level code inside ROOT's namespace
    assert inside.status_code == 422 and inside.json()["type"] == "/errors/uic-outside-namespace"
    other_uic, _ = await _other_tree(app, client, su)
    # a child of another tree cannot take a code of ROOT's namespace either
    assert (await create(f"{root}-STRAY", other_uic)).status_code == 422
    # a new top-level code whose namespace would cover an existing organization's code
    prefix = unique("PFX")
    assert (await create(f"{prefix}-EU")).status_code == 201
    covering = await create(prefix)
    assert covering.status_code == 422
    assert covering.json()["type"] == "/errors/uic-outside-namespace"
    # the operator may still name children freely inside their own tree
    assert (await create(unique("ANY"), root)).status_code == 201

from __future__ import annotations

import io
import uuid

import httpx
from fastapi import FastAPI
from openpyxl import Workbook

from tests.conftest import Headers, Tree, create_candidate, create_key, create_org


async def test_create_and_round_trip_phone(client: httpx.AsyncClient, tree: Tree) -> None:
    email = f"Mixed.Case+{uuid.uuid4().hex[:6]}@Example.ORG"
    cand = await create_candidate(
        client,
        tree.key["A"],
        uic=tree.uic["A1"],
        email=email,
        dial_code="+0044",
        phone="0 123 45 67",
        first_name="Zoë",
        last_name="Ōtani",
        current_level="pre-a1",
    )
    assert cand["email"] == email.lower()
    assert (cand["dial_code"], cand["phone"]) == ("+0044", "0 123 45 67")
    assert cand["current_level"] == "Pre A1"
    assert cand["registered_from"] == "api"
    got = (await client.get(f"/api/v1/candidates/{cand['id']}", headers=tree.key["A1"])).json()
    assert got == cand
    dup = await client.post(
        "/api/v1/candidates",
        headers=tree.key["B"],
        json={"email": email.upper(), "uic": tree.uic["B"]},
    )
    assert dup.status_code == 409
    assert dup.json()["type"] == "/errors/email-registered"


async def test_bad_candidate_input(client: httpx.AsyncClient, tree: Tree) -> None:
    for body in (
        {"email": "not-an-email"},
        {"email": "a@b.org", "phone": 5551234},
        {"email": "a@b.org", "dial_code": "44x"},
        {"email": "a@b.org", "role": "admin"},
        {"email": "a@b.org", "current_level": "D7"},
    ):
        resp = await client.post("/api/v1/candidates", headers=tree.key["A"], json=body)
        assert resp.status_code == 422, body
        assert resp.headers["content-type"] == "application/problem+json"


async def test_search_filters_and_pagination(client: httpx.AsyncClient, tree: Tree) -> None:
    key = tree.key["A"]
    tag = uuid.uuid4().hex[:8]
    for n in range(5):
        await create_candidate(
            client,
            key,
            uic=tree.uic["A1"] if n % 2 else tree.uic["A"],
            first_name=f"Kim{tag}",
            username=f"u{tag}{n}",
            current_level="B1" if n < 2 else "A2",
        )
    await create_candidate(client, tree.key["B"], uic=tree.uic["B"], first_name=f"Kim{tag}")

    async def search(**params: object) -> dict[str, object]:
        resp = await client.get("/api/v1/candidates", headers=key, params=params)
        assert resp.status_code == 200, resp.text
        data: dict[str, object] = resp.json()
        return data

    assert (await search(q=f"kim{tag}"))["total"] == 5  # B's candidate stays invisible
    assert (await search(q=f"KIM{tag}", level="b1"))["total"] == 2
    assert (await search(username=f"u{tag}3"))["total"] == 1
    # a uic searches that organization's subtree by default, as tokens and results do
    assert (await search(q=tag, uic=tree.uic["A"]))["total"] == 5
    assert (await search(q=tag, uic=tree.uic["A"], include_descendants=False))["total"] == 3
    page = await search(q=tag, per_page=2, page=2)
    assert page["per_page"] == 2 and len(page["items"]) == 2  # type: ignore[arg-type]
    capped = await search(q=tag, per_page=5000)
    assert capped["per_page"] == 200
    assert (
        await client.get("/api/v1/candidates", headers=key, params={"per_page": 0})
    ).status_code == 422
    # LIKE wildcards in q are literal characters, not patterns
    assert (await search(q=f"kim{tag}%"))["total"] == 0
    assert (await search(q=f"u{tag}_"))["total"] == 0


async def test_lookup_by_emails_is_scoped(client: httpx.AsyncClient, tree: Tree) -> None:
    mine = await create_candidate(client, tree.key["A1"], uic=tree.uic["A1"])
    other = await create_candidate(client, tree.key["B"], uic=tree.uic["B"])
    resp = await client.post(
        "/api/v1/candidates/lookup",
        headers=tree.key["A"],
        json={"emails": [mine["email"].upper(), other["email"], "nobody@example.org"]},
    )
    assert resp.status_code == 200
    assert [c["id"] for c in resp.json()] == [mine["id"]]


async def test_hide_unhide(client: httpx.AsyncClient, tree: Tree) -> None:
    cand = await create_candidate(client, tree.key["A"], uic=tree.uic["A"], first_name="Hidey")
    resp = await client.post(f"/api/v1/candidates/{cand['id']}/hide", headers=tree.key["A"])
    assert resp.json()["hidden"] is True
    visible = (
        await client.get(
            "/api/v1/candidates", headers=tree.key["A"], params={"email": cand["email"]}
        )
    ).json()
    hidden = (
        await client.get(
            "/api/v1/candidates",
            headers=tree.key["A"],
            params={"email": cand["email"], "hidden": True},
        )
    ).json()
    assert (visible["total"], hidden["total"]) == (0, 1)
    resp = await client.post(f"/api/v1/candidates/{cand['id']}/unhide", headers=tree.key["A"])
    assert resp.json()["hidden"] is False


async def test_transfer_keeps_history_and_stays_in_subtree(
    client: httpx.AsyncClient, tree: Tree
) -> None:
    cand = await create_candidate(client, tree.key["A"], uic=tree.uic["A"])
    path = f"/api/v1/candidates/{cand['id']}"
    resp = await client.post(
        f"{path}/transfer",
        headers=tree.key["A"],
        json={"uic": tree.uic["A1"], "reason": "class change"},
    )
    assert resp.status_code == 200 and resp.json()["uic"] == tree.uic["A1"]
    foreign = await client.post(
        f"{path}/transfer", headers=tree.key["A"], json={"uic": tree.uic["B"]}
    )
    assert foreign.status_code == 404
    history = (await client.get(f"{path}/transfers", headers=tree.key["A1"])).json()
    assert [(h["from_uic"], h["to_uic"]) for h in history] == [(tree.uic["A"], tree.uic["A1"])]
    audit = (
        await client.get(
            "/api/v1/audit", headers=tree.key["A"], params={"action": "candidate.transfer"}
        )
    ).json()
    assert [e["target_id"] for e in audit["items"]] == [cand["id"]]
    assert audit["items"][0]["reason"] == "class change"


def _xlsx(rows: list[list[object]]) -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


async def test_bulk_import_csv_reports_each_row(client: httpx.AsyncClient, tree: Tree) -> None:
    tag = uuid.uuid4().hex[:8]
    existing = await create_candidate(client, tree.key["A"], uic=tree.uic["A"])
    csv_text = (
        "Email,first_name,last_name,dial_code,phone,uic\n"
        f"ok1.{tag}@example.org,Ana,Lee,+81,090 1234,\n"
        f"{existing['email']},Dup,Licate,,,\n"
        "not-an-email,Bad,Row,,,\n"
        f"ok2.{tag}@example.org,Ben,Ng,,,{tree.uic['A1']}\n"
        f"ok1.{tag}@example.org,Twice,In-file,,,\n"
        f"foreign.{tag}@example.org,X,Y,,,{tree.uic['B']}\n"
        ",,,,,\n"
    )
    resp = await client.post(
        "/api/v1/candidates/import",
        headers=tree.key["A"],
        data={"uic": tree.uic["A"]},
        files={"file": ("people.csv", csv_text.encode(), "text/csv")},
    )
    assert resp.status_code == 200, resp.text
    report = resp.json()
    assert (report["imported"], report["failed"]) == (2, 4)
    by_row = {r["row"]: r for r in report["rows"]}
    assert by_row[2]["status"] == "imported" and by_row[5]["status"] == "imported"
    assert "already registered" in by_row[3]["error"]
    assert "email" in by_row[4]["error"]
    assert by_row[6]["status"] == "error" and by_row[7]["status"] == "error"
    got = (
        await client.get(f"/api/v1/candidates/{by_row[2]['candidate_id']}", headers=tree.key["A"])
    ).json()
    assert (got["dial_code"], got["phone"], got["registered_from"]) == ("+81", "090 1234", "bulk")
    assert (
        await client.get(
            "/api/v1/candidates",
            headers=tree.key["B"],
            params={"email": f"foreign.{tag}@example.org"},
        )
    ).json()["total"] == 0


async def test_bulk_import_xlsx(client: httpx.AsyncClient, tree: Tree) -> None:
    tag = uuid.uuid4().hex[:8]
    data = _xlsx(
        [
            ["email", "first_name", "phone", "current_level"],
            [f"x1.{tag}@example.org", "Xi", "0201", "A2+"],
            [f"x2.{tag}@example.org", "Yo", "12", "Z1"],
        ]
    )
    resp = await client.post(
        "/api/v1/candidates/import",
        headers=tree.key["A1"],
        files={"file": ("people.xlsx", data, "application/octet-stream")},
    )
    assert resp.status_code == 200, resp.text
    rows = resp.json()["rows"]
    assert [r["status"] for r in rows] == ["imported", "error"]
    got = (
        await client.get(f"/api/v1/candidates/{rows[0]['candidate_id']}", headers=tree.key["A1"])
    ).json()
    assert (got["phone"], got["current_level"], got["uic"]) == ("0201", "A2+", tree.uic["A1"])


async def test_bulk_import_bad_files(client: httpx.AsyncClient, tree: Tree) -> None:
    for name, content in (
        ("x.xlsx", b"PK\x03\x04garbage"),
        ("x.csv", b""),
        ("x.csv", b"name,shoe_size\nA,42\n"),
        ("x.csv", b"\xff\xfe\x00bad"),
    ):
        resp = await client.post(
            "/api/v1/candidates/import",
            headers=tree.key["A"],
            files={"file": (name, content, "text/csv")},
        )
        assert resp.status_code == 400, (name, resp.text)
        assert resp.json()["type"] == "/errors/bad-upload"
    resp = await client.post("/api/v1/candidates/import", headers=tree.key["A"])
    assert resp.status_code == 422


async def test_candidate_plan_stays_within_the_contract(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    jr = await create_org(client, su, plan_code="neo_jr")
    admin = await create_key(app, "admin", jr["uic"])

    async def create(plan: str, headers: Headers = admin) -> httpx.Response:
        return await client.post(
            "/api/v1/candidates",
            headers=headers,
            json={
                "email": f"{uuid.uuid4().hex[:10]}@example.org",
                "uic": jr["uic"],
                "plan_code": plan,
            },
        )

    refused = await create("neo_plus")
    assert refused.status_code == 422, refused.text
    assert refused.json()["type"] == "/errors/plan-not-allowed"
    ok = await create("neo_jr")
    assert ok.status_code == 201
    patched = await client.patch(
        f"/api/v1/candidates/{ok.json()['id']}", headers=admin, json={"plan_code": "neo_plus"}
    )
    assert patched.status_code == 422 and patched.json()["type"] == "/errors/plan-not-allowed"
    imported = await client.post(
        "/api/v1/candidates/import",
        headers=admin,
        files={
            "file": (
                "p.csv",
                f"email,plan_code\n{uuid.uuid4().hex[:8]}@example.org,neo_plus\n".encode(),
                "text/csv",
            )
        },
    )
    assert imported.json()["failed"] == 1
    assert "neo_plus" in imported.json()["rows"][0]["error"]
    # the operator may give any plan
    assert (await create("neo_plus", su)).status_code == 201


async def test_candidate_plan_within_the_callers_own_contract(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    jr = await create_org(client, su, plan_code="neo_jr")
    # the operator gives a school below the neo_jr customer neo_plus ...
    school = await create_org(client, su, parent=jr["uic"], plan_code="neo_plus")
    admin = await create_key(app, "admin", jr["uic"])
    # ... which the customer's own admin still cannot hand out: it is not in its contract
    resp = await client.post(
        "/api/v1/candidates",
        headers=admin,
        json={
            "email": f"{uuid.uuid4().hex[:10]}@example.org",
            "uic": school["uic"],
            "plan_code": "neo_plus",
        },
    )
    assert resp.status_code == 422 and resp.json()["type"] == "/errors/plan-not-allowed"


async def test_old_plan_names_resolve(app: FastAPI, client: httpx.AsyncClient, su: Headers) -> None:
    org = await create_org(client, su, plan_code="Professional", allowed_plans=["neo+", "neoJr+"])
    assert org["plan_code"] == "neo_pro"
    assert org["allowed_plans"] == ["neo_plus", "neo_jr"]
    admin = await create_key(app, "admin", org["uic"])
    cand = await create_candidate(client, admin, uic=org["uic"], plan_code="professional")
    assert cand["plan_code"] == "neo_pro"
    patched = await client.patch(
        f"/api/v1/candidates/{cand['id']}", headers=admin, json={"plan_code": "neoPrep+"}
    )
    assert patched.status_code == 422  # a real plan, but not in this contract
    patched = await client.patch(
        f"/api/v1/candidates/{cand['id']}", headers=admin, json={"plan_code": "neo JR"}
    )
    assert patched.status_code == 200 and patched.json()["plan_code"] == "neo_jr"

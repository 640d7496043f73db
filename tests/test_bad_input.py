"""Every endpoint answers malformed input with a problem+json 4xx and a stable type: never a
500, never a stack trace. Operations come from the OpenAPI document."""

from __future__ import annotations

import io
import json
import unicodedata
import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from openpyxl import Workbook

from etest.db import transaction
from etest.errors import Unprocessable
from tests.conftest import Headers, Tree, create_candidate, unique
from tests.support.jwks import Issuer
from tests.support.openapi import operations

BAD_PATH_VALUES = ["..%2F..%2Fetc%2Fpasswd", "x" * 300, "%00", "1' OR '1'='1", "-1", "%F0%9F%92%A9"]
BAD_BODIES: list[tuple[bytes, int]] = [
    (b"{", 400),
    (b"[]", 422),
    (b"null", 422),
    (b'"text"', 422),
    (b"\xff\xfe", 400),
    (b"{}" * 3, 400),
]


def _check_problem(resp: httpx.Response, where: str) -> dict[str, Any]:
    assert 400 <= resp.status_code < 500, f"{where}: {resp.status_code} {resp.text[:300]}"
    assert resp.headers["content-type"] == "application/problem+json", where
    body: dict[str, Any] = resp.json()
    assert body["type"].startswith("/errors/") and body["status"] == resp.status_code, where
    assert "Traceback" not in resp.text and 'File "' not in resp.text, where
    return body


async def test_malformed_json_bodies(client: httpx.AsyncClient, su: Headers) -> None:
    doc = (await client.get("/openapi.json")).json()
    covered = 0
    for op in operations(doc):
        if op.json_body_schema(doc) is None:
            continue
        path = op.path.format(**dict.fromkeys(op.path_params, "PLACEHOLDER")).replace(
            "PLACEHOLDER", "00000000-0000-4000-8000-000000000000"
        )
        if "{code}" in op.path:
            path = op.path.format(code="neo_plus")
        for raw, expected in BAD_BODIES:
            resp = await client.request(
                op.method, path, headers={**su, "Content-Type": "application/json"}, content=raw
            )
            body = _check_problem(resp, f"{op.method} {op.path} {raw!r}")
            if "{uic}" not in op.path and "_id}" not in op.path:
                assert resp.status_code == expected, (op.path, raw, body)
        covered += 1
    assert covered >= 8


async def test_unknown_fields_rejected_everywhere(client: httpx.AsyncClient, su: Headers) -> None:
    doc = (await client.get("/openapi.json")).json()
    for op in operations(doc):
        schema = op.json_body_schema(doc)
        if schema is None or op.path_params:
            continue
        resp = await client.request(op.method, op.path, headers=su, json={"surely_not_a_field": 1})
        body = _check_problem(resp, f"{op.method} {op.path}")
        assert resp.status_code == 422
        assert any(e["loc"][-1] == "surely_not_a_field" for e in body["errors"]), body


async def test_garbage_path_and_query_values(client: httpx.AsyncClient, su: Headers) -> None:
    doc = (await client.get("/openapi.json")).json()
    for op in operations(doc):
        for value in BAD_PATH_VALUES if op.path_params else []:
            path = op.path
            for p in op.path_params:
                path = path.replace("{" + p + "}", value)
            resp = await client.request(
                op.method, path, headers=su, json={} if op.method != "GET" else None
            )
            _check_problem(resp, f"{op.method} {path}")
        if op.method == "GET":
            for param in op.query_params():
                schema = param.get("schema", {})
                kinds = json.dumps(schema)
                if '"integer"' in kinds or '"boolean"' in kinds or "uuid" in kinds:
                    resp = await client.get(
                        op.path.format(**dict.fromkeys(op.path_params, "x")),
                        headers=su,
                        params={param["name"]: "not-valid!"},
                    )
                    _check_problem(resp, f"GET {op.path}?{param['name']}")


async def test_time_bounds_in_any_spelling_never_fail_the_server(
    client: httpx.AsyncClient, su: Headers
) -> None:
    """A time without a zone is UTC, a bare date its midnight; a time with no UTC equivalent is
    a 422. None of them reaches the database as a naive datetime (that was a 500)."""
    doc = (await client.get("/openapi.json")).json()
    checked = 0
    for op in operations(doc):
        if op.method != "GET" or op.path_params:
            continue
        for param in op.query_params():
            if '"date-time"' not in json.dumps(param.get("schema", {})):
                continue
            for value in ("2026-01-01T00:00:00", "2026-01-01", "0001-01-01T00:00:00+01:00"):
                resp = await client.get(op.path, headers=su, params={param["name"]: value})
                assert resp.status_code < 500, f"GET {op.path}?{param['name']}={value}"
                if resp.status_code >= 400:
                    _check_problem(resp, f"GET {op.path}?{param['name']}={value}")
                checked += 1
    assert checked >= 6  # audit, results and certificates at least


async def test_wrong_method_is_problem_json(client: httpx.AsyncClient, su: Headers) -> None:
    resp = await client.delete("/api/v1/candidates", headers=su)
    assert resp.status_code == 405
    assert resp.json()["type"] == "/errors/method-not-allowed"


async def test_nul_characters_refused_on_every_database(
    client: httpx.AsyncClient, su: Headers
) -> None:
    resp = await client.get("/api/v1/candidates", headers=su, params={"q": "a\x00b"})
    assert resp.status_code == 422
    resp = await client.post(
        "/api/v1/organizations", headers=su, json={"uic": "NULTEST", "name": "bad\u0000name"}
    )
    assert resp.status_code == 422
    assert "NUL" in resp.text


# --- Names are text (etest.kit.text): refused on every write path ---------------------------

SPOOFED = [
    "Lee\u202eXX",
    "Ann\u200bLee",
    "Ann\nLee",
    "Ann\tLee",
    "\u2066Ann\u2069",
    "\ufeffAnn",
    "Ann\u00adLee",
    "Ann\u2028Lee",
    "\u200dAnn",
    "An\x85n",
    "\u3164",
]
REAL = {"first_name": "مهدی\u200cزاده", "last_name": "अनुष्का शर्मा", "username": "王小明"}


def _refused_name(resp: httpx.Response, field: str) -> None:
    body = _check_problem(resp, field)
    assert resp.status_code == 422 and body["type"] == "/errors/validation-error", body
    assert any(e["loc"][-1] == field and e["type"] == "name_text" for e in body["errors"]), body


async def test_spoofing_characters_refused_in_candidate_names(
    client: httpx.AsyncClient, tree: Tree
) -> None:
    admin, uic = tree.key["A"], tree.uic["A"]
    candidate = await create_candidate(client, admin, uic=uic, **REAL)
    assert {k: candidate[k] for k in REAL} == REAL  # Persian ZWNJ, Hindi, Chinese kept
    for field in ("first_name", "last_name", "username"):
        for name in SPOOFED:
            resp = await client.post(
                "/api/v1/candidates",
                headers=admin,
                json={"email": f"{uuid.uuid4().hex[:12]}@example.org", "uic": uic, field: name},
            )
            _refused_name(resp, field)
            resp = await client.patch(
                f"/api/v1/candidates/{candidate['id']}", headers=admin, json={field: name}
            )
            _refused_name(resp, field)
    got = (await client.get(f"/api/v1/candidates/{candidate['id']}", headers=admin)).json()
    assert {k: got[k] for k in REAL} == REAL


async def test_names_are_stored_in_nfc(client: httpx.AsyncClient, tree: Tree) -> None:
    nfd = unicodedata.normalize("NFD", "Nguyễn Thị")
    candidate = await create_candidate(
        client, tree.key["A"], uic=tree.uic["A"], first_name=nfd, last_name="Đạo"
    )
    assert candidate["first_name"] == "Nguyễn Thị" != nfd
    resp = await client.patch(
        f"/api/v1/organizations/{tree.uic['A1']}", headers=tree.key["A"], json={"name": nfd}
    )
    assert resp.status_code == 200 and resp.json()["name"] == "Nguyễn Thị"


async def test_spoofing_characters_refused_in_organization_names(
    client: httpx.AsyncClient, tree: Tree
) -> None:
    for name in SPOOFED:
        resp = await client.post(
            "/api/v1/organizations",
            headers=tree.key["A"],
            json={"uic": unique(), "name": name, "parent_uic": tree.uic["A"]},
        )
        _refused_name(resp, "name")
        resp = await client.patch(
            f"/api/v1/organizations/{tree.uic['A1']}", headers=tree.key["A"], json={"name": name}
        )
        _refused_name(resp, "name")
    resp = await client.post(
        "/api/v1/organizations",
        headers=tree.key["A"],
        json={
            "uic": f"{tree.uic['ROOT']}-{unique()}",
            "name": "مدرسة النور",
            "parent_uic": tree.uic["A"],
        },
    )
    assert resp.status_code == 201 and resp.json()["name"] == "مدرسة النور"


async def test_spoofing_characters_refused_in_plan_names(
    client: httpx.AsyncClient, su: Headers
) -> None:
    resp = await client.put(
        "/api/v1/plans/bidi_plan",
        headers=su,
        json={
            "name": "Plus\u202e",
            "pt_assessment": "pt_x",
            "levels": [{"level": "A1", "ct_assessment": "c"}],
        },
    )
    _refused_name(resp, "name")


async def test_import_refuses_spoofed_names_row_by_row(
    client: httpx.AsyncClient, tree: Tree
) -> None:
    tag = uuid.uuid4().hex[:8]
    csv_text = (
        "email,first_name,last_name\n"
        f"ok.{tag}@example.org,مهدی\u200cزاده,Lee\n"
        f"rlo.{tag}@example.org,Ann,Lee\u202eXX\n"
        f'cr.{tag}@example.org,"Ann\rLee",Ng\n'
        f"zw.{tag}@example.org,\u200bAnn,Ng\n"
    )
    resp = await client.post(
        "/api/v1/candidates/import",
        headers=tree.key["A"],
        data={"uic": tree.uic["A"]},
        files={"file": ("people.csv", csv_text.encode(), "text/csv")},
    )
    assert resp.status_code == 200, resp.text
    rows = {r["row"]: r for r in resp.json()["rows"]}
    assert rows[2]["status"] == "imported"
    for number, field, code in (
        (3, "last_name", "U+202E"),
        (4, "first_name", "U+000D"),
        (5, "first_name", "U+200B"),
    ):
        assert rows[number]["status"] == "error", rows[number]
        assert field in rows[number]["error"] and code in rows[number]["error"], rows[number]
    wb = Workbook()
    sheet = wb.active
    assert sheet is not None
    sheet.append(["email", "first_name"])
    sheet.append([f"x1.{tag}@example.org", "Trần Hưng Đạo"])
    sheet.append([f"x2.{tag}@example.org", "\u2067Ann\u2069"])
    buf = io.BytesIO()
    wb.save(buf)
    resp = await client.post(
        "/api/v1/candidates/import",
        headers=tree.key["A"],
        files={"file": ("people.xlsx", buf.getvalue(), "application/x")},
    )
    assert resp.status_code == 200, resp.text
    assert [(r["status"], "U+2067" in (r["error"] or "")) for r in resp.json()["rows"]] == [
        ("imported", False),
        ("error", True),
    ]


async def test_sso_subject_with_spoofing_characters_is_401(
    client: httpx.AsyncClient, tree: Tree, issuers: list[Issuer]
) -> None:
    claims = {"etest_role": "admin", "etest_uic": tree.uic["A"]}
    ok = issuers[0].sign({**claims, "sub": "مهدی\u200cزاده"})
    assert (
        await client.get("/api/v1/organizations", headers={"Authorization": f"Bearer {ok}"})
    ).status_code == 200
    for sub in ("admin\u202e", "a\nb", "\u200b"):
        token = issuers[0].sign({**claims, "sub": sub})
        resp = await client.get(
            "/api/v1/organizations", headers={"Authorization": f"Bearer {token}"}
        )
        assert resp.status_code == 401, sub
        assert _check_problem(resp, sub)["type"] == "/errors/unauthorized"


async def test_api_key_name_with_spoofing_characters_is_refused(app: FastAPI) -> None:
    from etest.apikey import create_api_key
    from etest.cli import cli_actor

    with pytest.raises(Unprocessable, match="U\\+202E"):
        async with transaction(app.state.sessionmaker) as session:
            await create_api_key(
                session,
                app.state.settings,
                cli_actor(),
                role="superadmin",
                uic=None,
                name="ops\u202e",
            )


# --- Inputs that gave 500 -------------------------------------------------------------------


async def test_null_settings_flag_is_422(client: httpx.AsyncClient, tree: Tree) -> None:
    path = f"/api/v1/organizations/{tree.uic['A1']}"
    # (null is a value of "language": not set, the candidate's browser decides)
    for flag in ("notify_after_pt", "disable_candidate_after_pt", "ct_unlock_mode"):
        resp = await client.patch(path, headers=tree.key["A"], json={"settings": {flag: None}})
        body = _check_problem(resp, flag)
        assert resp.status_code == 422 and body["type"] == "/errors/validation-error", body
        assert any(e["loc"][-2:] == ["settings", flag] for e in body["errors"]), body
    for field in ("name", "region", "timezone", "is_active"):  # null is no value of these either
        resp = await client.patch(path, headers=tree.key["A"], json={field: None})
        body = _check_problem(resp, field)
        assert resp.status_code == 422 and body["type"] == "/errors/validation-error", body
        assert any(e["loc"][-1] == field for e in body["errors"]), body
    resp = await client.patch(
        path, headers=tree.key["A"], json={"settings": {"notify_after_pt": False}}
    )
    assert resp.status_code == 200 and resp.json()["settings"]["notify_after_pt"] is False
    cleared = await client.patch(path, headers=tree.key["A"], json={"settings": {"language": None}})
    assert cleared.status_code == 200 and cleared.json()["settings"]["language"] is None


async def test_null_candidate_name_is_422(client: httpx.AsyncClient, tree: Tree) -> None:
    """A null first or last name was stored as NULL into a NOT NULL column: a 409 "retry it"."""
    candidate = await create_candidate(client, tree.key["A"], uic=tree.uic["A"], first_name="Ann")
    for field in ("first_name", "last_name", "email", "hidden", "disabled"):
        resp = await client.patch(
            f"/api/v1/candidates/{candidate['id']}", headers=tree.key["A"], json={field: None}
        )
        body = _check_problem(resp, field)
        assert resp.status_code == 422 and body["type"] == "/errors/validation-error", body
        assert any(e["loc"][-1] == field for e in body["errors"]), body
    resp = await client.patch(
        f"/api/v1/candidates/{candidate['id']}",
        headers=tree.key["A"],
        json={"username": None, "last_name": ""},
    )  # these may be cleared
    assert resp.status_code == 200 and resp.json()["first_name"] == "Ann", resp.text


async def _upload(client: httpx.AsyncClient, tree: Tree, data: bytes) -> httpx.Response:
    return await client.post(
        "/api/v1/candidates/import",
        headers=tree.key["A"],
        data={"uic": tree.uic["A"]},
        files={"file": ("people.csv", data, "text/csv")},
    )


async def test_csv_with_a_bare_cr_in_a_field_is_bad_upload(
    client: httpx.AsyncClient, tree: Tree
) -> None:
    tag = uuid.uuid4().hex[:8]
    data = f"email,first_name\nok.{tag}@example.org,Ann\nx.{tag}@example.org,An\rna\n".encode()
    resp = await _upload(client, tree, data)
    body = _check_problem(resp, "bare CR")
    assert resp.status_code == 400 and body["type"] == "/errors/bad-upload", body
    assert "line 3" in body["detail"] and "CR" in body["detail"], body
    assert (
        await client.get(
            "/api/v1/candidates", headers=tree.key["A"], params={"email": f"ok.{tag}@example.org"}
        )
    ).json()["total"] == 0
    # A file whose lines all end in a bare CR (old Mac "CSV") is read as such.
    resp = await _upload(client, tree, f"email,first_name\rcr.{tag}@example.org,Ann\r".encode())
    assert resp.status_code == 200 and resp.json()["imported"] == 1, resp.text


async def test_csv_with_a_huge_field_is_bad_upload(client: httpx.AsyncClient, tree: Tree) -> None:
    for data in (
        b"email,first_name\nx@example.org," + b"a" * 140_000 + b"\n",
        b'email,first_name\nx@example.org,"Ann\n' + b"y@example.org,B\n" * 9_000,
    ):
        resp = await _upload(client, tree, data)
        body = _check_problem(resp, "huge field")
        assert resp.status_code == 400 and body["type"] == "/errors/bad-upload", body
        assert "line 2" in body["detail"] and "131072" in body["detail"], body

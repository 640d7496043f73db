"""The error format documented in ``docs/errors.md`` and the README is what the API returns,
field for field, and every code the docs name is one the API has."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from etest.errors import CATALOG, PROBLEM_JSON
from tests.conftest import Headers

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "errors.md"
NOBODY = "00000000-0000-4000-8000-000000000000"


def _table(heading: str) -> list[list[str]]:
    """The body rows of the first markdown table under ``heading``."""
    text = DOC.read_text()
    rows: list[list[str]] = []
    for line in text[text.index(heading) :].splitlines()[1:]:
        if line.startswith("#"):
            break
        if line.startswith("|") and not set(line) <= set("|- "):
            rows.append([c.strip() for c in line.strip().strip("|").split("|")])
    return rows[1:]


def _field_names(cell: str) -> set[str]:
    return set(re.findall(r"`([a-z_]+)`", re.sub(r"\([^)]*\)", "", cell)))


async def _problems(client: httpx.AsyncClient, su: Headers) -> dict[str, httpx.Response]:
    json_headers = {**su, "content-type": "application/json"}
    return {
        "unauthorized": await client.get("/api/v1/candidates"),
        "not-found": await client.get(f"/api/v1/candidates/{NOBODY}", headers=su),
        "validation-error": await client.get("/api/v1/candidates", headers=su, params={"page": 0}),
        "malformed-json": await client.post(
            "/api/v1/candidates", headers=json_headers, content=b"{not json"
        ),
        "invalid-content": await client.post(
            "/api/v1/content/import",
            headers=su,
            files={"file": ("flow.json", b'{"format": "etest-flow/1"}', "application/json")},
        ),
    }


async def test_the_documented_fields_are_the_fields_of_a_problem(
    client: httpx.AsyncClient, su: Headers
) -> None:
    fields = {row[0].strip("`"): row for row in _table("## The fields")}
    always = {name for name, row in fields.items() if row[2] == "yes"}
    optional = set(fields) - always
    kinds = {"string": str, "integer": int, "array": list}
    entry_fields = {
        code.strip("`"): _field_names(row[1])
        for row in _table("### `errors` entries")
        for code in row[0].split(", ")
    }
    for code, resp in (await _problems(client, su)).items():
        assert resp.headers["content-type"] == PROBLEM_JSON, code
        body = resp.json()
        assert always <= set(body) <= set(fields), (code, body)
        assert body["type"] == f"/errors/{code}" and body["status"] == resp.status_code
        for name, value in body.items():
            assert isinstance(value, kinds[fields[name][1]]), (code, name)
        if code == "unauthorized":
            assert resp.headers["www-authenticate"] == "Bearer"
        if "errors" in body:
            assert "errors" in optional and code in entry_fields, code
            assert all(set(e) == entry_fields[code] for e in body["errors"]), body["errors"]
        assert code in CATALOG
    assert "errors" in optional


def test_every_code_is_documented_and_every_documented_code_exists() -> None:
    documented = {row[0].strip("`"): row[1] for row in _table("## Codes")}
    expected = "\n".join(f"| `{code}` | {text} |" for code, text in CATALOG.items())
    assert documented == CATALOG, f"docs/errors.md's code table should read:\n{expected}"


def test_error_codes_named_anywhere_in_the_docs_exist() -> None:
    named: set[tuple[str, str]] = set()
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for code in re.findall(r"/errors/([a-z0-9-]+)", path.read_text()):
            named.add((path.name, code))
    unknown = sorted((f, c) for f, c in named if c not in CATALOG and c != "code")
    assert unknown == []


async def test_the_description_endpoint_serves_the_catalog(client: httpx.AsyncClient) -> None:
    for code, text in CATALOG.items():
        resp = await client.get(f"/errors/{code}")
        assert resp.json() == {"type": f"/errors/{code}", "description": text}

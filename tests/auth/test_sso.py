"""SSO bearer JWTs from two issuers with keys generated here and a JWKS served on loopback."""

from __future__ import annotations

import base64
import json
import time
import uuid

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from fastapi import FastAPI

from tests.conftest import Headers, Tree, create_org
from tests.support.jwks import Issuer, SigningKey


def _claims(tree: Tree, role: str = "admin", org: str = "A") -> dict[str, object]:
    return {"etest_role": role, "etest_uic": tree.uic[org]}


async def _status(
    client: httpx.AsyncClient, token: str, path: str = "/api/v1/organizations"
) -> int:
    resp = await client.get(path, headers={"Authorization": f"Bearer {token}"})
    if resp.status_code == 401:
        assert resp.headers["content-type"] == "application/problem+json"
        assert resp.json()["type"] == "/errors/unauthorized"
    return resp.status_code


async def test_both_issuers_accepted_and_scoped(
    client: httpx.AsyncClient, tree: Tree, su: Headers, issuers: list[Issuer]
) -> None:
    row, cn = issuers
    cn_tree = await _cn_tree(client, su)
    for issuer, uics in ((row, tree.uic), (cn, cn_tree)):
        token = issuer.sign({"etest_role": "admin", "etest_uic": uics["A"]})
        resp = await client.get(
            "/api/v1/organizations", headers={"Authorization": f"Bearer {token}"}
        )
        assert resp.status_code == 200
        assert {o["uic"] for o in resp.json()["items"]} == {uics["A"], uics["A1"]}


async def _cn_tree(client: httpx.AsyncClient, su: Headers) -> dict[str, str]:
    """A CN tree ROOT > A > A1, and a CN organization MIXED below a ROW root."""
    root = await create_org(client, su, region="CN", name="CN root")
    a = await create_org(client, su, parent=root["uic"], region="CN", name="CN A")
    a1 = await create_org(client, su, parent=a["uic"], region="CN", name="CN A1")
    row_root = await create_org(client, su, name="ROW root")
    mixed = await create_org(client, su, parent=row_root["uic"], region="CN", name="CN below ROW")
    return {
        "ROOT": root["uic"],
        "A": a["uic"],
        "A1": a1["uic"],
        "ROW_ROOT": row_root["uic"],
        "MIXED": mixed["uic"],
    }


def _problem(resp: httpx.Response) -> tuple[int, str, str]:
    body = resp.json()
    return resp.status_code, body["type"], body["detail"]


async def test_issuer_keeps_to_its_region(
    client: httpx.AsyncClient, tree: Tree, su: Headers, issuers: list[Issuer]
) -> None:
    """A CN token naming a ROW organization, or a CN organization below a ROW one, is refused
    exactly like a token naming an organization that does not exist (no oracle)."""
    row, cn = issuers
    cn_tree = await _cn_tree(client, su)

    async def call(issuer: Issuer, uic: str) -> httpx.Response:
        token = issuer.sign({"etest_role": "admin", "etest_uic": uic})
        return await client.get(
            "/api/v1/organizations", headers={"Authorization": f"Bearer {token}"}
        )

    unknown = _problem(await call(cn, f"NO{uuid.uuid4().hex[:10].upper()}"))
    assert unknown[0] == 401
    for issuer, uic in (
        (cn, tree.uic["ROOT"]),
        (cn, tree.uic["A1"]),
        (cn, cn_tree["MIXED"]),
        (cn, cn_tree["ROW_ROOT"]),
        (row, cn_tree["A"]),
        (row, cn_tree["MIXED"]),
    ):
        assert _problem(await call(issuer, uic)) == unknown, (issuer.issuer, uic)
    assert (await call(cn, cn_tree["A1"])).status_code == 200
    assert (await call(row, tree.uic["A1"])).status_code == 200


async def test_global_roles_only_from_issuers_allowed_to_mint_them(
    client: httpx.AsyncClient, tree: Tree, issuers: list[Issuer]
) -> None:
    row, cn = issuers  # ROW may mint superadmin and content_manager (tests/conftest.py)
    for role in ("superadmin", "content_manager"):
        assert await _status(client, cn.sign({"etest_role": role})) == 401, role
        assert await _status(client, row.sign({"etest_role": role})) == 200, role
    # content_manager is global: naming an organization is refused, whoever the issuer
    assert (
        await _status(
            client, row.sign({"etest_role": "content_manager", "etest_uic": tree.uic["A"]})
        )
        == 401
    )
    # a superadmin scoped to a subtree is not a global role
    assert (
        await _status(client, cn.sign({"etest_role": "superadmin", "etest_uic": tree.uic["A"]}))
        == 401
    )  # region
    assert (
        await _status(client, row.sign({"etest_role": "superadmin", "etest_uic": tree.uic["A"]}))
        == 200
    )


async def test_long_lived_tokens_refused(
    client: httpx.AsyncClient, tree: Tree, issuers: list[Issuer]
) -> None:
    row = issuers[0]
    now = int(time.time())
    hour = 3600
    cases = [
        ({"iat": now, "exp": now + 13 * hour}, 401),
        ({"iat": now - 11 * hour, "exp": now + 2 * hour}, 401),  # 13 h, mostly spent
        ({"iat": now - 11 * hour, "exp": now + hour}, 200),  # exactly 12 h
        ({"iat": None, "exp": now + 13 * hour}, 401),  # no iat: exp - now
        ({"iat": None, "exp": now + 11 * hour}, 200),
        ({"iat": str(now), "exp": str(now + 13 * hour)}, 401),  # numbers as strings: no 500
    ]
    for times, status in cases:
        claims = {**_claims(tree), **times}
        token = row.sign({k: v for k, v in claims.items() if v is not None})
        if times["iat"] is None:
            token = _without_iat(row, {**_claims(tree), "exp": times["exp"]})
        assert await _status(client, token) == status, times
    token = row.sign({**_claims(tree), "iat": now, "exp": now + 13 * hour})
    resp = await client.get("/api/v1/organizations", headers={"Authorization": f"Bearer {token}"})
    assert "lifetime" in resp.json()["detail"]


def _without_iat(issuer: Issuer, claims: dict[str, object]) -> str:
    body = {"iss": issuer.issuer, "aud": issuer.audience, "sub": "user-1", **claims}
    return jwt.encode(
        body, issuer.keys[0].private, algorithm="RS256", headers={"kid": issuer.keys[0].kid}
    )


def test_max_token_lifetime_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    from etest.config import Settings

    assert Settings().sso_max_token_lifetime == 12 * 3600
    monkeypatch.setenv("ETEST_SSO_MAX_TOKEN_LIFETIME", "3600")
    assert Settings().sso_max_token_lifetime == 3600
    monkeypatch.setenv("ETEST_SSO_MAX_TOKEN_LIFETIME", "0")
    with pytest.raises(ValueError, match="SSO_MAX_TOKEN_LIFETIME"):
        Settings()


async def test_token_without_kid_says_so(
    client: httpx.AsyncClient, tree: Tree, issuers: list[Issuer]
) -> None:
    row = issuers[0]
    now = int(time.time())
    body = {
        "iss": row.issuer,
        "aud": row.audience,
        "sub": "user-1",
        "iat": now,
        "exp": now + 300,
        **_claims(tree),
    }
    token = jwt.encode(body, row.keys[0].private, algorithm="RS256")
    resp = await client.get("/api/v1/organizations", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 401
    assert resp.json()["detail"] == "The bearer token has no key id (kid)."


async def test_token_of_one_issuer_signed_with_other_key_refused(
    client: httpx.AsyncClient, tree: Tree, issuers: list[Issuer]
) -> None:
    row, cn = issuers
    forged = row.sign(_claims(tree), key=cn.keys[0])  # kid of CN inside a ROW token
    assert await _status(client, forged) == 401
    forged = row.sign(_claims(tree), key=SigningKey(row.keys[0].kid))  # right kid, wrong key
    assert await _status(client, forged) == 401


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def test_alg_none_and_hmac_with_public_key_refused(
    client: httpx.AsyncClient, tree: Tree, issuers: list[Issuer]
) -> None:
    row = issuers[0]
    now = int(time.time())
    claims = {"iss": row.issuer, "aud": row.audience, "sub": "x", "exp": now + 300, **_claims(tree)}
    none_token = f"{_b64({'alg': 'none', 'kid': row.keys[0].kid})}.{_b64(claims)}."
    assert await _status(client, none_token) == 401
    public_pem = (
        row.keys[0]
        .private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    header = _b64({"alg": "HS256", "typ": "JWT", "kid": row.keys[0].kid})
    body = _b64(claims)
    import hashlib
    import hmac

    sig = (
        base64.urlsafe_b64encode(
            hmac.new(public_pem, f"{header}.{body}".encode(), hashlib.sha256).digest()
        )
        .rstrip(b"=")
        .decode()
    )
    assert await _status(client, f"{header}.{body}.{sig}") == 401


@pytest.mark.parametrize(
    "change",
    [
        {"exp": int(time.time()) - 3600},
        {"aud": "someone-else"},
        {"iss": "https://evil.test"},
        {"etest_role": "owner"},
        {"etest_uic": "NO-SUCH-UIC"},
        {"etest_role": None},
    ],
)
async def test_bad_claims_refused(
    client: httpx.AsyncClient, tree: Tree, issuers: list[Issuer], change: dict[str, object]
) -> None:
    claims = {**_claims(tree), **change}
    token = issuers[0].sign({k: v for k, v in claims.items() if v is not None})
    assert await _status(client, token) == 401


async def test_key_location_headers_and_garbage_refused(
    client: httpx.AsyncClient, tree: Tree, issuers: list[Issuer]
) -> None:
    token = issuers[0].sign(_claims(tree), headers={"jku": "http://127.0.0.1:1/keys"})
    assert await _status(client, token) == 401
    for junk in ("not-a-jwt", "a.b.c", "etk_deadbeef_nope"):
        assert await _status(client, junk) == 401


async def test_unknown_kid_triggers_one_refetch(
    app: FastAPI, client: httpx.AsyncClient, tree: Tree, issuers: list[Issuer]
) -> None:
    row = issuers[0]
    assert await _status(client, row.sign(_claims(tree))) == 200
    rotated = SigningKey(f"row-rotated-{time.time_ns()}")
    row.keys.append(rotated)
    try:
        hits = row.hits
        assert await _status(client, row.sign(_claims(tree), key=rotated)) == 200
        assert row.hits == hits + 1
        assert await _status(client, row.sign(_claims(tree), key=rotated)) == 200
        assert row.hits == hits + 1  # cached now
        hits = row.hits
        stranger = SigningKey("never-published")
        assert await _status(client, row.sign(_claims(tree), key=stranger)) == 401
        assert row.hits == hits + 1  # one refetch for the unknown kid, then refused
    finally:
        row.keys.remove(rotated)


async def test_refetch_is_rate_limited(
    app: FastAPI, client: httpx.AsyncClient, tree: Tree, issuers: list[Issuer]
) -> None:
    verifier = app.state.sso
    old = verifier._refetch_interval
    verifier._refetch_interval = 60.0
    try:
        row = issuers[0]
        assert await _status(client, row.sign(_claims(tree))) == 200
        hits = row.hits
        for n in range(30):
            token = row.sign(_claims(tree), key=SigningKey(f"random-{n}"))
            assert await _status(client, token) == 401
        assert row.hits - hits <= 1
    finally:
        verifier._refetch_interval = old


async def test_superadmin_jwt_without_uic(
    client: httpx.AsyncClient, tree: Tree, issuers: list[Issuer]
) -> None:
    token = issuers[0].sign({"etest_role": "superadmin"})
    resp = await client.get(
        f"/api/v1/organizations/{tree.uic['B']}", headers={"Authorization": f"Bearer {token}"}
    )
    assert resp.status_code == 200
    token = issuers[0].sign({"etest_role": "admin"})
    assert await _status(client, token) == 401


async def test_rsa_key_is_asymmetric_only() -> None:
    from pydantic import ValidationError

    from etest.config import TrustedIssuer

    with pytest.raises(ValidationError, match="asymmetric"):
        TrustedIssuer(
            issuer="x", jwks_url="http://127.0.0.1/jwks", audience="a", algorithms=["HS256"]
        )
    assert jwt  # PyJWT is the verifier under test

"""SSO bearer JWTs from two issuers with keys generated here and a JWKS served on loopback."""

from __future__ import annotations

import base64
import json
import time

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from fastapi import FastAPI

from tests.conftest import Tree
from tests.support.jwks import Issuer, SigningKey


def _claims(tree: Tree, role: str = "admin", org: str = "A") -> dict[str, object]:
    return {"etest_role": role, "etest_uic": tree.uic[org]}


async def _status(client: httpx.AsyncClient, token: str, path: str = "/api/v1/organizations"
                  ) -> int:
    resp = await client.get(path, headers={"Authorization": f"Bearer {token}"})
    if resp.status_code == 401:
        assert resp.headers["content-type"] == "application/problem+json"
        assert resp.json()["type"] == "/errors/unauthorized"
    return resp.status_code


async def test_both_issuers_accepted_and_scoped(client: httpx.AsyncClient, tree: Tree,
                                                issuers: list[Issuer]) -> None:
    row, cn = issuers
    for issuer in (row, cn):
        token = issuer.sign(_claims(tree))
        resp = await client.get("/api/v1/organizations",
                                headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 200
        assert {o["uic"] for o in resp.json()["items"]} == {tree.uic["A"], tree.uic["A1"]}


async def test_token_of_one_issuer_signed_with_other_key_refused(
        client: httpx.AsyncClient, tree: Tree, issuers: list[Issuer]) -> None:
    row, cn = issuers
    forged = row.sign(_claims(tree), key=cn.keys[0])  # kid of CN inside a ROW token
    assert await _status(client, forged) == 401
    forged = row.sign(_claims(tree), key=SigningKey(row.keys[0].kid))  # right kid, wrong key
    assert await _status(client, forged) == 401


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def test_alg_none_and_hmac_with_public_key_refused(
        client: httpx.AsyncClient, tree: Tree, issuers: list[Issuer]) -> None:
    row = issuers[0]
    now = int(time.time())
    claims = {"iss": row.issuer, "aud": row.audience, "sub": "x", "exp": now + 300,
              **_claims(tree)}
    none_token = f"{_b64({'alg': 'none', 'kid': row.keys[0].kid})}.{_b64(claims)}."
    assert await _status(client, none_token) == 401
    public_pem = row.keys[0].private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    header = _b64({"alg": "HS256", "typ": "JWT", "kid": row.keys[0].kid})
    body = _b64(claims)
    import hashlib
    import hmac

    sig = base64.urlsafe_b64encode(hmac.new(public_pem, f"{header}.{body}".encode(),
                                            hashlib.sha256).digest()).rstrip(b"=").decode()
    assert await _status(client, f"{header}.{body}.{sig}") == 401


@pytest.mark.parametrize("change", [
    {"exp": int(time.time()) - 3600}, {"aud": "someone-else"}, {"iss": "https://evil.test"},
    {"etest_role": "owner"}, {"etest_uic": "NO-SUCH-UIC"}, {"etest_role": None},
])
async def test_bad_claims_refused(client: httpx.AsyncClient, tree: Tree, issuers: list[Issuer],
                                  change: dict[str, object]) -> None:
    claims = {**_claims(tree), **change}
    token = issuers[0].sign({k: v for k, v in claims.items() if v is not None})
    assert await _status(client, token) == 401


async def test_key_location_headers_and_garbage_refused(
        client: httpx.AsyncClient, tree: Tree, issuers: list[Issuer]) -> None:
    token = issuers[0].sign(_claims(tree), headers={"jku": "http://127.0.0.1:1/keys"})
    assert await _status(client, token) == 401
    for junk in ("not-a-jwt", "a.b.c", "etk_deadbeef_nope"):
        assert await _status(client, junk) == 401


async def test_unknown_kid_triggers_one_refetch(app: FastAPI, client: httpx.AsyncClient,
                                                tree: Tree, issuers: list[Issuer]) -> None:
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


async def test_refetch_is_rate_limited(app: FastAPI, client: httpx.AsyncClient, tree: Tree,
                                       issuers: list[Issuer]) -> None:
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


async def test_superadmin_jwt_without_uic(client: httpx.AsyncClient, tree: Tree,
                                          issuers: list[Issuer]) -> None:
    token = issuers[1].sign({"etest_role": "superadmin"})
    resp = await client.get(f"/api/v1/organizations/{tree.uic['B']}",
                            headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200
    token = issuers[1].sign({"etest_role": "admin"})
    assert await _status(client, token) == 401


async def test_rsa_key_is_asymmetric_only() -> None:
    from pydantic import ValidationError

    from etest.config import TrustedIssuer

    with pytest.raises(ValidationError, match="asymmetric"):
        TrustedIssuer(issuer="x", jwks_url="http://127.0.0.1/jwks", audience="a",
                      algorithms=["HS256"])
    assert jwt  # PyJWT is the verifier under test

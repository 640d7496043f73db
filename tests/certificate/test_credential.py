"""The Open Badges 3.0 credential: valid against the OB 3.0 JSON schema, signed with the
Ed25519 key the service publishes, refused once tampered with; the signing key itself."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from jsonschema import Draft201909Validator

from etest.certificate import keys
from etest.config import Settings
from tests.certificate.conftest import certificates_of, drain_outbox, sit_ct
from tests.conftest import Headers

SCHEMA = json.loads(
    (Path(__file__).parent / "ob_v3p0_achievementcredential_schema.subset.json").read_text()
)
VALIDATOR = Draft201909Validator(SCHEMA, format_checker=Draft201909Validator.FORMAT_CHECKER)


async def _credential(
    app: FastAPI, client: httpx.AsyncClient, su: Headers, **names: str
) -> tuple[dict[str, Any], Any, Headers]:
    sitting = await sit_ct(app, client, su, **names)
    await drain_outbox(app)
    [certificate] = await certificates_of(app, sitting.attempt_id)
    resp = await client.get(
        f"/api/v1/certificates/{certificate.id}/credential", headers=sitting.course.admin
    )
    assert resp.status_code == 200, resp.text
    return resp.json(), certificate, sitting.course.admin


def _verify(token: str, jwks: dict[str, Any]) -> dict[str, Any]:
    kid = jwt.get_unverified_header(token)["kid"]
    [jwk] = [k for k in jwks["keys"] if k["kid"] == kid]
    key = jwt.PyJWK(jwk)
    claims: dict[str, Any] = jwt.decode(token, key, algorithms=["EdDSA"])
    return claims


async def test_the_credential_is_an_ob3_credential_signed_with_the_published_key(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    body, certificate, admin = await _credential(
        app, client, su, first_name="Анна", last_name="Иванова"
    )
    token = body["jwt"]
    jwks_resp = await client.get("/.well-known/jwks.json")  # public: no credential
    assert jwks_resp.status_code == 200
    jwks = jwks_resp.json()
    assert body["jwks_url"] == "http://testserver/.well-known/jwks.json"
    assert all(k["kty"] == "OKP" and k["crv"] == "Ed25519" and "d" not in k for k in jwks["keys"])

    header = jwt.get_unverified_header(token)
    assert header["alg"] == "EdDSA" and header["typ"] == "JWT"
    claims = _verify(token, jwks)
    vc = claims["vc"]
    # OB 3.0 (3.0.3, VC-JWT): the payload is the credential; the claims repeat its fields
    errors = [e.message for e in VALIDATOR.iter_errors(vc)]
    assert errors == []
    # and the schema does bite
    assert not VALIDATOR.is_valid({k: v for k, v in vc.items() if k != "validFrom"})
    assert not VALIDATOR.is_valid(
        {
            **vc,
            "credentialSubject": {
                **vc["credentialSubject"],
                "name": "not an AchievementSubject property",
            },
        }
    )
    assert not VALIDATOR.is_valid({**vc, "@context": ["https://www.w3.org/2018/credentials/v1"]})
    assert [
        e.message
        for e in VALIDATOR.iter_errors(
            {k: v for k, v in claims.items() if k not in ("iss", "jti", "sub", "nbf", "vc")}
        )
    ] == []
    assert claims["iss"] == vc["issuer"]["id"] == "http://testserver/api/v1/issuer"
    assert claims["jti"] == vc["id"] == f"http://testserver/verify/{certificate.code}"
    assert claims["sub"] == vc["credentialSubject"]["id"] == f"urn:uuid:{certificate.candidate_id}"
    assert claims["nbf"] == int(certificate.issued_at.timestamp())
    assert vc["@context"][:2] == [
        "https://www.w3.org/ns/credentials/v2",
        "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
    ]
    assert vc["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    achievement = vc["credentialSubject"]["achievement"]
    assert achievement["name"] == "English A1" and achievement["type"] == ["Achievement"]
    assert {
        "type": "IdentityObject",
        "identityType": "name",
        "hashed": False,
        "identityHash": "Анна Иванова",
    } in vc["credentialSubject"]["identifier"]
    assert body["credential"] == vc

    # the issuer profile the credential names is served, and points at the keys
    issuer = (await client.get("/api/v1/issuer")).json()
    assert issuer["id"] == vc["issuer"]["id"]
    assert issuer["jwks_uri"] == "http://testserver/.well-known/jwks.json"

    # the bare VC-JWT, as OB 3.0 serves a web resource
    raw = await client.get(
        f"/api/v1/certificates/{certificate.id}/credential",
        headers={**admin, "Accept": "text/plain"},
    )
    assert raw.headers["content-type"].startswith("text/plain") and raw.text == token


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def test_a_tampered_credential_does_not_verify(
    app: FastAPI, client: httpx.AsyncClient, su: Headers
) -> None:
    body, _, _ = await _credential(app, client, su, first_name="Ann", last_name="Lee")
    jwks = (await client.get("/.well-known/jwks.json")).json()
    header, payload, signature = body["jwt"].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["vc"]["credentialSubject"]["achievement"]["name"] = "English C1"
    forged = f"{header}.{_b64(claims)}.{signature}"
    with pytest.raises(jwt.InvalidSignatureError):
        _verify(forged, jwks)
    # signed with another Ed25519 key under our kid: refused too
    other = jwt.encode(
        claims,
        Ed25519PrivateKey.generate(),
        algorithm="EdDSA",
        headers={"kid": jwt.get_unverified_header(body["jwt"])["kid"]},
    )
    with pytest.raises(jwt.InvalidSignatureError):
        _verify(other, jwks)


def test_the_kid_is_the_rfc7638_thumbprint() -> None:
    # RFC 8037 appendix A.3: the thumbprint of the example Ed25519 public key
    assert (
        keys.thumbprint("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
        == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    )


def test_the_signing_key_is_created_once_private_and_shared(tmp_path: Path) -> None:
    settings = Settings(env="test", var_dir=tmp_path, signing_keys_dir=tmp_path / "keys")
    path = settings.keys_path / keys.PRIVATE_KEY_FILE
    keys._create(path)
    first = path.read_bytes()
    keys._create(path)  # a second process racing for the first key: the first one stays
    assert path.read_bytes() == first
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == [keys.PRIVATE_KEY_FILE]  # no temp left
    key = keys.signing_key(settings)
    published = keys.jwks(settings)["keys"]
    assert [k["kid"] for k in published] == [key.kid]

    # after a rotation the retired public key stays published, so old credentials verify
    (settings.keys_path / f"2026-01{keys.RETIRED_SUFFIX}").write_bytes(
        key.private_key.public_key().public_bytes(
            keys.serialization.Encoding.PEM, keys.serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    assert [k["kid"] for k in keys.jwks(settings)["keys"]] == [key.kid]  # same key: once

"""The Open Badges 3.0 credential of a certificate, signed as a VC-JWT with EdDSA (Ed25519).

OB 3.0 (as corrected to 3.0.3) builds on the VC Data Model 2.0: the ``@context`` starts with
``https://www.w3.org/ns/credentials/v2`` and the credential carries ``validFrom``. The JWT
payload *is* the credential plus the claims ``iss``, ``jti``, ``sub`` and ``nbf`` that repeat
``issuer.id``, ``id``, ``credentialSubject.id`` and ``validFrom`` (OB 3.0 §8.2); a copy of the
credential also sits in the ``vc`` claim for verifiers written for VC-JWT 1.1.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

import jwt

from etest.certificate.keys import SigningKey

VC_CONTEXT = "https://www.w3.org/ns/credentials/v2"
OB_CONTEXT = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
OB_SCHEMA = (
    "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json"
)


def issuer_id(base_url: str) -> str:
    """The issuer profile's id: a URL that serves the profile (``GET /api/v1/issuer``)."""
    return f"{base_url}/api/v1/issuer"


def issuer_profile(base_url: str) -> dict[str, Any]:
    """The issuer as an OB 3.0 ``Profile``: eTest, the service that signs every credential
    (the organization that ran the test is the subject's ``source``)."""
    return {"id": issuer_id(base_url), "type": ["Profile"], "name": "eTest", "url": base_url}


def level_slug(level: str) -> str:
    return level.lower().replace("+", "-plus").replace(" ", "-")


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def build(
    *,
    base_url: str,
    verify_url: str,
    candidate_id: uuid.UUID,
    holder_name: str,
    email: str,
    level: str,
    plan_code: str,
    plan_name: str,
    pass_mark: int,
    organization_uic: str,
    organization_name: str,
    issued_at: datetime,
) -> dict[str, Any]:
    """The unsigned ``OpenBadgeCredential``. The email is only in the credential as a salted
    SHA-256 (an OB ``IdentityObject``), so a verifier who knows it can match it, nobody else."""
    salt = secrets.token_hex(8)
    email_hash = hashlib.sha256((email.lower() + salt).encode()).hexdigest()
    achievement_id = f"{base_url}/achievements/{plan_code}/{level_slug(level)}"
    return {
        "@context": [VC_CONTEXT, OB_CONTEXT],
        "id": verify_url,
        "type": ["VerifiableCredential", "OpenBadgeCredential"],
        "name": f"English {level} ({plan_name})",
        "description": f"{holder_name} passed the eTest certification test for English "
        f"level {level} of {plan_name}.",
        "issuer": issuer_profile(base_url),
        "validFrom": _iso(issued_at),
        "awardedDate": _iso(issued_at),
        "credentialSubject": {
            "id": f"urn:uuid:{candidate_id}",
            "type": ["AchievementSubject"],
            "identifier": [
                {
                    "type": "IdentityObject",
                    "identityType": "name",
                    "hashed": False,
                    "identityHash": holder_name,
                },
                {
                    "type": "IdentityObject",
                    "identityType": "emailAddress",
                    "hashed": True,
                    "identityHash": f"sha256${email_hash}",
                    "salt": salt,
                },
            ],
            "achievement": {
                "id": achievement_id,
                "type": ["Achievement"],
                "achievementType": "Certificate",
                "name": f"English {level}",
                "description": f"English at CEFR-aligned level {level}, certified by the "
                f"eTest certification test of {plan_name}.",
                "criteria": {
                    "narrative": f"Pass the eTest certification test for level "
                    f"{level} of {plan_name} with a score of at least "
                    f"{pass_mark}%."
                },
                "humanCode": level,
            },
            "source": {
                "id": f"urn:etest:organization:{organization_uic}",
                "type": ["Profile"],
                "name": organization_name,
            },
        },
        "credentialSchema": [{"id": OB_SCHEMA, "type": "1EdTechJsonSchemaValidator2019"}],
    }


def sign(credential: dict[str, Any], key: SigningKey) -> str:
    """The compact JWS (VC-JWT) of ``credential``."""
    valid_from = datetime.fromisoformat(credential["validFrom"].replace("Z", "+00:00"))
    claims = {
        **credential,
        "iss": credential["issuer"]["id"],
        "jti": credential["id"],
        "sub": credential["credentialSubject"]["id"],
        "nbf": int(valid_from.timestamp()),
        "vc": credential,
    }
    return jwt.encode(
        claims, key.private_key, algorithm="EdDSA", headers={"kid": key.kid, "typ": "JWT"}
    )


def unverified_credential(token: str) -> dict[str, Any]:
    """The credential inside a VC-JWT we signed ourselves (read back from our own row)."""
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    vc: dict[str, Any] = claims["vc"]
    return vc

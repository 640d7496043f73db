"""The candidate's browser credential: one cookie holding the attempt id and the attempt secret
(HttpOnly, SameSite=Strict, Secure over https, path ``/take``), and the CSRF field of every
form, an HMAC of the attempt id keyed with that secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from dataclasses import dataclass

from fastapi import Request, Response

COOKIE = "etest_take"
PATH = "/take"
#: Long enough to come back after a dropped connection or a closed browser on the same day.
MAX_AGE = 24 * 3600


@dataclass(frozen=True)
class Credential:
    attempt_id: uuid.UUID
    secret: str


def read(request: Request) -> Credential | None:
    raw = request.cookies.get(COOKIE)
    if not raw or ":" not in raw:
        return None
    attempt_id, _, secret = raw.partition(":")
    try:
        return Credential(uuid.UUID(attempt_id), secret)
    except ValueError:
        return None


def write(request: Request, response: Response, attempt_id: uuid.UUID, secret: str) -> None:
    response.set_cookie(
        COOKIE,
        f"{attempt_id}:{secret}",
        max_age=MAX_AGE,
        path=PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def csrf_token(credential: Credential) -> str:
    mac = hmac.new(
        credential.secret.encode(), f"csrf:{credential.attempt_id}".encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(mac[:18]).decode()


def csrf_ok(credential: Credential, sent: object) -> bool:
    return isinstance(sent, str) and hmac.compare_digest(csrf_token(credential), sent)

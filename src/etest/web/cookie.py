"""The candidate's browser credentials.

``etest_take`` holds the attempt id and the attempt secret (HttpOnly, SameSite=Strict, path
``/take``, Secure when :func:`etest.ops.security.is_secure` says so); the CSRF field of every
form of an attempt is an HMAC of the attempt id keyed with that secret.

Before a token is entered there is no attempt and no secret, yet the token form must not be
submittable from another site (login CSRF: a page elsewhere would start *its* test in the
candidate's browser). So the form is bound to a second cookie, ``etest_take_form``: a random
value the browser keeps (HttpOnly, SameSite=Strict, so another site's form never carries it),
and the form's ``csrf`` field is an HMAC of that value keyed with the app's pepper (a signed
double submit). A POST without the cookie, or whose field does not match it, is refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass

from fastapi import Request, Response

from etest.ops.security import is_secure

COOKIE = "etest_take"
FORM_COOKIE = "etest_take_form"
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


def _set(request: Request, response: Response, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        max_age=MAX_AGE,
        path=PATH,
        httponly=True,
        samesite="strict",
        secure=is_secure(request),
    )


def write(request: Request, response: Response, attempt_id: uuid.UUID, secret: str) -> None:
    _set(request, response, COOKIE, f"{attempt_id}:{secret}")


def csrf_token(credential: Credential) -> str:
    mac = hmac.new(
        credential.secret.encode(), f"csrf:{credential.attempt_id}".encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(mac[:18]).decode()


def csrf_ok(credential: Credential, sent: object) -> bool:
    return isinstance(sent, str) and hmac.compare_digest(csrf_token(credential), sent)


# ---------------------------------------------------------------------------- the token form


def _form_value(request: Request) -> str | None:
    value = request.cookies.get(FORM_COOKIE)
    return value if value and 20 <= len(value) <= 64 and value.isascii() else None


def _form_mac(pepper: bytes, value: str) -> str:
    mac = hmac.new(pepper, f"take-form-csrf:{value}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:18]).decode()


@dataclass(frozen=True)
class FormBinding:
    """The token form's CSRF field, and the cookie value it is bound to when that cookie must
    still be set (the browser had none, or a malformed one)."""

    field: str
    new_cookie: str | None

    def keep(self, request: Request, response: Response) -> None:
        if self.new_cookie is not None:
            _set(request, response, FORM_COOKIE, self.new_cookie)


def form_binding(request: Request, pepper: bytes) -> FormBinding:
    """The field of a token form shown in this response (from this browser's cookie, made
    when it has none)."""
    value = _form_value(request)
    if value is not None:
        return FormBinding(_form_mac(pepper, value), None)
    value = secrets.token_urlsafe(24)
    return FormBinding(_form_mac(pepper, value), value)


def form_csrf_ok(request: Request, pepper: bytes, sent: object) -> bool:
    """The token form came from a page of ours in this browser."""
    value = _form_value(request)
    return (
        value is not None
        and isinstance(sent, str)
        and hmac.compare_digest(_form_mac(pepper, value), sent)
    )

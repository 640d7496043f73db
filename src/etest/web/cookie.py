"""The candidate's browser credentials.

``etest_take`` holds the attempt id and the attempt secret (HttpOnly, SameSite=Strict, path
``/take``, Secure when :func:`etest.ops.security.is_secure` says so); the CSRF field of every
form of an attempt is an HMAC of the attempt id keyed with that secret.

Before a token is entered there is no attempt and no secret, yet the token form must not be
submittable from another site (login CSRF: a page elsewhere would start *its* test in the
candidate's browser). So the form is bound to a second cookie, ``etest_take_form``: a random
value the browser keeps (HttpOnly, SameSite=Strict, so another site's form never carries it),
and the form's ``csrf`` field is an HMAC of that value keyed with the app's pepper (a signed
double submit). A POST without the cookie, or whose field does not match it, is refused.
The ``/join`` form of an open link is bound the same way, by its own cookie on ``/join``.

A *framed* attempt (a platform's page embeds the test, :mod:`etest.web.embedding`) keeps a
third part in ``etest_take``, the signed frame, and that cookie is ``SameSite=None; Secure;
Partitioned``: a Strict cookie is never sent inside another site's frame. ``Secure`` is set
even on plain http, which browsers accept only from loopback (tests); a deployment is https."""

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


JOIN_FORM_COOKIE = "etest_join_form"
JOIN_PATH = "/join"


@dataclass(frozen=True)
class Credential:
    attempt_id: uuid.UUID
    secret: str
    #: The signed frame of an embedded attempt (``etest.web.embedding.seal``), if any.
    frame: str | None = None


def read(request: Request) -> Credential | None:
    raw = request.cookies.get(COOKIE)
    if not raw or ":" not in raw:
        return None
    attempt_id, _, rest = raw.partition(":")
    secret, _, frame = rest.partition(":")
    try:
        return Credential(uuid.UUID(attempt_id), secret, frame or None)
    except ValueError:
        return None


def _set(request: Request, response: Response, name: str, value: str, path: str = PATH) -> None:
    response.set_cookie(
        name,
        value,
        max_age=MAX_AGE,
        path=path,
        httponly=True,
        samesite="strict",
        secure=is_secure(request),
    )


def _set_framed(response: Response, name: str, value: str) -> None:
    """``SameSite=None; Secure; Partitioned`` (Partitioned: Chromium keeps such a cookie when
    third-party cookies are blocked, per top-level site; Starlette writes it only on Python
    3.14, so the header is written here)."""
    response.raw_headers.append(
        (
            b"set-cookie",
            f"{name}={value}; HttpOnly; Max-Age={MAX_AGE}; Path={PATH}; SameSite=none; "
            "Secure; Partitioned".encode("latin-1"),
        )
    )


def write(
    request: Request,
    response: Response,
    attempt_id: uuid.UUID,
    secret: str,
    frame: str | None = None,
) -> None:
    """The attempt's cookie; with ``frame`` (a sealed frame) one that frames may send."""
    if frame is None:
        _set(request, response, COOKIE, f"{attempt_id}:{secret}")
    else:
        _set_framed(response, COOKIE, f"{attempt_id}:{secret}:{frame}")


def forget(response: Response, credential: Credential) -> None:
    """Remove the attempt's cookie from this browser. A framed cookie lives in the frame's
    partition: only a deletion that is itself ``Partitioned`` (and ``SameSite=None; Secure``)
    reaches it."""
    if credential.frame is not None:
        response.raw_headers.append(
            (
                b"set-cookie",
                f'{COOKIE}=""; HttpOnly; Max-Age=0; Path={PATH}; SameSite=none; Secure; '
                "Partitioned".encode("latin-1"),
            )
        )
    else:
        response.delete_cookie(COOKIE, path=PATH)


def csrf_token(credential: Credential) -> str:
    mac = hmac.new(
        credential.secret.encode(), f"csrf:{credential.attempt_id}".encode(), hashlib.sha256
    ).digest()
    return base64.urlsafe_b64encode(mac[:18]).decode()


def csrf_ok(credential: Credential, sent: object) -> bool:
    return isinstance(sent, str) and hmac.compare_digest(csrf_token(credential), sent)


# ---------------------------------------------------------------------------- the token form


def _form_value(request: Request, name: str = FORM_COOKIE) -> str | None:
    value = request.cookies.get(name)
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
    name: str = FORM_COOKIE
    path: str = PATH

    def keep(self, request: Request, response: Response) -> None:
        if self.new_cookie is not None:
            _set(request, response, self.name, self.new_cookie, self.path)


def form_binding(
    request: Request, pepper: bytes, name: str = FORM_COOKIE, path: str = PATH
) -> FormBinding:
    """The field of a token form shown in this response (from this browser's cookie, made
    when it has none); ``name`` and ``path``: another form's cookie (``/join``'s)."""
    value = _form_value(request, name)
    if value is not None:
        return FormBinding(_form_mac(pepper, value), None, name, path)
    value = secrets.token_urlsafe(24)
    return FormBinding(_form_mac(pepper, value), value, name, path)


def form_csrf_ok(request: Request, pepper: bytes, sent: object, name: str = FORM_COOKIE) -> bool:
    """The token form (or the form of cookie ``name``) came from a page of ours in this
    browser."""
    value = _form_value(request, name)
    return (
        value is not None
        and isinstance(sent, str)
        and hmac.compare_digest(_form_mac(pepper, value), sent)
    )

"""The candidate's credential for one attempt: derived from the attempt id with the server's
pepper, so the token holder can always get it back (resume on another device) and nothing
secret is stored."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid


def attempt_secret(pepper: bytes, attempt_id: uuid.UUID) -> str:
    """The secret of ``attempt_id`` (sent as ``Authorization: Bearer`` or kept in the page's
    cookie)."""
    mac = hmac.new(pepper, f"attempt:{attempt_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:24]).decode()


def check_secret(pepper: bytes, attempt_id: uuid.UUID, secret: str | None) -> bool:
    """Whether ``secret`` is the secret of ``attempt_id`` (in constant time)."""
    return secret is not None and hmac.compare_digest(attempt_secret(pepper, attempt_id), secret)

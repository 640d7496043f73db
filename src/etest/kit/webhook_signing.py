"""Standard Webhooks signatures with an organization's callback secrets (domain-free: the
secrets come in as strings; ``webhook.tasks.active_secrets`` picks an organization's).

An organization's ``callback_secret`` is either a Standard Webhooks secret (``whsec_`` followed by
base64: the key is the decoded bytes, as every Standard Webhooks library reads it) or any other
string of at least 16 characters (the key is its UTF-8 bytes; a receiver verifies with
``Webhook(secret.encode())`` or, in any language, with ``"whsec_" + base64(secret)``). The
signature is HMAC-SHA256 over ``{webhook-id}.{webhook-timestamp}.{body}``.

After a rotation the previous secret signs too, for :data:`SECRET_OVERLAP`, so a receiver can
switch secrets at its own pace: ``webhook-signature`` then carries two ``v1,<base64>`` entries.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from datetime import datetime, timedelta

from standardwebhooks import Webhook

#: How long the previous secret keeps signing after a new one is saved.
SECRET_OVERLAP = timedelta(hours=24)
PREFIX = "whsec_"
MIN_KEY_BYTES = 16


def signing_key(secret: str) -> bytes:
    """The HMAC key of a secret (see the module docstring)."""
    if secret.startswith(PREFIX):
        encoded = secret[len(PREFIX) :]
        return base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    return secret.encode()


def check_secret(secret: str) -> str:
    """Refuse a ``whsec_`` secret that is not base64 of at least 16 bytes (a pydantic
    validator: raises ValueError)."""
    try:
        key = signing_key(secret)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("a secret starting with 'whsec_' must continue in base64") from exc
    if len(key) < MIN_KEY_BYTES:
        raise ValueError(f"the secret's key must have at least {MIN_KEY_BYTES} bytes")
    return secret


def signature(secrets: Sequence[str], msg_id: str, timestamp: datetime, body: str) -> str:
    """The ``webhook-signature`` header: one ``v1,<base64>`` per secret, space-separated."""
    return " ".join(Webhook(signing_key(s)).sign(msg_id, timestamp, body) for s in secrets)

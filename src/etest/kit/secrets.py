"""Secrets shown once and stored as keyed digests (HMAC-SHA256 with the server pepper)."""

from __future__ import annotations

import hashlib
import hmac
import secrets


def new_token_code() -> str:
    """A 128-bit random test-token code (22 URL-safe characters)."""
    return secrets.token_urlsafe(16)


def new_api_key() -> tuple[str, str]:
    """A new API key and its public prefix (kept for display and lookup in listings)."""
    prefix = secrets.token_hex(4)
    return f"etk_{prefix}_{secrets.token_urlsafe(32)}", prefix


def digest(pepper: bytes, secret: str) -> str:
    return hmac.new(pepper, secret.encode(), hashlib.sha256).hexdigest()

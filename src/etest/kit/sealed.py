"""Small secrets kept at rest but needed again in clear (a TOTP seed, a take link waiting in the
outbox): AES-256-GCM under a key derived from the server's secret key (HKDF-SHA256, one key per
``purpose``). A changed secret key makes old seals unreadable, which :func:`unseal` reports as
None rather than as an error."""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def _key(pepper: bytes, purpose: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=f"etest:{purpose}".encode()
    ).derive(pepper)


def seal(pepper: bytes, purpose: str, text: str) -> str:
    nonce = os.urandom(12)
    sealed = AESGCM(_key(pepper, purpose)).encrypt(nonce, text.encode(), purpose.encode())
    return base64.urlsafe_b64encode(nonce + sealed).decode()


def unseal(pepper: bytes, purpose: str, token: str) -> str | None:
    try:
        raw = base64.urlsafe_b64decode(token.encode())
        opened = AESGCM(_key(pepper, purpose)).decrypt(raw[:12], raw[12:], purpose.encode())
    except (InvalidTag, ValueError):
        return None
    return opened.decode()

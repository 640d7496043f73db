"""The credential signing key: one Ed25519 key per deployment, generated on first use into
``settings.keys_path`` and published as a JWKS at ``/.well-known/jwks.json``.

Several processes (``etest serve`` workers, ``etest worker``) may need the key at the same
moment on a fresh deployment: the key is written to a private temporary file and *linked* into
place, which fails when another process got there first, so every process ends up signing with
the one key on disk. Rotation: see ``docs/certificates.md`` (older public keys stay published
as ``*.pub.pem`` beside the current key, so credentials signed before a rotation still verify).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from etest.config import Settings

#: The current private key (PKCS#8 PEM, mode 0600).
PRIVATE_KEY_FILE = "credential-signing-ed25519.pem"
#: Public keys of retired signing keys: ``<anything>.pub.pem`` in the same folder.
RETIRED_SUFFIX = ".pub.pem"


@dataclass(frozen=True)
class SigningKey:
    private_key: Ed25519PrivateKey
    #: The RFC 7638 thumbprint of the public key: the JWT ``kid`` and the JWKS ``kid``.
    kid: str


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def public_jwk(public_key: Ed25519PublicKey) -> dict[str, str]:
    """The OKP JWK (RFC 8037) of a public key, with its thumbprint as ``kid``."""
    x = _b64url(public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": x,
        "kid": thumbprint(x),
        "use": "sig",
        "alg": "EdDSA",
    }


def thumbprint(x: str) -> str:
    """RFC 7638: SHA-256 over the required members in lexicographic order, no whitespace."""
    canonical = json.dumps(
        {"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"), sort_keys=True
    )
    return _b64url(hashlib.sha256(canonical.encode()).digest())


def _create(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".key-")  # mkstemp: mode 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
            fh.flush()
            os.fsync(fh.fileno())
        # atomic, and fails when another process made the key first: then theirs is the key
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        os.unlink(tmp)


_cache: dict[Path, SigningKey] = {}


def signing_key(settings: Settings) -> SigningKey:
    """The current signing key, created on first use (cached per process)."""
    path = settings.keys_path / PRIVATE_KEY_FILE
    cached = _cache.get(path)
    if cached is not None:
        return cached
    if not path.exists():
        _create(path)
    loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(loaded, Ed25519PrivateKey):
        raise RuntimeError(f"{path} is not an Ed25519 private key")
    key = SigningKey(loaded, public_jwk(loaded.public_key())["kid"])
    _cache[path] = key
    return key


def jwks(settings: Settings) -> dict[str, Any]:
    """The public keys that verify our credentials: the current one, then retired ones."""
    keys = [public_jwk(signing_key(settings).private_key.public_key())]
    for pub in sorted(settings.keys_path.glob(f"*{RETIRED_SUFFIX}")):
        loaded = serialization.load_pem_public_key(pub.read_bytes())
        if isinstance(loaded, Ed25519PublicKey):
            jwk = public_jwk(loaded)
            if all(k["kid"] != jwk["kid"] for k in keys):
                keys.append(jwk)
    return {"keys": keys}

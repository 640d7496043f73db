"""argon2id password hashes (argon2-cffi, RFC 9106's second recommended parameters). Hashing and
checking take tens of milliseconds of CPU, so callers run them off the event loop."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from starlette.concurrency import run_in_threadpool

from etest.staff.errors import WeakPassword

_hasher = PasswordHasher()  # argon2id, t=3, m=64 MiB, p=4
#: checked against when no account matches, so that an unknown email costs the same time
_DUMMY = _hasher.hash("no account has this password")
MIN_LENGTH = 10
MAX_LENGTH = 200


def check_strength(password: str) -> None:
    """The one password rule (NIST SP 800-63B: length, not composition)."""
    if len(password) < MIN_LENGTH:
        raise WeakPassword(f"Use at least {MIN_LENGTH} characters.")
    if len(password) > MAX_LENGTH:
        raise WeakPassword(f"Use at most {MAX_LENGTH} characters.")


async def hash_password(password: str) -> str:
    check_strength(password)
    return await run_in_threadpool(_hasher.hash, password)


def _verify(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _DUMMY, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


async def verify_password(stored: str | None, password: str) -> bool:
    """True when ``password`` matches ``stored``; an absent hash takes as long and is False."""
    if len(password) > MAX_LENGTH:
        return False
    return await run_in_threadpool(_verify, stored, password)

"""Staff accounts and their sessions: the one place the console's sign-in rules live.

* An account has the role and organization an API key would have; :func:`actor_of` makes the
  :class:`Actor` every service takes, named ``staff:<email>`` in the audit log.
* A session is a random cookie value; the database keeps its keyed digest. It lasts
  :data:`SESSION_HOURS` at most and ends after :data:`IDLE_MINUTES` without a request. A session
  opened by a password on an account with a second factor is *pending* until the TOTP code is
  given (``second_factor_ok``); a pending session opens no page.
* A disabled account's sessions stop working at once.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from etest.audit.service import record
from etest.auth.actor import GLOBAL_ROLES, ROLES, Actor
from etest.config import Settings
from etest.errors import InvalidValue
from etest.kit.secrets import digest
from etest.models import StaffAccount, StaffSession
from etest.models.base import utcnow
from etest.organization import repository as org_repository
from etest.staff import repository
from etest.staff.errors import StaffEmailTaken
from etest.staff.passwords import hash_password, verify_password

SESSION_HOURS = 12
IDLE_MINUTES = 60


@dataclass(frozen=True)
class SignedIn:
    """A live session: the account, the actor it acts as, and the session's digest."""

    account: StaffAccount
    actor: Actor
    session_id: str
    second_factor_ok: bool


def actor_of(account: StaffAccount, org_path: str | None) -> Actor:
    return Actor(
        subject=f"staff:{account.email}",
        role=account.role,  # type: ignore[arg-type]
        organization_id=account.organization_id,
        org_path=org_path,
    )


def normalise_email(email: str) -> str:
    return email.strip().lower()


async def create_account(
    session: AsyncSession,
    actor: Actor,
    *,
    email: str,
    name: str,
    role: str,
    uic: str | None,
    password: str | None = None,
) -> StaffAccount:
    """A new account (a password only from the command line or the demo: the console invites)."""
    if role not in ROLES:
        raise InvalidValue(f"{role!r} is not a role: one of {', '.join(ROLES)}.")
    organization_id = None
    if uic is not None:
        if role == "content_manager":
            raise InvalidValue("A content manager belongs to no organization.")
        org = await org_repository.get_by_uic(session, actor, uic)
        organization_id = org.id
    elif role not in GLOBAL_ROLES:
        raise InvalidValue(f"The role {role!r} needs an organization.")
    address = normalise_email(email)
    if await repository.account_by_email(session, address) is not None:
        raise StaffEmailTaken(f"{address} has an account already.")
    account = StaffAccount(
        email=address,
        name=name.strip(),
        role=role,
        organization_id=organization_id,
        password_hash=await hash_password(password) if password else None,
        created_by=actor.subject,
    )
    session.add(account)
    await session.flush()
    record(
        session,
        actor,
        "staff.create",
        target_type="staff",
        target_id=account.id,
        organization_id=organization_id,
        details={"email": address, "role": role},
    )
    return account


async def authenticate(session: AsyncSession, email: str, password: str) -> StaffAccount | None:
    """The account ``email`` and ``password`` name, or None (an unknown email, a wrong password
    and a disabled account look alike and take as long)."""
    account = await repository.account_by_email(session, normalise_email(email))
    ok = await verify_password(account.password_hash if account else None, password)
    if not ok or account is None or account.disabled_at is not None:
        return None
    return account


def needs_second_factor(account: StaffAccount) -> bool:
    return account.totp_enabled_at is not None


async def open_session(
    session: AsyncSession,
    settings: Settings,
    account: StaffAccount,
    *,
    second_factor_ok: bool,
    ip: str | None = None,
    user_agent: str | None = None,
) -> str:
    """A new session for ``account``; returns the cookie value (shown once, stored digested)."""
    value = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        StaffSession(
            id=digest(settings.pepper(), f"staff-session:{value}"),
            account_id=account.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(hours=SESSION_HOURS),
            second_factor_ok=second_factor_ok,
            ip=ip,
            user_agent=(user_agent or "")[:300] or None,
        )
    )
    if second_factor_ok:
        account.last_sign_in_at = now
    return value


def session_id_of(settings: Settings, value: str) -> str:
    return digest(settings.pepper(), f"staff-session:{value}")


async def signed_in(session: AsyncSession, settings: Settings, value: str) -> SignedIn | None:
    """The live session behind a cookie value, or None (unknown, expired, idle, disabled)."""
    if not value or len(value) > 100:
        return None
    session_id = session_id_of(settings, value)
    found = await repository.session_with_account(session, session_id)
    if found is None:
        return None
    row, account, path = found
    now = utcnow()
    idle = now - row.last_seen_at > timedelta(minutes=IDLE_MINUTES)
    if row.expires_at <= now or idle or account.disabled_at is not None:
        await session.delete(row)
        return None
    if now - row.last_seen_at > timedelta(minutes=1):
        row.last_seen_at = now
    return SignedIn(account, actor_of(account, path), session_id, row.second_factor_ok)


async def confirm_second_factor(session: AsyncSession, session_id: str) -> None:
    row = await session.get(StaffSession, session_id)
    if row is not None:
        row.second_factor_ok = True
        account = await session.get(StaffAccount, row.account_id)
        if account is not None:
            account.last_sign_in_at = utcnow()


async def close_session(session: AsyncSession, session_id: str) -> None:
    row = await session.get(StaffSession, session_id)
    if row is not None:
        await session.delete(row)


async def close_all_sessions(session: AsyncSession, account_id: uuid.UUID) -> None:
    """Sign the account out everywhere (a password change, a reset, disabling)."""
    await repository.drop_sessions(session, account_id)


async def set_password(session: AsyncSession, account: StaffAccount, password: str) -> None:
    account.password_hash = await hash_password(password)
    await close_all_sessions(session, account.id)

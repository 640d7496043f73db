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

import hmac
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pyotp
from sqlalchemy.ext.asyncio import AsyncSession

from etest.audit.service import record
from etest.auth.actor import GLOBAL_ROLES, ROLES, Actor
from etest.config import OidcProvider, Settings
from etest.errors import Conflict, Forbidden, InvalidValue
from etest.kit.pagination import Pagination, paginate
from etest.kit.sealed import seal, unseal
from etest.kit.secrets import digest
from etest.kit.text import check_name
from etest.models import StaffAccount, StaffSession, StaffTicket
from etest.models.base import utcnow
from etest.organization import repository as org_repository
from etest.outbox.jobs import enqueue
from etest.staff import repository
from etest.staff.errors import StaffEmailTaken
from etest.staff.passwords import check_strength, hash_password, verify_password

SESSION_HOURS = 12
IDLE_MINUTES = 60
#: how long a session waits for its TOTP code
PENDING_MINUTES = 10


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
    # a pending session (password given, code not yet) lives minutes, not hours
    lifetime = (
        timedelta(hours=SESSION_HOURS) if second_factor_ok else timedelta(minutes=PENDING_MINUTES)
    )
    session.add(
        StaffSession(
            id=digest(settings.pepper(), f"staff-session:{value}"),
            account_id=account.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + lifetime,
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


# ---------------------------------------------------------------------------- who manages whom
#
# The operator (a superadmin of no organization) manages every account. An organization's
# admin or superadmin manages the accounts of its subtree whose role is no higher than its own
# (an admin: admin, support, viewer; a superadmin: superadmin too). Content managers and the
# other accounts of no organization are the operator's alone. Nobody disables themselves.

#: the organization roles, lowest first
RANK = {"viewer": 1, "support": 2, "admin": 3, "superadmin": 4}

STATUSES = ("active", "invited", "disabled")


def grantable_roles(actor: Actor) -> list[str]:
    """The roles ``actor`` may give (invite with), highest first."""
    if not actor.can("write"):
        return []
    if actor.is_global:
        return ["superadmin", "admin", "support", "viewer", "content_manager"]
    own = RANK.get(actor.role, 0)
    return [role for role, rank in sorted(RANK.items(), key=lambda r: -r[1]) if rank <= own]


def may_manage(actor: Actor, account: StaffAccount) -> bool:
    """Whether ``actor`` may change ``account`` (which it sees: the repository's scope)."""
    if actor.subject == f"staff:{account.email}":
        return False
    if account.organization_id is None:
        return actor.is_global and actor.can("write")
    return account.role in grantable_roles(actor)


def status_of(account: StaffAccount) -> str:
    if account.disabled_at is not None:
        return "disabled"
    if account.password_hash is None and account.oidc_subject is None:
        return "invited"
    return "active"


@dataclass(frozen=True)
class AccountView:
    account: StaffAccount
    uic: str | None
    status: str
    manageable: bool


def _view(actor: Actor, account: StaffAccount, uic: str | None) -> AccountView:
    return AccountView(account, uic, status_of(account), may_manage(actor, account))


async def list_accounts(
    session: AsyncSession,
    actor: Actor,
    pagination: Pagination,
    *,
    q: str | None = None,
    role: str | None = None,
    status: str | None = None,
    uic: str | None = None,
) -> tuple[int, list[AccountView]]:
    """The accounts ``actor`` sees, newest first (admins and superadmins only)."""
    actor.require("write")
    within = await org_repository.get_by_uic(session, actor, uic) if uic else None
    stmt = repository.filtered(
        actor,
        q=q or None,
        role=role if role in ROLES else None,
        status=status if status in STATUSES else None,
        within=within,
    )
    total, rows = await paginate(
        session, stmt, pagination, StaffAccount.created_at.desc(), StaffAccount.id
    )
    return total, [_view(actor, row[0], row[1]) for row in rows]


async def get_account(session: AsyncSession, actor: Actor, account_id: uuid.UUID) -> AccountView:
    """One account ``actor`` sees (NotFound otherwise, as for a missing one)."""
    actor.require("write")
    account, uic, _path = await repository.visible_account(session, actor, account_id)
    return _view(actor, account, uic)


async def _manageable(session: AsyncSession, actor: Actor, account_id: uuid.UUID) -> AccountView:
    view = await get_account(session, actor, account_id)
    if not view.manageable:
        raise Forbidden("You may not change this account.")
    return view


async def uic_of(session: AsyncSession, organization_id: uuid.UUID) -> str | None:
    return (await org_repository.uics_by_id(session, {organization_id})).get(organization_id)


def _audit(
    session: AsyncSession, actor: Actor, action: str, account: StaffAccount, **details: Any
) -> None:
    record(
        session,
        actor,
        action,
        target_type="staff",
        target_id=account.id,
        organization_id=account.organization_id,
        details={"email": account.email, **details},
    )


async def invite(
    session: AsyncSession,
    settings: Settings,
    actor: Actor,
    *,
    email: str,
    name: str,
    role: str,
    uic: str | None,
) -> StaffAccount:
    """A new account without a password, and an invitation email with a link valid for
    :data:`INVITATION_DAYS` days (through the outbox)."""
    actor.require("write")
    if role not in grantable_roles(actor):
        raise Forbidden(f"You may not give the role {role!r}.")
    if uic is None and not actor.is_global:
        raise InvalidValue("Name the organization of the new account.")
    address = normalise_email(email)
    local, _, domain = address.partition("@")
    if (
        not local
        or "." not in domain.strip(".")
        or "@" in domain
        or len(address) > 320
        or any(c.isspace() or ord(c) < 32 for c in address)
    ):
        raise InvalidValue("This is not an email address.")
    account = await create_account(
        session, actor, email=address, name=clean_name(name), role=role, uic=uic
    )
    await _send_ticket(session, settings, account, INVITATION)
    return account


async def resend_invitation(
    session: AsyncSession, settings: Settings, actor: Actor, account_id: uuid.UUID
) -> StaffAccount:
    """A new invitation link (the old one stops working) for an account not yet used."""
    account = (await _manageable(session, actor, account_id)).account
    if status_of(account) != "invited":
        raise Conflict("This account has been used already: it needs no invitation.")
    await _send_ticket(session, settings, account, INVITATION)
    _audit(session, actor, "staff.invitation_resent", account)
    return account


async def disable(session: AsyncSession, actor: Actor, account_id: uuid.UUID) -> StaffAccount:
    """The account can no longer sign in; its sessions end at once."""
    account = (await _manageable(session, actor, account_id)).account
    if account.disabled_at is None:
        account.disabled_at = utcnow()
        await close_all_sessions(session, account.id)
        _audit(session, actor, "staff.disable", account)
    return account


async def enable(session: AsyncSession, actor: Actor, account_id: uuid.UUID) -> StaffAccount:
    account = (await _manageable(session, actor, account_id)).account
    if account.disabled_at is not None:
        account.disabled_at = None
        _audit(session, actor, "staff.enable", account)
    return account


async def reset_second_factor(
    session: AsyncSession, actor: Actor, account_id: uuid.UUID
) -> StaffAccount:
    """Remove a member's TOTP (a lost phone): the next sign-in asks for the password only."""
    account = (await _manageable(session, actor, account_id)).account
    if account.totp_secret is not None or account.totp_enabled_at is not None:
        account.totp_secret = None
        account.totp_enabled_at = None
        _audit(session, actor, "staff.totp_reset", account)
    return account


def clean_name(name: str) -> str:
    """A person's name as text (NFC; no control or invisible characters: InvalidValue)."""
    try:
        return check_name(name.strip())[:200]
    except ValueError as exc:
        raise InvalidValue(f"The name is refused: {exc}.") from None


# ---------------------------------------------------------------------------- one-time links

INVITATION = "invitation"
RESET = "reset"
INVITATION_DAYS = 7
RESET_HOURS = 1
#: the outbox job that mails a link (``etest.staff.tasks``)
EMAIL_TOPIC = "staff.email"
#: the ``etest.kit.sealed`` purpose of a link's secret while it waits in the outbox
TICKET_SEAL = "staff-ticket"
LINK_PATHS = {INVITATION: "/console/welcome", RESET: "/console/password/reset"}


def ticket_digest(settings: Settings, code: str) -> str:
    return digest(settings.pepper(), f"staff-ticket:{code}")


def link_of(base_url: str, purpose: str, code: str) -> str:
    return f"{base_url}{LINK_PATHS[purpose]}?ticket={code}"


async def _send_ticket(
    session: AsyncSession, settings: Settings, account: StaffAccount, purpose: str
) -> None:
    now = utcnow()
    await repository.void_tickets(session, account.id, purpose, now)
    code = secrets.token_urlsafe(32)
    lifetime = (
        timedelta(days=INVITATION_DAYS) if purpose == INVITATION else timedelta(hours=RESET_HOURS)
    )
    ticket = StaffTicket(
        digest=ticket_digest(settings, code),
        account_id=account.id,
        purpose=purpose,
        created_at=now,
        expires_at=now + lifetime,
    )
    session.add(ticket)
    await session.flush()
    await enqueue(
        session,
        EMAIL_TOPIC,
        {
            "kind": purpose,
            "account_id": str(account.id),
            "ticket_id": str(ticket.id),
            "to": account.email,
            # the link's secret, readable only with the server's key (never in clear at rest)
            "sealed": seal(settings.pepper(), TICKET_SEAL, code),
        },
        key=f"{purpose}:{ticket.id}",
        organization_id=account.organization_id,
    )


async def request_password_reset(session: AsyncSession, settings: Settings, email: str) -> None:
    """Mail a reset link when ``email`` names an enabled account; says nothing either way."""
    account = await repository.account_by_email(session, normalise_email(email)[:320])
    if account is None or account.disabled_at is not None:
        return
    await _send_ticket(session, settings, account, RESET)
    _audit(session, actor_of(account, None), "staff.password_reset_requested", account)


async def ticket_account(
    session: AsyncSession, settings: Settings, code: str, purpose: str
) -> StaffAccount | None:
    """The enabled account a live (unused, unexpired) link of ``purpose`` opens, or None."""
    if not code or len(code) > 100:
        return None
    ticket = await repository.ticket_by_digest(session, ticket_digest(settings, code))
    if ticket is None or ticket.purpose != purpose or ticket.used_at is not None:
        return None
    if ticket.expires_at <= utcnow():
        return None
    account = await session.get(StaffAccount, ticket.account_id)
    if account is None or account.disabled_at is not None:
        return None
    return account


async def use_ticket(
    session: AsyncSession, settings: Settings, code: str, purpose: str, password: str
) -> StaffAccount | None:
    """Set the password a link asks for and use the link up (once); None when the link does
    not work (any more). Ends the account's other sessions. Raises WeakPassword first."""
    check_strength(password)
    account = await ticket_account(session, settings, code, purpose)
    if account is None:
        return None
    ticket = await repository.ticket_by_digest(session, ticket_digest(settings, code))
    assert ticket is not None
    if not await repository.claim_ticket(session, ticket.id, utcnow()):
        return None
    await set_password(session, account, password)
    action = "staff.invitation_accepted" if purpose == INVITATION else "staff.password_reset"
    _audit(session, actor_of(account, None), action, account)
    return account


# ---------------------------------------------------------------------------- own account


async def update_profile(session: AsyncSession, account: StaffAccount, *, name: str) -> None:
    cleaned = clean_name(name)
    if cleaned != account.name:
        account.name = cleaned
        _audit(session, actor_of(account, None), "staff.profile", account)


async def change_password(
    session: AsyncSession, account: StaffAccount, current: str, new: str
) -> bool:
    """False when ``current`` is wrong. Every session of the account ends (the caller opens a
    new one for the browser that asked)."""
    check_strength(new)
    if not await verify_password(account.password_hash, current):
        return False
    await set_password(session, account, new)
    _audit(session, actor_of(account, None), "staff.password_changed", account)
    return True


# ---------------------------------------------------------------------------- TOTP

TOTP_SEAL = "staff-totp"
TOTP_ISSUER = "eTest"


def totp_secret(settings: Settings, account: StaffAccount) -> str | None:
    if account.totp_secret is None:
        return None
    return unseal(settings.pepper(), TOTP_SEAL, account.totp_secret)


def start_totp(settings: Settings, account: StaffAccount) -> str:
    """A new secret waiting for its first code (nothing changes at sign-in until then)."""
    if account.totp_enabled_at is not None:
        raise Conflict("The second factor is on already.")
    secret = pyotp.random_base32()
    account.totp_secret = seal(settings.pepper(), TOTP_SEAL, secret)
    return secret


def provisioning_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=TOTP_ISSUER)


async def check_code(
    session: AsyncSession, settings: Settings, account: StaffAccount, code: str
) -> bool:
    """True for a current code (one step of drift either way) not accepted before."""
    secret = totp_secret(settings, account)
    code = "".join(code.split())
    if secret is None or len(code) != 6 or not code.isdigit():
        return False
    totp = pyotp.TOTP(secret)
    now = int(time.time()) // totp.interval
    for step in (now - 1, now, now + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return await repository.claim_totp_step(session, account.id, step)
    return False


async def confirm_totp(
    session: AsyncSession, settings: Settings, account: StaffAccount, code: str
) -> bool:
    if account.totp_enabled_at is not None or account.totp_secret is None:
        return False
    if not await check_code(session, settings, account, code):
        return False
    account.totp_enabled_at = utcnow()
    _audit(session, actor_of(account, None), "staff.totp_enabled", account)
    return True


async def disable_totp(
    session: AsyncSession, settings: Settings, account: StaffAccount, code: str
) -> bool:
    if account.totp_enabled_at is None or not await check_code(session, settings, account, code):
        return False
    account.totp_secret = None
    account.totp_enabled_at = None
    _audit(session, actor_of(account, None), "staff.totp_disabled", account)
    return True


# ---------------------------------------------------------------------------- OpenID Connect


async def oidc_account(
    session: AsyncSession,
    provider: OidcProvider,
    *,
    issuer: str,
    subject: str,
    email: str | None,
    email_verified: bool,
) -> StaffAccount | None:
    """The account a provider's verified sign-in opens, or None. The account must exist (staff
    are invited first), be enabled and belong to one of the provider's organizations (or below
    them). The first sign-in finds it by the verified email and links the provider's subject to
    it; later ones by that link, so a changed email at the provider still signs the same person
    in, and nobody else."""
    account = await repository.account_by_oidc(session, issuer, subject)
    first = account is None
    if account is None:
        if not email or not email_verified:
            return None
        account = await repository.account_by_email(session, normalise_email(email))
        if account is None or account.oidc_subject is not None:
            return None
    if account.disabled_at is not None or account.organization_id is None:
        return None
    path = await repository.organization_path(session, account.organization_id)
    allowed = await repository.paths_of_uics(session, provider.uics)
    if path is None or not any(path.startswith(p) for p in allowed):
        return None
    if first:
        account.oidc_issuer, account.oidc_subject = issuer, subject
        _audit(session, actor_of(account, path), "staff.oidc_linked", account, issuer=issuer)
    return account

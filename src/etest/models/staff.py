"""Staff accounts of the console, their sessions and their one-time tickets.

A staff account holds the same role and organization as an API key (``etest.auth.actor``): the
console acts through the services with an :class:`~etest.auth.actor.Actor` built from the
account, so it can do nothing the API could not. Passwords are argon2id hashes; the TOTP secret
is sealed with the server's secret key; sessions and tickets are stored as keyed digests only."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from etest.models.base import Base, Timestamped, UUIDPk, utcnow


class StaffAccount(UUIDPk, Timestamped, Base):
    __tablename__ = "staff_accounts"
    __table_args__ = (UniqueConstraint("oidc_issuer", "oidc_subject", name="uq_staff_oidc"),)

    #: stored lower-cased: one account per address
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(16))
    organization_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("organizations.id"), index=True
    )
    #: argon2id (``$argon2id$…``); None until the invitation is accepted, or for SSO-only staff
    password_hash: Mapped[str | None] = mapped_column(String(200))
    #: sealed base32 TOTP secret (``etest.kit.sealed``); set when enrolment starts
    totp_secret: Mapped[str | None] = mapped_column(String(300))
    #: when the second factor was confirmed: from then on every sign-in asks for a code
    totp_enabled_at: Mapped[datetime | None]
    #: the last TOTP time step accepted: a code is never accepted twice
    totp_last_step: Mapped[int | None]
    oidc_issuer: Mapped[str | None] = mapped_column(String(300))
    oidc_subject: Mapped[str | None] = mapped_column(String(300))
    language: Mapped[str] = mapped_column(String(16), default="en")
    created_by: Mapped[str] = mapped_column(String(300))
    last_sign_in_at: Mapped[datetime | None]
    disabled_at: Mapped[datetime | None]


class StaffSession(Base):
    """A signed-in browser. ``id`` is the keyed digest of the cookie's value."""

    __tablename__ = "staff_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_accounts.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    #: False between the password and the TOTP code: such a session opens no page but the code's
    second_factor_ok: Mapped[bool] = mapped_column(default=True)
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(300))


class StaffTicket(UUIDPk, Base):
    """A one-time link sent by email: ``invitation`` (set a first password) or ``reset``."""

    __tablename__ = "staff_tickets"
    __table_args__ = (Index("ix_staff_tickets_account_purpose", "account_id", "purpose"),)

    digest: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_accounts.id"))
    purpose: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]

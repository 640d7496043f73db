"""A real SMTP server (aiosmtpd) on loopback that keeps what it receives, and the worker context
that sends to it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_string, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from fastapi import FastAPI
from sqlalchemy import select

from etest.config import Settings
from etest.db import transaction
from etest.models import OutboxEvent, OutboxTry
from etest.notification.mailer import mailer_from_settings
from etest.outbox.jobs import JobContext, outbox_id
from tests.support.server import free_port


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class Inbox:
    """The aiosmtpd handler: refuses recipients that start with ``refuse`` (550) or ``later``
    (451), keeps everything else."""

    received: list[Received] = field(default_factory=list)

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address.startswith("refuse"):
            return "550 5.1.1 No such user here"
        if address.startswith("later"):
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content
        assert isinstance(raw, bytes) and envelope.mail_from is not None
        # headers may be raw UTF-8 (SMTPUTF8); bodies and attachments are 7-bit encoded
        message = message_from_string(raw.decode(), policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 2.0.0 Queued as test"

    def to(self, address: str) -> list[EmailMessage]:
        return [r.message for r in self.received if address in r.rcpt_tos]


class SmtpServer:
    """Start, stop and start again on the same port (the mail server going down and back)."""

    def __init__(self, **smtp_options: Any) -> None:
        self.inbox = Inbox()
        self.port = free_port()
        self.options = smtp_options
        self.controller: Controller | None = None

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.controller = Controller(
            self.inbox, hostname="127.0.0.1", port=self.port, enable_SMTPUTF8=True, **self.options
        )
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


def authenticator(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        b"mailer",
        b"p@ss:w/rd",
    )
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def smtp_auth() -> Iterator[SmtpServer]:
    server = SmtpServer(authenticator=authenticator, auth_required=True, auth_require_tls=False)
    server.start()
    yield server
    server.stop()


def context(app: FastAPI, settings: Settings, **update: Any) -> JobContext:
    """What ``etest worker`` builds, with settings changed for the test."""
    changed = settings.model_copy(update=update)
    return JobContext(
        settings=changed, sessionmaker=app.state.sessionmaker, mailer=mailer_from_settings(changed)
    )


def email_job_id(kind: str, attempt_id: str) -> uuid.UUID:
    return outbox_id("email.send", f"{kind}:{attempt_id}")


async def email_row(
    app: FastAPI, kind: str, attempt_id: str
) -> tuple[OutboxEvent | None, list[OutboxTry]]:
    async with transaction(app.state.sessionmaker) as session:
        row_id = email_job_id(kind, attempt_id)
        row = await session.get(OutboxEvent, row_id)
        tries = (
            await session.scalars(
                select(OutboxTry).where(OutboxTry.event_id == row_id).order_by(OutboxTry.number)
            )
        ).all()
        return row, list(tries)

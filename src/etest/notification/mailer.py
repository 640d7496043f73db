"""The SMTP side of the email port (:class:`etest.outbox.jobs.Mailer`).

``ETEST_SMTP_URL`` says where mail goes: ``smtp://[user:password@]host[:port]`` (port 25 by
default; STARTTLS whenever the server offers it, with certificate checks) or
``smtps://[user:password@]host[:port]`` (TLS from the first byte, port 465 by default). User and
password are percent-decoded, so ``p%40ss`` is ``p@ss``.

How a failed send is reported to the outbox (``JobFailed.retry``): a recipient refused with a
permanent 5xx reply, a message refused after ``DATA`` with a 5xx, or a non-ASCII address on a
server without SMTPUTF8 will be refused again, so the job goes dead at once. Everything else
(server down, time-outs, 4xx, a refused login or sender) is about the server or our
configuration, which an operator can fix: the job is retried with back-off and the mail waits in
the outbox meanwhile. With no ``ETEST_SMTP_URL`` at all, nothing is tried: the mail waits, without
using up tries, until a worker runs with the setting, and the worker says so once
(:data:`NOT_CONFIGURED`, :class:`etest.outbox.worker.NotConfigured`).
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any
from urllib.parse import unquote, urlsplit

import aiosmtplib

from etest.config import Settings
from etest.outbox.jobs import JobContext, JobFailed, Mailer
from etest.outbox.worker import NotConfigured

#: What an operator reads (once per worker process) while ``ETEST_SMTP_URL`` is unset.
NOT_CONFIGURED = (
    "SMTP is not configured, so emails wait in the outbox: ETEST_SMTP_URL is not set; "
    "set it (and restart the worker) and they go out"
)

_DEFAULT_PORT = {"smtp": 25, "smtps": 465}


@dataclass(frozen=True)
class SmtpMailer:
    """Sends each message over a fresh connection: a worker sends mail rarely enough that a
    pooled connection would mostly be a stale one."""

    hostname: str
    port: int
    implicit_tls: bool
    username: str | None = None
    password: str | None = None
    timeout: float = 30.0

    @classmethod
    def from_url(cls, url: str, *, timeout: float = 30.0) -> SmtpMailer:
        """Parse ``smtp://`` / ``smtps://`` URLs; a malformed one is a configuration error
        that names the setting (never the password)."""
        parts = urlsplit(url)
        if parts.scheme not in _DEFAULT_PORT or not parts.hostname:
            raise ValueError(
                "ETEST_SMTP_URL must look like smtp://[user:password@]host[:port] "
                "or smtps://[user:password@]host[:port]"
            )
        try:
            port = parts.port or _DEFAULT_PORT[parts.scheme]
        except ValueError as exc:
            raise ValueError("ETEST_SMTP_URL has an invalid port") from exc
        return cls(
            hostname=parts.hostname,
            port=port,
            implicit_tls=parts.scheme == "smtps",
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
            timeout=timeout,
        )

    async def send(self, message: EmailMessage) -> dict[str, Any]:
        """Deliver one message; returns the server's final reply for the try row."""
        try:
            refused, reply = await aiosmtplib.send(
                message,
                hostname=self.hostname,
                port=self.port,
                username=self.username,
                password=self.password,
                use_tls=self.implicit_tls,
                # None: STARTTLS when the server offers it (never on an implicit-TLS link)
                start_tls=False if self.implicit_tls else None,
                timeout=self.timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = {r.recipient: r.code for r in exc.recipients}
            permanent = all(code >= 500 for code in codes.values())
            raise JobFailed(
                f"SMTP server refused the recipient: {_replies(exc.recipients)}",
                retry=not permanent,
                detail={"refused": codes},
            ) from exc
        except aiosmtplib.SMTPDataError as exc:
            raise JobFailed(
                f"SMTP server refused the message: {exc.code} {exc.message}",
                retry=exc.code < 500,
                detail={"code": exc.code},
            ) from exc
        except aiosmtplib.SMTPNotSupported as exc:  # a non-ASCII address, no SMTPUTF8
            raise JobFailed(f"SMTP server cannot carry this message: {exc}", retry=False) from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise JobFailed(
                f"SMTP server said {exc.code} {exc.message}", detail={"code": exc.code}
            ) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:  # down, time-out, TLS, disconnect
            raise JobFailed(f"SMTP server unreachable: {type(exc).__name__}: {exc}") from exc
        return {
            "reply": reply,
            "refused": {k: v.code for k, v in refused.items()},
            "message_id": message["Message-ID"],
        }


def _replies(refusals: list[aiosmtplib.SMTPRecipientRefused]) -> str:
    return "; ".join(f"{r.recipient}: {r.code} {r.message}" for r in refusals)


class UnconfiguredMailer:
    """Stands in while ``ETEST_SMTP_URL`` is unset: every send raises :class:`NotConfigured`
    (a ``JobFailed`` asking for a retry), so mail waits in the outbox instead of being dropped,
    and no try is used up."""

    async def send(self, message: EmailMessage) -> dict[str, Any]:
        raise NotConfigured(NOT_CONFIGURED)


def smtp_missing(ctx: JobContext) -> str | None:
    """The check a mail job registers (``etest.outbox.worker.requires``): why it cannot run in
    this worker, or None."""
    return NOT_CONFIGURED if isinstance(ctx.mailer, UnconfiguredMailer) else None


def mailer_from_settings(settings: Settings) -> Mailer:
    """The mailer the worker uses for ``settings.smtp_url``."""
    if not settings.smtp_url:
        return UnconfiguredMailer()
    return SmtpMailer.from_url(settings.smtp_url, timeout=settings.smtp_timeout)

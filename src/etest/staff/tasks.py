"""Background work of the staff package (registered by ``etest.tasks``): the ``staff.email``
job mails an invitation or a password-reset link.

The link's secret waits in the outbox sealed with the server's key (``etest.kit.sealed``); the
database keeps only its digest (``StaffTicket``). At send time the job reads the ticket again:
a link that was used, replaced by a newer one, or has expired, or an account disabled
meanwhile, is not mailed (the job is cancelled)."""

from __future__ import annotations

import uuid
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from html import escape
from typing import Any

from etest.kit.sealed import unseal
from etest.models import Organization, StaffAccount, StaffTicket
from etest.outbox.jobs import Job, JobCancelled, JobContext, job
from etest.staff.service import (
    EMAIL_TOPIC,
    INVITATION,
    INVITATION_DAYS,
    RESET_HOURS,
    TICKET_SEAL,
    link_of,
)


def _words(kind: str, name: str, organization: str, link: str) -> tuple[str, str]:
    """The subject and the plain text of the email."""
    greeting = f"Hello {name}," if name else "Hello,"
    if kind == INVITATION:
        where = f" for {organization}" if organization else ""
        return (
            "You are invited to the eTest console",
            f"{greeting}\n\n"
            f"You have been given an account on the eTest console{where}.\n"
            f"Open this link to choose your password and sign in:\n\n{link}\n\n"
            f"The link works once, for {INVITATION_DAYS} days.\n",
        )
    return (
        "Reset your eTest console password",
        f"{greeting}\n\n"
        "Someone (we hope you) asked to reset the password of your eTest console account.\n"
        f"Open this link to choose a new password:\n\n{link}\n\n"
        f"The link works once, for {RESET_HOURS} hour. If you did not ask, ignore this email: "
        "your password stays as it is.\n",
    )


def _html(text: str, link: str) -> str:
    body = escape(text).replace(escape(link), f'<a href="{escape(link)}">{escape(link)}</a>')
    paragraphs = "".join(f"<p>{p.replace(chr(10), '<br>')}</p>" for p in body.split("\n\n"))
    return f'<!doctype html><html lang="en"><body>{paragraphs}</body></html>'


@job(EMAIL_TOPIC)
async def send_staff_email(ctx: JobContext, job: Job) -> dict[str, Any]:
    payload = job.payload
    kind = payload["kind"]
    async with ctx.transaction() as session:
        ticket = await session.get(StaffTicket, uuid.UUID(payload["ticket_id"]))
        account = await session.get(StaffAccount, uuid.UUID(payload["account_id"]))
        if ticket is None or account is None or account.disabled_at is not None:
            raise JobCancelled("the account is gone or disabled")
        if ticket.used_at is not None or ticket.expires_at <= ctx.clock():
            raise JobCancelled("the link was used, replaced or has expired")
        org = (
            await session.get(Organization, account.organization_id)
            if account.organization_id
            else None
        )
        name, email, organization = account.name, account.email, org.name if org else ""
    code = unseal(ctx.settings.pepper(), TICKET_SEAL, payload["sealed"])
    if code is None:
        raise JobCancelled("the link cannot be unsealed (the secret key changed)")
    link = link_of(ctx.settings.base_url, kind, code)
    subject, text = _words(kind, name, organization, link)
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = ctx.settings.email_from
    message["To"] = Address(addr_spec=email) if name == "" else Address(name, addr_spec=email)
    message["Date"] = format_datetime(ctx.clock())
    domain = parseaddr(ctx.settings.email_from)[1].rpartition("@")[2] or "etest.invalid"
    message["Message-ID"] = f"<{job.id}@{domain}>"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text)
    message.add_alternative(_html(text, link), subtype="html")
    return await ctx.mailer.send(message)

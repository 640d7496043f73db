"""Emails as MIME messages: a plain-text and an HTML part (``multipart/alternative``), the logo
inline in the HTML (``multipart/related``, ``cid:``), and for a CT pass the certificate PDF as an
attachment (the whole then ``multipart/mixed``).

Rendering is pure: :class:`EmailContent` holds plain values loaded beforehand, so no database
session is open while templates run, and tests can render without a database.

The logo is never fetched from the organization's ``logo_url`` at send time: the worker would
then request any URL an admin typed (SSRF from inside the network), and a slow host would stall
delivery. Every email carries ``settings.default_logo_path`` when it is set and readable, else
the bundled eTest logo (:mod:`etest.kit.logo`). An organization logo *upload* (stored as media)
is future work.
"""

from __future__ import annotations

import re
import zoneinfo
from dataclasses import dataclass, field
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from etest.attempt.outcome import Outcome, PtOutcome, PtStatus
from etest.kit.logo import Logo
from etest.notification.texts import CATALOG, direction, isolate, level_meaning, skill_name

KINDS = ("pt_result", "ct_pass", "ct_fail")
#: the invitation to take a test (console: tokens handed out by email)
INVITE = "token_invite"
_LOGO_CID = "logo@etest.invalid"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_ACCENT = re.compile(r"#[0-9a-fA-F]{6}")


@dataclass(frozen=True)
class EmailContent:
    """Everything one email says, as plain values."""

    kind: str
    to: str
    first_name: str
    last_name: str
    organization: str
    language: str
    #: The organization's time zone: the test date is the date where the candidate sat it.
    timezone: str
    finished_at: datetime
    #: PT: the placed level; CT: the level of the test.
    level: str
    outcome: Outcome
    certificate_code: str | None = None
    verify_url: str | None = None
    certificate_pdf: bytes | None = field(default=None, repr=False)
    #: The organization's accent colour (``settings.accent_color``): a band above the logo.
    accent: str | None = None


@cache
def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("etest.notification", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def message_id(job_id: object, sender: str) -> str:
    """A Message-ID fixed by the outbox job, so a repeated delivery carries the same id and
    the receiving side can drop the duplicate."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "etest.invalid"
    return f"<{job_id}@{domain}>"


def _clean(text: str) -> str:
    # a CR/LF in a name would otherwise end the header (or make the policy refuse it)
    return _CONTROL.sub(" ", text).strip()


def template(content: EmailContent) -> str:
    """The template (and subject) of ``content``: a PT result without a level (too few answers,
    ``unplaced``) has its own words; its job is still the attempt's one ``pt_result``."""
    if content.kind == "pt_result" and content.outcome.status == PtStatus.unplaced:
        return "pt_unplaced"
    return content.kind


def _context(content: EmailContent) -> dict[str, Any]:
    words = CATALOG[content.language]

    def say(key: str, **values: Any) -> str:
        return words[key].format(**values)

    outcome = content.outcome
    name = _clean(content.first_name) or _clean(f"{content.first_name} {content.last_name}")
    finished = content.finished_at.astimezone(zoneinfo.ZoneInfo(content.timezone))
    score = None if isinstance(outcome, PtOutcome) else outcome.score
    next_level = None if isinstance(outcome, PtOutcome) else outcome.next_level
    return {
        "say": say,
        "lang": content.language,
        "dir": direction(content.language),
        "kind": content.kind,
        "greeting": say("greeting", name=name) if name else say("greeting_anonymous"),
        "organization": content.organization,
        "level": isolate(content.level, content.language),
        "next_level": isolate(next_level, content.language) if next_level else None,
        "date": finished.date().isoformat(),
        "outcome": outcome,
        "meaning": level_meaning(content.level, content.language),
        "areas": [skill_name(s, content.language) for s in outcome.areas_for_improvement],
        "score": None if score is None else f"{score:g}",
        "cant_do": []
        if isinstance(outcome, PtOutcome)
        else [c.text for c in outcome.cant_do if c.text],
        "review": []
        if isinstance(outcome, PtOutcome)
        else [{"title": r.title or r.code, "url": r.url} for r in outcome.review_list],
        "certificate_code": content.certificate_code,
        "verify_url": content.verify_url,
        "logo_cid": _LOGO_CID,
        "accent": _accent(content.accent),
    }


def _accent(colour: str | None) -> str | None:
    """The accent as it may stand in a style attribute: ``#rrggbb`` only (it was validated when
    saved; checked again because it lands in HTML)."""
    return colour if colour and _ACCENT.fullmatch(colour) else None


def subject(content: EmailContent) -> str:
    return CATALOG[content.language][f"{template(content)}.subject"].format(
        level=isolate(content.level, content.language)
    )


def _envelope(
    *,
    subject_line: str,
    to: str,
    first_name: str,
    last_name: str,
    sender: str,
    msg_id: str,
    now: datetime,
) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = subject_line
    message["From"] = sender
    # by parts: the parser of ``addr_spec`` refuses a non-ASCII local part, which SMTPUTF8
    # servers accept (the mailer asks for SMTPUTF8 when an address needs it)
    local, _, domain = to.rpartition("@")
    message["To"] = Address(
        display_name=_clean(f"{first_name} {last_name}"), username=local, domain=domain
    )
    message["Date"] = format_datetime(now)
    message["Message-ID"] = msg_id
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies, please
    return message


def _bodies(message: EmailMessage, name: str, ctx: dict[str, Any], logo: Logo) -> None:
    """The text and HTML parts of template ``name``, the logo inline in the HTML."""
    env = _environment()
    message.set_content(env.get_template(f"{name}.txt").render(ctx))
    message.add_alternative(env.get_template(f"{name}.html").render(ctx), subtype="html")
    html = message.get_body(("html",))
    assert html is not None
    html.add_related(
        logo.data,
        maintype="image",
        subtype=logo.subtype,
        cid=f"<{_LOGO_CID}>",
        filename=f"logo.{logo.subtype}",
    )


def render(
    content: EmailContent, *, sender: str, msg_id: str, logo: Logo, now: datetime
) -> EmailMessage:
    """The complete message for ``content``."""
    if content.kind not in KINDS:
        raise ValueError(f"unknown email kind {content.kind!r}")
    message = _envelope(
        subject_line=subject(content),
        to=content.to,
        first_name=content.first_name,
        last_name=content.last_name,
        sender=sender,
        msg_id=msg_id,
        now=now,
    )
    _bodies(message, template(content), _context(content), logo)
    if content.certificate_pdf is not None:
        message.add_attachment(
            content.certificate_pdf,
            maintype="application",
            subtype="pdf",
            filename=f"certificate-{content.certificate_code}.pdf",
        )
    # last: set_content and add_alternative move Content-* headers into the parts
    message["Content-Language"] = content.language
    return message


@dataclass(frozen=True)
class InviteContent:
    """An invitation to take a test: the take link of a token issued from the console (the
    code in clear exists only here and, sealed, in the outbox row)."""

    to: str
    first_name: str
    last_name: str
    organization: str
    language: str
    timezone: str
    #: ``PT``, or ``CT`` with ``level``
    type: str
    level: str | None
    link: str
    expires_at: datetime = field(repr=False)
    accent: str | None = None

    kind: str = INVITE


def _invite_context(content: InviteContent) -> dict[str, Any]:
    words = CATALOG[content.language]

    def say(key: str, **values: Any) -> str:
        return words[key].format(**values)

    name = _clean(content.first_name) or _clean(f"{content.first_name} {content.last_name}")
    expires = content.expires_at.astimezone(zoneinfo.ZoneInfo(content.timezone))
    test = (
        say("token_invite.pt")
        if content.type == "PT"
        else say("token_invite.ct", level=isolate(content.level or "", content.language))
    )
    return {
        "say": say,
        "lang": content.language,
        "dir": direction(content.language),
        "kind": INVITE,
        "greeting": say("greeting", name=name) if name else say("greeting_anonymous"),
        "organization": content.organization,
        "test": test,
        "link": content.link,
        "expires": f"{expires:%Y-%m-%d %H:%M} ({content.timezone})",
        "logo_cid": _LOGO_CID,
        "accent": _accent(content.accent),
    }


def render_invite(
    content: InviteContent, *, sender: str, msg_id: str, logo: Logo, now: datetime
) -> EmailMessage:
    """The invitation email: the take link as a button and in full, until when it works."""
    ctx = _invite_context(content)
    message = _envelope(
        subject_line=CATALOG[content.language]["token_invite.subject"].format(
            org=_clean(content.organization), test=ctx["test"]
        ),
        to=content.to,
        first_name=content.first_name,
        last_name=content.last_name,
        sender=sender,
        msg_id=msg_id,
        now=now,
    )
    _bodies(message, INVITE, ctx, logo)
    message["Content-Language"] = content.language
    return message

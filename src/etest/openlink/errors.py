"""Errors of open links (each a stable problem type; the ``/join`` page says them in
sentences)."""

from __future__ import annotations

from etest.errors import Conflict, EtestError, Forbidden


class OpenLinkClosed(EtestError):
    """The link was revoked or its window has closed: it will not open again."""

    status, code, title = 410, "open-link-closed", "Open link closed"


class OpenLinkNotOpen(Forbidden):
    """The link's window has not begun (the problem carries ``opens_at``)."""

    code = "open-link-not-open"
    title = "Open link not open yet"


class OpenLinkFull(Conflict):
    """The link has been used as many times as its cap allows."""

    code = "open-link-full"
    title = "Open link full"


class AccessCodeWrong(Forbidden):
    """The link asks for an access code and the one given is missing or wrong."""

    code = "access-code-wrong"
    title = "Access code wrong"


class OpenLinkEmailRegistered(Conflict):
    """Registering through a link with an email already registered in the organization's tree:
    refused, so that knowing someone's email does not start a test in their name."""

    code = "open-link-email-registered"
    title = "Email already registered"

"""Errors of candidates (each a stable problem type)."""

from __future__ import annotations

from etest.errors import BadRequest, Conflict


class EmailAmbiguous(Conflict):
    """An email that names candidates of several customers' trees, where one candidate is
    meant: only a global caller sees more than one tree, and it must say which (docs/tenancy.md)."""

    code = "email-ambiguous"
    title = "Email names several candidates"


class EmailRegistered(Conflict):
    """The email is taken in this customer's tree (only that tree is looked at)."""

    code = "email-registered"


class BadUpload(BadRequest):
    """An uploaded file (candidate import, photo) that cannot be read as what it should be."""

    code = "bad-upload"

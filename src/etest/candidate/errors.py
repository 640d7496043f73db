"""Errors of candidates (each a stable problem type)."""

from __future__ import annotations

from etest.errors import Conflict


class EmailAmbiguous(Conflict):
    """An email that names candidates of several customers' trees, where one candidate is
    meant: only a global caller sees more than one tree, and it must say which (docs/tenancy.md)."""

    code = "email-ambiguous"
    title = "Email names several candidates"

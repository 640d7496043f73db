"""Errors of candidates (each a stable problem type)."""

from __future__ import annotations

from etest.errors import BadRequest, Conflict, NotFound


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


class NoPhoto(NotFound):
    """The candidate (found in the caller's subtree) has no photo: a code of its own, so it
    cannot be mistaken for the ``not-found`` that a missing or foreign candidate gets."""

    code = "no-photo"
    title = "No photo"

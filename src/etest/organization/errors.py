"""Errors of the organization tree (each a stable problem type)."""

from __future__ import annotations

from etest.errors import Conflict, Forbidden, Unprocessable


class UicOutsideNamespace(Unprocessable):
    """A UIC outside the namespace its creator may use: below a top-level organization ``R`` a
    non-global caller creates ``R-…`` codes only, and no code of the operator's may fall into
    another top-level organization's namespace (docs/tenancy.md). The answer never says
    whether the code exists, so it tells nothing about another customer's tree."""

    code = "uic-outside-namespace"
    title = "UIC outside the namespace"


class UicTaken(Conflict):
    """Another organization has this UIC."""

    code = "uic-taken"


class InvalidParent(Unprocessable):
    """The organization cannot be placed there (a non-global caller must name a parent)."""

    code = "invalid-parent"


class OrganizationExpired(Forbidden):
    """The organization, or one of its ancestors, is expired or inactive."""

    code = "organization-expired"


class CallbackUrlRefused(Unprocessable):
    """A malformed callback URL, or one the SSRF guard refuses (see :mod:`etest.kit.ssrf`)."""

    code = "callback-url-refused"
    title = "Callback URL refused"

"""Errors of the candidate's pages (rendered as HTML pages by ``PageRoute``, never as JSON)."""

from __future__ import annotations

from etest.errors import Forbidden


class CsrfRefused(Forbidden):
    """A ``/take`` form came without the CSRF field of this browser's page (another site's
    form, or a page older than the browser's cookie)."""

    code, title = "csrf-refused", "Form expired"

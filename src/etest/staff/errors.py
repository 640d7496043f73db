from __future__ import annotations

from etest.errors import Conflict, Forbidden, Unprocessable


class StaffEmailTaken(Conflict):
    """An account with this email exists already (emails are one account each)."""

    code, title = "staff-email-taken", "Email already has an account"


class CsrfRefused(Forbidden):
    """A console form came without its session's CSRF token (another site, or an old tab)."""

    code, title = "csrf-refused", "Form expired"


class WeakPassword(Unprocessable):
    code, title = "weak-password", "Password too weak"

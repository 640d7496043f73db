"""The console's own errors: both become the sign-in page (``console/pages.py``)."""

from __future__ import annotations

from etest.errors import EtestError


class SignInRequired(EtestError):
    """No live session: the console answers with the sign-in page (``next`` = where to go)."""

    status, code, title = 401, "unauthorized", "Sign in"


class SecondFactorRequired(EtestError):
    """A session waiting for its TOTP code: the console answers with the code's page."""

    status, code, title = 401, "unauthorized", "Second factor"

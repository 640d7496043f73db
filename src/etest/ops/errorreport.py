"""Optional error reporting with sentry-sdk (issue 13, part 5; ``docs/operations.md``).

``ETEST_SENTRY_DSN`` set: every process (``api``, ``worker``, ``cli``) reports its unexpected
errors to that Sentry (or GlitchTip, or any server that speaks Sentry's envelopes), tagged with
the component, the environment (``ETEST_SENTRY_ENVIRONMENT``, else ``ETEST_ENV``), the release
(``etest@<version>``) and, for a request, its request id: the same id as the ``X-Request-ID``
response header and every JSON log line of that request, so an operator goes from a Sentry
issue to the logs in one search.

What is reported: an exception that reaches the 500 handler (Starlette re-raises it past the
handler, where sentry-sdk's ASGI integration catches it), and a worker job or event that fails
with an exception that is not the job's own ``JobFailed``/``JobCancelled`` (:func:`report`,
called by ``etest.outbox.worker``). Problems a client caused (4xx) are not errors of the service
and are not reported.

What is never sent: candidates and staff are personal data, and keys, secrets and codes are
credentials, so besides what the SDK is told not to collect (``data_collection``, which this
sentry-sdk uses instead of the deprecated ``send_default_pii=False``: no user or IP, cookies,
bodies, query strings, database query values, nor local variables of stack frames, which hold
the request's values), :func:`scrub` removes from every
event, transaction and breadcrumb: request bodies, cookies, query strings (a take link carries
its code there), sensitive headers, the user's IP, values under credential-like keys, bearer
credentials, the passwords of URLs and email addresses anywhere in messages.
"""

from __future__ import annotations

import re
from typing import Any

import sentry_sdk
from asgi_correlation_id import correlation_id

from etest import __version__
from etest.config import Settings

FILTERED = "[Filtered]"
EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+")
#: The user and password of a URL (``smtp://user:password@host``).
URL_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/\s@]+@")
#: ``Bearer <credential>`` / ``Basic <credential>`` anywhere in a text.
CREDENTIAL = re.compile(r"(?i)\b(bearer|basic)\s+[^\s,;\"']+")
#: Keys whose values are dropped wherever they appear in an event (compared lower-case).
SECRET_KEYS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "cookies",
        "set-cookie",
        "x-api-key",
        "x-forwarded-for",
        "x-real-ip",
        "forwarded",
        "password",
        "secret",
        "token",
        "code",
        "link",
        "query_string",
        "http.query",
        "email",
        "to",
    }
)


def init(settings: Settings, *, component: str) -> None:
    """Start error reporting for this process (``component``: api, worker, cli) when
    ``ETEST_SENTRY_DSN`` is set; a no-op otherwise."""
    if settings.sentry_dsn is None:
        return
    sentry_sdk.init(
        dsn=settings.sentry_dsn.get_secret_value(),
        environment=settings.sentry_environment or settings.env,
        release=f"etest@{__version__}",
        # send_default_pii=False in the words of this sentry-sdk (which deprecates that flag):
        # no user, cookies, bodies, query strings, frame variables or queries
        data_collection={
            "user_info": False,
            "cookies": {"mode": "off"},
            "http_headers": {"request": {"mode": "denylist", "terms": sorted(SECRET_KEYS)}},
            "http_bodies": [],
            "url_query_params": {"mode": "off"},
            "database_query_data": False,
            "queues": False,
            "stack_frame_variables": False,
            "gen_ai": {"inputs": False, "outputs": False},
        },
        include_local_variables=False,
        max_request_body_size="never",
        traces_sample_rate=settings.sentry_traces_sample_rate,
        before_send=scrub,
        before_send_transaction=scrub,
        before_breadcrumb=_scrub_breadcrumb,
    )
    sentry_sdk.get_global_scope().set_tag("component", component)


def report(exc: BaseException, **tags: str) -> None:
    """Report ``exc`` (an unexpected failure outside a request, e.g. a worker job) with
    ``tags``; a no-op when error reporting is off."""
    if not sentry_sdk.is_initialized():
        return
    with sentry_sdk.new_scope() as scope:
        for name, value in tags.items():
            scope.set_tag(name, value)
        sentry_sdk.capture_exception(exc)


def scrub(event: Any, hint: Any = None) -> Any:
    """``before_send``: the event without personal data or secrets (see the module), tagged
    with the request id of the request that raised it, if any."""
    del hint
    request = event.get("request")
    if isinstance(request, dict):
        for key in ("data", "cookies", "query_string", "env"):
            request.pop(key, None)
        if isinstance(request.get("url"), str):
            request["url"] = request["url"].split("?", 1)[0]
        headers = request.get("headers")
        if isinstance(headers, dict):
            request["headers"] = {k: v for k, v in headers.items() if k.lower() not in SECRET_KEYS}
    user = event.get("user")
    if isinstance(user, dict):
        user.pop("ip_address", None)
        user.pop("email", None)
    request_id = correlation_id.get()
    if request_id:
        tags = event.setdefault("tags", {})
        if isinstance(tags, dict):
            tags["request_id"] = request_id
    return _clean(event)


def _scrub_breadcrumb(crumb: Any, hint: Any = None) -> Any:
    del hint
    return _clean(crumb)


def _clean(value: Any) -> Any:
    """Drop values under secret keys and mask emails and bearer credentials in every text."""
    if isinstance(value, str):
        value = URL_USERINFO.sub(r"\1" + FILTERED + "@", value)
        return CREDENTIAL.sub(r"\1 " + FILTERED, EMAIL.sub("[email]", value))
    if isinstance(value, dict):
        return {
            k: FILTERED if isinstance(k, str) and k.lower() in SECRET_KEYS else _clean(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value

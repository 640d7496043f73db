"""The one error base of eTest, rendered as RFC 9457 ``application/problem+json``.

Hierarchy::

    EtestError                      status, stable ``code`` (the last segment of ``type``)
    ├── BadRequest (400)            malformed-json, bad-upload, ...
    ├── Unauthorized (401)          unauthorized
    ├── Forbidden (403)             forbidden, organization-expired
    ├── NotFound (404)              not-found (also for everything outside the actor's subtree)
    ├── Conflict (409)              email-registered, token-exists, ...
    ├── PayloadTooLarge (413)
    ├── HeaderTooLarge (431)
    ├── TooManyRequests (429)       too-many-requests, with Retry-After
    ├── ServiceUnavailable (503)    service-unavailable, with Retry-After
    └── Unprocessable (422)         a rule of the domain refuses a well-formed request
        ├── InvalidValue            validation-error (a value the schema lets through)
        ├── ReversedDateRange       reversed-date-range (results, reports, deliveries)
        └── UnknownLevel            unknown-level (a level filter or field)

One way to raise: every error is a named class with its ``status`` and ``code`` (a package's own
in its ``errors.py``, shared ones here), never a base with a code passed in
(``tests/test_architecture_errors.py`` holds it).

A problem's ``type`` is ``/errors/<code>``: a URI reference relative to the service, the same on
every deployment, and ``GET /errors/<code>`` describes it. Lower-layer errors (IntegrityError,
validation) are translated in :func:`install_handlers` only; nothing else renders errors.
"""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
log = structlog.get_logger(__name__)

#: Every stable problem code with its one-line description (served at ``/errors/<code>``).
CATALOG: dict[str, str] = {
    "validation-error": "The request body, path or query does not match the schema.",
    "malformed-json": "The request body is not valid JSON.",
    "bad-upload": "The uploaded file cannot be read as the expected format.",
    "payload-too-large": "The request body is larger than the configured limit.",
    "unauthorized": "No valid credential (API key or SSO bearer token) was presented.",
    "forbidden": "The credential's role may not perform this action.",
    "organization-expired": "The organization is expired or inactive.",
    "not-found": "No such resource (or it lies outside the caller's organizations).",
    "method-not-allowed": "The HTTP method is not allowed on this path.",
    "email-registered": "A candidate with this email already exists in this customer's tree "
    "(the top-level organization and everything below it).",
    "uic-taken": "An organization with this UIC already exists (in the caller's own tree).",
    "uic-outside-namespace": "The UIC lies outside the namespace the caller may create in: "
    "below a top-level organization R, codes start with 'R-' "
    "(docs/tenancy.md).",
    "token-exists": "A live token of this type already exists for the candidate.",
    "token-not-live": "The token is no longer live (completed, expired or revoked).",
    "level-not-in-plan": "The level is not part of the candidate's plan.",
    "plan-not-allowed": "The plan is not (or no longer) part of the organization's contract, "
    "or of the caller's own organization's contract.",
    "plan-in-use": "The contract cannot drop a plan an organization below it still has.",
    "plan-alias-taken": "The plan code or alias already names another plan.",
    "email-ambiguous": "The email names candidates in several organizations' trees: give "
    "candidate_id, or a uic to look in.",
    "unknown-level": "The level name is not one of the eleven levels.",
    "unknown-plan": "No plan with this code or old name.",
    "invalid-parent": "The organization cannot be placed under this parent.",
    "conflict": "The request conflicts with the current state of the resource.",
    "no-plan": "Neither the candidate nor its organization has a plan.",
    "candidate-disabled": "The candidate is disabled for further placement tests.",
    "bad-request": "The request cannot be processed as sent.",
    "unprocessable": "A rule of the domain refuses this request.",
    "not-ready": "The service is not ready: database unreachable, its connection pool "
    "exhausted, or not migrated; the member 'reason' says which.",
    "invalid-data": "A value was refused by the database (e.g. out of range).",
    "token-not-found": "No test token with this code.",
    "token-expired": "The test token has expired.",
    "token-revoked": "The test token was revoked or replaced.",
    "token-not-yet-valid": "The test token has a test window that has not begun; the member "
    "'opens_at' says when it opens.",
    "open-link-closed": "The open link was withdrawn or its window has closed.",
    "open-link-not-open": "The open link's window has not begun; the member 'opens_at' says when "
    "it opens.",
    "open-link-full": "The open link has been used as many times as it allows.",
    "access-code-wrong": "The open link asks for an access code, and the one given is missing or "
    "wrong.",
    "open-link-email-registered": "The email is already registered in the organization's tree; an "
    "open link does not register it again.",
    "assessment-unavailable": "No content is loaded for this assessment yet (a token is "
    "refused with 422; an attempt whose content vanished, 409).",
    "needs-review": "The certification attempts the retake policy allows at this level failed: "
    "an oral review must grant another attempt first (docs/review.md).",
    "no-review-pending": "The candidate is not waiting for a review decision at this level.",
    "answer-conflict": "A different answer was already accepted at this position.",
    "attempt-finished": "The attempt is finished (or past its deadline).",
    "wrong-position": "The answer is not for the item being served.",
    "invalid-answer": "The answer does not fit the item (shape or option ids).",
    "invalid-content": "The content import was refused; nothing was written.",
    "bad-qti-package": "The QTI package cannot be read safely.",
    "attempt-in-progress": "The attempt has not finished yet, so it has no result.",
    "no-result": "The candidate has no finished test of this kind yet.",
    "no-photo": "The candidate has no photo (certificates print the default picture).",
    "reversed-date-range": "The date range ends before it starts.",
    "outbox-row-not-found": "No outbox row with this id.",
    "outbox-row-not-retryable": "Only a dead or cancelled outbox row can be retried.",
    "callback-url-refused": "The callback URL is malformed or resolves to an address the SSRF "
    "guard refuses (loopback, private, link-local, metadata ...).",
    "delivery-running": "A worker is delivering this callback right now.",
    "callback-disabled": "The callback endpoint answered 410 Gone; save callback_url to "
    "re-enable it.",
    "certificate-download-disabled": "The organization does not let candidates download "
    "their certificates.",
    "certificate-revoked": "The certificate was revoked.",
    "font-missing": "No installed font can print some characters of the certificate.",
    "unknown-report": "No report with this name (see GET /api/v1/reports/{name}.xlsx).",
    "date-range-too-long": "The date range covers more days than a report allows.",
    "report-emails": "The responses report needs candidate emails (at least one, at most 200).",
    "evidence-insufficient": "The placement test's simulation is below the thresholds of its "
    "flow or the settings; a superadmin may publish it with a reason (docs/psychometrics.md).",
    "calibration-not-found": "No calibration with this id.",
    "calibration-not-ready": "The calibration is still running, failed, or was published already.",
    "not-enough-responses": "No item of the request has enough scored responses to calibrate.",
    "staff-email-taken": "A staff account with this email exists already.",
    "csrf-refused": "A form came without its session's CSRF token (another site, or a form "
    "older than the session); reload the page and send it again.",
    "weak-password": "The password is too short or too long (10 to 200 characters).",
    "header-too-large": "A request header (such as Authorization) is longer than the service "
    "accepts; it was refused before being read.",
    "too-many-requests": "Too many failed or repeated tries from this address or with this "
    "credential; wait the Retry-After seconds, then try again.",
    "service-unavailable": "The database cannot be reached or is saturated right now; the "
    "request took effect whole or not at all: retry it after the Retry-After seconds (starting "
    "and answering are idempotent).",
    "internal-error": "An unexpected error; it has been logged with the request id.",
}


class EtestError(Exception):
    """Base of every error a client may see. Subclasses fix ``status`` and ``code``; ``extra``
    becomes members of the problem (e.g. ``token_id``)."""

    status: int = 500
    code: str = "internal-error"
    title: str = "Internal error"

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.extra = extra

    def headers(self) -> dict[str, str] | None:
        """Response headers the error needs (``Retry-After`` ...); none by default."""
        return None


class BadRequest(EtestError):
    status, code, title = 400, "bad-request", "Bad request"


class Unauthorized(EtestError):
    status, code, title = 401, "unauthorized", "Unauthorized"


class Forbidden(EtestError):
    status, code, title = 403, "forbidden", "Forbidden"


class NotFound(EtestError):
    status, code, title = 404, "not-found", "Not found"


class Conflict(EtestError):
    status, code, title = 409, "conflict", "Conflict"


class PayloadTooLarge(EtestError):
    status, code, title = 413, "payload-too-large", "Payload too large"


class HeaderTooLarge(EtestError):
    status, code, title = 431, "header-too-large", "Request header too large"


class _RetryLater(EtestError):
    """An error that tells the client when to come back (``Retry-After``, whole seconds)."""

    def __init__(self, detail: str | None = None, *, retry_after: int, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.retry_after = max(1, int(retry_after))

    def headers(self) -> dict[str, str] | None:
        return {"Retry-After": str(self.retry_after)}


class TooManyRequests(_RetryLater):
    status, code, title = 429, "too-many-requests", "Too many requests"


class ServiceUnavailable(_RetryLater):
    status, code, title = 503, "service-unavailable", "Service unavailable"


class Unprocessable(EtestError):
    status, code, title = 422, "unprocessable", "Unprocessable request"


class InvalidValue(Unprocessable):
    """A value the schema lets through but a rule refuses (``null`` for a field that has no
    null, a role that is not one): the same code as a schema's own refusal, without ``errors``."""

    code = "validation-error"


class ReversedDateRange(Unprocessable):
    """A ``from``/``to`` filter whose end lies before its start (each caller says whether its
    range is half-open or whole days, and so whether an equal pair is refused)."""

    code, title = "reversed-date-range", "Reversed date range"


class UnknownLevel(Unprocessable):
    """A level name (filter or body) that is not one of the eleven levels."""

    code, title = "unknown-level", "Unknown level"


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"/errors/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        **extra,
    }
    if status == 401:
        headers = {"WWW-Authenticate": "Bearer", **(headers or {})}
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        out.append({"loc": loc, "msg": str(err.get("msg", "")), "type": str(err.get("type", ""))})
    return out


def unavailable(request: Request, exc: Exception) -> ServiceUnavailable | None:
    """The 503 for ``exc`` when it is the database being unreachable or saturated
    (``etest.db.database_unavailable``), logged once as a warning; None for any other error.
    The API, the candidate's pages and the console all answer an outage through this."""
    from etest.db import database_unavailable

    reason = database_unavailable(exc)
    if reason is None:
        return None
    retry_after = request.app.state.settings.unavailable_retry_after
    log.warning("database_unavailable", method=request.method, path=request.url.path, reason=reason)
    return ServiceUnavailable(
        f"The database is unavailable right now; retry in {retry_after} seconds.",
        retry_after=retry_after,
    )


def install_handlers(app: FastAPI) -> None:
    """Translate every exception into problem+json; nothing else formats errors.

    A lost or saturated database (``etest.db.database_unavailable``) is a 503 with
    ``Retry-After``, logged once as a warning. It is answered by a handler of its own classes
    (Starlette's ``ExceptionMiddleware``), not by the catch-all: the catch-all runs in
    ``ServerErrorMiddleware``, which re-raises after answering, and uvicorn then closes the
    client's keep-alive connection; during an outage that dropped every client's connection.
    Any other driver error is re-raised from here to the catch-all, as before (500, logged with
    its stack, reported)."""
    import psycopg
    from sqlalchemy.exc import DBAPIError, DisconnectionError
    from sqlalchemy.exc import TimeoutError as PoolTimeoutError

    @app.exception_handler(EtestError)
    async def _etest(_: Request, exc: EtestError) -> JSONResponse:
        return problem(
            exc.status, exc.code, exc.title, exc.detail, headers=exc.headers(), **exc.extra
        )

    async def _database(request: Request, exc: Exception) -> JSONResponse:
        outage = unavailable(request, exc)
        if outage is None:
            raise exc  # a fault, not an outage: the catch-all answers 500 and reports it
        return await _etest(request, outage)

    for cls in (DBAPIError, PoolTimeoutError, DisconnectionError, psycopg.OperationalError):
        app.add_exception_handler(cls, _database)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _validation_errors(exc)
        if any(e["type"] == "json_invalid" for e in errors):
            return problem(
                400,
                "malformed-json",
                "Malformed JSON",
                "The request body is not valid JSON.",
                errors=errors,
            )
        return problem(
            422,
            "validation-error",
            "Validation error",
            "The request does not match the schema.",
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {
            404: "not-found",
            405: "method-not-allowed",
            401: "unauthorized",
            413: "payload-too-large",
        }.get(exc.status_code, "bad-request")
        return problem(exc.status_code, code, code.replace("-", " ").capitalize(), str(exc.detail))

    @app.exception_handler(IntegrityError)
    async def _integrity(_: Request, exc: IntegrityError) -> JSONResponse:
        # A race that a service's pre-check could not see (two requests inserting the same key).
        log.info("integrity_conflict", error=str(exc.orig))
        return problem(
            409, "conflict", "Conflict", "The request conflicts with a concurrent change; retry it."
        )

    @app.exception_handler(DataError)
    async def _data(_: Request, exc: DataError) -> JSONResponse:
        # The database refused a value the schemas let through (a safety net, not a path).
        log.warning("data_error", error=str(exc.orig))
        return problem(
            422, "invalid-data", "Invalid data", "A value cannot be stored by the database."
        )

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled_error", exc_info=exc)
        return problem(
            500,
            "internal-error",
            "Internal error",
            "An unexpected error occurred; it has been logged.",
        )

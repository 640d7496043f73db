"""OpenAPI links: how the value one operation returns feeds the next (RFC-style runtime
expressions, OpenAPI 3.1 §4.8.20). FastAPI emits none; they tell an API user, a client
generator or a stateful fuzzer (``tests/test_api_fuzz.py``) that the ``uic`` of a created
organization is the ``{uic}`` of ``GET /organizations/{uic}``, that an issued token's ``code``
starts an attempt, and so on: organization → candidate → token → attempt → item → answer.

Links are declared here, in one table by method and path, and added to the document when it is
first built. A link to an operation that no longer exists fails the build (and so every test
that reads ``/openapi.json``) instead of silently disappearing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI

__all__ = ["LINKS", "add_links", "install_links"]


@dataclass(frozen=True)
class Link:
    """One link: the target operation as ``"METHOD /path"``, its parameters (``path.x``,
    ``query.x`` or a bare name) and fields of its JSON body, as runtime expressions."""

    target: str
    description: str
    parameters: dict[str, str] = field(default_factory=dict)
    body: dict[str, str] | None = None


_ORG = {"uic": "$response.body#/uic"}
_CANDIDATE = {"candidate_id": "$response.body#/id"}
_TOKEN = {"token_id": "$response.body#/id"}
_OPEN_LINK = {"link_id": "$response.body#/id"}
_STARTED = {"attempt_id": "$response.body#/attempt_id"}
_SAME_ATTEMPT = {"attempt_id": "$request.path.attempt_id"}
_BEARER_HINT = (
    "Send the attempt secret of POST /api/v1/attempts as 'Authorization: Bearer <secret>'."
)


def _attempt_links(ids: dict[str, str], position: str | None) -> dict[str, Link]:
    answer_body = {"position": position} if position else None
    return {
        "GetAttempt": Link(
            "GET /api/v1/attempts/{attempt_id}", f"The attempt's state. {_BEARER_HINT}", ids
        ),
        "GetCurrentItem": Link(
            "GET /api/v1/attempts/{attempt_id}/item", f"The item to answer now. {_BEARER_HINT}", ids
        ),
        "AnswerItem": Link(
            "POST /api/v1/attempts/{attempt_id}/responses",
            f"Answer the item at this position. {_BEARER_HINT}",
            ids,
            answer_body,
        ),
        "FinishAttempt": Link(
            "POST /api/v1/attempts/{attempt_id}/finish",
            f"Finish the attempt now. {_BEARER_HINT}",
            ids,
        ),
    }


#: (method, path, status) -> link name -> link.
LINKS: dict[tuple[str, str, str], dict[str, Link]] = {
    ("POST", "/api/v1/organizations", "201"): {
        "GetOrganization": Link(
            "GET /api/v1/organizations/{uic}", "The organization just created.", _ORG
        ),
        "UpdateOrganization": Link(
            "PATCH /api/v1/organizations/{uic}", "Change its name, contract or settings.", _ORG
        ),
        "ListChildren": Link(
            "GET /api/v1/organizations/{uic}/children", "Its direct children.", _ORG
        ),
        "ListSubtree": Link(
            "GET /api/v1/organizations/{uic}/subtree", "It and everything below it.", _ORG
        ),
        "CreateChildOrganization": Link(
            "POST /api/v1/organizations",
            "An organization below it.",
            body={"parent_uic": "$response.body#/uic"},
        ),
        "CreateCandidate": Link(
            "POST /api/v1/candidates", "A candidate in it.", body={"uic": "$response.body#/uic"}
        ),
        "SearchCandidates": Link(
            "GET /api/v1/candidates",
            "Its candidates (and below).",
            {"query.uic": "$response.body#/uic"},
        ),
    },
    ("PATCH", "/api/v1/organizations/{uic}", "200"): {
        "GetOrganization": Link(
            "GET /api/v1/organizations/{uic}", "The organization as changed.", _ORG
        ),
    },
    ("POST", "/api/v1/candidates", "201"): {
        "GetCandidate": Link(
            "GET /api/v1/candidates/{candidate_id}", "The candidate just created.", _CANDIDATE
        ),
        "UpdateCandidate": Link(
            "PATCH /api/v1/candidates/{candidate_id}",
            "Change names, contact, level or flags.",
            _CANDIDATE,
        ),
        "TransferCandidate": Link(
            "POST /api/v1/candidates/{candidate_id}/transfer",
            "Move the candidate to another organization.",
            _CANDIDATE,
        ),
        "ListTransfers": Link(
            "GET /api/v1/candidates/{candidate_id}/transfers",
            "Where the candidate was moved from and to.",
            _CANDIDATE,
        ),
        "HideCandidate": Link(
            "POST /api/v1/candidates/{candidate_id}/hide",
            "Hide the candidate from lists.",
            _CANDIDATE,
        ),
        "UnhideCandidate": Link(
            "POST /api/v1/candidates/{candidate_id}/unhide", "List the candidate again.", _CANDIDATE
        ),
        "IssueToken": Link(
            "POST /api/v1/tokens",
            "A test token for the candidate.",
            body={"candidate_id": "$response.body#/id"},
        ),
        "ListTokens": Link(
            "GET /api/v1/tokens",
            "The candidate's tokens.",
            {"query.candidate_id": "$response.body#/id"},
        ),
        "GetPlacementResult": Link(
            "GET /api/v1/candidates/{candidate_id}/results/pt",
            "The candidate's latest placement result.",
            _CANDIDATE,
        ),
    },
    ("PATCH", "/api/v1/candidates/{candidate_id}", "200"): {
        "GetCandidate": Link(
            "GET /api/v1/candidates/{candidate_id}", "The candidate as changed.", _CANDIDATE
        ),
    },
    ("POST", "/api/v1/candidates/{candidate_id}/transfer", "200"): {
        "ListTransfers": Link(
            "GET /api/v1/candidates/{candidate_id}/transfers",
            "The transfer just made, with the earlier ones.",
            {"candidate_id": "$request.path.candidate_id"},
        ),
    },
    ("POST", "/api/v1/tokens", "201"): {
        "GetToken": Link("GET /api/v1/tokens/{token_id}", "The token just issued.", _TOKEN),
        "RevokeToken": Link("POST /api/v1/tokens/{token_id}/revoke", "Revoke it.", _TOKEN),
        "ResetToken": Link(
            "POST /api/v1/tokens/{token_id}/reset",
            "Void it (and its unfinished attempt) and issue a new one.",
            _TOKEN,
        ),
        "StartAttempt": Link(
            "POST /api/v1/attempts",
            "The candidate starts the test.",
            body={"token": "$response.body#/code"},
        ),
    },
    ("POST", "/api/v1/open-links", "201"): {
        "GetOpenLink": Link(
            "GET /api/v1/open-links/{link_id}", "The open link just created.", _OPEN_LINK
        ),
        "OpenLinkQr": Link(
            "GET /api/v1/open-links/{link_id}/qr.svg", "Its QR code to print.", _OPEN_LINK
        ),
        "RevokeOpenLink": Link(
            "POST /api/v1/open-links/{link_id}/revoke", "Withdraw it.", _OPEN_LINK
        ),
    },
    ("POST", "/api/v1/tokens/{token_id}/reset", "201"): {
        "GetToken": Link("GET /api/v1/tokens/{token_id}", "The new token.", _TOKEN),
        "StartAttempt": Link(
            "POST /api/v1/attempts",
            "The candidate starts the new token.",
            body={"token": "$response.body#/code"},
        ),
    },
    **{
        ("POST", "/api/v1/attempts", status): _attempt_links(
            _STARTED, "$response.body#/state/current_position"
        )
        for status in ("200", "201")
    },
    ("GET", "/api/v1/attempts/{attempt_id}/item", "200"): _attempt_links(
        _SAME_ATTEMPT, "$response.body#/item/position"
    ),
    ("POST", "/api/v1/attempts/{attempt_id}/responses", "200"): {
        "GetCurrentItem": Link(
            "GET /api/v1/attempts/{attempt_id}/item",
            f"The next item. {_BEARER_HINT}",
            _SAME_ATTEMPT,
        ),
    },
    ("POST", "/api/v1/attempts/{attempt_id}/finish", "200"): {
        "GetResult": Link(
            "GET /api/v1/results/{attempt_id}",
            "Staff read the full result (with a staff credential).",
            _SAME_ATTEMPT,
        ),
    },
    ("PUT", "/api/v1/plans/{code}", "200"): {
        "GetPlan": Link(
            "GET /api/v1/plans/{code}", "The plan as saved.", {"code": "$response.body#/code"}
        ),
    },
}


def add_links(doc: dict[str, Any]) -> dict[str, Any]:
    """Add :data:`LINKS` to an OpenAPI document (in place; returned for convenience)."""
    paths: dict[str, dict[str, Any]] = doc["paths"]

    def operation(method: str, path: str) -> dict[str, Any]:
        try:
            op: dict[str, Any] = paths[path][method.lower()]
        except KeyError:
            raise KeyError(f"OpenAPI link to a missing operation: {method} {path}") from None
        return op

    for (method, path, status), links in LINKS.items():
        response = operation(method, path)["responses"].setdefault(
            status, {"description": "Successful Response"}
        )
        out = response.setdefault("links", {})
        for name, link in links.items():
            target = operation(*link.target.split(" ", 1))
            entry: dict[str, Any] = {
                "operationId": target["operationId"],
                "description": link.description,
            }
            if link.parameters:
                entry["parameters"] = dict(link.parameters)
            if link.body is not None:
                entry["requestBody"] = dict(link.body)
            out[name] = entry
    return doc


def install_links(app: FastAPI) -> None:
    """Serve the app's OpenAPI document with :data:`LINKS` (built once, like FastAPI's own)."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = add_links(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

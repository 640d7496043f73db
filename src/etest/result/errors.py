"""Errors of the results API (each a stable problem type)."""

from __future__ import annotations

from etest.errors import Conflict, NotFound


class AttemptInProgress(Conflict):
    """The attempt exists in the actor's subtree but has no outcome yet: ask again after it
    finishes (a 409 rather than a 404, so a client polling after ``/finish`` knows to wait)."""

    code = "attempt-in-progress"
    title = "Attempt in progress"


class ResultNotFound(NotFound):
    """The candidate is visible but has no finished placement test. A code of its own, so it
    cannot be mistaken for the ``not-found`` that a missing or foreign candidate gets."""

    code = "no-result"
    title = "No result"

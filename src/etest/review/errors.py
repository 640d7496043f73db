"""Errors of review decisions (each a stable problem type). A refused start is the delivery
error :class:`etest.attempt.errors.NeedsReview` (403 ``needs-review``)."""

from __future__ import annotations

from etest.errors import Conflict


class NoReviewPending(Conflict):
    """The candidate is not in ``needs_review`` at this level (the retake policy still allows
    attempts, the level is passed), or the attempt a grant allowed is running: there is nothing
    to decide now."""

    code = "no-review-pending"
    title = "No review pending"

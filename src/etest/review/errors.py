"""Errors of review decisions (each a stable problem type), including the refused start of a
CT that the review rule decides (:class:`NeedsReview`, raised through ``attempt.service.start``)."""

from __future__ import annotations

from etest.errors import Conflict, Forbidden


class NoReviewPending(Conflict):
    """The candidate is not in ``needs_review`` at this level (the retake policy still allows
    attempts, the level is passed), or the attempt a grant allowed is running: there is nothing
    to decide now."""

    code = "no-review-pending"
    title = "No review pending"


class NeedsReview(Forbidden):
    """The CT attempts the retake policy allows at this level failed: an oral review must grant
    another attempt first (403)."""

    code = "needs-review"
    title = "Needs review"

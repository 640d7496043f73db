"""Review decisions: after the last failed certification test at a level (``needs_review``),
support records the outcome of an oral review: ``grant`` (one more attempt) or ``confirm`` (the
lock stays). The rule "may this candidate start another CT at this level" lives here
(:func:`etest.review.service.ensure_may_start_ct`). See ``docs/review.md``."""

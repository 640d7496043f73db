"""Errors of the reports (each a stable problem type).

Hierarchy::

    NotFound (404)
    └── UnknownReport               unknown-report: no report by that name
    Unprocessable (422)
    ├── (etest.errors.ReversedDateRange: ``to`` before ``from``; an equal pair is one day)
    ├── DateRangeTooLong            date-range-too-long: more days than a report covers
    └── ReportEmails                report-emails: the responses report needs 1..N emails
"""

from __future__ import annotations

from etest.errors import NotFound, Unprocessable


class UnknownReport(NotFound):
    """The name is not one of the reports (the detail lists them)."""

    code = "unknown-report"
    title = "Unknown report"


class DateRangeTooLong(Unprocessable):
    """A bound far outside any real data (year 1 to 9999) is a typo, not a report."""

    code = "date-range-too-long"
    title = "Date range too long"


class ReportEmails(Unprocessable):
    """The responses report reads candidates by email: at least one, at most the limit."""

    code = "report-emails"
    title = "Candidate emails needed"

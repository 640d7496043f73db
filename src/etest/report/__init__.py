"""Excel reports over the actor's subtree: placement, responses, CT review, CT log,
institutional Can't-Do and item statistics (design §6, ``docs/reports.md``)."""

from etest.report.service import REPORTS, XLSX, ReportParams, filename, write_report

__all__ = ["REPORTS", "XLSX", "ReportParams", "filename", "write_report"]

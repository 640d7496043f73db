"""Outbox subscribers and job handlers (being written; see etest.outbox.jobs)."""

"""Webhooks (issue 6)."""

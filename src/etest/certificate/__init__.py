"""Certificates (issue 6)."""

"""Notifications (issue 6)."""

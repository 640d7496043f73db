"""Audit log of admin actions."""

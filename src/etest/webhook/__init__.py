"""Signed callbacks to an organization's endpoint (Standard Webhooks) through the outbox, the
SSRF guard in front of them, and their delivery log (docs/callbacks.md)."""

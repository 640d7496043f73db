"""Test tokens: issue, list, revoke and admin reset."""

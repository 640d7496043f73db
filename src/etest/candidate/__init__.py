"""Candidates: registration, search, transfer between organizations, bulk import."""

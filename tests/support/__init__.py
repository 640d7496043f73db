"""Test helpers: real databases, a real JWKS server on loopback, ``create_*`` helpers."""

"""Errors of certificates (each a stable problem type)."""

from __future__ import annotations

from etest.errors import EtestError, Forbidden


class CertificateDownloadDisabled(Forbidden):
    """The organization does not let candidates download their own certificates."""

    code = "certificate-download-disabled"
    title = "Certificate download disabled"


class CertificateRevoked(Forbidden):
    """The certificate was revoked: the candidate can no longer download it."""

    status, code, title = 410, "certificate-revoked", "Certificate revoked"


class FontMissing(EtestError):
    """No installed font has glyphs for some characters of a text on the certificate."""

    status, code, title = 503, "font-missing", "Font missing"

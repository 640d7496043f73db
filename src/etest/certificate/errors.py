"""Errors of certificates (each a stable problem type). A missing font is
:class:`etest.certificate.fonts.FontMissing` (503 ``font-missing``)."""

from __future__ import annotations

from etest.errors import Forbidden


class CertificateDownloadDisabled(Forbidden):
    """The organization does not let candidates download their own certificates."""

    code = "certificate-download-disabled"
    title = "Certificate download disabled"


class CertificateRevoked(Forbidden):
    """The certificate was revoked: the candidate can no longer download it."""

    status, code, title = 410, "certificate-revoked", "Certificate revoked"

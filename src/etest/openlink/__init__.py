"""Open links: a link (or QR code) an organization shares; whoever opens it registers and gets
a test token (``docs/open-links.md``)."""

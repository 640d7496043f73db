"""An organization's brand as every surface draws it: the logo (its upload in the media store,
else the service's default) and the accent colour. The /take pages, the emails and the
certificates read it here, so an organization looks the same on all three."""

from __future__ import annotations

from etest.config import Settings
from etest.content.media import MediaStore
from etest.kit.logo import Logo, organization_logo
from etest.models import Organization


def logo(settings: Settings, org: Organization | None) -> Logo:
    """The organization's uploaded logo, or the default logo (``default_logo_path``, else
    eTest's) when it has none or its file is gone."""
    digest = org.settings.get("logo_sha256") if org is not None else None
    path = MediaStore(settings.media_path).path(digest) if digest else None
    return organization_logo(path, settings.default_logo_path)


def accent(org: Organization | None) -> str | None:
    """The accent colour (``#rrggbb``, validated when set), or None for eTest's own."""
    value = org.settings.get("accent_color") if org is not None else None
    return value if isinstance(value, str) else None

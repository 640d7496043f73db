"""An organization's brand on the candidate's pages: its logo and accent colour.

The pages' CSP allows styles only from files of our own (``style-src 'self'``: no inline
``<style>`` and no ``style`` attribute), so the accent comes as a small generated stylesheet,
``/brand/<organization id>.css``, and the logo as ``/brand/<organization id>/logo``. Both are
named by the organization's id alone, so a page links them without reading the organization
(the item page is on the delivery hot path: it reads no organization); the browser keeps them
ten minutes. An organization without an accent gets an empty stylesheet (the pages' own colours);
one without a logo upload gets the service's default logo (``default_logo_path``, else eTest's).

The text on the accent is white or near-black, whichever reads (``etest.kit.logo.text_on``)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from fastapi import APIRouter, Request, Response

from etest.deps import SessionDep, SettingsDep
from etest.kit.logo import text_on
from etest.models import Organization
from etest.organization import brand
from etest.web.pages import PageRoute

router = APIRouter(route_class=PageRoute, include_in_schema=False)

#: How long a browser keeps the brand files (a change shows within this time).
MAX_AGE = 600


@dataclass(frozen=True)
class Brand:
    """What a page links of its organization's brand (``name``: the logo's alt text, when the
    page knows it)."""

    organization_id: uuid.UUID
    name: str = ""

    @property
    def css_url(self) -> str:
        return f"/brand/{self.organization_id}.css"

    @property
    def logo_url(self) -> str:
        return f"/brand/{self.organization_id}/logo"


def of(organization_id: uuid.UUID | None, name: str = "") -> Brand | None:
    return None if organization_id is None else Brand(organization_id, name)


def stylesheet(accent: str | None) -> str:
    """The accent's rules: the banner and the buttons (their hover a shade darker through a
    filter, so no second colour is computed)."""
    if not accent:
        return "/* no accent colour: the pages' own */\n"
    text = text_on(accent)
    return (
        f":root {{ --accent: {accent}; --accent-text: {text}; }}\n"
        f".banner {{ background: {accent}; color: {text}; }}\n"
        f".banner a, .banner .brand {{ color: {text}; }}\n"
        f".button {{ background: {accent}; color: {text}; }}\n"
        f".button:hover {{ background: {accent}; color: {text}; filter: brightness(0.85); }}\n"
        f"progress {{ accent-color: {accent}; }}\n"
    )


async def _organization(session: SessionDep, organization_id: str) -> Organization | None:
    try:
        wanted = uuid.UUID(organization_id)
    except ValueError:
        return None
    return await session.get(Organization, wanted)


def _cached(body: bytes | str, media_type: str) -> Response:
    return Response(
        body,
        media_type=media_type,
        headers={
            "Cache-Control": f"public, max-age={MAX_AGE}",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/brand/{organization_id}.css")
async def brand_css(session: SessionDep, organization_id: str) -> Response:
    org = await _organization(session, organization_id)
    return _cached(stylesheet(brand.accent(org)), "text/css")


@router.get("/brand/{organization_id}/logo")
async def brand_logo(
    request: Request, session: SessionDep, settings: SettingsDep, organization_id: str
) -> Response:
    found = brand.logo(settings, await _organization(session, organization_id))
    return _cached(found.data, f"image/{found.subtype}")

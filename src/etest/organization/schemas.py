from __future__ import annotations

import uuid
import zoneinfo
from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    AnyHttpUrl,
    AwareDatetime,
    Field,
    StringConstraints,
    field_validator,
)

from etest.kit.schemas import Input, Output, Uic, omittable
from etest.kit.text import NameText
from etest.kit.webhook_signing import check_secret

Region = Literal["ROW", "CN"]


#: A language as a BCP 47 tag of a language, an optional script and an optional region
#: (``en``, ``pt-BR``, ``zh-Hans``, ``zh-Hans-CN``): what the emails and pages choose words by.
LanguageTag = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-[A-Z][a-z]{3})?(-[A-Z]{2})?$")]


#: An accent colour as ``#rrggbb``; the text on it is black or white, whichever reads better
#: (etest.kit.logo.text_on).
AccentColor = Annotated[str, StringConstraints(pattern=r"^#[0-9a-fA-F]{6}$")]
#: A link of the result page: http(s) only (stored in JSON as text).
LinkUrl = Annotated[str, StringConstraints(pattern=r"^https?://[^\s<>\"]+$", max_length=2000)]


class NextStepLink(Input):
    """What a placed candidate is told to do next, with an optional link."""

    text: str = Field(min_length=1, max_length=500, examples=["Enrol in a class at our school"])
    url: LinkUrl | None = None


class NextStep(Input):
    """The result page's next step: one for every level, or one per level (a level's own wins);
    without one, the page offers the Certification Test of the placed level when there is one."""

    text: str | None = Field(None, min_length=1, max_length=500)
    url: LinkUrl | None = None
    levels: dict[str, NextStepLink] | None = None


_LOOPBACK = ("localhost", "127.0.0.1", "[::1]")


def _check_origin(value: str) -> str:
    """``scheme://host[:port]``, lower-cased; https, or http on loopback (local tests)."""
    parts = urlsplit(value.strip())
    origin = f"{parts.scheme}://{parts.netloc}".lower()
    if (
        parts.scheme not in ("https", "http")
        or not parts.hostname
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or parts.username is not None
        or "*" in origin
    ):
        raise ValueError(f"{value!r} is not an origin such as https://lms.example.org")
    if parts.scheme == "http" and parts.netloc.rsplit(":", 1)[0].lower() not in _LOOPBACK:
        raise ValueError(f"{value!r}: only https origins may frame a test (http on loopback)")
    return origin


#: An origin that may frame the organization's tests (``frame-ancestors``): docs/embedding.md.
FrameOrigin = Annotated[str, StringConstraints(max_length=300), AfterValidator(_check_origin)]


class OrganizationSettings(Input):
    """Per-organization switches; defaults are what a new school would expect."""

    notify_after_pt: bool = True
    notify_after_ct: bool = True
    send_certificate_email: bool = True
    show_result_to_candidate: bool = True
    disable_candidate_after_pt: bool = False
    ct_unlock_mode: Literal["auto", "teacher"] = "auto"
    allow_candidate_certificate_download: bool = False
    #: The language of its candidates' pages, emails and certificates when neither the token nor
    #: the candidate names one; None: the candidate's browser decides (English by email).
    language: LanguageTag | None = None
    #: Origins whose pages may embed the organization's tests in a frame; empty: those of the
    #: nearest ancestor with a list (none: no page may).
    frame_ancestors: list[FrameOrigin] = Field(default_factory=list, max_length=20)
    accent_color: AccentColor | None = None
    next_step: NextStep | None = None
    #: The uploaded logo's digest in the media store (set by the console's logo upload).
    logo_sha256: str | None = Field(None, pattern=r"^[0-9a-f]{64}$")


class OrganizationSettingsPatch(Input):
    """The switches to change; an omitted one keeps its value, null is refused (422: it was a
    500 when merged into the stored settings)."""

    notify_after_pt: bool = omittable()
    notify_after_ct: bool = omittable()
    send_certificate_email: bool = omittable()
    show_result_to_candidate: bool = omittable()
    disable_candidate_after_pt: bool = omittable()
    ct_unlock_mode: Literal["auto", "teacher"] = omittable()
    allow_candidate_certificate_download: bool = omittable()
    language: LanguageTag | None = None  # null: not set (the candidate's browser decides)
    frame_ancestors: list[FrameOrigin] = omittable(max_length=20)
    accent_color: AccentColor | None = None  # null: the default colour
    next_step: NextStep | None = None  # null: no step of the organization's own


def _check_timezone(value: str | None) -> str | None:
    if value is not None:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
    return value


class _OrganizationFields(Input):
    name: NameText = omittable(min_length=1, max_length=300)
    region: Region = omittable()
    plan_code: str | None = Field(None, max_length=64, examples=["neo_plus"])
    allowed_plans: list[Annotated[str, StringConstraints(max_length=64)]] | None = Field(
        None,
        max_length=20,
        description="Plans the contract allows besides plan_code (codes or old names); set by "
        "an ancestor's admin or the operator, within the parent's own contract",
    )
    expires_at: AwareDatetime | None = None
    is_active: bool = omittable()
    timezone: str = omittable(
        max_length=64, examples=["Asia/Ho_Chi_Minh"], description="An IANA time zone"
    )
    logo_url: AnyHttpUrl | None = None
    callback_url: AnyHttpUrl | None = None
    callback_secret: str | None = Field(
        None,
        min_length=16,
        max_length=200,
        description="Write-only; never returned. Any string of 16 or more characters (the HMAC "
        "key is its UTF-8 bytes) or a Standard Webhooks 'whsec_<base64>' secret. "
        "Saving a new one keeps the previous one signing for 24 hours.",
    )

    _tz = field_validator("timezone")(_check_timezone)

    @field_validator("callback_secret")
    @classmethod
    def _secret(cls, value: str | None) -> str | None:
        return check_secret(value) if value is not None else None


class OrganizationCreate(_OrganizationFields):
    uic: Uic
    name: NameText = Field(min_length=1, max_length=300)
    parent_uic: Uic | None = Field(None, description="Required unless a global superadmin calls")
    region: Region = "ROW"
    is_active: bool = True
    timezone: str = Field(
        "UTC", max_length=64, examples=["Asia/Ho_Chi_Minh"], description="An IANA time zone"
    )
    settings: OrganizationSettings = Field(default_factory=OrganizationSettings)


class OrganizationUpdate(_OrganizationFields):
    settings: OrganizationSettingsPatch | None = None


class OrganizationOut(Output):
    id: uuid.UUID
    uic: str
    name: str
    parent_uic: str | None
    region: str
    plan_code: str | None
    allowed_plans: list[str] = Field(
        description="The contract: candidates and child organizations may be given plan_code "
        "and these plans"
    )
    expires_at: datetime | None
    is_active: bool
    timezone: str
    logo_url: str | None
    callback_url: str | None
    has_callback_secret: bool
    callback_disabled_at: datetime | None = Field(
        description="Set when the endpoint answered 410 Gone; saving callback_url re-enables"
    )
    settings: OrganizationSettings
    created_at: datetime
    updated_at: datetime

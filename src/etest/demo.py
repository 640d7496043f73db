"""Demo data for the first README command: an organization, an admin API key (kept in
``var/demo_api_key`` so a rerun reuses it) and a candidate. Idempotent."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from etest.apikey import create_api_key
from etest.auth.actor import Actor
from etest.config import Settings
from etest.kit.secrets import digest
from etest.models import ApiKey, Candidate, Organization

#: The demo item bank and flows shipped with eTest (see docs/demo-bank.md).
DEMO_CONTENT = Path(__file__).parent / "data" / "demo"
DEMO_UIC = "DEMO"
DEMO_EMAIL = "demo.candidate@example.org"


@dataclass(frozen=True)
class Demo:
    uic: str
    api_key: str
    candidate_email: str


async def ensure_demo(session: AsyncSession, settings: Settings, actor: Actor) -> Demo:
    org = await session.scalar(select(Organization).where(Organization.uic == DEMO_UIC))
    if org is None:
        org = Organization(uic=DEMO_UIC, name="eTest Demo School", plan_code="neo_plus",
                           path="", settings={})
        session.add(org)
        await session.flush()
        org.path = f"/{org.id.hex}/"
    if await session.scalar(select(Candidate.id).where(Candidate.email == DEMO_EMAIL)) is None:
        session.add(Candidate(organization_id=org.id, email=DEMO_EMAIL, first_name="Demo",
                              last_name="Candidate", registered_from="etest"))
    key_file = settings.var_dir / "demo_api_key"
    key = key_file.read_text().strip() if key_file.exists() else ""
    valid = key and await session.scalar(select(ApiKey.id).where(
        ApiKey.digest == digest(settings.pepper(), key), ApiKey.revoked_at.is_(None)))
    if not valid:
        key = await create_api_key(session, settings, actor, role="admin", uic=DEMO_UIC,
                                   name="demo admin")
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.write_text(key)
        key_file.chmod(0o600)
    await session.flush()
    return Demo(uic=DEMO_UIC, api_key=key, candidate_email=DEMO_EMAIL)

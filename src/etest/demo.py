"""Demo data for the first README command: an organization, an admin API key (kept in
``var/demo_api_key`` so a rerun reuses it), a candidate, and two staff accounts of the console
(the school's admin and a global operator) sharing one password kept in
``var/demo_staff_password``. Idempotent."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from etest.apikey import create_api_key
from etest.auth import repository as auth_repository
from etest.auth.actor import Actor
from etest.candidate import repository as candidate_repository
from etest.config import Settings
from etest.kit.secrets import digest
from etest.models import Candidate
from etest.models.token import LIVE_STATUSES
from etest.organization import repository as org_repository
from etest.organization import service as organizations
from etest.organization.schemas import OrganizationCreate
from etest.staff import repository as staff_repository
from etest.staff import service as staff
from etest.staff.passwords import verify_password

#: The demo item bank and flows shipped with eTest (see docs/demo-bank.md).
DEMO_CONTENT = Path(__file__).parent / "data" / "demo"
DEMO_UIC = "DEMO"
DEMO_EMAIL = "demo.candidate@example.org"
DEMO_ADMIN = "demo.admin@example.org"
DEMO_OPERATOR = "demo.operator@example.org"


@dataclass(frozen=True)
class Demo:
    uic: str
    api_key: str
    candidate_email: str
    take_url: str | None
    staff_password: str = ""


async def ensure_demo(session: AsyncSession, settings: Settings, actor: Actor) -> Demo:
    org = await org_repository.find_by_uic(session, DEMO_UIC)
    if org is None:
        org = await organizations.create(
            session,
            actor,
            OrganizationCreate(uic=DEMO_UIC, name="eTest Demo School", plan_code="neo_plus"),
        )
    # emails are unique per organization tree: another customer may have this address too
    candidate = await candidate_repository.in_tree_by_email(session, org.root_id, DEMO_EMAIL)
    if candidate is None:
        candidate = Candidate(
            organization_id=org.id,
            root_organization_id=org.root_id,
            email=DEMO_EMAIL,
            first_name="Demo",
            last_name="Candidate",
            registered_from="etest",
        )
        session.add(candidate)
    key_file = settings.var_dir / "demo_api_key"
    key = key_file.read_text().strip() if key_file.exists() else ""
    valid = key and await auth_repository.live_key(session, digest(settings.pepper(), key))
    if not valid:
        key = await create_api_key(
            session, settings, actor, role="admin", uic=DEMO_UIC, name="demo admin"
        )
        key_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.write_text(key)
        key_file.chmod(0o600)
    await session.flush()
    code = await _demo_token(session, settings, actor, candidate)
    return Demo(
        uic=DEMO_UIC,
        api_key=key,
        candidate_email=DEMO_EMAIL,
        take_url=f"{settings.base_url}/take?token={code}" if code else None,
        staff_password=await _demo_staff(session, settings, actor),
    )


async def _demo_staff(session: AsyncSession, settings: Settings, actor: Actor) -> str:
    """The demo's staff accounts, with the password of ``var/demo_staff_password``."""
    password_file = settings.var_dir / "demo_staff_password"
    if password_file.exists():
        password = password_file.read_text().strip()
    else:
        password = secrets.token_urlsafe(12)
        password_file.parent.mkdir(parents=True, exist_ok=True)
        password_file.write_text(password)
        password_file.chmod(0o600)
    for email, name, role, uic in (
        (DEMO_ADMIN, "Demo School Admin", "admin", DEMO_UIC),
        (DEMO_OPERATOR, "Demo Operator", "superadmin", None),
    ):
        account = await staff_repository.account_by_email(session, email)
        if account is None:
            await staff.create_account(
                session, actor, email=email, name=name, role=role, uic=uic, password=password
            )
        elif not await verify_password(account.password_hash, password):
            await staff.set_password(session, account, password)
    return password


async def _demo_token(
    session: AsyncSession, settings: Settings, actor: Actor, candidate: Candidate
) -> str | None:
    """A live placement-test token for the demo candidate, reused while it is unfinished (kept
    in ``var/demo_pt_token``); a finished one is replaced, so each run offers a fresh test."""
    from etest.token import repository as token_repository
    from etest.token import service as tokens

    if not await token_repository.plan_has_pt_content(session, "neo_plus"):
        return None
    token_file = settings.var_dir / "demo_pt_token"
    code = token_file.read_text().strip() if token_file.exists() else ""
    if code:
        token = await token_repository.get_by_digest(session, digest(settings.pepper(), code))
        if token is not None and tokens.effective_status(token) in LIVE_STATUSES:
            return code
    for live in await token_repository.live_tokens(session, candidate.id, "PT"):
        live.status = "revoked"
        live.revoke_reason = "replaced by etest demo"
    candidate.disabled = False
    await session.flush()
    _, _, code = await tokens.insert_token(
        session, actor, settings, candidate, DEMO_UIC, "PT", None, "neo_plus", None
    )
    token_file.write_text(code)
    token_file.chmod(0o600)
    return code

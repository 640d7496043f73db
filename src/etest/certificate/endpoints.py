"""Certificate routes: the admin API (scoped to the actor's subtree), the public verification
API and signing keys, and the candidate's own download (attempt secret). The pages (the
``/verify/{code}`` page, the ``/take`` download) are in :mod:`etest.web`."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi import Path as PathParam

from etest.attempt import service as attempt_service
from etest.attempt.endpoints import SecretDep
from etest.certificate import repository, service
from etest.certificate.credential import issuer_profile
from etest.certificate.download import PDF, RendererDep, pdf_response
from etest.certificate.keys import jwks
from etest.certificate.schemas import (
    CertificateOut,
    CertificateRevoke,
    CredentialOut,
    Verification,
)
from etest.deps import ActorDep, SessionDep, SettingsDep
from etest.kit.levels import canonical_level
from etest.kit.pagination import PaginationDep, paginate
from etest.kit.schemas import TEXT_QUERY, Page, Uic, UtcDatetime
from etest.models import Certificate
from etest.organization import repository as org_repository

router = APIRouter(prefix="/api/v1/certificates", tags=["certificates"])
public_router = APIRouter(tags=["certificates"])

#: The verification code as the path carries it: base32 letters and digits.
Code = Annotated[str, PathParam(pattern=r"^[A-Za-z2-7]{1,40}$")]


def _out(certificate: Certificate, uic: str, settings: Any) -> CertificateOut:
    return CertificateOut.model_validate(
        {
            **{
                c: getattr(certificate, c)
                for c in CertificateOut.model_fields
                if c not in ("uic", "verify_url")
            },
            "uic": uic,
            "verify_url": service.verify_url(settings, certificate.code),
        }
    )


@router.get("", response_model=Page[CertificateOut])
async def list_certificates(
    actor: ActorDep,
    session: SessionDep,
    settings: SettingsDep,
    pagination: PaginationDep,
    uic: Annotated[Uic | None, Query(description="This organization and those below it")] = None,
    level: Annotated[str | None, Query(pattern=TEXT_QUERY, max_length=32)] = None,
    from_: Annotated[
        UtcDatetime | None, Query(alias="from", description="Issued at or after")
    ] = None,
    to: Annotated[UtcDatetime | None, Query(description="Issued before")] = None,
) -> Page[CertificateOut]:
    """Certificates issued in the actor's subtree, newest first."""
    org_path = (await org_repository.get_by_uic(session, actor, uic)).path if uic else None
    stmt = repository.filtered(
        actor,
        org_path=org_path,
        level=(canonical_level(level) or level) if level else None,
        issued_from=from_,
        issued_to=to,
    )
    total, rows = await paginate(
        session, stmt, pagination, Certificate.issued_at.desc(), Certificate.id
    )
    return Page(
        items=[_out(c, u, settings) for c, u in rows],
        total=total,
        page=pagination.page,
        per_page=pagination.per_page,
    )


@router.get(
    "/{certificate_id}.pdf",
    response_class=Response,
    responses={200: {"content": {PDF: {}}, "description": "The certificate PDF"}},
)
async def get_certificate_pdf(
    actor: ActorDep,
    session: SessionDep,
    settings: SettingsDep,
    render_pdf: RendererDep,
    certificate_id: uuid.UUID,
) -> Response:
    certificate, _ = await repository.get(session, actor, certificate_id)
    return await pdf_response(session, settings, render_pdf, certificate)


@router.get(
    "/{certificate_id}/credential",
    response_model=CredentialOut,
    responses={
        200: {
            "content": {"text/plain": {}},
            "description": "JSON, or the bare VC-JWT with Accept: text/plain "
            "(the OB 3.0 web resource form)",
        }
    },
)
async def get_credential(
    request: Request,
    actor: ActorDep,
    session: SessionDep,
    settings: SettingsDep,
    certificate_id: uuid.UUID,
) -> Any:
    """The Open Badges 3.0 credential as a VC-JWT (EdDSA), verifiable with the keys at
    ``/.well-known/jwks.json``."""
    certificate, _ = await repository.get(session, actor, certificate_id)
    token, decoded = service.credential_of(certificate)
    accept = request.headers.get("accept", "")
    if "text/plain" in accept or "application/vc+jwt" in accept:
        return Response(token, media_type="text/plain")
    return CredentialOut(
        jwt=token,
        credential=decoded,
        jwks_url=f"{service.base_url(settings)}/.well-known/jwks.json",
    )


@router.post("/{certificate_id}/revoke", response_model=CertificateOut)
async def revoke_certificate(
    actor: ActorDep,
    session: SessionDep,
    settings: SettingsDep,
    certificate_id: uuid.UUID,
    body: CertificateRevoke,
) -> CertificateOut:
    """Revoke (admin; audited). Verification then answers ``revoked``."""
    certificate, uic = await repository.get(session, actor, certificate_id)
    await service.revoke(session, actor, certificate, body.reason)
    return _out(certificate, uic, settings)


@router.get("/{certificate_id}", response_model=CertificateOut)
async def get_certificate(
    actor: ActorDep, session: SessionDep, settings: SettingsDep, certificate_id: uuid.UUID
) -> CertificateOut:
    return _out(*await repository.get(session, actor, certificate_id), settings)


# ---------------------------------------------------------------------------- public


@public_router.get("/api/v1/verify/{code}", response_model=Verification)
async def verify_certificate(session: SessionDep, code: Code) -> Verification:
    """Public check of a verification code: ``valid``, ``revoked`` or ``unknown`` (always 200,
    so a verifier handles one shape). Holder name, level, programme and date only for a known
    code: what the certificate itself shows."""
    return await service.verify(session, code)


@public_router.get("/.well-known/jwks.json")
async def get_jwks(settings: SettingsDep) -> dict[str, Any]:
    """The Ed25519 public keys (OKP JWKs, ``kid`` = RFC 7638 thumbprint) that verify the
    credentials' signatures."""
    return jwks(settings)


@public_router.get("/api/v1/issuer")
async def get_issuer(settings: SettingsDep) -> dict[str, Any]:
    """The issuer profile named in every credential, with where its keys are."""
    return {
        "@context": [
            "https://www.w3.org/ns/credentials/v2",
            "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json",
        ],
        **issuer_profile(service.base_url(settings)),
        "jwks_uri": f"{service.base_url(settings)}/.well-known/jwks.json",
    }


@public_router.get(
    "/api/v1/attempts/{attempt_id}/certificate.pdf",
    response_class=Response,
    responses={200: {"content": {PDF: {}}}},
)
async def get_own_certificate(
    session: SessionDep,
    settings: SettingsDep,
    render_pdf: RendererDep,
    attempt_id: uuid.UUID,
    credentials: SecretDep,
) -> Response:
    """The candidate's certificate, with the attempt secret as the bearer credential; 403
    ``certificate-download-disabled`` unless the organization allows it."""
    attempt = await attempt_service.get_for_candidate(
        session, settings, attempt_id, credentials.credentials if credentials else None
    )
    certificate = await service.for_candidate(session, settings, attempt)
    return await pdf_response(session, settings, render_pdf, certificate)

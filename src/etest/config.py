"""One typed settings object, read from ``ETEST_*`` environment variables (and ``.env``).

Validated at start-up: a wrong value stops the process with a message that names the variable.
"""

from __future__ import annotations

import ipaddress
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import (
    AnyHttpUrl,
    BaseModel,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

Role = Literal["superadmin", "admin", "support", "viewer", "content_manager"]
#: Roles that belong to no organization: a superadmin without a UIC, and content managers.
GlobalRole = Literal["superadmin", "content_manager"]


class TrustedIssuer(BaseModel):
    """An SSO issuer whose bearer JWTs are accepted (one per region)."""

    issuer: str
    jwks_url: AnyHttpUrl
    audience: str
    algorithms: list[str] = Field(default_factory=lambda: ["RS256"])
    role_claim: str = "etest_role"
    uic_claim: str = "etest_uic"
    #: The issuer's tokens may name only organizations of this region (and whose ancestors are
    #: of this region too).
    region: Literal["ROW", "CN"] = "ROW"
    #: Global roles (no organization) this issuer may grant; by default none, so an issuer can
    #: only ever reach organizations of its own region.
    global_roles: list[GlobalRole] = Field(default_factory=list)

    @field_validator("algorithms")
    @classmethod
    def _asymmetric_only(cls, value: list[str]) -> list[str]:
        # A shared-secret algorithm would let anyone holding the public JWKS forge tokens.
        allowed = {
            "RS256",
            "RS384",
            "RS512",
            "PS256",
            "PS384",
            "PS512",
            "ES256",
            "ES384",
            "ES512",
            "EdDSA",
        }
        bad = [alg for alg in value if alg not in allowed]
        if bad or not value:
            raise ValueError(f"algorithms must be asymmetric and non-empty, got {value!r}")
        return value


class OidcProvider(BaseModel):
    """An organization's single sign-on provider for the console (OpenID Connect, authorization
    code flow with PKCE; docs/console/accounts.md). Staff of the organizations ``uics`` (and
    their subtrees) whose account exists may sign in with it."""

    #: the provider's name in the console's addresses (``/console/sign-in/oidc/<name>``)
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,39}$")
    #: the words on the sign-in button: "Sign in with <label>"
    label: str = Field(min_length=1, max_length=80)
    #: the issuer; its ``/.well-known/openid-configuration`` says where everything else is
    issuer: str
    client_id: str = Field(min_length=1)
    #: None for a public client (PKCE alone)
    client_secret: SecretStr | None = None
    uics: list[str] = Field(min_length=1)
    scopes: list[str] = Field(default_factory=lambda: ["openid", "email", "profile"])

    @field_validator("issuer")
    @classmethod
    def _https_issuer(cls, value: str) -> str:
        # plain http only on loopback (a provider of one's own machine, tests)
        loopback = value.startswith(("http://127.0.0.1", "http://localhost", "http://[::1]"))
        if not (value.startswith("https://") or loopback):
            raise ValueError(f"an OIDC issuer must be an https:// URL, got {value!r}")
        return value


class Settings(BaseSettings):
    """Every knob of eTest. Defaults serve one machine with SQLite under ``./var``."""

    model_config = SettingsConfigDict(
        env_prefix="ETEST_", env_file=".env", env_nested_delimiter="__", extra="ignore"
    )

    env: Literal["dev", "test", "prod"] = "dev"
    database_url: str = "sqlite+aiosqlite:///./var/etest.db"
    var_dir: Path = Path("./var")
    #: The public URL printed in links; when unset, ``http://<host>:<port>`` (a wildcard host
    #: such as ``0.0.0.0`` reads as ``127.0.0.1``), so setting only ``ETEST_PORT`` moves links too.
    base_url: str = ""
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    #: Pepper for API-key and token digests; generated into ``var/secret_key`` when absent.
    secret_key: SecretStr | None = None
    log_level: str = "INFO"
    log_json: bool = True
    sso_issuers: list[TrustedIssuer] = Field(default_factory=list)
    #: Minimum seconds between two JWKS refetches of one issuer on an unknown ``kid``.
    jwks_refetch_interval: float = 30.0
    jwks_cache_seconds: float = 300.0
    #: Seconds: SSO tokens that live longer (``exp - iat``, or ``exp - now`` without ``iat``)
    #: are refused, so a leaked token is not good for days.
    sso_max_token_lifetime: float = 12 * 3600.0
    token_ttl_days: int = 30
    max_upload_bytes: int = 5 * 1024 * 1024
    max_content_bytes: int = 100 * 1024 * 1024
    #: Where media files live (default ``<var_dir>/media``).
    media_dir: Path | None = None
    sqlite_busy_timeout_ms: int = 15000
    #: Seconds between two sweeps of attempts past their deadline (0: no sweeper in this
    #: process; ``etest sweep`` does one pass).
    sweep_interval: float = 30.0
    #: Publishing a placement test (docs/flows.md, "Evidence"): simulated candidates per level,
    #: and the thresholds a flow's ``evidence`` block does not set (0: no accuracy threshold).
    evidence_per_level: int = Field(default=200, ge=1, le=10_000)
    evidence_within_one_level: float = Field(default=0.95, ge=0, le=1)
    evidence_max_mean_length: float = Field(default=40.0, gt=0, le=200)

    # -- outbox delivery (docs/outbox.md)
    #: ``embedded``: ``etest serve`` also runs a dispatcher (the SQLite default); ``external``:
    #: only ``etest worker`` processes deliver (PostgreSQL deployments); ``auto``: embedded on
    #: SQLite, external on PostgreSQL.
    worker_mode: Literal["auto", "embedded", "external"] = "auto"
    #: Seconds an idle worker waits before it looks for due rows again.
    worker_poll_interval: float = 1.0
    #: A claimed job not finished within this many seconds is due again (its worker died).
    worker_lease_seconds: float = 120.0
    #: Tries before a job is marked dead; back-off between tries: base * 2**(try-1), capped,
    #: with full jitter.
    #: With the back-off below, 16 tries span about 3 hours on average (at most 6.5): an SMTP
    #: server or a callback endpoint may be down that long without losing a message.
    outbox_max_tries: int = 16
    outbox_backoff_base: float = 5.0
    outbox_backoff_max: float = 3600.0
    #: Further modules a worker imports to register subscribers and job handlers (besides the
    #: built-in ones), e.g. ``["myplugin.tasks"]``; as an environment variable, a JSON list.
    worker_extra_tasks: list[str] = Field(default_factory=list)

    # -- email
    #: ``smtp://[user:password@]host[:port]`` (STARTTLS when offered), ``smtps://`` for
    #: implicit TLS; unset: emails wait in the outbox until it is set.
    smtp_url: str | None = None
    smtp_timeout: float = 30.0
    email_from: str = "eTest <no-reply@etest.invalid>"
    #: A PNG or JPEG used where an organization has no logo (default: the bundled eTest logo).
    default_logo_path: Path | None = None

    # -- certificates
    #: Where the Ed25519 credential signing key lives (default ``<var_dir>/keys``); generated
    #: on first use, published at ``/.well-known/jwks.json``.
    signing_keys_dir: Path | None = None

    # -- callbacks
    callback_timeout: float = 15.0
    #: Addresses or networks (CIDR) a callback URL may resolve to although they are loopback,
    #: private, link-local ... (the SSRF guard refuses those otherwise).
    callback_allow_networks: list[str] = Field(default_factory=list)

    # -- console sign-in (docs/console/accounts.md)
    #: Single sign-on providers of the console; as an environment variable, a JSON list.
    oidc_providers: list[OidcProvider] = Field(default_factory=list)
    #: ``redis://host:port/db``: every rate limit (sign-in, credentials, codes, starts, imports)
    #: is counted there, shared by every process; unset: in the memory of each process.
    redis_url: str | None = None

    # -- production operations (docs/operations.md)
    #: Bytes an ``Authorization`` header may hold; a longer one is refused before any
    #: decoding (431 ``header-too-large``), so a megabyte "token" costs nothing.
    max_auth_header_bytes: int = Field(default=8192, ge=256)
    #: Bytes a JSON request body may hold (the candidate and admin API); uploads and imports
    #: have ``max_upload_bytes`` and ``max_content_bytes``. Enforced while the body streams in.
    max_json_body_bytes: int = Field(default=1024 * 1024, ge=1024)
    #: Bytes of request line plus headers uvicorn buffers before it refuses the request.
    max_request_head_bytes: int = Field(default=32 * 1024, ge=4096)
    #: Addresses or networks (CIDR) of reverse proxies whose ``X-Forwarded-For`` and
    #: ``X-Forwarded-Proto`` are believed (uvicorn's ``forwarded_allow_ips``); as an environment
    #: variable, a JSON list. Empty: the peer address is the client and the scheme is the
    #: socket's.
    trusted_proxies: list[str] = Field(default_factory=list)
    #: ``Strict-Transport-Security`` max-age in seconds, sent when ``ETEST_BASE_URL`` is https
    #: (0: never sent).
    hsts_max_age: int = Field(default=365 * 24 * 3600, ge=0)
    #: Seconds a client is told to wait (``Retry-After``) when the database is unreachable.
    unavailable_retry_after: int = Field(default=5, ge=1)
    #: Rate limits: ``false`` turns every one off (benchmarks on one address do not need it:
    #: only failures and per-token starts are counted). ``rate_limits`` overrides a rule's
    #: limit by its name, e.g. ``{"credential-failures-address": "100/minute"}``.
    rate_limit_enabled: bool = True
    rate_limits: dict[str, str] = Field(default_factory=dict)
    #: Prometheus metrics at ``/metrics``; ``metrics_token`` (optional) is then required as
    #: ``Authorization: Bearer <token>``. Several processes: set ``PROMETHEUS_MULTIPROC_DIR``.
    metrics_enabled: bool = True
    metrics_token: SecretStr | None = None
    #: Error reporting with sentry-sdk when a DSN is set; no personal data is sent.
    sentry_dsn: SecretStr | None = None
    sentry_environment: str | None = None
    sentry_traces_sample_rate: float = Field(default=0.0, ge=0, le=1)

    @model_validator(mode="after")
    def _derive_base_url(self) -> Settings:
        if self.base_url:
            self.base_url = self.base_url.rstrip("/")
        else:
            host = "127.0.0.1" if self.host in ("0.0.0.0", "", "::") else self.host  # noqa: S104
            self.base_url = (
                f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"
            )
        return self

    @field_validator("database_url")
    @classmethod
    def _known_driver(cls, value: str) -> str:
        if not value.startswith(("sqlite+aiosqlite://", "postgresql+psycopg://")):
            raise ValueError(
                "ETEST_DATABASE_URL must start with sqlite+aiosqlite:// or postgresql+psycopg://"
            )
        return value

    @field_validator("sso_max_token_lifetime")
    @classmethod
    def _positive_lifetime(cls, value: float) -> float:
        if not value > 0:
            raise ValueError("ETEST_SSO_MAX_TOKEN_LIFETIME must be a positive number of seconds")
        return value

    @field_validator("callback_allow_networks", "trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str], info: ValidationInfo) -> list[str]:
        for entry in value:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError as exc:
                raise ValueError(
                    f"ETEST_{(info.field_name or '').upper()}: {entry!r} is not an address "
                    "or a network in CIDR notation"
                ) from exc
        return value

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def https(self) -> bool:
        """The public URL is https: cookies are ``Secure`` and HSTS is sent."""
        return self.base_url.startswith("https://")

    @property
    def media_path(self) -> Path:
        return self.media_dir or self.var_dir / "media"

    @property
    def keys_path(self) -> Path:
        return self.signing_keys_dir or self.var_dir / "keys"

    @property
    def embedded_worker(self) -> bool:
        return self.worker_mode == "embedded" or (self.worker_mode == "auto" and self.is_sqlite)

    def pepper(self) -> bytes:
        """The digest pepper: configured, or persisted once in ``var/secret_key``."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value().encode()
        path = self.var_dir / "secret_key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(32))
            path.chmod(0o600)
        return path.read_text().strip().encode()


@lru_cache
def get_settings() -> Settings:
    return Settings()

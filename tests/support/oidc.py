"""An OpenID Connect provider of the tests' own on loopback (a thread): discovery, JWKS, an
authorize endpoint that signs in whoever the test says (``provider.user``) and redirects back
with a code, and a token endpoint that checks the client, the redirect URI and the PKCE
verifier and returns an ID token signed by a key generated here. Nothing is fetched from the
internet.

``provider.tamper`` makes the next ID tokens wrong in one way, to see the console refuse them:
``"nonce"``, ``"audience"``, ``"issuer"``, ``"expired"``, ``"signature"`` (signed by a key not in
the JWKS)."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt

from tests.support.jwks import SigningKey


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    nonce: str | None
    challenge: str | None
    method: str | None
    user: dict[str, Any]
    used: bool = False


@dataclass
class OidcProvider:
    client_id: str = "etest-console"
    client_secret: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    key: SigningKey = field(default_factory=lambda: SigningKey("oidc-1"))
    #: the claims of whoever is signed in at the provider (``sub``, ``email`` ...)
    user: dict[str, Any] = field(default_factory=dict)
    tamper: str | None = None
    grants: dict[str, Grant] = field(default_factory=dict)
    #: the token requests' form fields, for the tests to look at (PKCE, client auth)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    issuer: str = ""

    def id_token(self, grant: Grant) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": grant.client_id,
            "iat": now,
            "exp": now + 300,
            "nonce": grant.nonce,
            **grant.user,
        }
        key = self.key
        if self.tamper == "nonce":
            claims["nonce"] = "not-the-nonce"
        elif self.tamper == "audience":
            claims["aud"] = "someone-else"
        elif self.tamper == "issuer":
            claims["iss"] = "http://127.0.0.1:1/other"
        elif self.tamper == "expired":
            claims["iat"], claims["exp"] = now - 7200, now - 3600
        elif self.tamper == "signature":
            key = SigningKey(self.key.kid)  # same kid, another key
        return jwt.encode(claims, key.private, algorithm="RS256", headers={"kid": key.kid})

    def settings_entry(self, name: str, label: str, uics: list[str]) -> dict[str, Any]:
        """The console's configuration of this provider (``Settings.oidc_providers``)."""
        return {
            "name": name,
            "label": label,
            "issuer": self.issuer,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "uics": uics,
        }


class OidcServer:
    """Serves one :class:`OidcProvider` from a thread on 127.0.0.1 (``with`` starts/stops)."""

    def __init__(self, provider: OidcProvider | None = None) -> None:
        self.provider = provider or OidcProvider()
        provider_ = self.provider

        class Handler(BaseHTTPRequestHandler):
            def _json(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                query = dict(urllib.parse.parse_qsl(url.query))
                iss = provider_.issuer
                if url.path == "/.well-known/openid-configuration":
                    self._json(
                        200,
                        {
                            "issuer": iss,
                            "authorization_endpoint": f"{iss}/authorize",
                            "token_endpoint": f"{iss}/token",
                            "jwks_uri": f"{iss}/jwks",
                            "response_types_supported": ["code"],
                            "subject_types_supported": ["public"],
                            "id_token_signing_alg_values_supported": ["RS256"],
                            "code_challenge_methods_supported": ["S256"],
                        },
                    )
                elif url.path == "/jwks":
                    self._json(200, {"keys": [provider_.key.jwk()]})
                elif url.path == "/authorize":
                    self._authorize(query)
                else:
                    self._json(404, {"error": "not_found"})

            def _authorize(self, query: dict[str, str]) -> None:
                if query.get("client_id") != provider_.client_id or "redirect_uri" not in query:
                    self._json(400, {"error": "invalid_client"})
                    return
                code = secrets.token_urlsafe(16)
                provider_.grants[code] = Grant(
                    client_id=query["client_id"],
                    redirect_uri=query["redirect_uri"],
                    nonce=query.get("nonce"),
                    challenge=query.get("code_challenge"),
                    method=query.get("code_challenge_method"),
                    user=dict(provider_.user),
                )
                back = urllib.parse.urlencode({"code": code, "state": query.get("state", "")})
                self.send_response(302)
                self.send_header("Location", f"{query['redirect_uri']}?{back}")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_POST(self) -> None:
                if self.path != "/token":
                    self._json(404, {"error": "not_found"})
                    return
                length = int(self.headers.get("Content-Length", "0"))
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode()))
                provider_.token_requests.append(form)
                auth = self.headers.get("Authorization", "")
                expected = base64.b64encode(
                    f"{provider_.client_id}:{provider_.client_secret}".encode()
                ).decode()
                if auth != f"Basic {expected}":
                    self._json(401, {"error": "invalid_client"})
                    return
                grant = provider_.grants.get(form.get("code", ""))
                if grant is None or grant.used or form.get("grant_type") != "authorization_code":
                    self._json(400, {"error": "invalid_grant"})
                    return
                verifier = form.get("code_verifier", "")
                challenge = (
                    base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
                    .rstrip(b"=")
                    .decode()
                )
                if (
                    grant.method != "S256"
                    or challenge != grant.challenge
                    or form.get("redirect_uri") != grant.redirect_uri
                ):
                    self._json(400, {"error": "invalid_grant", "error_description": "PKCE"})
                    return
                grant.used = True
                self._json(
                    200,
                    {
                        "access_token": secrets.token_urlsafe(16),
                        "token_type": "Bearer",
                        "expires_in": 300,
                        "id_token": provider_.id_token(grant),
                    },
                )

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.provider.issuer = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> OidcProvider:
        self.thread.start()
        return self.provider

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

"""A real JWKS endpoint on loopback for SSO tests: keys are generated here, never fetched."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey


@dataclass
class SigningKey:
    kid: str
    private: RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )

    def jwk(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(
            jwt.algorithms.RSAAlgorithm.to_jwk(self.private.public_key())
        )
        return {**data, "kid": self.kid, "use": "sig", "alg": "RS256"}


@dataclass
class Issuer:
    """One SSO issuer: its key set (mutable, for rotation) served at ``jwks_url``."""

    issuer: str
    audience: str
    keys: list[SigningKey]
    jwks_url: str = ""
    hits: int = 0

    def sign(
        self,
        claims: dict[str, Any],
        *,
        key: SigningKey | None = None,
        headers: dict[str, Any] | None = None,
    ) -> str:
        key = key or self.keys[0]
        now = int(time.time())
        body = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": "user-1",
            "iat": now,
            "exp": now + 300,
            **claims,
        }
        return jwt.encode(
            body, key.private, algorithm="RS256", headers={"kid": key.kid, **(headers or {})}
        )


class JwksServer:
    """Serves ``/<n>/jwks.json`` for each issuer from a thread, on 127.0.0.1."""

    def __init__(self, issuers: list[Issuer]) -> None:
        self.issuers = issuers
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                try:
                    index = int(self.path.strip("/").split("/")[0])
                    issuer = server.issuers[index]
                except (ValueError, IndexError):
                    self.send_error(404)
                    return
                issuer.hits += 1
                body = json.dumps({"keys": [k.jwk() for k in issuer.keys]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        port = self.httpd.server_address[1]
        for n, issuer in enumerate(issuers):
            issuer.jwks_url = f"http://127.0.0.1:{port}/{n}/jwks.json"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> JwksServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

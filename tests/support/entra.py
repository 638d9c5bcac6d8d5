"""A stand-in for Microsoft Entra ID in tests: an RSA key set served over real HTTP (JWKS) and tokens signed with it.

The API fetches the keys from `jwks_url` exactly as it fetches a tenant's published keys, so signature, issuer,
audience and expiry checks run for real.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

TENANT = "11111111-2222-3333-4444-555555555555"
AUDIENCE = "api://chargeback-test"


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class LocalEntra:
    jwks_url: str
    issuer: str
    key: rsa.RSAPrivateKey
    kid: str = "test-key-1"

    def token(
        self,
        *,
        roles: list[str] | None = None,
        groups: list[str] | None = None,
        audience: str = AUDIENCE,
        issuer: str | None = None,
        expires_in: int = 600,
        key: rsa.RSAPrivateKey | None = None,
        extra: dict[str, object] | None = None,
    ) -> str:
        now = int(time.time())
        claims: dict[str, object] = {
            "iss": issuer or self.issuer,
            "aud": audience,
            "iat": now - 5,
            "nbf": now - 5,
            "exp": now + expires_in,
            "oid": "00000000-0000-0000-0000-00000000000a",
            "roles": roles or [],
        }
        if groups is not None:
            claims["groups"] = groups
        claims.update(extra or {})
        return jwt.encode(claims, key or self.key, algorithm="RS256", headers={"kid": self.kid})

    def env(self) -> dict[str, str]:
        return {
            "CHARGEBACK_API_AUTH": "entra",
            "CHARGEBACK_API_TENANT_ID": TENANT,
            "CHARGEBACK_API_AUDIENCE": AUDIENCE,
            "CHARGEBACK_API_ISSUER": self.issuer,
            "CHARGEBACK_API_JWKS_URL": self.jwks_url,
        }


def other_key() -> rsa.RSAPrivateKey:
    """A key the tenant never published: tokens signed with it must be refused."""
    return _key()


@contextmanager
def local_entra() -> Iterator[LocalEntra]:
    key = _key()
    public = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    body = json.dumps({"keys": [public | {"kid": "test-key-1", "use": "sig", "alg": "RS256"}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_address[1]
        yield LocalEntra(
            jwks_url=f"http://127.0.0.1:{port}/{TENANT}/discovery/v2.0/keys",
            issuer=f"https://login.microsoftonline.com/{TENANT}/v2.0",
            key=key,
        )
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

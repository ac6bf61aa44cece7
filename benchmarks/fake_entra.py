"""A stand-in Entra tenant for the benchmarks: one signing key, its documents, realistic tokens.

The benchmarks must not import from ``tests/`` (the test fixtures are pytest-shaped and may
change with the tests), so this module rebuilds the same idea: a 2048-bit key generated per
run, a discovery document and JWKS for one tenant, and a minting function. The documents can
be served in memory (``fetcher``, for the validator alone) or over loopback HTTP (``serve``,
for a real gunicorn), so both benchmarks validate exactly the same kind of token.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from jwt.algorithms import RSAAlgorithm

from apps.entra_auth.fetch import FetchError
from apps.entra_auth.keys import Fetcher

# Benchmark-only identities: GUID-shaped so that the validator's checks apply unchanged.
TENANT = "b0b0b0b0-1111-4222-8333-444444444444"
API_CLIENT_ID = "b1b1b1b1-5555-4666-8777-888888888888"
SPA_CLIENT_ID = "b2b2b2b2-9999-4aaa-8bbb-cccccccccccc"
USER_OID = "b3b3b3b3-dddd-4eee-8fff-000000000000"
# A delegated v2 token with this many group ids has a ~1.7 KB signing input, which is what
# Entra issues to a user in a handful of groups (entra-token-spec §6.3: 200 groups ~ 12 KB).
DEFAULT_GROUPS = 10


def b64url(data: bytes) -> str:
    """Unpadded base64url, as JWS compact serialisation requires (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _guid() -> str:
    """A random GUID in Entra's lower-case form: group ids, session ids, unique per token."""
    raw = secrets.token_hex(16)
    return f"{raw[:8]}-{raw[8:12]}-4{raw[13:16]}-8{raw[17:20]}-{raw[20:]}"


@dataclass
class SigningKey:
    """The tenant's RSA-2048 key: the benchmark signs with it, Portico verifies with its JWK."""

    kid: str = field(default_factory=lambda: b64url(secrets.token_bytes(20)))
    private: rsa.RSAPrivateKey = field(
        default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )

    def jwk(self) -> dict[str, Any]:
        """The public key as Entra publishes it in its JWKS."""
        public = json.loads(RSAAlgorithm.to_jwk(self.private.public_key()))
        return {"kty": "RSA", "use": "sig", "kid": self.kid, "x5t": self.kid, **public}

    def sign(self, header: dict[str, Any], payload: dict[str, Any]) -> str:
        """A compact RS256 JWS of ``header`` and ``payload``."""
        segments = [
            b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, payload)
        ]
        signing_input = ".".join(segments)
        signature = self.private.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{b64url(signature)}"


class FakeEntra:
    """Discovery + JWKS of one tenant (v2.0 and v1.0 documents), in memory or over HTTP."""

    def __init__(self, key: SigningKey, authority: str = "https://login.microsoftonline.com"):
        self.key = key
        self.authority = authority.rstrip("/")

    @property
    def issuer(self) -> str:
        """The v2.0 issuer, exactly as Portico computes it from the authority and tenant."""
        return f"{self.authority}/{TENANT}/v2.0"

    def documents(self) -> dict[str, bytes]:
        """Path-less URL -> body for every document Portico may fetch for the tenant."""
        base = f"{self.authority}/{TENANT}"
        jwks = json.dumps({"keys": [self.key.jwk()]}).encode()
        v2 = {"issuer": self.issuer, "jwks_uri": f"{base}/discovery/v2.0/keys"}
        v1 = {"issuer": f"{self.authority}/sts/{TENANT}/", "jwks_uri": f"{base}/discovery/keys"}
        return {
            f"{base}/v2.0/.well-known/openid-configuration": json.dumps(v2).encode(),
            f"{base}/.well-known/openid-configuration": json.dumps(v1).encode(),
            f"{base}/discovery/v2.0/keys": jwks,
            f"{base}/discovery/keys": jwks,
        }

    def fetcher(self) -> Fetcher:
        """An in-memory ``Fetcher`` (url -> bytes) for :class:`SigningKeyStore`: no sockets."""
        documents = self.documents()

        def fetch(url: str) -> bytes:
            try:
                return documents[url]
            except KeyError:
                raise FetchError(f"{url}: not served by the fake tenant") from None

        return fetch

    def token(
        self,
        *,
        groups: int = DEFAULT_GROUPS,
        lifetime: int = 3600,
        roles: list[str] | None = None,
        group_ids: list[str] | None = None,
        scopes: str = "access_as_user",
    ) -> str:
        """A valid v2.0 delegated access token for the benchmark API, unique per call.

        ``group_ids`` (instead of ``groups`` random ones), ``roles`` and ``scopes`` let the
        RBAC benchmark send values that its mapping rules know.
        """
        now = int(time.time())
        payload = {
            "aud": API_CLIENT_ID,
            "iss": self.issuer,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            # Opaque Entra-internal claims: present in real tokens, so present in the size.
            "aio": b64url(secrets.token_bytes(112)),
            "azp": SPA_CLIENT_ID,
            "azpacr": "0",
            "groups": group_ids if group_ids is not None else [_guid() for _ in range(groups)],
            "name": "Benchmark User",
            "oid": USER_OID,
            "preferred_username": "benchmark.user@example.com",
            "rh": b64url(secrets.token_bytes(48)),
            "roles": roles if roles is not None else ["Portico.Read"],
            "scp": scopes,
            "sid": _guid(),
            "sub": b64url(secrets.token_bytes(32)),
            "tid": TENANT,
            "uti": b64url(secrets.token_bytes(16)),
            "ver": "2.0",
        }
        return self.key.sign({"typ": "JWT", "alg": "RS256", "kid": self.key.kid}, payload)

    @contextmanager
    def serve(self, host: str = "127.0.0.1") -> Iterator[FakeEntra]:
        """Serve the documents on a loopback port (a daemon thread); ``authority`` follows it.

        Yields a :class:`FakeEntra` whose authority is the server's ``http://`` URL, so that
        the issuer in its tokens matches what a Portico pointed at it expects.
        """
        state: dict[str, bytes] = {}
        server = ThreadingHTTPServer((host, 0), _handler(state))
        server.daemon_threads = True
        served = FakeEntra(self.key, f"http://{host}:{server.server_address[1]}")
        state.update(
            {url.removeprefix(served.authority): body for url, body in served.documents().items()}
        )
        thread = threading.Thread(target=server.serve_forever, name="fake-entra", daemon=True)
        thread.start()
        try:
            yield served
        finally:
            server.shutdown()
            server.server_close()


def _handler(documents: dict[str, bytes]) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to ``documents`` (path -> body); 404 for anything else."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = documents.get(self.path)
            self.send_response(HTTPStatus.OK if body is not None else HTTPStatus.NOT_FOUND)
            body = body if body is not None else b"{}"
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            """Silent: the benchmark's output is the table, not a request log."""

    return Handler

"""Tokens the explainer must explain: one row per way a token goes wrong, shared by the
tests of ``explain_token`` (the command) and of the admin page."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest

from tests.conftest import DROP, OTHER_API_CLIENT_ID, OTHER_TENANT, b64url

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"


def _payload(token: str) -> dict[str, Any]:
    segment = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def _alg_none(make: Callable[..., str]) -> str:
    header = b64url(json.dumps({"alg": "none", "kid": "k1"}).encode())
    return f"{header}.{make().split('.')[1]}.c2ln"


def _hs256(make: Callable[..., str]) -> str:
    secret = "a-shared-secret-of-32-bytes-long"
    return jwt.encode(_payload(make()), secret, algorithm="HS256", headers={"kid": "k1"})


def _expired(make: Callable[..., str]) -> str:
    now = int(time.time())
    return make(claims={"exp": now - 7200, "iat": now - 10800, "nbf": now - 10800})


def _not_yet_valid(make: Callable[..., str]) -> str:
    now = int(time.time())
    return make(claims={"nbf": now + 7230, "iat": now, "exp": now + 9000})


def _other_tenant(make: Callable[..., str], entra: Any) -> str:
    return make(claims={"tid": OTHER_TENANT, "iss": entra.issuer("2.0", OTHER_TENANT)})


def _resigned_by_attacker(make: Callable[..., str]) -> str:
    return make(key="attacker", header={"kid": "k1"})


# id, builder(make, entra), refusal reason, failing step, words the explanation must use
CASES: list[Any] = [
    pytest.param(
        lambda m, e: "not-a-token", "malformed", "format", "not a JWT at all", id="not-a-jwt"
    ),
    pytest.param(lambda m, e: "a.b.c.d.e", "malformed", "format", "encrypted token", id="jwe"),
    pytest.param(
        lambda m, e: _alg_none(m), "bad_algorithm", "header", "unsigned (alg none)", id="alg-none"
    ),
    pytest.param(
        lambda m, e: _hs256(m), "bad_algorithm", "header", "shared secret (HS256)", id="hs256"
    ),
    pytest.param(
        lambda m, e: m(header={"nonce": "graph-nonce"}, claims={"aud": GRAPH_APP_ID}),
        "other_resource",
        "header",
        "(Microsoft Graph)",
        id="graph-token",
    ),
    pytest.param(
        lambda m, e: _other_tenant(m, e),
        "unknown_issuer",
        "issuer",
        "Wrong tenant",
        id="wrong-tenant",
    ),
    pytest.param(
        lambda m, e: m(key="k2"), "unknown_key", "key", "'k2' is not among", id="unknown-kid"
    ),
    pytest.param(
        lambda m, e: _resigned_by_attacker(m),
        "bad_signature",
        "signature",
        "changed after it was signed",
        id="bad-signature",
    ),
    pytest.param(
        lambda m, e: _expired(m),
        "expired",
        "lifetime",
        "expired 2 h 0 min ago",
        id="expired",
    ),
    pytest.param(
        lambda m, e: _not_yet_valid(m),
        "not_yet_valid",
        "lifetime",
        "becomes valid only in 2 h 0 min",
        id="not-yet-valid",
    ),
    pytest.param(
        lambda m, e: m(claims={"aud": OTHER_API_CLIENT_ID}),
        "bad_audience",
        "audience",
        "ENTRA_API_APP_ID_URI",
        id="audience-other-api",
    ),
    pytest.param(
        lambda m, e: m(claims={"aud": "https://graph.microsoft.com"}),
        "bad_audience",
        "audience",
        "for Microsoft Graph",
        id="audience-graph",
    ),
    pytest.param(
        lambda m, e: m(claims={"scp": DROP}),
        "no_permissions",
        "access",
        "App-only token without roles",
        id="no-scp-no-roles",
    ),
    pytest.param(
        lambda m, e: m(claims={"scp": ""}),
        "no_permissions",
        "access",
        "neither scp nor roles",
        id="empty-scp",
    ),
    pytest.param(
        lambda m, e: m(claims={"nonce": "abc"}),
        "not_access_token",
        "access",
        "ID token",
        id="id-token",
    ),
    pytest.param(
        lambda m, e: m(claims={"name": "x" * 20_000}),
        "too_large",
        "format",
        "characters",
        id="too-large",
    ),
]

"""The mapping simulator: which rules a set of claims would match, and what they would grant.

Admins paste a claims JSON, or a token that is decoded **without being trusted** (no signature,
issuer or lifetime check: it only explains, it never authenticates), and see the result that
the same resolution code would give a real request.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from apps.entra_auth.claims import Claims
from apps.entra_auth.validation import has_groups_overage, token_kind
from apps.rbac.models import SourceKind
from apps.rbac.resolution import Grant, grant_for_claims

_PLACEHOLDER_GUID = "00000000-0000-0000-0000-000000000000"


class SimulationInputError(ValueError):
    """The pasted input cannot be read; the message says what to fix."""


@dataclass(frozen=True)
class Simulation:
    claims: Claims
    grant: Grant
    unmatched: tuple[tuple[str, str], ...]  # (source kind, value) that no active rule maps


def untrusted_payload(token: str) -> dict[str, Any]:
    """The payload of a compact JWT, decoded without verifying anything."""
    parts = token.strip().removeprefix("Bearer ").strip().split(".")
    if len(parts) != 3:
        raise SimulationInputError("A token has three dot-separated parts.")
    try:
        raw = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        payload = json.loads(raw)
    except (binascii.Error, ValueError, RecursionError) as exc:
        raise SimulationInputError("The token's payload is not base64url JSON.") from exc
    if not isinstance(payload, dict):
        raise SimulationInputError("The token's payload is not a JSON object.")
    return payload


def claims_for_simulation(document: Mapping[str, Any]) -> Claims:
    """A :class:`Claims` from a claims document; only what resolution reads must be right."""
    scp = document.get("scp", "")
    if not isinstance(scp, str):
        raise SimulationInputError("scp must be a space-separated string.")
    lists = {name: _string_list(document, name) for name in ("roles", "groups", "wids")}
    return Claims(
        tid=str(document.get("tid", _PLACEHOLDER_GUID)),
        oid=str(document.get("oid", _PLACEHOLDER_GUID)),
        sub=str(document.get("sub", "")),
        kind=token_kind(document),
        client_id=str(document.get("azp", document.get("appid", ""))),
        version=str(document.get("ver", "2.0")),
        issuer=str(document.get("iss", "")),
        audience=str(document.get("aud", "")),
        expires_at=0,
        issued_at=0,
        scopes=frozenset(item for item in scp.split(" ") if item),
        roles=frozenset(lists["roles"]),
        groups=frozenset(lists["groups"]),
        groups_overage=has_groups_overage(document),
        wids=frozenset(lists["wids"]),
        name=str(document.get("name", "")),
        preferred_username=str(document.get("preferred_username", "")),
    )


def _string_list(document: Mapping[str, Any], name: str) -> list[str]:
    value = document.get(name, [])
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise SimulationInputError(f"{name} must be a list of strings.")
    return value


def mapping_simulate(*, document: Mapping[str, Any]) -> Simulation:
    """Resolve ``document`` (claims) against the active rules."""
    claims = claims_for_simulation(document)
    grant = grant_for_claims(claims=claims, simulated=True)
    matched = {(rule.source_kind, rule.source_value) for rule in grant.rules}
    carried = [
        *((SourceKind.APP_ROLE.value, v) for v in sorted(claims.roles)),
        *((SourceKind.GROUP.value, v) for v in sorted(claims.groups)),
        *((SourceKind.SCOPE.value, v) for v in sorted(claims.scopes)),
    ]
    return Simulation(claims, grant, tuple(c for c in carried if c not in matched))

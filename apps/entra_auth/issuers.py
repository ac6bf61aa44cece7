"""Which issuers are trusted, and which key store serves each (spec §3, §12 step 5).

One :class:`TrustedIssuer` per (tenant, token version). The v2.0 issuer is computed from the
configuration (``{authority}/{tenant}/v2.0``) and must equal what discovery says. The v1.0
issuer differs per cloud (``https://sts.windows.net/{tid}/`` in the public cloud), so it is
read from the tenant's v1.0 discovery document rather than hard-coded, as Microsoft advises.
An ``iss`` that matches none of them is refused before any network I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from apps.entra_auth.exceptions import InvalidToken
from apps.entra_auth.keys import SigningKeyStore

V1, V2 = "1.0", "2.0"
_GUID_IN_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


@dataclass(frozen=True)
class TrustedIssuer:
    """One tenant's tokens of one version, and the store holding that tenant's keys."""

    tenant: str
    version: str
    store: SigningKeyStore

    def issuer(self) -> str:
        """The exact ``iss`` this issuer's tokens carry (for v1.0, from discovery)."""
        if self.store.expected_issuer is not None:
            return self.store.expected_issuer
        issuer = self.store.issuer()
        # The issuer must name this tenant, so that the tid <-> iss binding holds.
        return issuer if self.tenant in _GUID_IN_TEXT.findall(issuer) else ""


def discovery_url(authority_host: str, tenant: str, version: str) -> str:
    """Entra's discovery document URL for a tenant and token version (spec §2.1)."""
    suffix = "/v2.0" if version == V2 else ""
    return f"{authority_host}/{tenant}{suffix}/.well-known/openid-configuration"


def v2_issuer(authority_host: str, tenant: str) -> str:
    return f"{authority_host}/{tenant}/v2.0"


class IssuerDirectory:
    """Chooses the trusted issuer for a token from its (not yet verified) payload."""

    def __init__(self, issuers: list[TrustedIssuer], *, accepted_versions: frozenset[str]):
        self._issuers = issuers
        self._accepted = accepted_versions
        self._by_v2_issuer = {
            t.store.expected_issuer: t
            for t in issuers
            if t.version == V2 and t.store.expected_issuer
        }

    @property
    def all(self) -> list[TrustedIssuer]:
        return list(self._issuers)

    def resolve(self, payload: Mapping[str, Any]) -> TrustedIssuer:
        """The issuer whose keys must have signed this payload; InvalidToken if none."""
        iss = payload.get("iss")
        if not isinstance(iss, str):
            raise InvalidToken("missing_claim" if iss is None else "bad_claim_type")
        trusted = self._by_v2_issuer.get(iss) or self._v1_match(iss)
        if trusted is not None:
            return trusted
        raise InvalidToken(self._refusal_reason(payload))

    def _v1_match(self, iss: str) -> TrustedIssuer | None:
        tenants_named = set(_GUID_IN_TEXT.findall(iss))
        for trusted in self._issuers:
            if trusted.version != V1 or trusted.tenant not in tenants_named:
                continue
            # May raise KeysUnavailable: the iss names one of our tenants but its v1.0
            # metadata cannot be had now, which is our outage (503), not the caller's fault.
            if trusted.issuer() == iss:
                return trusted
        return None

    def _refusal_reason(self, payload: Mapping[str, Any]) -> str:
        """A hint from the unverified payload, so operators see why (nothing is trusted)."""
        ver = payload.get("ver")
        if ver == V1 and V1 not in self._accepted:
            return "v1_not_accepted"
        if ver == V2 and V2 not in self._accepted:
            return "v2_not_accepted"
        return "unknown_issuer"

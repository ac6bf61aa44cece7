"""Raw Entra access token -> :class:`Claims`, or a :class:`TokenError`. Pure: no request.

The pipeline is entra-token-spec §12. Parsing is done here, once and strictly (size, compact
shape, UTF-8 JSON objects, typed claims), instead of through ``jwt.decode``: PyJWT parses the
token twice, accepts ``"exp": "9999999999"`` and ``aud`` arrays, and leaks ``TypeError`` /
``RecursionError`` on hostile input (spec §7.3). The RS256 signature is checked by PyJWT's
``RSAAlgorithm`` (``cryptography`` underneath) with a key from our own JWKS only.

Every exception raised while handling hostile input ends as :class:`InvalidToken`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from jwt.algorithms import RSAAlgorithm

from apps.core.lru import BoundedLRU
from apps.entra_auth.claims import Claims, TokenKind
from apps.entra_auth.exceptions import InvalidToken
from apps.entra_auth.issuers import IssuerDirectory, TrustedIssuer

MAX_TOKEN_LENGTH = 16_384
MAX_LIFETIME_SECONDS = 30 * 3600  # CAE long-lived tokens live up to 28 h (spec §5)
_JWS_SHAPE = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_NOT_TEXT = re.compile(r"[\x00\ud800-\udfff]")
# Base64url's last character, by segment length mod 4, when its spare low bits are zero.
_CANONICAL_LAST = {2: frozenset("AQgw"), 3: frozenset("AEIMQUYcgkosw048")}
_FORBIDDEN_HEADERS = frozenset({"jku", "jwk", "x5u", "x5c", "crit"})
_RS256 = RSAAlgorithm(RSAAlgorithm.SHA256)
_TIME_CLAIMS = ("exp", "nbf", "iat")
_STRING_CLAIMS = ("iss", "aud", "tid", "sub", "ver")
_OPTIONAL_STRINGS = (
    "scp",
    "idtyp",
    "azp",
    "appid",
    "oid",
    "name",
    "preferred_username",
    "email",
    "upn",
    "uti",
)
_OPTIONAL_STRING_LISTS = ("roles", "groups", "wids")

# The pipeline's steps, in order, as reported to an observer (the token explainer,
# ``explain.py``, tells which one refused a token without re-implementing any rule).
STEPS = (
    "format",
    "header",
    "payload",
    "issuer",
    "key",
    "signature",
    "claims",
    "lifetime",
    "audience",
    "version",
    "tenant",
    "access",
)
StepObserver = Callable[[str], None]


def _unobserved(step: str) -> None:
    """The default observer: the per-request path reports to nobody."""


@dataclass(frozen=True)
class ValidationPolicy:
    """What a valid token must look like for this API, beyond its issuer and key."""

    audiences: frozenset[str]
    leeway_seconds: int = 60


class TokenValidator:
    """Validates tokens against trusted issuers; remembers recent successes (bounded LRU)."""

    def __init__(
        self,
        *,
        issuers: IssuerDirectory,
        policy: ValidationPolicy,
        clock: Callable[[], float] = time.time,
        cache_size: int = 10_000,
    ) -> None:
        self._issuers = issuers
        self._policy = policy
        self._clock = clock
        # sha256(token) -> (claims, issuer, its keys_version when validated)
        self._cache: BoundedLRU[bytes, tuple[Claims, TrustedIssuer, str]] = BoundedLRU(cache_size)

    def validate(self, token: str) -> Claims:
        """The claims of ``token``; raises InvalidToken, or KeysUnavailable (fetch failed)."""
        _check_size(token)  # first: only ASCII is hashed and decoded below
        digest = hashlib.sha256(token.encode()).digest()
        claims = self._cached(digest)
        if claims is not None:
            return claims
        claims, trusted = self._validate_uncached(token)
        self._remember(digest, claims, trusted)
        return claims

    def validate_observed(self, token: str, observe: StepObserver) -> Claims:
        """:meth:`validate` without the cache of validated tokens, calling ``observe`` with
        each step's name (:data:`STEPS`) before the step runs: when it raises, the last name
        observed is the step that refused the token."""
        observe(STEPS[0])
        _check_size(token)
        return self._validate_uncached(token, observe)[0]

    def recall(self, token: str) -> Claims | None:
        """The claims of a token validated before and still valid; None otherwise.

        The fast path for repeated tokens: a hit has passed every check already, so callers
        may skip their own syntax checks, which cost more than this look-up.
        """
        if len(token) > MAX_TOKEN_LENGTH or not token.isascii():
            return None
        return self._cached(hashlib.sha256(token.encode()).digest())

    # --- the cache of validated tokens ------------------------------------------------
    def _cached(self, digest: bytes) -> Claims | None:
        entry = self._cache.get(digest)
        if entry is None:
            return None
        claims, trusted, keys_version = entry
        expired = claims.expires_at <= self._clock() - self._policy.leeway_seconds
        if expired or trusted.store.keys_version != keys_version:
            self._cache.pop(digest)  # re-validate: expired, or the key set has changed
            return None
        return claims

    def _remember(self, digest: bytes, claims: Claims, trusted: TrustedIssuer) -> None:
        self._cache.put(digest, (claims, trusted, trusted.store.keys_version))

    # --- the pipeline (spec §12) -------------------------------------------------------
    def _validate_uncached(
        self, token: str, observe: StepObserver = _unobserved
    ) -> tuple[Claims, TrustedIssuer]:
        if not _JWS_SHAPE.fullmatch(token):
            raise InvalidToken("malformed")
        header_b64, payload_b64, signature_b64 = token.split(".")
        header = _decode_json(header_b64)
        observe("header")
        kid = _check_header(header)
        observe("payload")
        payload = _decode_json(payload_b64, storable=True)
        signature = _b64decode(signature_b64)  # all parsing before any key fetch
        observe("issuer")
        trusted = self._issuers.resolve(payload)
        observe("key")
        key = trusted.store.key(kid)
        observe("signature")
        signing_input = f"{header_b64}.{payload_b64}".encode()
        if not _RS256.verify(signing_input, key, signature):
            raise InvalidToken("bad_signature")
        return self._claims(payload, trusted, observe), trusted

    def _claims(
        self, payload: Mapping[str, Any], trusted: TrustedIssuer, observe: StepObserver
    ) -> Claims:
        observe("claims")
        _check_types(payload)
        observe("lifetime")
        self._check_lifetime(payload)
        observe("audience")
        if payload["aud"] not in self._policy.audiences:
            raise InvalidToken("bad_audience")
        observe("version")
        if payload["ver"] != trusted.version:
            raise InvalidToken("bad_version")
        observe("tenant")
        tid = payload["tid"]
        if not GUID.fullmatch(tid) or tid != trusted.tenant or tid not in payload["iss"]:
            raise InvalidToken("bad_tenant")
        observe("access")
        return _build_claims(payload, trusted)

    def _check_lifetime(self, payload: Mapping[str, Any]) -> None:
        now, leeway = self._clock(), self._policy.leeway_seconds
        if payload["exp"] <= now - leeway:
            raise InvalidToken("expired")
        if payload["nbf"] > now + leeway or payload["iat"] > now + leeway:
            raise InvalidToken("not_yet_valid")
        if payload["exp"] - payload["iat"] > MAX_LIFETIME_SECONDS:
            raise InvalidToken("lifetime_too_long")


def _check_size(token: str) -> None:
    if len(token) > MAX_TOKEN_LENGTH:
        raise InvalidToken("too_large")
    if not token.isascii():
        raise InvalidToken("malformed")


def _b64decode(segment: str) -> bytes:
    """Strict unpadded base64url (RFC 7515 §2): the one canonical spelling of the bytes.

    The stdlib decoder ignores the spare low bits of the last character, so each token would
    otherwise have several spellings that all verify (RFC 4648 §3.5): those bits must be 0.
    """
    spare_bits_clear = _CANONICAL_LAST.get(len(segment) % 4)
    if spare_bits_clear is not None and segment[-1] not in spare_bits_clear:
        raise InvalidToken("malformed")
    try:
        return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
    except (binascii.Error, ValueError) as exc:
        raise InvalidToken("malformed") from exc


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")  # NaN, Infinity: Python accepts them, JSON does not


_JSON = json.JSONDecoder(parse_constant=_reject_constant)


def _decode_json(segment: str, *, storable: bool = False) -> dict[str, Any]:
    """A JSON object from a segment; ``storable``: its strings can go into the database."""
    try:
        text = _b64decode(segment).decode("utf-8")
        value = _JSON.decode(text)
    except (ValueError, RecursionError, UnicodeDecodeError) as exc:
        raise InvalidToken("malformed") from exc
    if not isinstance(value, dict):
        raise InvalidToken("malformed")
    # NUL and lone UTF-16 surrogates can only arrive as \u escapes (strict JSON refuses raw
    # control characters, UTF-8 cannot encode surrogates): scan only when there are escapes.
    if storable and "\\u" in text and not all(map(_is_storable, value.values())):
        raise InvalidToken("bad_claim_type")
    return value


def _check_header(header: Mapping[str, Any]) -> str:
    """The header's kid, after refusing everything Entra would never send."""
    if header.get("alg") != "RS256":
        raise InvalidToken("bad_algorithm")
    if _FORBIDDEN_HEADERS.intersection(header):
        raise InvalidToken("forbidden_header")
    if "nonce" in header:
        raise InvalidToken("other_resource")  # Graph-style token: its signature is not ours
    kid = header.get("kid")
    if kid is None:
        raise InvalidToken("missing_kid")
    if not isinstance(kid, str) or not 0 < len(kid) <= 128:
        raise InvalidToken("malformed")
    return kid


def _check_types(payload: Mapping[str, Any]) -> None:
    for name in (*_TIME_CLAIMS, *_STRING_CLAIMS):
        if payload.get(name) is None:
            raise InvalidToken("missing_oid" if name == "tid" else "missing_claim")
    for name in _TIME_CLAIMS:
        value = payload[name]
        if type(value) is not int:  # not bool, float, str
            raise InvalidToken("bad_claim_type")
    for name in _STRING_CLAIMS + _OPTIONAL_STRINGS:
        if name in payload and not isinstance(payload[name], str):
            raise InvalidToken("bad_audience" if name == "aud" else "bad_claim_type")
    for name in _OPTIONAL_STRING_LISTS:
        value = payload.get(name)
        if value is not None and not (
            isinstance(value, list) and all(isinstance(item, str) for item in value)
        ):
            raise InvalidToken("bad_claim_type")


def _is_storable(value: Any) -> bool:
    """No NUL or lone surrogate in a top-level string or list of strings. Entra never sends
    them; PostgreSQL text columns refuse NUL, and surrogates cannot be encoded as UTF-8."""
    if isinstance(value, str):
        return not _NOT_TEXT.search(value)
    if isinstance(value, list):
        return all(_is_storable(item) for item in value if isinstance(item, str))
    return True


def _build_claims(payload: Mapping[str, Any], trusted: TrustedIssuer) -> Claims:
    client_id = payload.get("azp") if trusted.version == "2.0" else payload.get("appid")
    if not client_id or "nonce" in payload:
        raise InvalidToken("not_access_token")  # ID tokens carry nonce and no azp/appid
    if not GUID.fullmatch(client_id.lower()):
        raise InvalidToken("bad_claim_type")  # an application (client) id is a GUID
    scp, roles = payload.get("scp"), payload.get("roles")
    scopes = frozenset(item for item in (scp or "").split(" ") if item)
    if not scopes and not roles:  # absent, or "scp": "" / "roles": []: nothing was granted
        raise InvalidToken("no_permissions")
    idtyp = payload.get("idtyp")
    if idtyp == "app" and scp is not None:
        raise InvalidToken("contradictory_kind")
    oid = payload.get("oid")
    if oid is None:
        raise InvalidToken("missing_oid")
    if not GUID.fullmatch(oid):
        raise InvalidToken("bad_claim_type")
    return Claims(
        tid=payload["tid"],
        oid=oid,
        sub=payload["sub"],
        kind=token_kind(payload),
        client_id=client_id,
        version=payload["ver"],
        issuer=payload["iss"],
        audience=payload["aud"],
        expires_at=payload["exp"],
        issued_at=payload["iat"],
        scopes=scopes,
        roles=frozenset(roles or ()),
        groups=frozenset(payload.get("groups") or ()),
        groups_overage=has_groups_overage(payload),
        wids=frozenset(payload.get("wids") or ()),
        name=payload.get("name", ""),
        preferred_username=payload.get("preferred_username") or payload.get("upn", ""),
        email=payload.get("email", ""),
        uti=payload.get("uti", ""),
    )


def token_kind(payload: Mapping[str, Any]) -> TokenKind:
    """App-only when ``idtyp`` says "app"; without ``idtyp``, when there is no ``scp``
    (spec §6.4, the heuristic of Microsoft's samples)."""
    idtyp = payload.get("idtyp")
    is_app = idtyp == "app" if idtyp is not None else payload.get("scp") is None
    return TokenKind.APP if is_app else TokenKind.DELEGATED


def has_groups_overage(payload: Mapping[str, Any]) -> bool:
    """True when the groups did not fit in the token (``_claim_names`` or ``hasgroups``)."""
    claim_names = payload.get("_claim_names")
    return payload.get("hasgroups") is True or (
        isinstance(claim_names, dict) and "groups" in claim_names
    )


def unverified_parts(token: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Header and payload, decoded by the pipeline's own parser and **not verified**: for
    explaining a token (``explain.py``), never for trusting one. None where a part does not
    decode."""
    segments = token.split(".")
    decoded: list[dict[str, Any] | None] = []
    for segment in segments[:2] if len(segments) in {3, 5} else ():
        try:
            decoded.append(_decode_json(segment))
        except InvalidToken:
            decoded.append(None)
    decoded += [None] * (2 - len(decoded))
    return decoded[0], decoded[1]

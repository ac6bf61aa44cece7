"""Entra signing keys: discovery document -> JWKS -> RSA public keys by ``kid``.

Microsoft's key-caching rules (entra-token-spec §2.2, §2.3), which PyJWT's ``PyJWKClient``
does not follow and this store does:

- keys are cached in process and, when a shared cache is configured, across workers and
  containers; they are refreshed hourly and unusable after 24 h without a successful fetch;
- an unknown ``kid`` triggers at most one fetch per ``min_refresh_gap`` seconds across the
  whole fleet (``cache.add`` is Redis ``SET NX EX``), single-flight within a process;
- a failed or garbage fetch keeps the last good keys: good keys are never replaced by junk;
- no usable key at all raises :class:`KeysUnavailable` (a 503), never a 500.

No Django request machinery is imported here: the shared cache and the fetcher are injected.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from jwt.algorithms import RSAAlgorithm

from apps.core import metrics
from apps.entra_auth.exceptions import InvalidToken, KeysUnavailable
from apps.entra_auth.fetch import FetchError

logger = logging.getLogger(__name__)

MIN_RSA_BITS = 2048
MAX_KID_LENGTH = 128
# While a store has no keys at all, each process retries at most this often.
COLD_RETRY_SECONDS = 5.0


class SharedCache(Protocol):
    """The slice of Django's cache API the store uses; implementations must not raise."""

    def get(self, key: str) -> Any: ...
    def set(self, key: str, value: Any, timeout: float) -> None: ...
    def add(self, key: str, value: Any, timeout: float) -> bool | None: ...


Fetcher = Callable[[str], bytes]


@dataclass(frozen=True)
class KeySnapshot:
    """One successful discovery + JWKS fetch."""

    issuer: str
    jwks: tuple[Mapping[str, Any], ...]  # the usable JWKs, as published
    fetched_at: float

    def to_shared(self) -> dict[str, Any]:
        return {"issuer": self.issuer, "jwks": list(self.jwks), "fetched_at": self.fetched_at}

    @classmethod
    def from_shared(cls, value: Any) -> KeySnapshot | None:
        try:
            snap = cls(value["issuer"], tuple(value["jwks"]), float(value["fetched_at"]))
        except (TypeError, KeyError, ValueError):
            return None
        return snap if math.isfinite(snap.fetched_at) else None


def parse_jwks(document: Any) -> dict[str, RSAPublicKey]:
    """The usable signing keys of a JWKS document: RSA, for signing, >= 2048 bits, by kid.

    Anything unusable is skipped; raises :class:`FetchError` when nothing usable is left,
    so that the caller keeps its last good keys instead.
    """
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise FetchError("JWKS is not an object with a keys list")
    keys: dict[str, RSAPublicKey] = {}
    for jwk in document["keys"]:
        key = _usable_key(jwk)
        if key is not None:
            keys[jwk["kid"]] = key
    if not keys:
        raise FetchError("JWKS has no usable RSA signing key")
    return keys


def _usable_key(jwk: Any) -> RSAPublicKey | None:
    if not isinstance(jwk, dict) or jwk.get("kty") != "RSA" or jwk.get("use", "sig") != "sig":
        return None
    kid = jwk.get("kid")
    if not isinstance(kid, str) or not 0 < len(kid) <= MAX_KID_LENGTH:
        return None
    try:
        key = RSAAlgorithm.from_jwk(jwk)
    except Exception:  # any malformed modulus/exponent: skip this key, keep the others
        return None
    if not isinstance(key, RSAPublicKey) or key.key_size < MIN_RSA_BITS:
        return None
    return key


def _fingerprint(jwks: tuple[Mapping[str, Any], ...]) -> str:
    material = sorted(f"{jwk['kid']}:{jwk.get('n')}:{jwk.get('e')}" for jwk in jwks)
    return hashlib.sha256("|".join(material).encode()).hexdigest()


class SigningKeyStore:
    """The signing keys of one tenant and token version, found through its discovery URL."""

    def __init__(
        self,
        *,
        discovery_url: str,
        expected_issuer: str | None,
        fetch: Fetcher,
        shared: SharedCache,
        clock: Callable[[], float] = time.time,
        refresh_seconds: float = 3600,
        max_age_seconds: float = 24 * 3600,
        min_refresh_gap: float = 300,
    ) -> None:
        self.discovery_url = discovery_url
        self.expected_issuer = expected_issuer
        self._fetch = fetch
        self._shared = shared
        self._clock = clock
        self._refresh_seconds = refresh_seconds
        self._max_age = max_age_seconds
        self._gap = min_refresh_gap
        self._lock = threading.Lock()
        # (snapshot, keys) replaced as one tuple, so readers never see a half-installed set.
        self._state: tuple[KeySnapshot, dict[str, RSAPublicKey]] | None = None
        self._last_attempt = float("-inf")
        self._version = ""
        digest = hashlib.sha256(discovery_url.encode()).hexdigest()[:24]
        self._shared_key = f"entra:keys:{digest}"
        self._gate_key = f"entra:keys-gate:{digest}"

    # --- reading ------------------------------------------------------------------------
    def key(self, kid: str) -> RSAPublicKey:
        """The key for ``kid``; refreshes (gated) on a miss.

        Raises :class:`InvalidToken` ``unknown_key`` when the kid stays unknown, and
        :class:`KeysUnavailable` when there is no usable key set at all.
        """
        self._ensure_fresh()
        key = self._usable_keys().get(kid)
        if key is None:
            self._refresh(unknown_kid=True)
            key = self._usable_keys().get(kid)
        if key is not None:
            return key
        if not self._usable_keys():
            raise KeysUnavailable(self.discovery_url)
        raise InvalidToken("unknown_key")

    def issuer(self) -> str:
        """The issuer named by the discovery document (loads it if needed)."""
        self._ensure_fresh()
        if self._snapshot is None or not self._usable_keys():
            raise KeysUnavailable(self.discovery_url)
        return self._snapshot.issuer

    def is_ready(self) -> bool:
        """Whether usable keys are loaded (loading them if needed); for readiness probes."""
        try:
            self._ensure_fresh()
        except KeysUnavailable:
            return False
        return bool(self._usable_keys())

    @property
    def keys_version(self) -> str:
        """Changes whenever the set of usable keys changes, expiry included: the validator
        caches validated tokens under it, so none is accepted after the keys' hard TTL."""
        return self._version if self._usable_keys() else ""

    @property
    def _snapshot(self) -> KeySnapshot | None:
        return None if self._state is None else self._state[0]

    def _usable_keys(self) -> dict[str, RSAPublicKey]:
        state = self._state
        if state is None or self._clock() - state[0].fetched_at > self._max_age:
            return {}
        return state[1]

    def _ensure_fresh(self) -> None:
        snap = self._snapshot
        if snap is None or self._clock() - snap.fetched_at >= self._refresh_seconds:
            self._refresh(unknown_kid=False)

    # --- refreshing ---------------------------------------------------------------------
    def _refresh(self, *, unknown_kid: bool) -> None:
        # Single flight: one thread fetches; with keys in hand, others don't wait for it.
        blocking = unknown_kid or self._snapshot is None
        if not self._lock.acquire(blocking=blocking):
            return
        try:
            seen = self._snapshot
            self._adopt_shared()
            if self._snapshot is not seen and self._snapshot is not None:
                return  # another worker already fetched newer keys
            if not unknown_kid and self._snapshot is not None and not self._is_stale():
                return
            if self._gate_allows():
                self._fetch_and_install()
        finally:
            self._lock.release()

    def _is_stale(self) -> bool:
        snap = self._snapshot
        return snap is None or self._clock() - snap.fetched_at >= self._refresh_seconds

    def _gate_allows(self) -> bool:
        now = self._clock()
        if self._snapshot is None:
            return now - self._last_attempt >= COLD_RETRY_SECONDS
        if now - self._last_attempt < self._gap:
            return False
        # Fleet-wide: only one process per gap wins the right to fetch. When the shared cache
        # is down, add() answers None and the process-local gate above is all there is.
        return self._shared.add(self._gate_key, 1, self._gap) is not False

    def _adopt_shared(self) -> None:
        snap = KeySnapshot.from_shared(self._shared.get(self._shared_key))
        current = self._snapshot
        if snap is None or (current is not None and snap.fetched_at <= current.fetched_at):
            return
        # Distrust what cannot be right: a snapshot from the future (clock skew, or a write
        # by someone else) would stop every refresh; one for another issuer would widen trust.
        future = snap.fetched_at > self._clock() + 60
        if future or (self.expected_issuer is not None and snap.issuer != self.expected_issuer):
            return
        try:
            self._install(snap, parse_jwks({"keys": list(snap.jwks)}))
        except FetchError:
            return

    def _fetch_and_install(self) -> None:
        try:
            snap, keys = self._fetch_snapshot()
        except FetchError as exc:
            metrics.increment("portico_keys_fetches_total", result="failed")
            logger.warning("Signing key fetch failed for %s: %s", self.discovery_url, exc)
            return
        finally:
            # Gaps count from the end of an attempt: a fetch that hung until its timeout
            # must not hand each thread queued on the lock a fresh attempt of its own.
            self._last_attempt = self._clock()
        metrics.increment("portico_keys_fetches_total", result="ok")
        self._install(snap, keys)
        self._shared.set(self._shared_key, snap.to_shared(), self._max_age)

    def _fetch_snapshot(self) -> tuple[KeySnapshot, dict[str, RSAPublicKey]]:
        discovery = _json(self._fetch(self.discovery_url))
        issuer, jwks_uri = discovery.get("issuer"), discovery.get("jwks_uri")
        if not isinstance(issuer, str) or not isinstance(jwks_uri, str):
            raise FetchError("discovery document lacks issuer or jwks_uri")
        if self.expected_issuer is not None and issuer != self.expected_issuer:
            # A wrong issuer means misconfiguration (or DNS/TLS trouble): stop, don't widen.
            raise FetchError(f"discovery issuer {issuer!r} is not {self.expected_issuer!r}")
        document = _json(self._fetch(jwks_uri))
        keys = parse_jwks(document)
        jwks = tuple(
            jwk
            for jwk in document["keys"]
            if isinstance(jwk, dict) and isinstance(jwk.get("kid"), str) and jwk["kid"] in keys
        )
        return KeySnapshot(issuer, jwks, self._clock()), keys

    def _install(self, snap: KeySnapshot, keys: dict[str, RSAPublicKey]) -> None:
        self._state = (snap, keys)
        self._version = _fingerprint(snap.jwks)


def _json(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise FetchError("response is not JSON") from exc
    if not isinstance(value, dict):
        raise FetchError("response is not a JSON object")
    return value

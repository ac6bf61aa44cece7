"""Validations per second of ``TokenValidator`` alone: no HTTP, no Django request machinery.

Why: the validator is the only CPU-heavy step on the warm ``/api`` path (design §1), so its
cost is measured apart from gunicorn and Django, against two yardsticks on the same token:

(a) the raw RSA-2048 PKCS#1 v1.5 / SHA-256 verify of ``cryptography``: the floor no JWT
    validator can beat; the cold validation should stay within 4x of it (>= 25 %);
(b) cold validation of distinct valid tokens: every call misses the token cache and runs the
    whole pipeline (parse, issuer, key, signature, claims);
(c) the same token again: the sha256-keyed cache hit, which every request after the first
    with a given token takes; target <= 5 us;
(d) PyJWT ``jwt.decode`` with the same key, for reference only (it checks less).

Run from the repository root: ``.venv/bin/python -m benchmarks.validator_bench``.
"""

from __future__ import annotations

import argparse
import cProfile
import itertools
import platform
import pstats
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import cryptography
import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from jwt.utils import base64url_decode

from apps.entra_auth.issuers import V2, IssuerDirectory, TrustedIssuer, discovery_url
from apps.entra_auth.keys import SigningKeyStore
from apps.entra_auth.validation import TokenValidator, ValidationPolicy
from benchmarks.fake_entra import API_CLIENT_ID, TENANT, FakeEntra, SigningKey

COLD_TARGET = 0.25  # cold validations/s as a share of raw RSA verifies/s
REPEATED_TARGET_US = 5.0


@dataclass(frozen=True)
class Result:
    """How many operations a measurement completed in how long."""

    name: str
    operations: int
    seconds: float

    @property
    def per_second(self) -> float:
        """Throughput: what the cold/raw ratio compares."""
        return self.operations / self.seconds

    @property
    def micros(self) -> float:
        """Cost of one operation: what the cache-hit target is stated in."""
        return self.seconds / self.operations * 1e6


class MemorySharedCache:
    """The ``SharedCache`` protocol over a dict: one process, no Django cache, no Redis."""

    def __init__(self) -> None:
        self._data: dict[str, Any] = {}

    def get(self, key: str) -> Any:
        return self._data.get(key)

    def set(self, key: str, value: Any, timeout: float) -> None:
        self._data[key] = value

    def add(self, key: str, value: Any, timeout: float) -> bool:
        return self._data.setdefault(key, value) is value


class CountingDirectory(IssuerDirectory):
    """Counts ``resolve`` calls: the validator resolves the issuer only on a cache miss, so
    the count proves that the cold run missed every time and the repeated run never did."""

    resolved = 0

    def resolve(self, payload: Mapping[str, Any]) -> TrustedIssuer:
        self.resolved += 1
        return super().resolve(payload)


def build_directory(entra: FakeEntra) -> CountingDirectory:
    """One trusted v2.0 issuer whose key store fetches from memory, loaded before timing."""
    store = SigningKeyStore(
        discovery_url=discovery_url(entra.authority, TENANT, V2),
        expected_issuer=entra.issuer,
        fetch=entra.fetcher(),
        shared=MemorySharedCache(),
    )
    store.key(entra.key.kid)  # the one discovery + JWKS fetch happens here, untimed
    trusted = TrustedIssuer(tenant=TENANT, version=V2, store=store)
    return CountingDirectory([trusted], accepted_versions=frozenset({V2}))


def new_validator(directory: IssuerDirectory, cache_size: int) -> TokenValidator:
    """A validator configured as ``runtime.py`` does, with an empty token cache."""
    policy = ValidationPolicy(audiences=frozenset({API_CLIENT_ID, f"api://{API_CLIENT_ID}"}))
    return TokenValidator(issuers=directory, policy=policy, cache_size=cache_size)


def run_for(name: str, seconds: float, batch: Callable[[], int]) -> Result:
    """Call ``batch`` (which returns how many operations it did) for ``seconds`` of CPU time.

    CPU time of this process, not wall time: the benchmark is single-threaded, so the two
    agree on a quiet machine, and CPU time is far less disturbed by other processes.
    """
    operations, start = 0, time.process_time()
    deadline = start + seconds
    while True:
        operations += batch()
        now = time.process_time()
        if now >= deadline:
            return Result(name, operations, now - start)


def bench_raw_rsa(key: RSAPublicKey, token: str, seconds: float) -> Result:
    """(a) The verify alone, padding and hash objects built once: the floor."""
    signing_input, _, signature_b64 = token.rpartition(".")
    message = signing_input.encode()
    signature = base64url_decode(signature_b64)
    pkcs1, sha256 = padding.PKCS1v15(), hashes.SHA256()

    def batch() -> int:
        for _ in range(200):
            key.verify(signature, message, pkcs1, sha256)
        return 200

    return run_for("(a) raw RSA-2048 verify (cryptography)", seconds, batch)


def bench_cold(directory: CountingDirectory, tokens: list[str], seconds: float) -> Result:
    """(b) Each pass validates every distinct token once with a fresh validator: all misses."""
    before = directory.resolved

    def batch() -> int:
        validator = new_validator(directory, cache_size=len(tokens))
        for token in tokens:
            validator.validate(token)
        return len(tokens)

    result = run_for("(b) TokenValidator, cold (distinct tokens)", seconds, batch)
    assert directory.resolved - before == result.operations, "a cold validation hit the cache"
    return result


def bench_repeated(directory: CountingDirectory, token: str, seconds: float) -> Result:
    """(c) One token validated again and again: the sha256-keyed cache answers."""
    validator = new_validator(directory, cache_size=10_000)
    validator.validate(token)
    before = directory.resolved

    def batch() -> int:
        for _ in range(1000):
            validator.validate(token)
        return 1000

    result = run_for("(c) TokenValidator, repeated (cache hit)", seconds, batch)
    assert directory.resolved == before, "a repeated validation missed the cache"
    return result


def bench_pyjwt(entra: FakeEntra, key: RSAPublicKey, tokens: list[str], seconds: float) -> Result:
    """(d) ``jwt.decode`` over the same distinct tokens (PyJWT has no cache to hit)."""
    options = {"require": ["exp", "iat", "nbf", "iss", "aud"]}

    def batch() -> int:
        for token in tokens:
            jwt.decode(
                token,
                key,
                algorithms=["RS256"],
                audience=API_CLIENT_ID,
                issuer=entra.issuer,
                leeway=60,
                options=options,
            )
        return len(tokens)

    return run_for("(d) PyJWT jwt.decode (distinct tokens)", seconds, batch)


def print_table(results: list[Result]) -> None:
    """The four measurements side by side, both as rate and as cost."""
    print(f"{'measurement':<44} {'ops':>9} {'s':>6} {'ops/s':>10} {'us/op':>8}")
    for r in results:
        print(
            f"{r.name:<44} {r.operations:>9} {r.seconds:>6.2f} "
            f"{r.per_second:>10,.0f} {r.micros:>8.2f}"
        )


def print_ratios(raw: Result, cold: Result, repeated: Result, pyjwt: Result) -> bool:
    """The two targets, with a verdict each; True when both are met."""
    share = cold.per_second / raw.per_second
    cold_ok, hit_ok = share >= COLD_TARGET, repeated.micros <= REPEATED_TARGET_US
    print()
    print(
        f"cold / raw RSA       = {share:6.1%}  (target >= {COLD_TARGET:.0%})   "
        f"{'MET' if cold_ok else 'MISSED'}"
    )
    print(
        f"repeated (cache hit) = {repeated.micros:6.2f} us "
        f"(target <= {REPEATED_TARGET_US:.0f} us)  {'MET' if hit_ok else 'MISSED'}"
    )
    print(f"cold / PyJWT decode  = {cold.per_second / pyjwt.per_second:6.2f}x (reference)")
    print(f"cold overhead beyond the RSA verify = {cold.micros - raw.micros:6.1f} us/validation")
    return cold_ok and hit_ok


def profile(directory: CountingDirectory, tokens: list[str], top: int) -> None:
    """cProfile of one cold pass and of 100 000 cache hits: where the microseconds go."""
    for label, work in (
        ("cold pass", lambda: [new_validator(directory, len(tokens)).validate(t) for t in tokens]),
        ("repeated", lambda: _repeat(new_validator(directory, 16), tokens[0], 100_000)),
    ):
        profiler = cProfile.Profile()
        profiler.runcall(work)
        print(f"\n--- cProfile: {label} (sorted by own time) ---")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(top)


def _repeat(validator: TokenValidator, token: str, times: int) -> None:
    """The cache-hit loop as one call, so that cProfile attributes nothing to a lambda."""
    for _ in itertools.repeat(None, times):
        validator.validate(token)


def main(argv: list[str] | None = None) -> int:
    """Mint the tokens, run (a)-(d) for ``--seconds`` each, print the table and the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="per measurement (4)")
    parser.add_argument("--tokens", type=int, default=2000, help="distinct tokens (2000)")
    parser.add_argument("--profile", action="store_true", help="also print cProfile tables")
    args = parser.parse_args(argv)

    entra = FakeEntra(SigningKey())
    directory = build_directory(entra)
    public_key = entra.key.private.public_key()
    tokens = [entra.token() for _ in range(args.tokens)]
    signing_input = tokens[0].rpartition(".")[0]
    print(
        f"Python {platform.python_version()}, cryptography {cryptography.__version__}, "
        f"PyJWT {jwt.__version__}; token {len(tokens[0])} B, signing input "
        f"{len(signing_input)} B; {args.tokens} distinct tokens; {args.seconds:g} s each; "
        "single thread, CPU time\n"
    )
    raw = bench_raw_rsa(public_key, tokens[0], args.seconds)
    cold = bench_cold(directory, tokens, args.seconds)
    repeated = bench_repeated(directory, tokens[0], args.seconds)
    pyjwt = bench_pyjwt(entra, public_key, tokens, args.seconds)
    print_table([raw, cold, repeated, pyjwt])
    met = print_ratios(raw, cold, repeated, pyjwt)
    if args.profile:
        profile(directory, tokens, top=15)
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())

"""SigningKeyStore on its own: a fake clock, a counting fetcher and a dict as the shared cache.

Pins the caching policy of entra-token-spec §2.2-2.3 and vectors 34-37 and 70 (b-g): how
often the store fetches, which keys it accepts, and that a failure never costs good keys.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from apps.entra_auth import keys as keys_module
from apps.entra_auth.exceptions import InvalidToken, KeysUnavailable
from apps.entra_auth.fetch import FetchError, fetch_document
from apps.entra_auth.keys import SigningKeyStore
from apps.entra_auth.shared_cache import TolerantCache
from tests.conftest import TENANT, FakeEntra

if TYPE_CHECKING:
    from tests.conftest import TestKey

AUTHORITY = "https://login.example.test"
ISSUER = f"{AUTHORITY}/{TENANT}/v2.0"
DISCOVERY = f"{ISSUER}/.well-known/openid-configuration"
JWKS_URI = f"{AUTHORITY}/{TENANT}/discovery/v2.0/keys"
START = 1_700_000_000.0
GAP = 300  # min_refresh_gap, as configured by default
HOUR = 3600
DAY = 24 * HOUR


class FakeClock:
    """time.time() that moves only when told to."""

    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class DictCache:
    """The shared cache as Redis behaves: values copied in and out, NX adds, expiry by clock."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.data: dict[str, tuple[Any, float]] = {}

    def get(self, key: str) -> Any:
        entry = self.data.get(key)
        if entry is None or entry[1] <= self._clock():
            return None
        return copy.deepcopy(entry[0])

    def set(self, key: str, value: Any, timeout: float) -> None:
        self.data[key] = (copy.deepcopy(value), self._clock() + timeout)

    def add(self, key: str, value: Any, timeout: float) -> bool:
        with self._lock:
            if self.get(key) is not None:
                return False
            self.set(key, value, timeout)
            return True

    def snapshots(self) -> list[Any]:
        return [value for key, (value, _) in self.data.items() if key.startswith("entra:keys:")]


class DownCache:
    """A shared cache whose backend is down, as TolerantCache reports it: nothing, unknown."""

    def get(self, key: str) -> Any:
        return None

    def set(self, key: str, value: Any, timeout: float) -> None:
        return None

    def add(self, key: str, value: Any, timeout: float) -> bool | None:
        return None


class FakeDocs:
    """Discovery + JWKS for one tenant, answered in process; counts every call by URL."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.issuer = ISSUER
        self.jwks_body = b'{"keys": []}'
        self.down = False
        self.jwks_delay = 0.0  # real seconds the JWKS fetch takes (lets threads pile up)
        self.timeout_after: float | None = None  # fake seconds a hanging fetch takes, then fails
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    def publish(self, *test_keys: TestKey) -> None:
        self.jwks_body = json.dumps({"keys": [k.jwk() for k in test_keys]}).encode()

    @property
    def jwks_fetches(self) -> int:
        return self.calls[JWKS_URI]

    def __call__(self, url: str) -> bytes:
        with self._lock:
            self.calls[url] += 1
        if url == DISCOVERY:
            return json.dumps({"issuer": self.issuer, "jwks_uri": JWKS_URI}).encode()
        if url != JWKS_URI:
            raise FetchError(f"unexpected URL {url}")
        time.sleep(self.jwks_delay)
        if self.timeout_after is not None:
            self.clock.advance(self.timeout_after)
            raise FetchError(f"{url}: timed out")
        if self.down:
            raise FetchError(f"{url} answered 503")
        return self.jwks_body


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def shared(clock: FakeClock) -> DictCache:
    return DictCache(clock)


@pytest.fixture
def docs(clock: FakeClock, keys: dict[str, TestKey]) -> FakeDocs:
    fake = FakeDocs(clock)
    fake.publish(keys["k1"])
    return fake


StoreFactory = Callable[..., SigningKeyStore]


@pytest.fixture
def make_store(clock: FakeClock, shared: DictCache, docs: FakeDocs) -> StoreFactory:
    """A store per call (a call = a gunicorn worker), all sharing the fetcher and the cache."""

    def make(**overrides: Any) -> SigningKeyStore:
        arguments: dict[str, Any] = {
            "discovery_url": DISCOVERY,
            "expected_issuer": ISSUER,
            "fetch": docs,
            "shared": shared,
            "clock": clock,
            "min_refresh_gap": GAP,
        }
        arguments.update(overrides)
        return SigningKeyStore(**arguments)

    return make


def same_key(found: rsa.RSAPublicKey, test_key: TestKey) -> bool:
    return found.public_numbers() == test_key.private.public_key().public_numbers()


def assert_unknown(store: SigningKeyStore, kid: str) -> None:
    with pytest.raises(InvalidToken) as caught:
        store.key(kid)
    assert caught.value.reason == "unknown_key"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# --- loading and refreshing ----------------------------------------------------------------
def test_construction_fetches_nothing(make_store: StoreFactory, docs: FakeDocs) -> None:
    make_store()
    assert docs.calls == {}  # keys load lazily, never at import or ready() time (design §4.11)


def test_cold_load_fetches_discovery_then_jwks_once(
    make_store: StoreFactory, docs: FakeDocs, keys: dict[str, TestKey]
) -> None:
    store = make_store()
    assert same_key(store.key("k1"), keys["k1"])
    assert same_key(store.key("k1"), keys["k1"])
    assert store.issuer() == ISSUER
    assert store.is_ready()
    assert docs.calls == {DISCOVERY: 1, JWKS_URI: 1}


def test_refreshes_hourly_and_picks_up_a_new_key_without_the_unknown_kid_path(
    make_store: StoreFactory, docs: FakeDocs, clock: FakeClock, keys: dict[str, TestKey]
) -> None:
    store = make_store()
    store.key("k1")
    docs.publish(keys["k1"], keys["k2"])
    clock.advance(HOUR - 1)
    store.key("k1")
    assert docs.jwks_fetches == 1
    clock.advance(1)
    assert same_key(store.key("k2"), keys["k2"])
    assert docs.jwks_fetches == 2


def test_failed_hourly_refresh_is_retried_once_per_gap_while_serving_cached_keys(
    make_store: StoreFactory, docs: FakeDocs, clock: FakeClock, keys: dict[str, TestKey]
) -> None:
    store = make_store()
    store.key("k1")
    docs.down = True
    clock.advance(HOUR)
    assert same_key(store.key("k1"), keys["k1"])
    assert docs.jwks_fetches == 2
    clock.advance(GAP - 1)
    for _ in range(5):
        store.key("k1")
    assert docs.jwks_fetches == 2
    clock.advance(1)
    store.key("k1")
    assert docs.jwks_fetches == 3


# --- unknown kid: one fetch, then the gate (vectors 34, 36) --------------------------------
def test_unknown_kid_fetches_exactly_once_then_is_gated_for_the_gap(
    make_store: StoreFactory, docs: FakeDocs, clock: FakeClock
) -> None:
    store = make_store()
    store.key("k1")
    clock.advance(GAP + 1)  # the last refresh was more than the gap ago
    assert_unknown(store, "zzz")
    assert docs.jwks_fetches == 2
    for kid in ("yyy", "zzz", "../../etc/passwd"):
        assert_unknown(store, kid)
    clock.advance(GAP - 1)
    assert_unknown(store, "xxx")
    assert docs.jwks_fetches == 2
    clock.advance(1)
    assert_unknown(store, "www")
    assert docs.jwks_fetches == 3


def test_rotation_new_kid_is_fetched_once_then_served_from_cache(
    make_store: StoreFactory, docs: FakeDocs, clock: FakeClock, keys: dict[str, TestKey]
) -> None:
    store = make_store()
    store.key("k1")
    docs.publish(keys["k1"], keys["k2"])
    clock.advance(GAP + 1)
    assert same_key(store.key("k2"), keys["k2"])
    assert docs.jwks_fetches == 2
    assert same_key(store.key("k2"), keys["k2"])
    assert same_key(store.key("k1"), keys["k1"])
    assert docs.jwks_fetches == 2


def test_rotation_right_after_an_attacker_refresh_waits_for_the_gap(
    make_store: StoreFactory, docs: FakeDocs, clock: FakeClock, keys: dict[str, TestKey]
) -> None:
    """The documented trade-off of the gate (vector 36, variant): K2 fails until the gap ends."""
    store = make_store()
    store.key("k1")
    clock.advance(GAP + 1)
    assert_unknown(store, "attacker-kid")
    docs.publish(keys["k1"], keys["k2"])
    clock.advance(GAP - 1)
    assert_unknown(store, "k2")
    assert docs.jwks_fetches == 2
    clock.advance(1)
    assert same_key(store.key("k2"), keys["k2"])
    assert docs.jwks_fetches == 3


def test_rotation_right_after_an_attacker_refresh_is_healed_by_the_hourly_refresh(
    make_store: StoreFactory, docs: FakeDocs, clock: FakeClock, keys: dict[str, TestKey]
) -> None:
    store = make_store()
    store.key("k1")
    clock.advance(HOUR - 10)
    assert_unknown(store, "attacker-kid")  # refreshes at HOUR - 10: the hourly clock restarts
    docs.publish(keys["k1"], keys["k2"])
    clock.advance(HOUR)
    assert same_key(store.key("k2"), keys["k2"])
    assert docs.jwks_fetches == 3


# --- removal and the hard TTL (vector 37) -------------------------------------------------
def test_removed_key_is_dropped_at_the_next_successful_refresh(
    make_store: StoreFactory, docs: FakeDocs, clock: FakeClock, keys: dict[str, TestKey]
) -> None:
    docs.publish(keys["k1"], keys["k2"])
    store = make_store()
    store.key("k1")
    docs.publish(keys["k2"])
    clock.advance(HOUR - 1)
    assert same_key(store.key("k1"), keys["k1"])  # still in the last fetched set
    clock.advance(1)
    assert_unknown(store, "k1")
    assert same_key(store.key("k2"), keys["k2"])
    assert docs.jwks_fetches == 2  # the hourly refresh; the unknown k1 was gated


def test_every_key_is_unusable_after_24_hours_without_a_successful_refresh(
    make_store: StoreFactory, docs: FakeDocs, clock: FakeClock, keys: dict[str, TestKey]
) -> None:
    store = make_store()
    store.key("k1")
    docs.down = True
    for _ in range(23):
        clock.advance(HOUR)
        assert same_key(store.key("k1"), keys["k1"])
    assert docs.jwks_fetches == 24  # one failed attempt per hour, not one per request
    clock.advance(HOUR)  # exactly 24 h: the last moment the keys may be used
    assert same_key(store.key("k1"), keys["k1"])
    clock.advance(1)
    with pytest.raises(KeysUnavailable):
        store.key("k1")
    assert not store.is_ready()
    with pytest.raises(KeysUnavailable):
        store.issuer()


def test_keys_come_back_within_one_gap_after_an_outage_longer_than_24_hours(
    make_store: StoreFactory, docs: FakeDocs, clock: FakeClock, keys: dict[str, TestKey]
) -> None:
    store = make_store()
    store.key("k1")
    docs.down = True
    clock.advance(DAY + 1)
    with pytest.raises(KeysUnavailable):
        store.key("k1")
    docs.down = False
    clock.advance(GAP)
    assert same_key(store.key("k1"), keys["k1"])
    assert store.is_ready()


# --- failures never cost good keys (vector 70 b, c, f) ------------------------------------
def test_failed_fetch_keeps_the_last_good_keys(
    make_store: StoreFactory, docs: FakeDocs, clock: FakeClock, keys: dict[str, TestKey]
) -> None:
    store = make_store()
    store.key("k1")
    version = store.keys_version
    docs.down = True
    clock.advance(GAP + 1)
    assert_unknown(store, "zzz")  # not KeysUnavailable: good keys are still in hand
    assert same_key(store.key("k1"), keys["k1"])
    assert store.keys_version == version
    assert store.is_ready()
    assert docs.jwks_fetches == 2


def test_cold_store_retries_a_failed_load_only_every_few_seconds(
    make_store: StoreFactory, docs: FakeDocs, clock: FakeClock
) -> None:
    docs.down = True
    store = make_store()
    for _ in range(10):
        with pytest.raises(KeysUnavailable):
            store.key("k1")
    assert docs.jwks_fetches == 1
    assert not store.is_ready()
    clock.advance(keys_module.COLD_RETRY_SECONDS)
    with pytest.raises(KeysUnavailable):
        store.key("k1")
    assert docs.jwks_fetches == 2


def _rsa_jwk(kid: str, bits: int, **extra: Any) -> dict[str, Any]:
    private = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    jwk = json.loads(RSAAlgorithm.to_jwk(private.public_key()))
    return {**jwk, "kid": kid, "use": "sig", **extra}


def _ec_jwk(kid: str) -> dict[str, Any]:
    jwk = json.loads(ECAlgorithm.to_jwk(ec.generate_private_key(ec.SECP256R1()).public_key()))
    return {**jwk, "kid": kid, "use": "sig"}


def _keys(*jwks: dict[str, Any]) -> bytes:
    return json.dumps({"keys": list(jwks)}).encode()


@pytest.fixture(scope="module")
def garbage_bodies() -> dict[str, bytes]:
    """JWKS answers that must count as failed fetches (vector 70 c, f); each names k2."""
    good_k2 = _rsa_jwk("k2", 2048)
    return {
        "html": b"<!doctype html><html><body>Sign in</body></html>",
        "empty body": b"",
        "not utf-8": b"\xff\xfe{",
        "json array": b"[]",
        "json null": b"null",
        "empty object": b"{}",
        "empty keys": b'{"keys": []}',
        "keys not a list": b'{"keys": {"kid": "k2"}}',
        "deeply nested": b"[" * 100_000,
        "modulus !!": _keys({**good_k2, "n": "!!"}),
        "exponent missing": _keys({k: v for k, v in good_k2.items() if k != "e"}),
        "only use enc": _keys({**good_k2, "use": "enc"}),
        "only kty EC": _keys(_ec_jwk("k2")),
        "only kty oct": _keys(
            {"kty": "oct", "kid": "k2", "use": "sig", "k": b64url(os.urandom(32))}
        ),
        "only RSA 1024": _keys(_rsa_jwk("k2", 1024)),
        "kid missing": _keys({k: v for k, v in good_k2.items() if k != "kid"}),
        "kid not a string": _keys({**good_k2, "kid": 2}),
        "kid too long": _keys({**good_k2, "kid": "k" * 129}),
        "keys are strings": b'{"keys": ["k2"]}',
    }


GARBAGE = [
    "html",
    "empty body",
    "not utf-8",
    "json array",
    "json null",
    "empty object",
    "empty keys",
    "keys not a list",
    "deeply nested",
    "modulus !!",
    "exponent missing",
    "only use enc",
    "only kty EC",
    "only kty oct",
    "only RSA 1024",
    "kid missing",
    "kid not a string",
    "kid too long",
    "keys are strings",
]


@pytest.mark.parametrize("garbage", GARBAGE)
def test_garbage_jwks_counts_as_a_failed_fetch_and_keeps_the_last_good_keys(
    garbage: str,
    garbage_bodies: dict[str, bytes],
    make_store: StoreFactory,
    docs: FakeDocs,
    shared: DictCache,
    clock: FakeClock,
    keys: dict[str, TestKey],
) -> None:
    store = make_store()
    store.key("k1")
    version, published = store.keys_version, shared.snapshots()
    docs.jwks_body = garbage_bodies[garbage]
    clock.advance(HOUR)  # the hourly refresh gets garbage...
    assert same_key(store.key("k1"), keys["k1"])
    clock.advance(GAP)
    assert_unknown(store, "k2")  # ...and so does the unknown-kid refresh
    assert docs.jwks_fetches == 3
    assert store.keys_version == version
    assert shared.snapshots() == published  # the fleet's copy is not replaced with junk either
    assert store.is_ready()


@pytest.mark.parametrize("garbage", GARBAGE)
def test_garbage_jwks_on_a_cold_store_means_keys_unavailable(
    garbage: str, garbage_bodies: dict[str, bytes], make_store: StoreFactory, docs: FakeDocs
) -> None:
    docs.jwks_body = garbage_bodies[garbage]
    store = make_store()
    with pytest.raises(KeysUnavailable):
        store.key("k2")
    assert not store.is_ready()


def test_unusable_keys_are_skipped_and_the_usable_ones_kept(
    make_store: StoreFactory, docs: FakeDocs, keys: dict[str, TestKey]
) -> None:
    docs.jwks_body = _keys(
        _ec_jwk("ec"),
        _rsa_jwk("short", 1024),
        {**keys["k2"].jwk(), "use": "enc"},
        keys["k1"].jwk(),
    )
    store = make_store()
    assert same_key(store.key("k1"), keys["k1"])
    for kid in ("ec", "short", "k2"):
        assert_unknown(store, kid)


def test_oversized_jwks_is_a_failed_fetch_even_when_it_holds_good_keys(
    entra: FakeEntra, clock: FakeClock, shared: DictCache, keys: dict[str, TestKey]
) -> None:
    """The 1 MiB cap (vector 70c) is the fetcher's: exercised over loopback HTTP."""
    entra.publish(keys["k1"])
    store = SigningKeyStore(
        discovery_url=f"{entra.issuer()}/.well-known/openid-configuration",
        expected_issuer=entra.issuer(),
        fetch=lambda url: fetch_document(url, timeout=5, max_bytes=1024 * 1024, allow_http=True),
        shared=shared,
        clock=clock,
    )
    store.key("k1")
    padding = "x" * (1024 * 1024)
    entra.mode = json.dumps({"keys": [keys["k1"].jwk(), keys["k2"].jwk()], "padding": padding})
    clock.advance(GAP + 1)
    assert_unknown(store, "k2")
    assert same_key(store.key("k1"), keys["k1"])
    assert entra.jwks_fetches() == 2


# --- discovery (vector 70e) ---------------------------------------------------------------
def test_discovery_issuer_mismatch_on_a_cold_store_accepts_no_keys(
    make_store: StoreFactory, docs: FakeDocs
) -> None:
    docs.issuer = f"{AUTHORITY}/{TENANT}/v2.0/"  # one character off
    store = make_store()
    with pytest.raises(KeysUnavailable):
        store.key("k1")
    assert docs.jwks_fetches == 0  # the keys are not even fetched
    assert not store.is_ready()


def test_discovery_issuer_mismatch_at_refresh_accepts_no_new_keys(
    make_store: StoreFactory, docs: FakeDocs, clock: FakeClock, keys: dict[str, TestKey]
) -> None:
    store = make_store()
    store.key("k1")
    docs.issuer = "https://login.evil.test/other/v2.0"
    docs.publish(keys["k1"], keys["attacker"])
    clock.advance(HOUR)
    store.key("k1")
    clock.advance(GAP)
    assert_unknown(store, "attacker")
    assert store.issuer() == ISSUER
    assert docs.jwks_fetches == 1


@pytest.mark.parametrize(
    "discovery",
    [b"<html>", b"[]", b'{"issuer": "x"}', b'{"jwks_uri": "y"}', b'{"issuer": 1, "jwks_uri": 2}'],
)
def test_unusable_discovery_document_is_a_failed_fetch(
    discovery: bytes, clock: FakeClock, shared: DictCache, docs: FakeDocs
) -> None:
    def fetch(url: str) -> bytes:
        return discovery if url == DISCOVERY else docs(url)

    store = SigningKeyStore(
        discovery_url=DISCOVERY, expected_issuer=ISSUER, fetch=fetch, shared=shared, clock=clock
    )
    with pytest.raises(KeysUnavailable):
        store.key("k1")


# --- single flight (vector 70d) -----------------------------------------------------------
def _in_parallel(count: int, call: Callable[[], Any]) -> list[Any]:
    """Runs ``call`` in ``count`` threads released together; returns results or exceptions."""
    barrier = threading.Barrier(count)

    def run() -> Any:
        barrier.wait()
        try:
            return call()
        except Exception as exc:
            return exc

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(lambda _: run(), range(count)))


@pytest.mark.parametrize(("kid", "found"), [("k2", True), ("zzz", False)])
def test_fifty_concurrent_misses_of_one_kid_cause_one_fetch(
    kid: str,
    found: bool,
    make_store: StoreFactory,
    docs: FakeDocs,
    clock: FakeClock,
    keys: dict[str, TestKey],
) -> None:
    store = make_store()
    store.key("k1")
    docs.publish(keys["k1"], keys["k2"])
    docs.jwks_delay = 0.05
    clock.advance(GAP + 1)
    results = _in_parallel(50, lambda: store.key(kid))
    assert docs.jwks_fetches == 2
    if found:
        assert all(same_key(result, keys["k2"]) for result in results)
    else:
        assert all(isinstance(r, InvalidToken) and r.reason == "unknown_key" for r in results)


def test_fifty_concurrent_requests_on_a_cold_store_cause_one_fetch(
    make_store: StoreFactory, docs: FakeDocs, keys: dict[str, TestKey]
) -> None:
    docs.jwks_delay = 0.05
    store = make_store()
    results = _in_parallel(50, lambda: store.key("k1"))
    assert docs.jwks_fetches == 1
    assert all(same_key(result, keys["k1"]) for result in results)


def test_fifty_concurrent_requests_on_a_cold_store_with_a_hanging_jwks_cause_one_fetch(
    make_store: StoreFactory, docs: FakeDocs
) -> None:
    """A fetch that times out (5 s by default) must not hand the next waiter a new attempt."""
    docs.timeout_after = 5.0  # the default entra_keys_fetch_timeout_seconds
    store = make_store()
    results = _in_parallel(50, lambda: store.key("k1"))
    assert docs.jwks_fetches == 1
    assert all(isinstance(result, KeysUnavailable) for result in results)


def test_concurrent_unknown_kids_with_a_hanging_jwks_cause_one_fetch_per_gap(
    make_store: StoreFactory, docs: FakeDocs, clock: FakeClock, keys: dict[str, TestKey]
) -> None:
    store = make_store()
    store.key("k1")
    clock.advance(GAP + 1)
    docs.timeout_after = GAP + 1.0  # even a fetch that outlasts the gap
    results = _in_parallel(20, lambda: store.key("zzz"))
    assert docs.jwks_fetches == 2
    assert all(isinstance(r, InvalidToken) and r.reason == "unknown_key" for r in results)
    assert same_key(store.key("k1"), keys["k1"])


# --- across workers: the shared cache ------------------------------------------------------
def test_second_worker_adopts_the_published_keys_without_fetching(
    make_store: StoreFactory, docs: FakeDocs, keys: dict[str, TestKey]
) -> None:
    first, second = make_store(), make_store()
    first.key("k1")
    assert same_key(second.key("k1"), keys["k1"])
    assert second.is_ready()
    assert docs.jwks_fetches == 1
    assert second.keys_version == first.keys_version


def test_unknown_kid_gate_is_fleet_wide(
    make_store: StoreFactory, docs: FakeDocs, clock: FakeClock, keys: dict[str, TestKey]
) -> None:
    workers = [make_store() for _ in range(4)]
    for worker in workers:
        worker.key("k1")
    clock.advance(GAP + 1)
    for kid in ("a", "b", "c", "d", "e"):
        for worker in workers:
            assert_unknown(worker, kid)
    assert docs.jwks_fetches == 2  # the cold load and one unknown-kid refresh, fleet-wide
    clock.advance(GAP)
    for worker in workers:
        assert_unknown(worker, "f")
    assert docs.jwks_fetches == 3


def test_a_key_one_worker_fetched_reaches_the_others_without_a_fetch(
    make_store: StoreFactory, docs: FakeDocs, clock: FakeClock, keys: dict[str, TestKey]
) -> None:
    first, second = make_store(), make_store()
    first.key("k1")
    second.key("k1")
    docs.publish(keys["k1"], keys["k2"])
    clock.advance(GAP + 1)
    first.key("k2")
    assert same_key(second.key("k2"), keys["k2"])
    assert docs.jwks_fetches == 2
    assert second.keys_version == first.keys_version


def test_hourly_refresh_is_done_by_one_worker_for_the_fleet(
    make_store: StoreFactory, docs: FakeDocs, clock: FakeClock
) -> None:
    workers = [make_store() for _ in range(4)]
    for worker in workers:
        worker.key("k1")
    clock.advance(HOUR)
    for worker in workers:
        worker.key("k1")
    assert docs.jwks_fetches == 2


def test_corrupt_shared_snapshot_is_ignored(
    make_store: StoreFactory, docs: FakeDocs, shared: DictCache, keys: dict[str, TestKey]
) -> None:
    make_store().key("k1")
    for key in [k for k in shared.data if k.startswith("entra:keys:")]:
        shared.set(key, {"issuer": ISSUER, "jwks": "junk", "fetched_at": START + 10}, DAY)
    store = make_store()
    assert same_key(store.key("k1"), keys["k1"])
    assert docs.jwks_fetches == 2


def test_without_the_shared_cache_each_worker_falls_back_to_its_own_gate(
    make_store: StoreFactory, docs: FakeDocs, clock: FakeClock, keys: dict[str, TestKey]
) -> None:
    """Redis down (vector 70g): no error, each process loads once and gates itself."""
    first, second = make_store(shared=DownCache()), make_store(shared=DownCache())
    assert same_key(first.key("k1"), keys["k1"])
    assert same_key(second.key("k1"), keys["k1"])
    assert docs.jwks_fetches == 2
    clock.advance(GAP + 1)
    for kid in ("a", "b", "c"):
        assert_unknown(first, kid)
        assert_unknown(second, kid)
    assert docs.jwks_fetches == 4


def test_a_dead_redis_behind_the_tolerant_cache_is_served_from_process_memory(
    settings: Any, docs: FakeDocs, clock: FakeClock, keys: dict[str, TestKey], unused_port: int
) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{unused_port}/1",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    store = SigningKeyStore(
        discovery_url=DISCOVERY,
        expected_issuer=ISSUER,
        fetch=docs,
        shared=TolerantCache(),
        clock=clock,
    )
    assert same_key(store.key("k1"), keys["k1"])
    clock.advance(GAP + 1)
    assert_unknown(store, "zzz")
    assert_unknown(store, "yyy")
    assert docs.jwks_fetches == 2


# --- keys_version -------------------------------------------------------------------------
def test_keys_version_changes_only_when_the_key_set_changes(
    make_store: StoreFactory, docs: FakeDocs, clock: FakeClock, keys: dict[str, TestKey]
) -> None:
    store = make_store()
    store.key("k1")
    first = store.keys_version
    assert first
    clock.advance(HOUR)
    store.key("k1")
    assert store.keys_version == first  # same set refetched
    docs.publish(keys["k1"], keys["k2"])
    clock.advance(HOUR)
    store.key("k1")
    with_k2 = store.keys_version
    assert with_k2 != first
    docs.jwks_body = _keys({**keys["k2"].jwk(), "x5t": "other"}, keys["k1"].jwk())
    clock.advance(HOUR)
    store.key("k1")
    assert store.keys_version == with_k2  # order and other fields do not matter
    docs.publish(keys["k2"])
    clock.advance(HOUR)
    store.key("k2")
    assert store.keys_version not in {first, with_k2}
    assert docs.jwks_fetches == 5


def test_keys_version_changes_when_the_keys_expire(
    make_store: StoreFactory, docs: FakeDocs, clock: FakeClock
) -> None:
    """Validated tokens are cached by keys_version: expired keys must invalidate them too."""
    store = make_store()
    store.key("k1")
    version = store.keys_version
    docs.down = True
    clock.advance(DAY + 1)
    assert not store.is_ready()
    assert store.keys_version != version

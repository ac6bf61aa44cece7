"""Vector 35 for real: an unknown-kid flood across two gunicorn workers sharing Redis.

gunicorn runs the production command against a temporary SQLite database and the loopback
fake Entra (served from this process). 1 000 tokens with random ``kid`` values, spread over
both workers, must cost at most one JWKS fetch in total, while a valid K1 token keeps
getting 200.
"""

from __future__ import annotations

import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from http import HTTPStatus
from typing import TYPE_CHECKING

import pytest

from apps.entra_auth.fetch import fetch_document
from apps.entra_auth.issuers import V2, discovery_url
from apps.entra_auth.keys import SigningKeyStore
from apps.entra_auth.shared_cache import TolerantCache
from tests.conftest import TENANT
from tests.servers import Portico, delegated_token, needs_redis, two_workers

if TYPE_CHECKING:
    from tests.conftest import FakeEntra, TestKey

FLOOD_SIZE = 1000
CLIENT_THREADS = 16

pytestmark = needs_redis("the workers share the refresh gate through Redis")


@pytest.fixture(scope="module")
def portico(module_entra: FakeEntra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portico]:
    flood = tmp_path_factory.mktemp("flood")
    with two_workers(module_entra, flood, ENTRA_KEYS_REFRESH_MIN_SECONDS="300") as running:
        yield running


def _warm_every_worker(portico: Portico, module_entra: FakeEntra, k1: TestKey) -> None:
    """Every worker loads (or adopts) the keys before the flood, as in steady state."""
    assert portico.get("/api/me", delegated_token(module_entra, k1)).status == HTTPStatus.OK
    portico.from_both_workers(lambda: portico.get("/api/me", delegated_token(module_entra, k1)))


def _publish_keys_as_another_container(module_entra: FakeEntra) -> None:
    """Loads the keys into Redis from this process, as a third member of the fleet would.

    The workers then adopt them without fetching, so neither has a recent attempt of its own
    and only the fleet-wide gate in Redis can keep the flood to one fetch.
    """
    store = SigningKeyStore(
        discovery_url=discovery_url(module_entra.authority, TENANT, V2),
        expected_issuer=module_entra.issuer(),
        fetch=partial(fetch_document, timeout=5, max_bytes=1024 * 1024, allow_http=True),
        shared=TolerantCache(),
    )
    assert store.is_ready()


def test_unknown_kid_flood_across_two_workers_costs_at_most_one_fetch(
    portico: Portico, module_entra: FakeEntra, keys: dict[str, TestKey]
) -> None:
    assert module_entra.fetches == {}  # starting and serving /api/health fetch no keys
    _publish_keys_as_another_container(module_entra)
    fetched_before = module_entra.jwks_fetches()
    _warm_every_worker(portico, module_entra, keys["k1"])
    assert module_entra.jwks_fetches() == fetched_before  # both workers adopted the keys
    flood = [
        delegated_token(module_entra, keys["attacker"], kid=uuid.uuid4().hex)
        for _ in range(FLOOD_SIZE)
    ]
    valid_meanwhile: list[int] = []
    flooding = threading.Event()
    flooding.set()

    def keep_sending_a_valid_token() -> None:
        while flooding.is_set():
            answer = portico.get("/api/me", delegated_token(module_entra, keys["k1"]))
            valid_meanwhile.append(answer.status)
            time.sleep(0.02)

    sender = threading.Thread(target=keep_sending_a_valid_token)
    started = time.monotonic()
    sender.start()
    try:
        with ThreadPoolExecutor(max_workers=CLIENT_THREADS) as pool:
            answers = list(pool.map(lambda token: portico.get("/api/me", token), flood))
    finally:
        flooding.clear()
        sender.join()
    elapsed = time.monotonic() - started

    assert {answer.status for answer in answers} == {HTTPStatus.UNAUTHORIZED}
    assert all('error="invalid_token"' in answer.challenge for answer in answers)
    assert {answer.body.get("reason") for answer in answers} == {"unknown_key"}
    assert len(portico.workers_that_served(answers)) >= 2, "the flood hit one worker only"
    assert module_entra.jwks_fetches() - fetched_before <= 1
    assert valid_meanwhile
    assert set(valid_meanwhile) == {HTTPStatus.OK}
    after = portico.get("/api/me", delegated_token(module_entra, keys["k1"]))
    assert after.status == HTTPStatus.OK
    print(f"{FLOOD_SIZE} unknown-kid requests in {elapsed:.1f} s", file=sys.stderr)

"""Fleet-wide counters: processes send deltas to one Redis hash, exactly once; a scrape shows
the sum, or this process's counts (scope="process") when Redis is down.

A second :class:`metrics.Registry` stands for another process (its deltas are sent by hand);
the module's registry is the process answering the scrape. Counter names are unique per test,
so the shared Redis database and the background flusher cannot blur the numbers.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
import uuid
from http import HTTPStatus

import pytest
from django.conf import settings as django_settings
from django.core.cache import caches
from redis.exceptions import ConnectionError as RedisConnectionError

from apps.core import metrics, metrics_flush
from apps.core.throttle import Throttle
from tests.conftest import bearer
from tests.production.conftest import redis_cache_settings
from tests.production.test_metrics import (  # noqa: F401 (scraper_rule: a fixture)
    IN_PROCESS_CACHE,
    SCRAPER_ROLE,
    scraper_rule,
)

BASE_DIR = django_settings.BASE_DIR
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("scraper_rule")]


def other_process() -> metrics.Registry:
    """Another process's counters, without a flusher thread: the test sends its deltas."""
    registry = metrics.Registry()
    registry.flusher_pid = -1
    return registry


def unique_counter() -> str:
    return f"portico_test_{uuid.uuid4().hex}_total"


def scrape(client, token_factory) -> tuple[str, str]:
    scraper = token_factory(app=True, claims={"roles": [SCRAPER_ROLE]})
    response = client.get("/api/metrics", **bearer(scraper))
    assert response.status_code == HTTPStatus.OK
    return response.content.decode(), response["Portico-Metrics-Scope"]


def hash_total(cache, name: str, **labels: str) -> int:
    return metrics_flush.fleet_totals(cache).get((name, tuple(sorted(labels.items()))), 0)


@pytest.fixture
def shared_redis():
    """The Redis of REDIS_URL (CI sets it), as config/settings.py configures it."""
    if not os.environ.get("REDIS_URL"):
        pytest.skip("needs a real Redis: set REDIS_URL (CI does)")
    cache = caches["default"]
    assert metrics_flush.shared_cache() is cache
    return cache


@pytest.fixture
def own_redis(settings, redis_server):
    """A redis-server of this test's own as the shared cache, which it may stop."""
    settings.CACHES = redis_cache_settings(redis_server.url)
    return redis_server


def test_a_scrape_answers_the_sum_of_every_process(client, token_factory, shared_redis):
    name = unique_counter()
    other = other_process()
    for _ in range(3):
        other.increment(name, outcome="ok")
    metrics_flush.flush(other, shared_redis)
    metrics.increment(name, outcome="ok")
    metrics.increment(name, outcome="ok")  # this process's deltas: sent by the scrape itself

    body, scope = scrape(client, token_factory)

    assert scope == metrics.FLEET
    assert 'portico_metrics_scope{scope="fleet"} 1' in body
    assert f'{name}{{outcome="ok"}} 5' in body
    assert metrics.value(name, outcome="ok") == 2  # the process still knows its own share


def test_a_process_sends_its_deltas_on_its_own_every_interval(settings, shared_redis):
    settings.PORTICO = {**settings.PORTICO, "METRICS_FLUSH_SECONDS": 1}
    name = unique_counter()
    process = metrics.Registry()
    process.increment(name)  # starts the process's flusher thread
    assert process.flusher_pid == os.getpid()
    deadline = time.monotonic() + 5
    while process.pending() and time.monotonic() < deadline:  # empty once Redis took them
        time.sleep(0.1)
    assert process.pending() == {}
    assert hash_total(shared_redis, name) == 1


def test_a_process_that_exits_sends_its_last_deltas(shared_redis):
    name = unique_counter()
    script = (
        "import django; django.setup()\n"
        "from apps.core import metrics\n"
        f"for _ in range(3): metrics.increment({name!r})\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
    subprocess.run([sys.executable, "-c", script], env=env, cwd=BASE_DIR, check=True, timeout=60)
    assert hash_total(shared_redis, name) == 3


def test_label_values_stay_escaped_through_redis(client, token_factory, shared_redis):
    name = unique_counter()
    other = other_process()
    other.increment(name, reason='a"b\\c\nd')
    metrics_flush.flush(other, shared_redis)
    body, _ = scrape(client, token_factory)
    assert f'{name}{{reason="a\\"b\\\\c\\nd"}} 1' in body


def test_a_forked_child_does_not_send_its_parents_deltas(shared_redis):
    name = unique_counter()
    metrics.increment(name)
    metrics.increment(name)
    child = os.fork()
    if child == 0:  # the child: one count of its own, sent at once
        try:
            metrics.increment(name)
            metrics_flush.flush(metrics.REGISTRY, caches["default"])
        finally:
            os._exit(0)
    _, status = os.waitpid(child, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    metrics_flush.flush(metrics.REGISTRY, shared_redis)
    assert hash_total(shared_redis, name) == 3


def test_deltas_that_fail_to_reach_redis_are_kept_and_sent_once_later(own_redis):
    cache = caches["default"]
    name = unique_counter()
    process = other_process()
    for _ in range(3):
        process.increment(name)
    own_redis.kill()

    with pytest.raises(metrics_flush.FleetUnavailable):
        metrics_flush.flush(process, cache)
    assert process.pending() == {(name, ()): 3}

    process.increment(name)  # counted while the batch waits
    own_redis.start()
    metrics_flush.flush(process, cache)  # the kept batch (3)
    metrics_flush.flush(process, cache)  # what came meanwhile (1)
    metrics_flush.flush(process, cache)  # nothing left
    assert hash_total(cache, name) == 4
    assert process.pending() == {}
    assert process.value(name) == 4


class LostReply:
    """A Redis client whose script runs but whose answer never arrives (a timeout)."""

    def __init__(self, client) -> None:
        self.client = client

    def eval(self, *args):
        self.client.eval(*args)
        raise RedisConnectionError("connection lost before the reply")


def test_a_batch_applied_but_unacknowledged_is_not_counted_twice(own_redis, monkeypatch):
    cache = caches["default"]
    name = unique_counter()
    process = other_process()
    process.increment(name)
    process.increment(name)
    real_client = cache.redis_client()
    with monkeypatch.context() as patch:
        patch.setattr(cache, "redis_client", lambda: LostReply(real_client))
        with pytest.raises(metrics_flush.FleetUnavailable):
            metrics_flush.flush(process, cache)
    assert hash_total(cache, name) == 2  # Redis has it, the process does not know

    metrics_flush.flush(process, cache)  # the retry carries the same batch id
    assert hash_total(cache, name) == 2
    assert process.pending() == {}


def test_with_redis_down_a_scrape_answers_this_process_and_says_so(
    client, token_factory, own_redis, caplog, monkeypatch
):
    monkeypatch.setattr(metrics_flush, "_warning", Throttle(60.0))  # not spent by another test
    failures = metrics.value("portico_metrics_flush_failures_total")
    name = unique_counter()
    metrics.increment(name)
    own_redis.kill()

    with caplog.at_level(logging.WARNING, logger="apps.core.metrics_flush"):
        body, scope = scrape(client, token_factory)

    assert scope == metrics.PROCESS
    assert 'portico_metrics_scope{scope="process"} 1' in body
    assert f"{name} 1" in body
    assert metrics.value("portico_metrics_flush_failures_total") > failures
    assert any("per process" in record.getMessage() for record in caplog.records)


def test_without_redis_a_scrape_answers_this_process(client, token_factory, settings):
    settings.CACHES = IN_PROCESS_CACHE
    name = unique_counter()
    metrics.increment(name)
    body, scope = scrape(client, token_factory)
    assert scope == metrics.PROCESS
    assert 'portico_metrics_scope{scope="process"} 1' in body
    assert f"{name} 1" in body

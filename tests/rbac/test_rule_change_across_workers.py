"""A rule change reaches every gunicorn worker through the version in Redis (issue 3).

Each worker's watcher thread (``apps/rbac/version_watch.py``) is subscribed to the version's
channel, so a change is seen with no Redis GET per request. Delivery is asynchronous, but the
version is published before the admin's process returns and is applied by the worker within
a millisecond, so answers are checked at once, without polling.

gunicorn runs the production command with two sync workers sharing Redis, against a
temporary SQLite database and the loopback fake Entra (served from this process). Rules are
changed by a third process (``manage.py shell``, as an admin's container would): through
the ORM and ``apps.rbac.services``, so the version bump goes to Redis when the transaction
commits. After each change every answer, from both workers, must show it.

The last step is the control: a change written straight into the database, bypassing Django
(so no version bump), is *not* seen, because the workers answer from their in-memory
snapshot; bumping the version alone then makes both of them reload it.
"""

from __future__ import annotations

import sqlite3
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from typing import TYPE_CHECKING, Any

import pytest

from benchmarks.server import ROOT, VENV_BIN
from tests.servers import Answer, Portico, delegated_token, needs_redis, two_workers

if TYPE_CHECKING:
    from tests.conftest import FakeEntra, TestKey

ROLE = "Orders.Auditor"
GRANTED = "projects.view_project"

pytestmark = needs_redis("the workers learn of rule changes through Redis")


@pytest.fixture(scope="module")
def portico(module_entra: FakeEntra, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portico]:
    with two_workers(module_entra, tmp_path_factory.mktemp("rbac-workers")) as running:
        yield running


def run_as_admin(portico: Portico, code: str) -> str:
    """Python run by ``manage.py shell`` in another process, on the same DB and Redis."""
    done = subprocess.run(
        [VENV_BIN / "python", "manage.py", "shell", "-c", code],
        cwd=ROOT,
        env=portico.env,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.stdout


def every_worker_answers(
    portico: Portico, token: str, check: Callable[[dict[str, Any]], bool]
) -> list[Answer]:
    """Batches of concurrent requests until both workers answered; every answer must pass."""

    def fresh(answers: list[Answer]) -> None:
        wrong = [answer.body for answer in answers if not check(answer.body)]
        assert wrong == [], f"{len(wrong)} of {len(answers)} answers were stale: {wrong[0]}"

    return portico.from_both_workers(lambda: portico.get("/api/me", token), fresh)


def granted(body: dict[str, Any]) -> bool:
    return body["permissions"] == [GRANTED] and [r["value"] for r in body["matched_rules"]] == [
        ROLE
    ]


def nothing(body: dict[str, Any]) -> bool:
    return body["permissions"] == [] and body["matched_rules"] == []


SAVE_RULE = """
from django.contrib.auth.models import Permission
from apps.rbac.models import MappingRule
from apps.rbac.services import mapping_save
app_label, codename = {granted!r}.split(".")
perm = Permission.objects.get(content_type__app_label=app_label, codename=codename)
rule = MappingRule.objects.filter(source_kind="app_role", source_value={role!r}).first()
data = {{"source_kind": "app_role", "source_value": {role!r}, "is_active": {active!r},
        "label": "Order auditors"}}
rule = mapping_save(rule=rule, data=data, permissions=[perm], via="test")
print(rule.pk)
"""
BUMP_ONLY = "from apps.rbac.resolution import bump_version; bump_version()"


def subscribed_watchers() -> int:
    """Processes subscribed to the version's channel (the test process's watcher stopped)."""
    from django.core.cache import cache

    from apps.rbac import resolution
    from apps.rbac.version_watch import channel_for

    resolution._watch.reset()
    client = cache.redis_client()
    channel = channel_for(resolution.VERSION_KEY, client)
    deadline = time.monotonic() + 3.0  # a stopped watcher leaves within a second
    while (count := dict(client.pubsub_numsub(channel))[channel.encode()]) != 2:
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    return count


def shared_version() -> str | None:
    """The mapping version in Redis, read from this process (same REDIS_URL and prefix)."""
    from django.core.cache import cache

    from apps.rbac.resolution import VERSION_KEY

    return cache.get(VERSION_KEY)


def test_rule_changes_reach_both_workers_through_redis(
    portico: Portico, module_entra: FakeEntra, keys: dict[str, TestKey]
) -> None:
    token = delegated_token(module_entra, keys["k1"], roles=[ROLE])
    every_worker_answers(portico, token, nothing)  # both warm, no rule for the role yet
    assert subscribed_watchers() == 2  # one per worker: they follow the version by pub/sub
    version = shared_version()
    assert version is not None

    run_as_admin(portico, SAVE_RULE.format(granted=GRANTED, role=ROLE, active=True))
    assert shared_version() not in {None, version}  # bumped in Redis by the other process
    every_worker_answers(portico, token, granted)

    version = shared_version()
    run_as_admin(portico, SAVE_RULE.format(granted=GRANTED, role=ROLE, active=False))
    assert shared_version() not in {None, version}
    every_worker_answers(portico, token, nothing)

    # Control: reactivated behind Django's back (no signal, no bump), the rule stays unseen...
    with closing(sqlite3.connect(portico.database)) as db, db:
        changed = db.execute(
            "UPDATE rbac_mappingrule SET is_active = 1 WHERE source_value = ?", (ROLE,)
        ).rowcount
    assert changed == 1
    every_worker_answers(portico, token, nothing)
    # ... until the version moves: then both workers reload the rules.
    run_as_admin(portico, BUMP_ONLY)
    every_worker_answers(portico, token, granted)

"""Does the database answer, within a deadline whatever the network does?

For ``/api/ready``. libpq will not wait less than 2 s for a connection (``connect_timeout``
has a 2-second floor), and a query on a connection whose server vanished without a reset
waits for TCP to give up, which takes minutes. So the probe runs in a thread of its own and
the caller waits for it at most ``deadline`` seconds: a load balancer learns "not ready" in
time, whichever way PostgreSQL is gone (stopped, unreachable, hung).

The probe opens its own short-lived connection (never the request thread's persistent one),
so it proves that new connections can be made, and it leaves nothing open. Callers that
arrive while a probe runs share its answer: at most one probe thread per process, even if a
probe hangs.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout

from django.db import DEFAULT_DB_ALIAS, connections

from apps.core.throttle import Throttle

logger = logging.getLogger(__name__)
_lock = threading.Lock()
_current: Future[bool] | None = None
_warning = Throttle(60.0)


def database_answers(*, deadline: float, alias: str = DEFAULT_DB_ALIAS) -> bool:
    """Whether ``SELECT 1`` succeeds on a new connection within ``deadline`` seconds."""
    global _current
    with _lock:
        if _current is None or _current.done():
            _current = Future()
            threading.Thread(
                target=_probe, args=(alias, _current), name="portico-db-probe", daemon=True
            ).start()
        probe = _current
    try:
        return probe.result(timeout=deadline)
    except FutureTimeout:
        if _warning.ready():
            logger.warning("Readiness: database did not answer within %.1f s", deadline)
        return False


def _probe(alias: str, outcome: Future[bool]) -> None:
    try:
        connection = connections.create_connection(alias)
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1")
        finally:
            connection.close()
    except Exception as exc:
        if _warning.ready():
            logger.warning("Readiness: database unavailable: %s", exc)
        outcome.set_result(False)
    else:
        outcome.set_result(True)

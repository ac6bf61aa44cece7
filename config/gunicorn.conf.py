"""gunicorn settings: ``gunicorn -c config/gunicorn.conf.py config.wsgi:application``.

Every value can be set from the environment (README, "Configuration"); the defaults suit a
task behind an AWS Application Load Balancer.
"""

import os
import signal

from apps.core.access_log import JsonAccessLogger

MAX_DEFAULT_WORKERS = 8


def _cpus() -> int:
    """CPUs this process may run on (the affinity mask, which a container limit narrows)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _workers() -> int:
    # WEB_CONCURRENCY is gunicorn's own variable; GUNICORN_WORKERS wins when both are set.
    configured = os.environ.get("GUNICORN_WORKERS") or os.environ.get("WEB_CONCURRENCY")
    if configured:
        return int(configured)
    # gunicorn's rule of thumb, capped: a host reporting many CPUs must not start dozens of
    # ~100 MB workers in a task sized for a few.
    return min(2 * _cpus() + 1, MAX_DEFAULT_WORKERS)


bind = os.environ.get("PORTICO_BIND", "0.0.0.0:8000")
workers = _workers()

# A v2 access token with 200 group ids is about 12.1 KB; gunicorn's default 8190-byte field
# limit would answer 431 before Django runs (entra-token-spec §6.3). The ALB caps one header
# at 16 KB, Portico caps tokens at 16 384 characters: 20 KB leaves room for "Bearer ".
limit_request_field_size = 20_480
limit_request_fields = 100
limit_request_line = 8190

# Repeated or underscore header names are never mapped onto identity headers.
header_map = "drop"

# The ALB's idle timeout is 60 s: keep connections open longer so it never reuses a dead one.
# (Applies to threaded/async workers; the default sync worker closes after each response.)
# gunicorn 27's control socket (for `gunicornc`) lives in $HOME, which the image's non-root
# user cannot write, and is shared by every instance on a machine; Portico does not use it.
control_socket_disable = True
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "75"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
# On SIGTERM (ECS stops a task) workers stop accepting, finish the requests in flight for up
# to this long, then exit. Keep it below the task definition's stopTimeout (default 30 s) and
# the target group's deregistration delay.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "25"))
# GUNICORN_ACCESSLOG= (empty) turns the access log off (Django's request log line, from
# apps/core/request_log.py, carries more); "-" is standard output.
accesslog = os.environ.get("GUNICORN_ACCESSLOG", "-") or None
# One JSON line per request, without query string or request headers (apps/core/access_log.py).
logger_class = JsonAccessLogger


def post_worker_init(worker) -> None:
    """On SIGTERM, a worker stops accepting at once, then finishes its request in flight.

    gunicorn's master closes its listening sockets on SIGTERM, but each worker holds a copy
    until it exits: the kernel would keep completing handshakes into the backlog of a socket
    nobody will serve, and those clients would hang until the worker exits and resets them.
    Closing the worker's copies as well makes new connections fail at once (refused), so a
    client or load balancer retries elsewhere; the request being handled is not affected.
    """
    finish_request = worker.handle_exit

    def stop_accepting(signum: int, frame: object) -> None:
        finish_request(signum, frame)  # alive = False: exit after the current request
        for listener in worker.sockets:
            listener.close()

    signal.signal(signal.SIGTERM, stop_accepting)

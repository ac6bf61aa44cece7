"""One log line per request, a request id on every response, and request counters.

The request id comes from the ALB's ``X-Amzn-Trace-Id`` (so the line can be found next to
the load balancer's own access log), else from the caller's ``X-Request-ID``, else it is
generated; either header is taken only if it is short and made of safe characters, because
it is written to logs and echoed in the ``X-Request-ID`` response header. While the request
runs, every log record carries the id (``apps.core.json_log``).

The line holds the method, the path without query string (it may carry ``access_token=``),
the status, the duration, the token kind and a keyed hash of ``tid/oid``: enough to follow
one caller through the logs without writing its identifier, and never a token, a claim set
or an ``Authorization`` value.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.core.signals import request_finished
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.utils.crypto import salted_hmac

from apps.core import metrics
from apps.core.logging import redact

logger = logging.getLogger("portico.request")
REQUEST_ID_HEADER = "X-Request-ID"
_SOURCES = ("HTTP_X_AMZN_TRACE_ID", "HTTP_X_REQUEST_ID")
_SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9=;:._+/@-]{0,199}")
_USER_AGENT_MAX = 200

request_id_var: ContextVar[str | None] = ContextVar("portico_request_id", default=None)


def request_id_of(request: HttpRequest) -> str:
    """The first acceptable id among the request's headers, or a new one."""
    for name in _SOURCES:
        candidate = request.META.get(name, "")
        if _SAFE_ID.fullmatch(candidate):
            return candidate
    return uuid.uuid4().hex


def oid_hash(tid: str, oid: str) -> str:
    """A keyed (``SECRET_KEY``) hash of the principal: stable across workers, not reversible."""
    return _oid_hash(settings.SECRET_KEY, tid, oid)


@lru_cache(maxsize=4096)  # callers repeat; the HMAC (key derivation + two SHA-256) does not
def _oid_hash(secret: str, tid: str, oid: str) -> str:
    return salted_hmac("portico.request_log.oid", f"{tid}/{oid}", secret=secret).hexdigest()[:16]


def request_fields(request: HttpRequest, response: HttpResponse, duration: float) -> dict:
    """The structured fields of the request's log line."""
    auth: Any = getattr(request, "auth", None)  # DRF copies request.auth (Claims) onto it
    kind = getattr(auth, "kind", None)
    return {
        "method": request.method,
        "path": redact(request.path),
        "status": response.status_code,
        "duration_ms": round(duration * 1000, 1),
        "token_kind": None if kind is None else str(kind),
        "oid_hash": oid_hash(auth.tid, auth.oid) if kind is not None else None,
        "user_agent": redact(request.META.get("HTTP_USER_AGENT", "")[:_USER_AGENT_MAX]),
    }


class RequestLogMiddleware:
    """Outermost middleware: times the whole stack, logs once, counts by status class."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_of(request)
        # Not reset on the way out: Django logs 4xx/5xx after the middleware returns, and
        # those lines need the id too. request_finished clears it.
        request_id_var.set(request_id)
        started = time.perf_counter()
        response = self.get_response(request)
        fields = request_fields(request, response, time.perf_counter() - started)
        response[REQUEST_ID_HEADER] = request_id
        metrics.increment("portico_http_requests_total", status_class=_status_class(response))
        logger.info(
            "%s %s %s", fields["method"], fields["path"], fields["status"], extra={"http": fields}
        )
        return response


@receiver(request_finished)
def _forget_request_id(**_: object) -> None:
    request_id_var.set(None)


def _status_class(response: HttpResponse) -> str:
    return f"{response.status_code // 100}xx"

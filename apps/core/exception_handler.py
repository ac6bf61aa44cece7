"""DRF exception handler: every API error body is ``{"detail", "code"}`` and never cached."""

from __future__ import annotations

import logging
from typing import Any

from django.db import DatabaseError
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

logger = logging.getLogger(__name__)


class DatabaseUnavailable(exceptions.APIException):
    """503: the database cannot be reached; the caller may retry (never a 500)."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The service's database is unavailable; retry shortly"
    default_code = "unavailable"

    def __init__(self) -> None:
        super().__init__()
        self.wait = 5  # DRF writes it as Retry-After


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler (status, ``WWW-Authenticate``, ``Retry-After``), with a uniform body.

    A 403 for which a permission class recorded a more precise refusal on the request
    (``request.permission_denial``: see apps/api/permissions.py) answers with that one.
    A database outage is a 503 with ``Retry-After``: the request was fine.
    """
    if isinstance(exc, exceptions.PermissionDenied):
        exc = getattr(context.get("request"), "permission_denial", None) or exc
    elif isinstance(exc, DatabaseError):
        logger.error("Database unavailable, answering 503: %s", exc)
        exc = DatabaseUnavailable()
    response = exception_handler(exc, context)
    if response is None:
        return None
    detail = getattr(exc, "detail", None)
    codes = exc.get_codes() if hasattr(exc, "get_codes") else None
    body: dict[str, Any] = {
        "detail": str(detail) if isinstance(detail, str) else response.data,
        "code": codes if isinstance(codes, str) else "invalid",
    }
    body.update(getattr(exc, "extra_body", {}))
    response.data = body
    response["Cache-Control"] = "no-store"
    return response

"""DRF exception handler: every API error body is ``{"detail", "code"}`` and never cached."""

from __future__ import annotations

from typing import Any

from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler (status, ``WWW-Authenticate``, ``Retry-After``), with a uniform body.

    A 403 for which a permission class recorded a more precise refusal on the request
    (``request.permission_denial``: see apps/api/permissions.py) answers with that one.
    """
    if isinstance(exc, exceptions.PermissionDenied):
        exc = getattr(context.get("request"), "permission_denial", None) or exc
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

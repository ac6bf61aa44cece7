"""The schema class of every API view (``DEFAULT_SCHEMA_CLASS``).

On top of drf-spectacular's introspection, each operation gets, derived from its view's
classes: an "Access" paragraph and an ``x-portico-access`` extension (token kind, scopes, app
roles, Django permissions), and the error responses the authentication and permission layers
can produce, with the ``{detail, code}`` body of ``apps.core.exception_handler``.
"""

from __future__ import annotations

from typing import Any

import uritemplate
from drf_spectacular.drainage import warn
from drf_spectacular.openapi import AutoSchema
from rest_framework import serializers

from apps.api.openapi import auth  # noqa: F401  (registers the security schemes)
from apps.api.openapi.access import Access, access_for


class ErrorSerializer(serializers.Serializer):
    """Every API error: ``detail`` is a sentence, or field -> messages for invalid input."""

    detail = serializers.JSONField(help_text="What went wrong (field errors for a 400 on input)")
    code = serializers.CharField(help_text="Stable code, e.g. invalid_token, insufficient_scope")
    reason = serializers.CharField(
        required=False, help_text="Why a token or header was refused (invalid_token/request)"
    )
    required = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="What the token lacks (insufficient_scope)",
    )


_CHALLENGE = {
    "description": "RFC 6750 challenge: error, error_description, scope",
    "schema": {"type": "string"},
}
_ERRORS = {
    "400": ("Malformed Authorization header (invalid_request), or invalid input", {}),
    "401": ("No token, or the token was refused (invalid_token)", {"WWW-Authenticate": _CHALLENGE}),
    "403": (
        "The token lacks a scope, app role or Django permission (insufficient_scope), "
        "or the principal is disabled",
        {"WWW-Authenticate": _CHALLENGE},
    ),
    "503": (
        "Token signing keys are temporarily unavailable; retry after Retry-After seconds",
        {"Retry-After": {"description": "Seconds", "schema": {"type": "integer"}}},
    ),
}


class PorticoAutoSchema(AutoSchema):
    """drf-spectacular's ``AutoSchema``, plus what the view requires and how it can fail."""

    def access(self) -> Access:
        return access_for(self.view, self.method)

    def get_description(self) -> str:
        own = super().get_description()
        return "\n\n".join(part for part in (own, self.access().as_markdown()) if part)

    def get_extensions(self) -> dict[str, Any]:
        access = self.access()
        if access.unknown:
            warn(f"cannot describe permission classes {sorted(access.unknown)}: teach access.py")
        return {**super().get_extensions(), "x-portico-access": access.as_extension()}

    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        if not self.access().authenticated:
            return responses
        ref = self.resolve_serializer(ErrorSerializer, "response").ref
        codes = dict(_ERRORS)
        if uritemplate.variables(self.path):
            codes["404"] = ("No such object", {})
        for code, (description, headers) in codes.items():
            responses.setdefault(
                code,
                {
                    "description": description,
                    "content": {"application/json": {"schema": ref}},
                    **({"headers": headers} if headers else {}),
                },
            )
        return responses

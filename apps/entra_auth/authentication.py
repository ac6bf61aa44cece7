"""The DRF edge: ``Authorization: Bearer`` -> (user, Claims), and RFC 6750 errors.

Steps 1-2 of the spec's pipeline (§12) happen here, the rest in ``validation.py``. This is
the only place that knows HTTP: it maps validation failures to 400 ``invalid_request``,
401 ``invalid_token`` and 503, and builds the ``WWW-Authenticate`` challenge (§8.4).
"""

from __future__ import annotations

import logging
import re

from rest_framework import exceptions, status
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from apps.core import metrics
from apps.entra_auth.claims import Claims
from apps.entra_auth.exceptions import InvalidRequest, InvalidToken, KeysUnavailable
from apps.entra_auth.models import User
from apps.entra_auth.runtime import token_validator
from apps.entra_auth.users import user_for_claims

logger = logging.getLogger(__name__)

REALM = "portico"
_SCHEME = re.compile(r"(?i)bearer(?=$|[ \t])")
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
_FAILURE_ATTR = "_entra_auth_failure"
RETRY_AFTER_SECONDS = 30


def challenge(**params: str) -> str:
    """A ``WWW-Authenticate`` value for the Bearer scheme with Portico's realm."""
    rendered = "".join(f', {name}="{value}"' for name, value in params.items())
    return f'Bearer realm="{REALM}"{rendered}'


class TokenRefused(exceptions.AuthenticationFailed):
    """401 ``invalid_token``; the challenge is built by ``authenticate_header``."""

    def __init__(self, error: InvalidToken) -> None:
        super().__init__(detail=error.description, code="invalid_token")
        self.extra_body = {"reason": error.reason}


class MalformedRequest(exceptions.APIException):
    """400 ``invalid_request`` (RFC 6750 §3.1), carrying its own challenge."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "invalid_request"

    def __init__(self, error: InvalidRequest) -> None:
        super().__init__(detail=error.description, code="invalid_request")
        self.extra_body = {"reason": error.reason}
        self.auth_header = challenge(error="invalid_request", error_description=error.description)


class SigningKeysUnavailable(exceptions.APIException):
    """503: keys cannot be had; the token is not at fault, so no challenge (spec §8.4)."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "temporarily_unavailable"
    default_detail = "Token signing keys are temporarily unavailable; retry shortly"

    def __init__(self) -> None:
        super().__init__()
        self.wait = RETRY_AFTER_SECONDS


class PrincipalDisabled(exceptions.PermissionDenied):
    default_detail = "This principal has been disabled in Portico"
    default_code = "principal_disabled"


def bearer_credentials(request: Request) -> str | None:
    """What follows ``Bearer`` in the Authorization header; None when the request has no
    Bearer credentials (no header, another scheme); InvalidRequest when it is malformed.
    The token's own characters are checked by :func:`check_token_syntax`."""
    header = request.META.get("HTTP_AUTHORIZATION")
    if header is None:
        return None
    if not header.isascii():
        raise InvalidRequest("not_ascii")
    fields = header.split(",")  # gunicorn and wsgiref join repeated headers with commas
    if len(fields) > 1 and any(_SCHEME.match(field.lstrip(" \t")) for field in fields):
        raise InvalidRequest("duplicate")  # also "Basic ...,Bearer ...": a Bearer attempt
    if not _SCHEME.match(header):
        return None
    credentials = header[len("bearer") :].lstrip(" ")
    if not credentials.strip():
        raise InvalidRequest("empty")
    return credentials


def check_token_syntax(credentials: str) -> None:
    """RFC 6750 §2.1 ``b64token``: one token, nothing else (no second credential, no tab)."""
    if not _B64TOKEN.fullmatch(credentials):
        raise InvalidRequest("syntax")


def _token_also_elsewhere(request: Request) -> bool:
    django_request = request._request
    if "access_token" in django_request.GET:
        return True
    form = django_request.content_type == "application/x-www-form-urlencoded"
    return form and "access_token" in django_request.POST


def _count(result: str, reason: str = "") -> None:
    metrics.increment("portico_auth_total", result=result, reason=reason or result)


class EntraBearerAuthentication(BaseAuthentication):
    """Authenticates ``/api`` requests with an Entra access token (RFC 6750 §2.1 only)."""

    def authenticate(self, request: Request) -> tuple[User, Claims] | None:
        validator = token_validator()
        try:
            token = bearer_credentials(request)
            if token is None:
                return None
            # A token validated before passed stricter checks than the syntax check: skip it.
            claims = validator.recall(token)
            if claims is None:
                check_token_syntax(token)
            if _token_also_elsewhere(request):
                raise InvalidRequest("several_methods")
        except InvalidRequest as error:
            _count("invalid_request", error.reason)
            raise MalformedRequest(error) from None
        try:
            claims = claims or validator.validate(token)
        except InvalidToken as error:
            setattr(request, _FAILURE_ATTR, error)
            _count("invalid_token", error.reason)
            logger.info("Bearer token refused: %s", error.reason)
            raise TokenRefused(error) from None
        except KeysUnavailable:
            _count("keys_unavailable")
            logger.error("No usable signing keys: answering 503")
            raise SigningKeysUnavailable() from None
        user = user_for_claims(claims)
        if not user.is_active:
            _count("principal_disabled")
            raise PrincipalDisabled()
        _count("accepted")
        return user, claims

    def authenticate_header(self, request: Request) -> str:
        failure: InvalidToken | None = getattr(request, _FAILURE_ATTR, None)
        if failure is None:
            return challenge()
        return challenge(error="invalid_token", error_description=failure.description)

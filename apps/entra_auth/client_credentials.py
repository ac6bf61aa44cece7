"""App-only access tokens for the API's own app registration (OAuth 2.0 client credentials).

Microsoft's ``msal`` does the protocol: tenant discovery, the token request, the client
assertion, throttling and an in-memory token cache (a token is reused until shortly before it
expires, so callers may ask on every request). Portico only chooses the credential:

- ``ENTRA_CLIENT_ASSERTION_FILE``: a federated assertion (a JWT from an issuer the app
  registration trusts, written by the platform or a sidecar), re-read from the file each time
  msal sends a token request, so a rotated file is picked up and no secret is stored;
- otherwise ``ENTRA_CLIENT_SECRET``: a client secret, never logged.

The client is ``ENTRA_API_CLIENT_ID`` in ``ENTRA_TENANT_ID`` at ``ENTRA_AUTHORITY_HOST``.
Used by the Graph group lookup (``apps/rbac/graph.py``); kept general for other callers.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msal
from django.core.signals import setting_changed
from django.dispatch import receiver

from apps.core.conf import portico_settings

TIMEOUT_SECONDS = 5.0
_MAX_ASSERTION_CHARS = 64 * 1024


class ClientCredentialsError(Exception):
    """No app token could be had; the message says why and never carries a credential."""


class AssertionFile:
    """A callable msal invokes for a fresh client assertion: the file's current content."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __call__(self) -> str:
        try:
            assertion = Path(self.path).read_text(encoding="ascii")[:_MAX_ASSERTION_CHARS]
        except (OSError, ValueError) as exc:
            raise ClientCredentialsError(f"cannot read ENTRA_CLIENT_ASSERTION_FILE: {exc}") from exc
        if not assertion.strip():
            raise ClientCredentialsError("ENTRA_CLIENT_ASSERTION_FILE is empty")
        return assertion.strip()


class AppTokenSource:
    """One confidential client; ``token`` answers from msal's cache or asks the authority."""

    def __init__(
        self,
        *,
        authority: str,
        client_id: str,
        client_secret: str = "",
        assertion_file: str = "",
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        if assertion_file:
            credential: Any = {"client_assertion": AssertionFile(assertion_file)}
        elif client_secret:
            credential = client_secret
        else:
            raise ClientCredentialsError(
                "set ENTRA_CLIENT_ASSERTION_FILE or ENTRA_CLIENT_SECRET for app-only tokens"
            )
        self._authority = authority
        self._client_id = client_id
        self._credential = credential
        self._timeout = timeout
        self._app: msal.ConfidentialClientApplication | None = None
        self._lock = threading.Lock()

    def token(self, *, scopes: Sequence[str]) -> str:
        """An access token for ``scopes`` (e.g. ``https://graph.microsoft.com/.default``)."""
        try:
            result = self._client().acquire_token_for_client(scopes=list(scopes))
        except ClientCredentialsError:
            raise
        except Exception as exc:  # network, discovery, a bad assertion callable, ...
            raise ClientCredentialsError(f"token request failed: {type(exc).__name__}") from exc
        token = result.get("access_token") if isinstance(result, dict) else None
        if not isinstance(token, str) or not token:
            raise ClientCredentialsError(_describe_error(result))
        return token

    def _client(self) -> msal.ConfidentialClientApplication:
        # Built on first use (it fetches the tenant's discovery document), never at import;
        # a failed build is retried on the next call.
        with self._lock:
            if self._app is None:
                self._app = msal.ConfidentialClientApplication(
                    self._client_id,
                    client_credential=self._credential,
                    authority=self._authority,
                    # The authority is the operator's configured one (checked at start-up);
                    # asking Microsoft to validate it would be one more call, and impossible
                    # for the loopback authorities of tests.
                    validate_authority=False,
                    instance_discovery=False,
                    timeout=self._timeout,
                )
            return self._app


def _describe_error(result: object) -> str:
    if not isinstance(result, dict):
        return "the authority gave no token"
    error = str(result.get("error", "no access_token"))
    # error_description is Microsoft's text (AADSTS code, trace id): useful, and secret-free.
    description = str(result.get("error_description", "")).splitlines()[:1]
    return ": ".join([error, *description])[:500]


_source: AppTokenSource | None = None
_source_lock = threading.Lock()


def app_token(*, scopes: Sequence[str]) -> str:
    """An app-only access token for ``scopes``, from the configured credential.

    Raises :class:`ClientCredentialsError` on any failure (no credential configured, the
    authority unreachable or refusing); callers decide how to degrade.
    """
    global _source
    with _source_lock:
        if _source is None:
            conf = portico_settings()
            _source = AppTokenSource(
                authority=f"{conf.entra_authority_host}/{conf.entra_tenant_id}",
                client_id=conf.entra_api_client_id,
                client_secret=conf.entra_client_secret,
                assertion_file=conf.entra_client_assertion_file,
            )
        source = _source
    return source.token(scopes=scopes)


def reset() -> None:
    """Forget the client and its token cache (settings changed; tests)."""
    global _source
    with _source_lock:
        _source = None


@receiver(setting_changed)
def _reload(*, setting: str, **_: object) -> None:
    if setting == "PORTICO":
        reset()

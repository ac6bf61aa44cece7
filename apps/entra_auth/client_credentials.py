"""App-only access tokens for the API's own app registration (OAuth 2.0 client credentials).

Microsoft's ``msal`` does the protocol: tenant discovery, the token request, the client
assertion, throttling and an in-memory token cache (a token is reused until shortly before it
expires, so callers may ask on every request). Portico only chooses the credential:

- ``ENTRA_CLIENT_ASSERTION_FILE``: a federated assertion (a JWT from an issuer the app
  registration trusts, written by the platform or a sidecar), re-read from the file each time
  msal sends a token request, so a rotated file is picked up and no secret is stored;
- otherwise ``ENTRA_CLIENT_CERTIFICATE_FILE``: a PEM file holding the private key and its
  certificate; msal signs a client assertion with the key, and the thumbprint (``x5t#S256``)
  is computed from the certificate, so no thumbprint has to be configured;
- otherwise ``ENTRA_CLIENT_SECRET``: a client secret, never logged.

The client is ``ENTRA_API_CLIENT_ID`` in ``ENTRA_TENANT_ID`` at ``ENTRA_AUTHORITY_HOST``.
Used by the Graph group lookup (``apps/rbac/graph.py``) and, through
:func:`client_credential` and :func:`confidential_client`, by the server-side sign-in
(``apps/signin``).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msal
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.core.signals import setting_changed
from django.dispatch import receiver

from apps.core.conf import PorticoSettings, portico_settings

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


def certificate_credential(path: str) -> dict[str, str]:
    """msal's credential for a PEM file holding a private key and its certificate."""
    try:
        pem = Path(path).read_bytes()[:_MAX_ASSERTION_CHARS]
        key = serialization.load_pem_private_key(_pem_block(pem, b"PRIVATE KEY"), password=None)
        certificate = x509.load_pem_x509_certificate(_pem_block(pem, b"CERTIFICATE"))
    except (OSError, ValueError, TypeError) as exc:
        raise ClientCredentialsError(
            f"ENTRA_CLIENT_CERTIFICATE_FILE must be a PEM file with an unencrypted private key "
            f"and its certificate: {type(exc).__name__}"
        ) from exc
    if certificate.public_key().public_numbers() != key.public_key().public_numbers():
        raise ClientCredentialsError(
            "ENTRA_CLIENT_CERTIFICATE_FILE: the certificate is not the private key's"
        )
    return {
        "private_key": _pem_block(pem, b"PRIVATE KEY").decode("ascii"),
        # msal computes the SHA-256 thumbprint (x5t#S256) from it and signs with PS256.
        "public_certificate": certificate.public_bytes(serialization.Encoding.PEM).decode(),
    }


def _pem_block(pem: bytes, label: bytes) -> bytes:
    """The first PEM block whose label ends with ``label`` ("RSA PRIVATE KEY" too)."""
    match = re.search(
        rb"-----BEGIN ([A-Z ]*" + label + rb")-----.+?-----END \1-----", pem, re.DOTALL
    )
    if match is None:
        raise ValueError(f"no {label.decode()} block")
    return match.group(0)


def has_client_credential(conf: PorticoSettings) -> bool:
    """Whether any of the three credential variables is set (what the checks ask)."""
    return bool(
        conf.entra_client_assertion_file
        or conf.entra_client_certificate_file
        or conf.entra_client_secret
    )


def client_credential(*, client_secret: str, assertion_file: str, certificate_file: str) -> Any:
    """The credential msal sends: a federated assertion, a certificate, or a secret (in that
    order of preference: no stored secret beats a stored key beats a shared secret)."""
    if assertion_file:
        return {"client_assertion": AssertionFile(assertion_file)}
    if certificate_file:
        return certificate_credential(certificate_file)
    if client_secret:
        return client_secret
    raise ClientCredentialsError(
        "set ENTRA_CLIENT_ASSERTION_FILE, ENTRA_CLIENT_CERTIFICATE_FILE or ENTRA_CLIENT_SECRET"
    )


def confidential_client(
    *,
    authority: str,
    client_id: str,
    credential: Any,
    timeout: float = TIMEOUT_SECONDS,
    http_client: Any = None,
) -> msal.ConfidentialClientApplication:
    """An msal confidential client for Portico's configured authority."""
    return msal.ConfidentialClientApplication(
        client_id,
        client_credential=credential,
        authority=authority,
        # The authority is the operator's configured one (checked at start-up); asking
        # Microsoft to validate it would be one more call, and impossible for the loopback
        # authorities of tests and the dev issuer.
        validate_authority=False,
        instance_discovery=False,
        timeout=timeout,
        http_client=http_client,
    )


class AppTokenSource:
    """One confidential client; ``token`` answers from msal's cache or asks the authority."""

    def __init__(
        self,
        *,
        authority: str,
        client_id: str,
        client_secret: str = "",
        assertion_file: str = "",
        certificate_file: str = "",
        timeout: float = TIMEOUT_SECONDS,
    ) -> None:
        credential = client_credential(
            client_secret=client_secret,
            assertion_file=assertion_file,
            certificate_file=certificate_file,
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
                self._app = confidential_client(
                    authority=self._authority,
                    client_id=self._client_id,
                    credential=self._credential,
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
                certificate_file=conf.entra_client_certificate_file,
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

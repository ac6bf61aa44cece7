"""Builds the process-wide token validator from settings (lazily, never at import time).

Rebuilt when tests override ``PORTICO``, so each configuration gets fresh stores and caches.
"""

from __future__ import annotations

import threading
from functools import partial

from django.core.signals import setting_changed
from django.dispatch import receiver

from apps.core.conf import PorticoSettings, portico_settings
from apps.entra_auth.fetch import fetch_document
from apps.entra_auth.issuers import V1, V2, IssuerDirectory, TrustedIssuer, discovery_url, v2_issuer
from apps.entra_auth.keys import Fetcher, SigningKeyStore
from apps.entra_auth.shared_cache import tolerant_cache
from apps.entra_auth.validation import TokenValidator, ValidationPolicy

_lock = threading.Lock()
_validator: TokenValidator | None = None
_directory: IssuerDirectory | None = None


def token_validator() -> TokenValidator:
    """The validator for the current settings."""
    return _build()[0]


def issuer_directory() -> IssuerDirectory:
    """The trusted issuers for the current settings (readiness probes use their stores)."""
    return _build()[1]


def _build() -> tuple[TokenValidator, IssuerDirectory]:
    global _validator, _directory
    validator, directory = _validator, _directory
    if validator is not None and directory is not None:
        return validator, directory  # the per-request path: no lock
    with _lock:
        if _validator is None or _directory is None:
            conf = portico_settings()
            _directory = _issuer_directory(conf, _fetcher(conf))
            _validator = TokenValidator(
                issuers=_directory,
                policy=ValidationPolicy(
                    audiences=conf.audiences, leeway_seconds=conf.entra_clock_skew_seconds
                ),
                cache_size=conf.entra_token_cache_size,
            )
        return _validator, _directory


def _fetcher(conf: PorticoSettings) -> Fetcher:
    fetch: Fetcher = partial(
        fetch_document,
        timeout=conf.entra_keys_fetch_timeout_seconds,
        max_bytes=conf.entra_keys_max_bytes,
        allow_http=conf.entra_allow_insecure_authority and conf.env != "prod",
    )
    if conf.dev_issuer:
        # Serve the dev issuer's own documents in process: a gunicorn worker must never wait
        # on an HTTP call to itself. Other URLs still go over the network.
        from apps.dev_issuer.documents import in_process_fetcher

        return in_process_fetcher(fallback=fetch)
    return fetch


def _issuer_directory(conf: PorticoSettings, fetch: Fetcher) -> IssuerDirectory:
    versions = {"1": V1, "2": V2}
    accepted = frozenset(versions[v] for v in conf.entra_accepted_token_versions if v in versions)
    issuers = [
        TrustedIssuer(
            tenant=tenant,
            version=version,
            store=SigningKeyStore(
                discovery_url=discovery_url(conf.entra_authority_host, tenant, version),
                expected_issuer=v2_issuer(conf.entra_authority_host, tenant)
                if version == V2
                else None,
                fetch=fetch,
                shared=tolerant_cache,
                refresh_seconds=conf.entra_keys_refresh_seconds,
                max_age_seconds=conf.entra_keys_max_age_seconds,
                min_refresh_gap=conf.entra_keys_refresh_min_seconds,
            ),
        )
        for tenant in conf.tenants
        for version in sorted(accepted, reverse=True)
    ]
    return IssuerDirectory(issuers, accepted_versions=accepted)


def reset() -> None:
    """Forget the validator, its key stores and its token cache."""
    global _validator, _directory
    with _lock:
        _validator = _directory = None


@receiver(setting_changed)
def _reset_on_change(*, setting: str, **_: object) -> None:
    if setting in {"PORTICO", "CACHES"}:
        reset()

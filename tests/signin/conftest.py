"""Fixtures of the sign-in tests: a session holding a pasted token, the dev issuer."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from apps.rbac import resolution
from tests.dev_issuer.conftest import dev_issuer  # noqa: F401  (a fixture, used by name)


@pytest.fixture(autouse=True)
def _fresh_rules() -> Any:
    resolution.bump_version()
    yield
    resolution.bump_version()


def paste(client: Client, token: str, **extra: str) -> Any:
    """POST ``token`` to the paste-a-token page (the test client skips CSRF unless told)."""
    return client.post(reverse("signin:paste-token"), {"token": token, **extra})


def csrf_client() -> Client:
    """A browser that must send the CSRF token, as a real one must."""
    return Client(enforce_csrf_checks=True)


def csrf_token_of(client: Client) -> str:
    """The CSRF token a page would embed: the cookie's value (set by any form page)."""
    client.get(reverse("signin:paste-token"))
    return client.cookies["csrftoken"].value

"""The dev issuer configured as ``make run`` configures it, under a temporary var/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache

from apps.dev_issuer import signing_key
from apps.entra_auth import runtime, users
from config.env import DEV_API_CLIENT_ID, DEV_SPA_CLIENT_ID, DEV_TENANT_ID
from tests.conftest import portico_settings_for

AUTHORITY = "http://testserver/dev-issuer"
WEB_CLIENT_SECRET = "web-client-secret-for-tests"


@pytest.fixture
def dev_issuer(settings: Any, tmp_path: Path) -> Iterator[Path]:
    """Portico as ``make run`` configures it, with its var/ directory under ``tmp_path``."""
    settings.VAR_DIR = tmp_path
    settings.PORTICO = portico_settings_for(
        AUTHORITY,
        DEV_ISSUER=True,
        ENTRA_TENANT_ID=DEV_TENANT_ID,
        ENTRA_API_CLIENT_ID=DEV_API_CLIENT_ID,
        ENTRA_API_APP_ID_URI=f"api://{DEV_API_CLIENT_ID}",
        ENTRA_SPA_CLIENT_ID=DEV_SPA_CLIENT_ID,
        DEV_WEB_CLIENT_SECRET=WEB_CLIENT_SECRET,
    )
    signing_key.signing_key.cache_clear()
    cache.clear()
    runtime.reset()
    users.forget_all()
    yield tmp_path
    signing_key.signing_key.cache_clear()
    runtime.reset()
    users.forget_all()

"""Portico with a fake SPA build in a temporary directory (never the real frontend/dist)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import portico_settings_for

AUTHORITY = "https://login.microsoftonline.com"
INDEX_HTML = """<!doctype html>
<html lang="en">
  <head>
    <meta charset="UTF-8" />
    <title>Portico</title>
    <script type="module" crossorigin src="./assets/index-Bx1f9a2c.js"></script>
    <link rel="stylesheet" crossorigin href="./assets/index-D4e5f6a7.css">
  </head>
  <body><div id="root"></div></body>
</html>
"""
ASSET_NAME = "index-Bx1f9a2c.js"
ASSET_BODY = b"console.log('portico');\n"


Configure = Callable[..., None]


@pytest.fixture
def configure(settings: Any, tmp_path: Path) -> Configure:
    """A prod-like PORTICO for the test tenant, no SPA build; ``configure(KEY=value)`` changes
    entries (through the setting, so cached readers see the change)."""
    settings.PORTICO = portico_settings_for(
        AUTHORITY,
        ENV="prod",
        ENTRA_ALLOW_INSECURE_AUTHORITY=False,
        FRONTEND_DIST=str(tmp_path / "no-build"),
    )

    def change(**entries: Any) -> None:
        settings.PORTICO = {**settings.PORTICO, **entries}

    return change


@pytest.fixture
def dist(tmp_path: Path, configure: Configure) -> Path:
    """A built SPA: index.html, a hashed script and a file at the root."""
    root = tmp_path / "dist"
    (root / "assets").mkdir(parents=True)
    (root / "index.html").write_text(INDEX_HTML)
    (root / "assets" / ASSET_NAME).write_bytes(ASSET_BODY)
    (root / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    configure(FRONTEND_DIST=str(root))
    return root

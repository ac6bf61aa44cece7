"""The SPA shell: the built ``index.html`` with ``<base href>`` and the runtime config inlined.

The build is read from ``PORTICO["FRONTEND_DIST"]`` (``frontend/dist`` by default) and
re-read only when it changes. Vite builds with ``base: "./"``, so every
asset URL in it is relative and ``<base href>`` alone decides the mount point: the same build
serves ``/`` and ``/ui/`` without rebuilding.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from django.conf import settings
from django.utils.html import escape, json_script

from apps.core.conf import portico_settings
from frontend_config.runtime import RuntimeConfig

HEAD = re.compile(r"<head\b[^>]*>", re.IGNORECASE)
HEAD_END = re.compile(r"</head\s*>", re.IGNORECASE)
# Script and style elements of the build get the response's CSP nonce (a strict policy
# would otherwise refuse any inline one a build tool emits).
NONCE_TARGETS = re.compile(r"<(?:script|style)\b", re.IGNORECASE)
CONFIG_ELEMENT_ID = "portico-config"


def dist_dir() -> Path:
    """The SPA build: PORTICO_FRONTEND_DIST, else ``frontend/dist`` (never the working
    directory, which an empty value would otherwise mean)."""
    configured = portico_settings().frontend_dist
    return Path(configured) if configured else Path(settings.BASE_DIR) / "frontend" / "dist"


def index_template() -> str | None:
    """The built ``index.html``, or None when no SPA has been built."""
    path = dist_dir() / "index.html"
    try:
        stat = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return _read(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=4)
def _read(path: str, modified: int, size: int) -> str:
    """Keyed on modification time and size: a rebuild is seen without a restart."""
    return Path(path).read_text(encoding="utf-8")


def render_shell(template: str, *, config: RuntimeConfig, nonce: str) -> str:
    """``template`` with the nonce on its scripts, ``<base>`` first in ``<head>`` (it must
    precede every relative URL) and the config element last in it (``<meta charset>`` stays
    within the first 1024 bytes)."""
    page = NONCE_TARGETS.sub(lambda tag: f'{tag.group(0)} nonce="{nonce}"', template)
    head = HEAD.search(page)
    at = head.end() if head else 0
    page = f'{page[:at]}<base href="{escape(config.base_path)}">{page[at:]}'
    # json_script escapes <, > and & so no value can close the element early.
    element = json_script(config.as_document(), CONFIG_ELEMENT_ID)
    end = HEAD_END.search(page)
    at = end.start() if end else len(page)
    return page[:at] + element + page[at:]

"""Django's cache as the key store's shared cache, degrading instead of failing.

With ``REDIS_URL`` set the cache is Redis; when Redis is down every call here answers as if
the entry were missing (``add`` answers ``None``: "unknown"), logs one warning a minute, and
the in-process caches keep the service running.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.cache import cache

from apps.core.throttle import Throttle

logger = logging.getLogger(__name__)


class TolerantCache:
    """get / set / add / delete on the default cache that never raise."""

    def __init__(self) -> None:
        self._warning = Throttle(60.0)

    def get(self, key: str) -> Any:
        try:
            return cache.get(key)
        except Exception as exc:
            self._warn(exc)
            return None

    def set(self, key: str, value: Any, timeout: float) -> None:
        try:
            cache.set(key, value, timeout)
        except Exception as exc:
            self._warn(exc)

    def delete(self, key: str) -> None:
        try:
            cache.delete(key)
        except Exception as exc:
            self._warn(exc)

    def add(self, key: str, value: Any, timeout: float) -> bool | None:
        try:
            return bool(cache.add(key, value, timeout))
        except Exception as exc:
            self._warn(exc)
            return None

    def _warn(self, exc: Exception) -> None:
        if self._warning.ready():
            logger.warning("Shared cache unavailable, serving from process memory: %s", exc)


tolerant_cache = TolerantCache()

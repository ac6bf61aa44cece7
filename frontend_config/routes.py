"""Which URL prefixes belong to Django rather than to the SPA's client-side router."""

from __future__ import annotations

from functools import cache

from django.conf import settings
from django.urls import URLResolver, get_resolver


@cache
def _prefixes(urlconf: str, static_url: str) -> tuple[str, ...]:
    included = (
        str(pattern.pattern)
        for pattern in get_resolver(urlconf).url_patterns
        if isinstance(pattern, URLResolver)
    )
    return tuple(p for p in (*included, static_url.lstrip("/")) if p)


def reserved_prefixes() -> tuple[str, ...]:
    """Every ``include()`` prefix of the root URLconf (api/, admin/, …) and the static URL:
    an unknown path under one of them is a 404, never the SPA shell."""
    return _prefixes(settings.ROOT_URLCONF, settings.STATIC_URL)

"""Bounded HTTPS GETs for discovery documents and JWKS: a timeout, a size cap, no redirects."""

from __future__ import annotations

import urllib.error
import urllib.request
from urllib.parse import urlsplit


class FetchError(Exception):
    """A document could not be fetched or is unusable; the key store keeps its last good keys."""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # a redirect is answered as the error it is, never followed


_opener = urllib.request.build_opener(_NoRedirect)


def fetch_document(url: str, *, timeout: float, max_bytes: int, allow_http: bool) -> bytes:
    """The body of ``url``; :class:`FetchError` on any failure, status != 200 or oversize body."""
    scheme = urlsplit(url).scheme
    if scheme != "https" and not (allow_http and scheme == "http"):
        raise FetchError(f"refusing to fetch a non-https URL: {url}")
    request = urllib.request.Request(url, headers={"Accept": "application/json"})  # noqa: S310
    try:
        with _opener.open(request, timeout=timeout) as response:
            if response.status != 200:
                raise FetchError(f"{url} answered {response.status}")
            body = response.read(max_bytes + 1)
    except FetchError:
        raise
    except (OSError, ValueError) as exc:  # URLError, HTTPError, timeouts, bad URLs
        raise FetchError(f"{url}: {exc}") from exc
    if len(body) > max_bytes:
        raise FetchError(f"{url} answered more than {max_bytes} bytes")
    return body

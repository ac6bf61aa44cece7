"""Bounded HTTPS GETs for discovery documents and JWKS: a timeout, a size cap, no redirects."""

from __future__ import annotations

import http.client
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from urllib.parse import urlsplit

_CHUNK_BYTES = 64 * 1024


class FetchError(Exception):
    """A document could not be fetched or is unusable; the key store keeps its last good keys.

    ``status`` is the HTTP status when the server answered with one other than 200.
    """

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # a redirect is answered as the error it is, never followed


_opener = urllib.request.build_opener(_NoRedirect)


def fetch_document(
    url: str,
    *,
    timeout: float,
    max_bytes: int,
    allow_http: bool,
    headers: Mapping[str, str] | None = None,
) -> bytes:
    """The body of ``url``; :class:`FetchError` on any failure, status != 200 or oversize body.

    ``timeout`` bounds each socket operation and the reading of the body as a whole: a server
    that trickles a byte at a time would otherwise hold the key store's lock for as long as
    it likes. ``headers`` are sent besides ``Accept: application/json``; since redirects are
    never followed, they (an ``Authorization`` among them) reach ``url``'s host only.
    """
    deadline = time.monotonic() + timeout
    try:
        scheme = urlsplit(url).scheme
        if scheme != "https" and not (allow_http and scheme == "http"):
            raise FetchError(f"refusing to fetch a non-https URL: {url}")
        request = urllib.request.Request(  # noqa: S310 (scheme checked above)
            url, headers={"Accept": "application/json", **(headers or {})}
        )
        with _opener.open(request, timeout=timeout) as response:
            if response.status != 200:
                raise FetchError(f"{url} answered {response.status}", status=response.status)
            return _read_body(response, url=url, max_bytes=max_bytes, deadline=deadline)
    except FetchError:
        raise
    except urllib.error.HTTPError as exc:  # any status >= 400, and a redirect not followed
        raise FetchError(f"{url}: {exc}", status=exc.code) from exc
    # URLError, timeouts, bad URLs; HTTPException: a malformed status line, header
    # or chunk, which urllib passes through unwrapped.
    except (OSError, ValueError, http.client.HTTPException) as exc:
        raise FetchError(f"{url}: {exc}") from exc


def _read_body(
    response: http.client.HTTPResponse, *, url: str, max_bytes: int, deadline: float
) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size <= max_bytes:
        if time.monotonic() > deadline:
            raise FetchError(f"{url} took longer than the fetch timeout")
        chunk = response.read1(_CHUNK_BYTES)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        size += len(chunk)
    raise FetchError(f"{url} answered a body larger than {max_bytes} bytes")

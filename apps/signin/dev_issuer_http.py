"""msal's HTTP client for the dev issuer: requests answered by its views **in process**.

A gunicorn sync worker that called its own dev issuer over HTTP would wait for a worker that
is itself (a deadlock with one worker, a stall under load), so msal's discovery and token
requests to the dev authority are turned into Django requests and handed straight to the dev
issuer's views; no socket is opened. Any other URL is refused: with the dev issuer on, msal
has no business elsewhere.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.core.handlers.wsgi import WSGIRequest
from django.http import HttpResponse
from django.urls import Resolver404, resolve

DEV_ISSUER_URLCONF = "apps.dev_issuer.urls"


class InProcessResponse:
    """The slice of a ``requests`` response msal reads."""

    def __init__(self, response: HttpResponse) -> None:
        self.status_code = response.status_code
        self.text = response.content.decode("utf-8", "replace")
        self.headers = dict(response.items())

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise OSError(f"dev issuer answered {self.status_code}")


class DevIssuerHttpClient:
    """An msal ``HttpClient`` whose every request goes to the dev issuer's views."""

    def __init__(self, authority_host: str) -> None:
        parts = urlsplit(authority_host)
        self._scheme, self._netloc, self._prefix = (
            parts.scheme,
            parts.netloc,
            parts.path.rstrip("/"),
        )

    def get(self, url: str, params: Mapping | None = None, headers: Any = None, **_: Any):
        return self._call("GET", url, params, b"", headers)

    def post(
        self,
        url: str,
        params: Mapping | None = None,
        data: Any = None,
        headers: Any = None,
        **_: Any,
    ) -> InProcessResponse:
        body = urlencode(data) if isinstance(data, Mapping) else (data or "")
        return self._call("POST", url, params, body.encode(), headers)

    def close(self) -> None:
        """Nothing to release: no connection was opened."""

    def _call(
        self, method: str, url: str, params: Mapping | None, body: bytes, headers: Any
    ) -> InProcessResponse:
        parts = urlsplit(url)
        ours = (parts.scheme, parts.netloc) == (self._scheme, self._netloc)
        if not ours or not parts.path.startswith(self._prefix + "/"):
            raise ConnectionError(f"the dev issuer does not serve {url}")
        query = "&".join(q for q in (parts.query, urlencode(params or {})) if q)
        request = WSGIRequest(self._environ(method, parts.path, query, body, headers or {}))
        try:
            match = resolve(parts.path[len(self._prefix) :], urlconf=DEV_ISSUER_URLCONF)
        except Resolver404:
            return InProcessResponse(HttpResponse(status=404))
        return InProcessResponse(match.func(request, *match.args, **match.kwargs))

    def _environ(
        self, method: str, path: str, query: str, body: bytes, headers: Mapping[str, str]
    ) -> dict[str, Any]:
        host, _, port = self._netloc.partition(":")
        environ = {
            "REQUEST_METHOD": method,
            "PATH_INFO": path,
            "SCRIPT_NAME": "",
            "QUERY_STRING": query,
            "SERVER_NAME": host,
            "SERVER_PORT": port or ("443" if self._scheme == "https" else "80"),
            "HTTP_HOST": self._netloc,
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.url_scheme": self._scheme,
            "wsgi.input": io.BytesIO(body),
            "CONTENT_LENGTH": str(len(body)),
            "CONTENT_TYPE": "application/x-www-form-urlencoded" if body else "",
        }
        for name, value in headers.items():
            key = name.upper().replace("-", "_")
            if key == "CONTENT_TYPE":
                environ[key] = value
            else:
                environ[f"HTTP_{key}"] = value
        return environ

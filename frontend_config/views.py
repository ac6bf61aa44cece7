"""``/config.json``, its JSON Schema, and the SPA shell with its history-API fallback."""

from __future__ import annotations

import hashlib
from functools import cache
from http import HTTPStatus
from pathlib import Path

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.cache import get_conditional_response
from django.views.decorators.http import require_safe

from frontend_config.assets import ASSETS_DIR
from frontend_config.routes import reserved_prefixes
from frontend_config.runtime import base_path, runtime_config_for
from frontend_config.shell import index_template, render_shell

SCHEMA_PATH = Path(__file__).with_name("config.schema.json")


def _revalidated(request: HttpRequest, body: bytes, content_type: str) -> HttpResponse:
    """``body`` with a strong ETag, ``no-cache`` (always revalidate), and 304 on a match."""
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    response = get_conditional_response(request, etag=etag) or HttpResponse(
        body, content_type=content_type
    )
    response["ETag"] = etag
    response["Cache-Control"] = "no-cache"
    return response


@require_safe
def config_json(request: HttpRequest) -> HttpResponse:
    body = runtime_config_for(request).as_json().encode()
    return _revalidated(request, body, "application/json")


@cache
def _schema() -> bytes:
    return SCHEMA_PATH.read_bytes()


@require_safe
def config_schema(request: HttpRequest) -> HttpResponse:
    return _revalidated(request, _schema(), "application/schema+json")


def _is_spa_route(rest: str) -> bool:
    """A client-side route (or index.html itself): not an asset, not a file (a last segment
    with a dot), so a missing file is a 404 rather than a page the browser cannot use."""
    if rest == "index.html":
        return True
    return not rest.startswith(ASSETS_DIR) and "." not in rest.rsplit("/", 1)[-1]


@require_safe
def spa_shell(request: HttpRequest, path: str) -> HttpResponse:
    """``index.html`` for every client-side route under the base path (history fallback)."""
    mount = base_path()
    url = f"/{path}"
    if path.startswith(reserved_prefixes()):
        raise Http404
    if not url.startswith(mount):
        if url in {"/", mount.rstrip("/")}:
            return redirect(mount)
        raise Http404
    if not _is_spa_route(url[len(mount) :]):
        raise Http404
    template = index_template()
    if template is None:
        response = render(
            request, "frontend_config/not_built.html", status=HTTPStatus.SERVICE_UNAVAILABLE
        )
        response["Cache-Control"] = "no-cache"
        return response
    page = render_shell(template, config=runtime_config_for(request), nonce=request.csp_nonce)
    return HttpResponse(page, headers={"Cache-Control": "no-cache"})

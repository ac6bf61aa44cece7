"""Serves the dev issuer's documents over HTTP (for tools and, later, the SPA)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, JsonResponse

from apps.core.conf import portico_settings
from apps.dev_issuer.documents import document_for


def document(request: HttpRequest, path: str) -> JsonResponse:
    if not portico_settings().dev_issuer:
        raise Http404
    body = document_for(path)
    if body is None:
        raise Http404
    response = JsonResponse(body)
    response["Cache-Control"] = "public, max-age=300"
    return response

"""Security headers for every HTML response: a strict CSP with a per-response nonce, and a
Permissions-Policy. (nosniff, Referrer-Policy, COOP and HSTS outside dev come from Django's
SecurityMiddleware, configured in settings.)

The nonce is ``request.csp_nonce``: a template that really needs an inline ``<script>`` or
``<style>`` writes ``nonce="{{ request.csp_nonce }}"``. A view whose form redirects to
another origin (the dev issuer's persona picker) lists it in ``response.csp_form_action``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from apps.core.conf import portico_settings

# Only features Chromium knows: an unknown one is a console error in the browser test.
PERMISSIONS_POLICY = (
    "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
    "microphone=(), payment=(), usb=()"
)


def content_security_policy(nonce: str, *, form_action: Iterable[str] = ()) -> str:
    """No inline code without the nonce, no eval, no framing; the SPA may call its own origin
    and the authority (MSAL fetches discovery and tokens from it)."""
    authority = urlsplit(portico_settings().entra_authority_host)
    connect = ["'self'", f"{authority.scheme}://{authority.netloc}"]
    forms = ["'self'", *(origin for origin in form_action if origin)]
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'", f"'nonce-{nonce}'"],
        "style-src": ["'self'", f"'nonce-{nonce}'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": list(dict.fromkeys(connect)),
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": list(dict.fromkeys(forms)),
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(f"{name} {' '.join(values)}" for name, values in directives.items())


def _is_debug_page(response: HttpResponse) -> bool:
    """Django's technical 404/500 pages (DEBUG only) are inline-styled: leave them readable."""
    return settings.DEBUG and response.status_code in {404, 500}


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.csp_nonce = nonce = secrets.token_urlsafe(16)
        response = self.get_response(request)
        is_html = response.get("Content-Type", "").startswith("text/html")
        if is_html and not _is_debug_page(response):
            form_action = getattr(response, "csp_form_action", ())
            response.headers.setdefault(
                "Content-Security-Policy", content_security_policy(nonce, form_action=form_action)
            )
            response.headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        return response

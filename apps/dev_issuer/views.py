"""The dev issuer over HTTP: documents, the persona picker (authorize), token and logout.

Every view answers 404 unless the dev issuer is enabled in dev, and for a tenant it knows.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from http import HTTPStatus
from typing import Any
from urllib.parse import urlencode

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import (
    require_GET,
    require_http_methods,
    require_POST,
    require_safe,
)

from apps.core.conf import portico_settings
from apps.dev_issuer.authorize import AuthorizeError, AuthorizeRequest, authorize_request
from apps.dev_issuer.clients import origin_of, redirect_uri_allowed
from apps.dev_issuer.documents import document_for
from apps.dev_issuer.grants import Grant, GrantError, code_issue, token_response
from apps.dev_issuer.personas import PERSONAS


def dev_issuer_only(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """404 unless the dev issuer is on in dev (never trust the check alone) and the tenant
    in the URL is one of ours."""

    @wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        conf = portico_settings()
        if not conf.dev_issuer or conf.env != "dev":
            raise Http404
        if kwargs.pop("tenant", conf.entra_tenant_id) not in conf.tenants:
            raise Http404
        return view(request, *args, **kwargs)

    return guarded


def _request_origin(request: HttpRequest) -> str:
    return f"{request.scheme}://{request.get_host()}"


@dev_issuer_only
@require_safe
def document(request: HttpRequest, path: str) -> JsonResponse:
    body = document_for(path)
    if body is None:
        raise Http404
    response = JsonResponse(body)
    response["Cache-Control"] = "public, max-age=300"
    return response


@dev_issuer_only
@never_cache
@require_http_methods(["GET", "POST"])
def authorize(request: HttpRequest) -> HttpResponse:
    """GET shows the persona picker; its form POSTs back here (same query string)."""
    try:
        auth = authorize_request(request.GET, request_origin=_request_origin(request))
    except AuthorizeError as error:
        if error.request is None:
            context = {"error": error.error, "description": error.description}
            return render(request, "dev_issuer/error.html", context, status=HTTPStatus.BAD_REQUEST)
        return redirect(
            error.request.redirect_to(error=error.error, error_description=error.description)
        )
    if request.method == "POST":
        return _sign_in(request, auth)
    if auth.prompt == "none":  # no session here: silent sign-in can never succeed
        return redirect(
            auth.redirect_to(error="login_required", error_description="Pick a persona.")
        )
    response = render(
        request,
        "dev_issuer/picker.html",
        {"personas": PERSONAS.values(), "client_id": auth.client.client_id, "scopes": auth.scopes},
    )
    # The form's POST ends in a redirect to the client: CSP form-action must allow its origin.
    response.csp_form_action = (origin_of(auth.redirect_uri),)
    return response


def _sign_in(request: HttpRequest, auth: AuthorizeRequest) -> HttpResponse:
    key = request.POST.get("persona", "")
    if "cancel" in request.POST:
        return redirect(auth.redirect_to(error="access_denied", error_description="Cancelled."))
    if key not in PERSONAS:
        context = {"error": "invalid_request", "description": "Pick one of the personas."}
        return render(request, "dev_issuer/error.html", context, status=HTTPStatus.BAD_REQUEST)
    code = code_issue(
        Grant(
            persona=key,
            client_id=auth.client.client_id,
            scopes=auth.scopes,
            redirect_uri=auth.redirect_uri,
            code_challenge=auth.code_challenge,
            nonce=auth.nonce,
        )
    )
    return redirect(auth.redirect_to(code=code))


@csrf_exempt  # a client authenticates itself (secret or PKCE); no browser session involved
@dev_issuer_only
@require_POST
def token(request: HttpRequest) -> JsonResponse:
    authorization = request.headers.get("Authorization", "")
    try:
        response = JsonResponse(token_response(request.POST, authorization))
    except GrantError as error:
        body = {"error": error.error, "error_description": error.description}
        response = JsonResponse(body, status=error.status)
        if error.status == HTTPStatus.UNAUTHORIZED and authorization:
            response["WWW-Authenticate"] = 'Basic realm="dev-issuer"'  # RFC 6749 §5.2
    response["Cache-Control"] = "no-store"  # RFC 6749 §5.1
    response["Pragma"] = "no-cache"
    return response


@dev_issuer_only
@never_cache
@require_GET
def logout(request: HttpRequest) -> HttpResponse:
    """Nothing to end here (no session); send the user back if the URI is acceptable."""
    uri = request.GET.get("post_logout_redirect_uri", "")
    if uri and redirect_uri_allowed(uri, request_origin=_request_origin(request)):
        state = request.GET.get("state", "")  # echoed (OIDC RP-Initiated Logout §3)
        separator = "&" if "?" in uri else "?"
        return redirect(f"{uri}{separator}{urlencode({'state': state})}" if state else uri)
    return render(request, "dev_issuer/signed_out.html")

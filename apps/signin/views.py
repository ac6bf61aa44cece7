"""Sign-in pages: paste a token, sign in with Microsoft Entra, sign out.

Tokens arrive by POST only (a query string would put them in access logs) and are kept in the
server-side session, never in a cookie value. Every page is ``never_cache``.
"""

from __future__ import annotations

from http import HTTPStatus

from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from apps.entra_auth.exceptions import InvalidToken, KeysUnavailable
from apps.signin.entra import (
    ENTRA_SESSION_KEY,
    SignInError,
    end_session_url,
    sign_in_finish,
    sign_in_start,
)
from apps.signin.forms import PasteTokenForm
from apps.signin.session_tokens import session_sign_in

DEFAULT_NEXT = "/api/me"


def safe_next(request: HttpRequest, candidate: str | None) -> str:
    """``candidate`` when it is a URL on this site, else the default (no open redirect)."""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return DEFAULT_NEXT


@never_cache
@require_http_methods(["GET", "POST"])
def paste_token(request: HttpRequest) -> HttpResponse:
    """Validate a pasted access token and keep it in the session."""
    form = PasteTokenForm(request.POST if request.method == "POST" else None)
    next_url = safe_next(request, request.POST.get("next") or request.GET.get("next"))
    if form.is_valid():
        try:
            session_sign_in(request, form.cleaned_data["token"])
        except InvalidToken as exc:
            form.add_error("token", f"{exc.description} ({exc.reason}).")
        except KeysUnavailable:
            form.add_error(None, "Signing keys are unavailable right now; try again shortly.")
        else:
            return HttpResponseRedirect(next_url)
    status = HTTPStatus.BAD_REQUEST if form.errors else HTTPStatus.OK
    context = {"form": form, "next": next_url, "title": "Use an access token"}
    return render(request, "signin/paste_token.html", context, status=status)


@never_cache
@require_GET
def entra_start(request: HttpRequest) -> HttpResponse:
    """Send the browser to the authority, with PKCE, state and nonce kept in the session."""
    try:
        auth_uri = sign_in_start(request, next_url=safe_next(request, request.GET.get("next")))
    except SignInError as exc:
        return _failed(request, exc)
    return HttpResponseRedirect(auth_uri)


@never_cache
@require_GET
def entra_callback(request: HttpRequest) -> HttpResponse:
    """The redirect URI: redeem the code, keep the access token in a fresh session."""
    try:
        next_url = sign_in_finish(request)
    except SignInError as exc:
        return _failed(request, exc)
    return HttpResponseRedirect(safe_next(request, next_url))


@never_cache
@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    """Forget the session: its token, its admin login, everything (POST: CSRF-protected);
    after an Entra sign-in, end the Entra session too and come back to ``next``."""
    signed_in_with_entra = bool(request.session.get(ENTRA_SESSION_KEY))
    logout(request)
    next_url = safe_next(request, request.POST.get("next"))
    if signed_in_with_entra:
        back = request.build_absolute_uri(next_url)
        return HttpResponseRedirect(end_session_url(post_logout_redirect_uri=back))
    return HttpResponseRedirect(next_url)


def _failed(request: HttpRequest, error: SignInError) -> HttpResponse:
    context = {"title": "Sign-in failed", "message": str(error)}
    return render(request, "signin/failed.html", context, status=HTTPStatus.BAD_REQUEST)

"""Server-side "Sign in with Microsoft Entra": the authorization code flow with PKCE, state
and nonce, done by Microsoft's ``msal`` confidential client.

``initiate_auth_code_flow`` makes the state, the nonce and the PKCE verifier; the flow dict
waits in the session (server-side) until the browser comes back, and
``acquire_token_by_auth_code_flow`` checks the state, redeems the code with the verifier and
the client credential, and checks the ID token's nonce, issuer and audience. The access token
it returns (for this API's scope) goes into the same session store as a pasted token, so the
admin site and the browsable API both re-validate it on every request.

The flow is single-use: it leaves the session before the code is redeemed, so a replayed
callback finds no flow. msal's errors carry no secret; the messages shown say what to do.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any
from urllib.parse import urlencode

import msal
from django.http import HttpRequest
from django.urls import reverse

from apps.core.conf import PorticoSettings, portico_settings
from apps.entra_auth.client_credentials import (
    ClientCredentialsError,
    client_credential,
    confidential_client,
)
from apps.entra_auth.exceptions import InvalidToken, KeysUnavailable
from apps.signin.dev_issuer_http import DevIssuerHttpClient
from apps.signin.session_tokens import session_sign_in
from config.env import DEV_WEB_CLIENT_ID

logger = logging.getLogger(__name__)

FLOW_KEY = "portico_signin_flow"
# Set when the session's token came from signing in with Entra (not pasted): sign-out then
# also ends the Entra session, or the next "Sign in" would pass silently as the same person.
ENTRA_SESSION_KEY = "portico_signed_in_with_entra"


class SignInError(Exception):
    """The sign-in failed; the message is safe to show and says what to do."""


def api_scopes(conf: PorticoSettings) -> list[str]:
    """The delegated scope the session's access token is for (msal adds openid, profile)."""
    return [f"{conf.entra_api_app_id_uri}/access_as_user"]


def web_client_id(conf: PorticoSettings) -> str:
    """ENTRA_WEB_CLIENT_ID, else the dev issuer's web client, else the API registration."""
    if conf.entra_web_client_id:
        return conf.entra_web_client_id
    return DEV_WEB_CLIENT_ID if conf.dev_issuer else conf.entra_api_client_id


def uses_dev_issuer(conf: PorticoSettings) -> bool:
    return conf.dev_issuer and web_client_id(conf) == DEV_WEB_CLIENT_ID


def signin_client() -> msal.ConfidentialClientApplication:
    """The web client: the dev issuer's (answered in process), or Entra's with the
    configured credential (assertion file, certificate or secret). msal accepts https
    authorities only (as MSAL.js does): the dev issuer is served over https by ``make run``."""
    conf = portico_settings()
    host = conf.entra_authority_host
    if uses_dev_issuer(conf):
        credential: Any = conf.dev_web_client_secret
        http_client: Any = DevIssuerHttpClient(host)
    else:
        credential = client_credential(
            client_secret=conf.entra_client_secret,
            assertion_file=conf.entra_client_assertion_file,
            certificate_file=conf.entra_client_certificate_file,
        )
        http_client = None
    return confidential_client(
        authority=f"{host}/{conf.entra_tenant_id}",
        client_id=web_client_id(conf),
        credential=credential,
        http_client=http_client,
    )


def sign_in_start(request: HttpRequest, *, next_url: str) -> str:
    """Begin a sign-in; returns the authority's URL to send the browser to."""
    try:
        with warnings.catch_warnings():
            # msal recommends form_post; but a cross-site POST back would not carry the
            # SameSite=Lax session cookie that holds the flow. The code in the query is
            # single-use and PKCE-bound, and the callback sends no Referer off-site
            # (SECURE_REFERRER_POLICY=same-origin), which is what RFC 9700 §4.3.1 guards.
            warnings.filterwarnings("ignore", message="response_mode='form_post'")
            flow = signin_client().initiate_auth_code_flow(
                scopes=api_scopes(portico_settings()),
                redirect_uri=request.build_absolute_uri(reverse("signin:callback")),
                response_mode="query",
            )
    except (ClientCredentialsError, ValueError, OSError) as exc:
        logger.warning("Sign-in could not start: %s", exc)
        raise SignInError("Sign-in with Microsoft Entra is not available right now.") from exc
    request.session[FLOW_KEY] = {"flow": flow, "next": next_url}
    return flow["auth_uri"]


def sign_in_finish(request: HttpRequest) -> str:
    """Complete the sign-in from the authority's redirect; returns where to go next."""
    pending = request.session.pop(FLOW_KEY, None)  # single use, whatever happens next
    if not isinstance(pending, dict) or "flow" not in pending:
        raise SignInError("No sign-in is in progress in this browser (or it was completed).")
    result = _redeem(pending["flow"], request.GET.dict())
    token = result.get("access_token")
    if not isinstance(token, str):
        error = str(result.get("error", "no access token"))
        logger.info("Sign-in refused by the authority: %s", error)
        raise SignInError(f"Microsoft Entra refused the sign-in ({error}). Please try again.")
    try:
        session_sign_in(request, token)
    except InvalidToken as exc:
        logger.info("Signed-in token refused: %s", exc.reason)
        raise SignInError(f"The token for this API was refused: {exc.description}.") from exc
    except KeysUnavailable as exc:
        raise SignInError("Signing keys are unavailable right now; try again shortly.") from exc
    request.session[ENTRA_SESSION_KEY] = True
    return str(pending.get("next") or "")


def end_session_url(*, post_logout_redirect_uri: str) -> str:
    """The authority's end-session endpoint, sending the browser back to ours afterwards
    (Entra: the URI must be a registered redirect URI of the web client)."""
    conf = portico_settings()
    query = urlencode({"post_logout_redirect_uri": post_logout_redirect_uri})
    return f"{conf.entra_authority_host}/{conf.entra_tenant_id}/oauth2/v2.0/logout?{query}"


def _redeem(flow: dict[str, Any], response: dict[str, str]) -> dict[str, Any]:
    try:
        return signin_client().acquire_token_by_auth_code_flow(
            flow, response, scopes=api_scopes(portico_settings())
        )
    except ValueError as exc:  # state mismatch, or the response is not for this flow
        logger.info("Sign-in response rejected: %s", type(exc).__name__)
        raise SignInError("This sign-in response does not match the sign-in started here.") from exc
    except RuntimeError as exc:  # msal's IdTokenError: nonce, issuer or audience mismatch
        logger.info("Sign-in ID token rejected: %s", type(exc).__name__)
        raise SignInError("The ID token of this sign-in is not valid for it.") from exc
    except (ClientCredentialsError, OSError) as exc:
        logger.warning("Sign-in could not complete: %s", exc)
        raise SignInError("Sign-in with Microsoft Entra is not available right now.") from exc

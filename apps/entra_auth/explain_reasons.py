"""Plain words for the token explainer: why a validation step refused a token, and the fix.

One function per refusal reason of :mod:`apps.entra_auth.exceptions`. Each reads the token's
header and payload **as decoded without trusting them** and the configuration, so that the
message can name the values involved ("the audience is X; this API is Y") and the setting or
app-registration property to change. Nothing here decides validity: the validator has already
refused the token when these run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from apps.core.conf import PorticoSettings
from apps.entra_auth.validation import MAX_TOKEN_LENGTH

GRAPH_AUDIENCES = frozenset({"00000003-0000-0000-c000-000000000000", "https://graph.microsoft.com"})
_REQUIRED = ("exp", "nbf", "iat", "iss", "aud", "tid", "sub", "ver")


@dataclass(frozen=True)
class Context:
    """What a message may draw on: the unverified token parts, the settings, the time."""

    token: str
    header: Mapping[str, Any]
    payload: Mapping[str, Any]
    conf: PorticoSettings
    now: float

    def claim(self, name: str) -> str:
        value = self.payload.get(name)
        return "(absent)" if value is None else str(value)

    @property
    def scope(self) -> str:
        return f"{self.conf.entra_api_app_id_uri}/access_as_user"

    @property
    def leeway(self) -> int:
        return self.conf.entra_clock_skew_seconds


Message = tuple[str, str]  # (what happened, how to fix it)


def duration(seconds: float) -> str:
    """``seconds`` in words a person reads at a glance: "45 s", "12 min 5 s", "3 h 20 min"."""
    seconds = int(abs(seconds))
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


def moment(timestamp: Any) -> str:
    """A NumericDate as ISO 8601 UTC, or the raw value when it is not one."""
    if type(timestamp) is not int:
        return repr(timestamp)
    try:
        return datetime.fromtimestamp(timestamp, tz=UTC).isoformat(timespec="seconds")
    except (OverflowError, OSError, ValueError):
        return repr(timestamp)


def _too_large(ctx: Context) -> Message:
    return (
        f"The token is {len(ctx.token)} characters; Entra's access tokens stay under "
        f"{MAX_TOKEN_LENGTH}.",
        "Paste one access token only, exactly as the client sent it.",
    )


def _malformed(ctx: Context) -> Message:
    parts = ctx.token.count(".") + 1
    if not ctx.token.isascii():
        what = "The token contains characters outside ASCII, so it is not a JWT at all."
    elif parts == 5:
        what = "This is an encrypted token (JWE, five parts): not an access token for this API."
    elif parts != 3:
        what = f"This is not a JWT at all: a JWT has three dot-separated parts, this has {parts}."
    else:
        what = (
            "One part is not strict base64url-encoded JSON, or a header value (kid) has the "
            "wrong type or length: the token was cut, re-encoded or edited."
        )
    return what, (
        "Paste the access token (three base64url parts starting with eyJ), not an opaque or "
        "refresh token, with nothing added or cut off."
    )


def _bad_algorithm(ctx: Context) -> Message:
    alg = ctx.header.get("alg")
    if isinstance(alg, str) and alg.lower() == "none":
        what = "The token is unsigned (alg none): anyone could have written it."
    elif isinstance(alg, str) and alg.upper().startswith("HS"):
        what = (
            f"The token is signed with a shared secret ({alg}). Entra signs access tokens "
            "with RS256 only, so this token was not issued by Entra (or is a forgery)."
        )
    else:
        what = f"The token's algorithm is {alg!r}; Entra access tokens use RS256."
    return what, "Use a token issued by Entra (or the dev issuer) for this API."


def _forbidden_header(ctx: Context) -> Message:
    named = sorted({"jku", "jwk", "x5u", "x5c", "crit"} & set(ctx.header))
    return (
        f"The header carries {', '.join(named)}: key material or extensions Entra never sends. "
        "Honouring them would let the sender choose the key that verifies the token.",
        "Use a token issued by Entra for this API; this one was crafted or altered.",
    )


def _other_resource(ctx: Context) -> Message:
    audience = ctx.claim("aud")
    graph = " (Microsoft Graph)" if audience in GRAPH_AUDIENCES else ""
    return (
        f"The header has a nonce: this is a token for another resource{graph}, audience "
        f"{audience}. Such tokens can only be checked by that resource; never by this API.",
        f"The client must request this API's scope, {ctx.scope}, instead of Graph scopes "
        "such as User.Read or https://graph.microsoft.com/.default.",
    )


def _missing_kid(ctx: Context) -> Message:
    return (
        "The header has no key id (kid), so no signing key can be chosen.",
        "Use a token issued by Entra; all of its tokens name their key.",
    )


def _unknown_issuer(ctx: Context) -> Message:
    tid, iss = ctx.claim("tid"), ctx.claim("iss")
    tenants = ", ".join(ctx.conf.tenants)
    if tid not in ctx.conf.tenants:
        return (
            f"Wrong tenant: the token was issued in tenant {tid} (issuer {iss}); this API "
            f"accepts tenant(s) {tenants}.",
            "Sign in to the right tenant (the authority must name ENTRA_TENANT_ID), or add "
            "the tenant to ENTRA_ALLOWED_TENANTS if this API really serves it.",
        )
    expected = f"{ctx.conf.entra_authority_host}/{tid}/v2.0"
    return (
        f"The issuer {iss} is not one this API trusts (it expects {expected} for v2.0 "
        "tokens, or the v1.0 issuer from that tenant's discovery document).",
        "Check ENTRA_AUTHORITY_HOST (national clouds have their own host) and that the "
        "token comes from that authority, not from another cloud or a local issuer.",
    )


def _v1_not_accepted(ctx: Context) -> Message:
    return (
        "This is a v1.0 token (ver 1.0, issuer sts.windows.net-style) and "
        "ENTRA_ACCEPTED_TOKEN_VERSIONS does not include 1. Entra issues v1.0 access tokens "
        "when the API registration's manifest has requestedAccessTokenVersion null or 1.",
        "Set api.requestedAccessTokenVersion to 2 in the API app registration's manifest "
        "(the client then gets v2.0 tokens), or add 1 to ENTRA_ACCEPTED_TOKEN_VERSIONS.",
    )


def _v2_not_accepted(ctx: Context) -> Message:
    return (
        "This is a v2.0 token and ENTRA_ACCEPTED_TOKEN_VERSIONS does not include 2.",
        "Add 2 to ENTRA_ACCEPTED_TOKEN_VERSIONS (recommended), or set the API registration's "
        "requestedAccessTokenVersion back to null/1 if v1.0 tokens are really wanted.",
    )


def _unknown_key(ctx: Context) -> Message:
    return (
        f"The signing key {ctx.header.get('kid')!r} is not among the keys the issuer "
        f"{ctx.claim('iss')} publishes (its discovery document's jwks_uri).",
        "The token was signed elsewhere: another tenant or cloud, or a local issuer (dev "
        "issuer tokens only work where that issuer runs). After a key rollover Portico "
        "fetches new keys at most every ENTRA_KEYS_REFRESH_MIN_SECONDS; retry after that.",
    )


def _bad_signature(ctx: Context) -> Message:
    return (
        f"The signature does not verify with the issuer's key {ctx.header.get('kid')!r}: the "
        "token was changed after it was signed, or signed by someone else under that key id.",
        "Use the token exactly as issued: no edited claims, nothing cut off.",
    )


def _bad_key(ctx: Context) -> Message:
    return (
        f"The issuer's key {ctx.header.get('kid')!r} cannot verify RS256 signatures.",
        "The issuer publishes an unusable key: check ENTRA_AUTHORITY_HOST points at Entra.",
    )


def _expired(ctx: Context) -> Message:
    exp = ctx.payload.get("exp", 0)
    return (
        f"The token expired {duration(ctx.now - exp)} ago, at {moment(exp)} (allowed clock "
        f"skew: {ctx.leeway} s).",
        "Get a new token (MSAL's acquireTokenSilent refreshes it). If it expired only just "
        "now, compare the clocks of the client and this server.",
    )


def _not_yet_valid(ctx: Context) -> Message:
    start = max(ctx.payload.get("nbf", 0), ctx.payload.get("iat", 0))
    return (
        f"The token becomes valid only in {duration(start - ctx.now)}, at {moment(start)} "
        f"(allowed clock skew: ENTRA_CLOCK_SKEW_SECONDS={ctx.leeway}).",
        "This server's clock, or the issuer's, is wrong: check time synchronisation (NTP).",
    )


def _lifetime_too_long(ctx: Context) -> Message:
    lifetime = duration(ctx.payload.get("exp", 0) - ctx.payload.get("iat", 0))
    return (
        f"The token claims to live {lifetime}; Entra's access tokens live 28 h at most.",
        "Use a token issued by Entra; this one was minted by something else.",
    )


def _missing_claim(ctx: Context) -> Message:
    missing = [name for name in _REQUIRED if ctx.payload.get(name) is None]
    return (
        f"Required claim(s) missing: {', '.join(missing) or 'iss'}.",
        "Every Entra access token carries them; this token is not an Entra access token.",
    )


def _bad_claim_type(ctx: Context) -> Message:
    return (
        "A claim has the wrong type: times must be whole numbers, iss/aud/tid/ver strings, "
        "roles and groups lists of strings, azp/appid and oid GUIDs.",
        "Use a token issued by Entra; this one was hand-made or altered.",
    )


def _bad_audience(ctx: Context) -> Message:
    aud, conf = ctx.claim("aud"), ctx.conf
    accepted = (
        f"ENTRA_API_CLIENT_ID={conf.entra_api_client_id} or "
        f"ENTRA_API_APP_ID_URI={conf.entra_api_app_id_uri}"
    )
    if aud in GRAPH_AUDIENCES:
        what = f"The token is for Microsoft Graph (aud {aud}), not for this API ({accepted})."
    elif aud in {conf.entra_spa_client_id, ctx.payload.get("azp"), ctx.payload.get("appid")}:
        what = (
            f"The audience {aud} is the client application itself: an ID token, or a token "
            f"for the client's own scopes. This API accepts {accepted}."
        )
    else:
        what = f"The audience is {aud}; this API accepts {accepted}."
    return what, (
        f"The client must request this API's scope ({ctx.scope}). If {aud} really is this "
        "API (a custom App ID URI), set ENTRA_API_APP_ID_URI to it exactly."
    )


def _bad_version(ctx: Context) -> Message:
    return (
        f"The ver claim ({ctx.claim('ver')}) does not match the issuer's token version.",
        "Use a token issued by Entra; this one was altered.",
    )


def _bad_tenant(ctx: Context) -> Message:
    return (
        f"The tid claim ({ctx.claim('tid')}) is not the tenant named by the issuer "
        f"{ctx.claim('iss')}, or not a GUID.",
        "Use a token issued by Entra for the tenant in ENTRA_TENANT_ID.",
    )


def _not_access_token(ctx: Context) -> Message:
    return (
        "This is an ID token (it has a nonce claim, or no azp/appid): it proves a sign-in to "
        "the client app and is not meant for any API.",
        f"Send the access token the client got for {ctx.scope}, not the ID token.",
    )


def _no_permissions(ctx: Context) -> Message:
    if ctx.payload.get("idtyp") == "app" or "scp" not in ctx.payload:
        return (
            "App-only token without roles: the calling application was granted no app role "
            "of this API.",
            "Assign an app role of the API to the client's service principal (API "
            "permissions → Application permissions → admin consent), then request "
            f"{ctx.conf.entra_api_app_id_uri}/.default again.",
        )
    return (
        "The token has neither scp nor roles: the client asked for no permission of this API.",
        f"Request the delegated scope {ctx.scope} and make sure consent was granted.",
    )


def _contradictory_kind(ctx: Context) -> Message:
    return (
        "The token says it is app-only (idtyp app) but carries delegated scopes (scp).",
        "Use a token issued by Entra; this one was altered.",
    )


def _missing_oid(ctx: Context) -> Message:
    return (
        "The token has no object id (oid) or tenant id (tid), so it names nobody.",
        "Request the profile scope along with this API's scope (Entra then includes oid).",
    )


def _keys_unavailable(ctx: Context) -> Message:
    return (
        "Portico could not fetch the issuer's signing keys and has none cached: this is an "
        "outage on our side or the authority's, not a fault of the token.",
        "Check that ENTRA_AUTHORITY_HOST is reachable from this server, then retry.",
    )


EXPLAINERS: dict[str, Callable[[Context], Message]] = {
    "too_large": _too_large,
    "malformed": _malformed,
    "bad_algorithm": _bad_algorithm,
    "forbidden_header": _forbidden_header,
    "other_resource": _other_resource,
    "missing_kid": _missing_kid,
    "unknown_issuer": _unknown_issuer,
    "v1_not_accepted": _v1_not_accepted,
    "v2_not_accepted": _v2_not_accepted,
    "unknown_key": _unknown_key,
    "bad_signature": _bad_signature,
    "bad_key": _bad_key,
    "expired": _expired,
    "not_yet_valid": _not_yet_valid,
    "lifetime_too_long": _lifetime_too_long,
    "missing_claim": _missing_claim,
    "bad_claim_type": _bad_claim_type,
    "bad_audience": _bad_audience,
    "bad_version": _bad_version,
    "bad_tenant": _bad_tenant,
    "not_access_token": _not_access_token,
    "no_permissions": _no_permissions,
    "contradictory_kind": _contradictory_kind,
    "missing_oid": _missing_oid,
    "keys_unavailable": _keys_unavailable,
}


def explain_refusal(reason: str, ctx: Context) -> Message:
    """What happened and how to fix it, for a refusal ``reason`` (every reason has one)."""
    return EXPLAINERS[reason](ctx)

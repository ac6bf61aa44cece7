"""Attack vectors 45-69 and H1-H4 (entra-token-spec §14 D-H): the claims of a signed token.

Every token here is signed by K1, so only the claim checks stand between it and the view:
time (with a frozen clock), issuer, tenant and version, audience, token kind, then the
permission layer (403 ``insufficient_scope``) and identity keying (database effects).
Row ids carry the spec's vector number.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.urls import include, path
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.api.permissions import InsufficientScope
from apps.core import metrics
from apps.core.conf import portico_settings
from apps.entra_auth import authentication, runtime, users
from apps.entra_auth.claims import Claims, TokenKind
from apps.entra_auth.models import User
from apps.entra_auth.validation import TokenValidator, ValidationPolicy
from tests import urls as spy
from tests.conftest import (
    API_CLIENT_ID,
    DAEMON_OID,
    DROP,
    GROUPS_OVERAGE,
    OTHER_API_CLIENT_ID,
    OTHER_TENANT,
    SPA_CLIENT_ID,
    TENANT,
    USER_OID,
    FakeEntra,
    assert_insufficient_scope,
    assert_token_refused,
    bearer,
)

pytestmark = pytest.mark.django_db

SPY, SPY_APP, SPY_GROUP, ME = "/api/spy", "/api/spy-app", "/api/spy-group", "/api/me"
LEEWAY = 60
HOUR = 3600
CONSUMER_TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad"
GLOBAL_ADMIN_TEMPLATE = "62e90394-69f5-4237-9190-012177145e10"
GROUP = "e1e1e1e1-2f2f-4a3a-8b4b-5c5c5c5c5c5c"
OTHER_OID = "0b0b0b0b-1c1c-4d2d-8e3e-4f4f4f4f4f4f"
HEX_TENANT = "abcdef01-2345-4678-9abc-def012345678"


# --- a group-gated endpoint for vector 69: this module doubles as the URLconf -------------------
class _RequireGroup(BasePermission):
    """Grants members of GROUP, as listed in the token's ``groups`` claim (never fetched)."""

    def has_permission(self, request: Any, view: Any) -> bool:
        claims = request.auth
        if not isinstance(claims, Claims):
            return False
        if GROUP not in claims.groups:
            raise InsufficientScope(detail="The token lacks the required group", required=[GROUP])
        return True


class GroupSpyView(APIView):
    permission_classes = [_RequireGroup]

    def get(self, request: Any) -> Response:
        spy.CALLS.append("group")
        return Response({"ok": True})


urlpatterns = [path("api/spy-group", GroupSpyView.as_view()), path("", include("tests.urls"))]


@pytest.fixture
def urls(settings, spy_urls) -> list[str]:
    settings.ROOT_URLCONF = __name__
    return spy_urls


def _get(client, url: str, token: str):
    return client.get(url, **bearer(token))


def _assert_reached(response, view: str = "scope") -> None:
    assert response.status_code == HTTPStatus.OK, response.content
    assert spy.CALLS == [view]  # noqa: SIM300 - CALLS is a list, not a constant


# --- D. time, with a frozen clock ------------------------------------------------------------
@dataclass
class FrozenClock:
    now: int

    def __call__(self) -> float:
        return float(self.now)


@pytest.fixture
def clock(entra, urls, monkeypatch) -> FrozenClock:
    """The API's validator, with the clock stopped at a whole second (spec vector 46)."""
    frozen = FrozenClock(int(time.time()))
    conf = portico_settings()
    assert conf.entra_clock_skew_seconds == LEEWAY
    validator = TokenValidator(
        issuers=runtime.issuer_directory(),
        policy=ValidationPolicy(audiences=conf.audiences, leeway_seconds=LEEWAY),
        clock=frozen,
    )
    monkeypatch.setattr(authentication, "token_validator", lambda: validator)
    return frozen


TimeRow = Callable[[int], dict[str, int]]
TIME: dict[str, tuple[TimeRow, str | None]] = {
    "v45-expired-an-hour-ago": (lambda now: _life(now - 2 * HOUR, now - HOUR), "expired"),
    "v46-exp-one-second-inside-leeway": (lambda now: _life(now - HOUR, now - LEEWAY + 1), None),
    "v46-exp-at-leeway": (lambda now: _life(now - HOUR, now - LEEWAY), "expired"),
    "v47-nbf-ten-minutes-ahead": (lambda now: {"nbf": now + 600}, "not_yet_valid"),
    "v47-nbf-at-leeway": (lambda now: {"nbf": now + LEEWAY}, None),
    "v47-nbf-one-second-past-leeway": (lambda now: {"nbf": now + LEEWAY + 1}, "not_yet_valid"),
    "v48-iat-ten-minutes-ahead": (lambda now: {"iat": now + 600}, "not_yet_valid"),
    "v48-iat-at-leeway": (lambda now: {"iat": now + LEEWAY}, None),
    "v48-iat-one-second-past-leeway": (lambda now: {"iat": now + LEEWAY + 1}, "not_yet_valid"),
    "v52-ten-year-lifetime": (
        lambda now: _life(now, now + 10 * 365 * 24 * HOUR),
        "lifetime_too_long",
    ),
    "v52-cae-28h-lifetime": (lambda now: _life(now, now + 28 * HOUR), None),
    "v52-lifetime-30h": (lambda now: _life(now, now + 30 * HOUR), None),
    "v52-lifetime-30h-and-1s": (lambda now: _life(now, now + 30 * HOUR + 1), "lifetime_too_long"),
}


def _life(issued: int, expires: int) -> dict[str, int]:
    return {"iat": issued, "nbf": issued, "exp": expires}


@pytest.mark.parametrize(("times", "reason"), TIME.values(), ids=TIME.keys())
def test_token_lifetime_is_checked_with_exactly_the_configured_leeway(
    client, token_factory, clock, times, reason
):
    token = token_factory(claims=times(clock.now), now=clock.now)
    response = _get(client, SPY, token)
    if reason is None:
        _assert_reached(response)
    else:
        assert_token_refused(response, reason)


def test_cached_valid_token_is_refused_once_it_expires(client, token_factory, clock):
    token = token_factory(now=clock.now)
    _assert_reached(_get(client, SPY, token))
    spy.CALLS.clear()
    clock.now += HOUR + LEEWAY
    assert_token_refused(_get(client, SPY, token), "expired")


MISSING_OR_MISTYPED_TIME = {
    **{f"v49-{name}-missing": ({name: DROP}, "missing_claim") for name in ("exp", "nbf", "iat")},
    **{f"v49-{name}-null": ({name: None}, "missing_claim") for name in ("exp", "nbf", "iat")},
    "v50-exp-string": ({"exp": "9999999999"}, "bad_claim_type"),
    "v50-exp-true": ({"exp": True}, "bad_claim_type"),
    "v50-exp-float": ({"exp": 1.5e9}, "bad_claim_type"),
    "v50-nbf-string": ({"nbf": "0"}, "bad_claim_type"),
    "v50-iat-float": ({"iat": 1.0}, "bad_claim_type"),
}


@pytest.mark.parametrize(
    ("claims", "reason"), MISSING_OR_MISTYPED_TIME.values(), ids=MISSING_OR_MISTYPED_TIME.keys()
)
def test_time_claims_are_required_integers(client, token_factory, urls, claims, reason):
    assert_token_refused(_get(client, SPY, token_factory(claims=claims)), reason)


# --- E. issuer, tenant and version ---------------------------------------------------------------
IssuerRow = Callable[[FakeEntra], dict[str, Any]]
NO_FETCH: dict[str, tuple[IssuerRow, str]] = {
    "v53-issuer-of-another-tenant": (
        lambda e: {"iss": e.issuer(tenant=OTHER_TENANT)},
        "unknown_issuer",
    ),
    "v53-issuer-missing": (lambda e: {"iss": DROP}, "missing_claim"),
    "v53-issuer-number": (lambda e: {"iss": 5}, "bad_claim_type"),
    "v53-issuer-list": (lambda e: {"iss": [e.issuer()]}, "bad_claim_type"),
    "v53-issuer-of-no-tenant": (lambda e: {"iss": f"{e.base_url}/common/v2.0"}, "unknown_issuer"),
    "v58-other-tenant-consistently": (
        lambda e: {"iss": e.issuer(tenant=OTHER_TENANT), "tid": OTHER_TENANT},
        "unknown_issuer",
    ),
    "v60-consumer-tenant": (
        lambda e: {"iss": e.issuer(tenant=CONSUMER_TENANT), "tid": CONSUMER_TENANT},
        "unknown_issuer",
    ),
}


@pytest.mark.parametrize(("claims", "reason"), NO_FETCH.values(), ids=NO_FETCH.keys())
def test_issuer_not_configured_is_refused_without_fetching_keys(
    client, token_factory, entra, urls, claims, reason
):
    assert_token_refused(_get(client, SPY, token_factory(claims=claims(entra))), reason)
    assert entra.jwks_fetches() == 0


ISSUER: dict[str, tuple[IssuerRow, str]] = {
    "v53-real-entra-issuer-for-our-tenant": (
        lambda e: {"iss": f"https://login.microsoftonline.com/{TENANT}/v2.0"},
        "unknown_issuer",
    ),
    "v53-issuer-with-trailing-slash": (lambda e: {"iss": e.issuer() + "/"}, "unknown_issuer"),
    "v53-issuer-upper-case": (lambda e: {"iss": e.issuer().upper()}, "unknown_issuer"),
    "v53-issuer-with-suffix": (lambda e: {"iss": e.issuer() + ".evil"}, "unknown_issuer"),
    "v53-issuer-as-prefix": (lambda e: {"iss": e.issuer()[:-1]}, "unknown_issuer"),
    "v57-v2-issuer-with-ver-1": (lambda e: {"ver": "1.0"}, "bad_version"),
    "v57-ver-missing": (lambda e: {"ver": DROP}, "missing_claim"),
    "v57-ver-number": (lambda e: {"ver": 2.0}, "bad_claim_type"),
    "v57-ver-2": (lambda e: {"ver": "2"}, "bad_version"),
    "v58-our-issuer-other-tid": (lambda e: {"tid": OTHER_TENANT}, "bad_tenant"),
    "v59-tid-not-a-guid": (lambda e: {"tid": "T-not-a-guid"}, "bad_tenant"),
    "v59-tid-with-braces": (lambda e: {"tid": "{" + TENANT + "}"}, "bad_tenant"),
    "v59-tid-missing": (lambda e: {"tid": DROP}, "missing_oid"),
    "v59-tid-number": (lambda e: {"tid": 123}, "bad_claim_type"),
    "v61-other-cloud-issuer": (
        lambda e: {"iss": f"https://login.microsoftonline.us/{TENANT}/v2.0"},
        "unknown_issuer",
    ),
}


@pytest.mark.parametrize(("claims", "reason"), ISSUER.values(), ids=ISSUER.keys())
def test_issuer_tenant_and_version_must_match_exactly(
    client, token_factory, entra, urls, claims, reason
):
    assert_token_refused(_get(client, SPY, token_factory(claims=claims(entra))), reason)


def test_upper_case_tid_is_not_the_tenant(client, token_factory, entra, urls, settings):
    """Vector 59: GUIDs are compared as Entra writes them, lower case (the test tenant
    has no hex letters, so a second allowed tenant that has some is used)."""
    settings.PORTICO = {**settings.PORTICO, "ENTRA_ALLOWED_TENANTS": (HEX_TENANT,)}
    claims = {"iss": entra.issuer(tenant=HEX_TENANT), "tid": HEX_TENANT}
    _assert_reached(_get(client, SPY, token_factory(claims=claims)))
    spy.CALLS.clear()
    token = token_factory(claims={**claims, "tid": HEX_TENANT.upper()})
    assert_token_refused(_get(client, SPY, token), "bad_tenant")


V1: dict[str, tuple[IssuerRow, str]] = {
    "v57-v1-issuer-with-ver-2": (lambda e: {"ver": "2.0"}, "bad_version"),
    "v58-v1-issuer-other-tid": (lambda e: {"tid": OTHER_TENANT}, "bad_tenant"),
    "v56-v1-aud-with-trailing-slash": (
        lambda e: {"aud": f"api://{API_CLIENT_ID}/"},
        "bad_audience",
    ),
    "v61-v1-issuer-of-another-cloud": (
        lambda e: {"iss": f"https://sts.chinacloudapi.cn/{TENANT}/"},
        "unknown_issuer",
    ),
    "v1-appid-not-a-guid": (lambda e: {"appid": "x" * 100}, "bad_claim_type"),
    "v65-v1-azp-instead-of-appid": (
        lambda e: {"appid": DROP, "azp": SPA_CLIENT_ID},
        "not_access_token",
    ),
}


@pytest.mark.parametrize(("claims", "reason"), V1.values(), ids=V1.keys())
def test_v1_token_is_held_to_its_own_issuer_and_version(
    client, token_factory, entra, urls, claims, reason
):
    token = token_factory(version="1.0", claims=claims(entra))
    assert_token_refused(_get(client, SPY, token), reason)


@pytest.mark.parametrize(
    "aud",
    [
        pytest.param(f"api://{API_CLIENT_ID}", id="v56-app-id-uri"),
        pytest.param(API_CLIENT_ID, id="v56-client-id"),
    ],
)
def test_v1_token_is_accepted_by_default_with_either_audience_form(
    client, token_factory, urls, aud
):
    _assert_reached(_get(client, SPY, token_factory(version="1.0", claims={"aud": aud})))


def test_v1_token_is_refused_with_a_hint_when_only_v2_is_accepted(
    client, token_factory, entra, urls, settings
):
    settings.PORTICO = {**settings.PORTICO, "ENTRA_ACCEPTED_TOKEN_VERSIONS": ("2",)}
    assert_token_refused(_get(client, SPY, token_factory(version="1.0")), "v1_not_accepted")
    assert entra.jwks_fetches() == 0  # vector 55
    _assert_reached(_get(client, SPY, token_factory()))


def test_v2_token_is_refused_with_a_hint_when_only_v1_is_accepted(
    client, token_factory, entra, urls, settings
):
    settings.PORTICO = {**settings.PORTICO, "ENTRA_ACCEPTED_TOKEN_VERSIONS": ("1",)}
    assert_token_refused(_get(client, SPY, token_factory()), "v2_not_accepted")


# --- F. audience and token kind -------------------------------------------------------------------
AUDIENCE: dict[str, tuple[Any, str]] = {
    "v62-another-apis-client-id": (OTHER_API_CLIENT_ID, "bad_audience"),
    "v63-array-with-ours-and-evil": ([API_CLIENT_ID, "evil"], "bad_audience"),
    "v63-array-of-ours-only": ([API_CLIENT_ID], "bad_audience"),
    "v64-empty-string": ("", "bad_audience"),
    "v64-missing": (DROP, "missing_claim"),
    "v64-null": (None, "missing_claim"),
    "v64-upper-cased-client-id": (API_CLIENT_ID.upper(), "bad_audience"),
    "v64-app-id-uri-with-trailing-slash": (f"api://{API_CLIENT_ID}/", "bad_audience"),
    "v64-app-id-uri-with-scope": (f"api://{API_CLIENT_ID}/access_as_user", "bad_audience"),
    "v64-client-id-with-space": (f" {API_CLIENT_ID}", "bad_audience"),
    "v64-client-id-prefix": (API_CLIENT_ID[:-1], "bad_audience"),
    "v64-graph": ("https://graph.microsoft.com", "bad_audience"),
    "v64-number": (1, "bad_audience"),
    "v64-object": ({"aud": API_CLIENT_ID}, "bad_audience"),
}


@pytest.mark.parametrize(("aud", "reason"), AUDIENCE.values(), ids=AUDIENCE.keys())
def test_audience_must_be_exactly_one_of_ours_as_a_string(client, token_factory, urls, aud, reason):
    assert_token_refused(_get(client, SPY, token_factory(claims={"aud": aud})), reason)


def test_app_id_uri_audience_is_accepted_on_a_v2_token(client, token_factory, urls):
    """Project decision (spec preamble): both audience forms for either version."""
    token = token_factory(claims={"aud": f"api://{API_CLIENT_ID}"})
    _assert_reached(_get(client, SPY, token))


KIND: dict[str, tuple[dict[str, Any], bool, str]] = {
    "v65-id-token-shape": (
        {"nonce": "n-0S6_WzA2Mj", "scp": DROP, "azp": DROP, "roles": ["Portico.Read"]},
        False,
        "not_access_token",
    ),
    "v65-access-token-with-payload-nonce": ({"nonce": "n-0S6_WzA2Mj"}, False, "not_access_token"),
    "v65-no-azp": ({"azp": DROP}, False, "not_access_token"),
    "v65-empty-azp": ({"azp": ""}, False, "not_access_token"),
    "v65-v2-with-appid-not-azp": ({"azp": DROP, "appid": SPA_CLIENT_ID}, False, "not_access_token"),
    "v66-app-only-without-roles": ({"roles": DROP}, True, "no_permissions"),
    "v66-app-only-with-empty-roles": ({"roles": []}, True, "no_permissions"),
    "v66-delegated-without-scp": ({"scp": DROP}, False, "no_permissions"),
    "v66-delegated-with-null-scp": ({"scp": None}, False, "bad_claim_type"),
    "v66-delegated-with-blank-scp": ({"scp": " "}, False, "no_permissions"),
    "v67-scp-array": ({"scp": ["access_as_user"]}, False, "bad_claim_type"),
    "v68-app-only-with-scp": ({"scp": "access_as_user"}, True, "contradictory_kind"),
    "v69a-roles-string": ({"roles": "Portico.Admins"}, True, "bad_claim_type"),
    "v69a-roles-string-of-the-required-role": ({"roles": "Portico.Read"}, True, "bad_claim_type"),
    "v69b-roles-with-non-strings": ({"roles": [1, None]}, True, "bad_claim_type"),
    "v69b-roles-with-nested-list": ({"roles": [["Portico.Read"]]}, True, "bad_claim_type"),
    "v69b-groups-string": ({"groups": GROUP}, False, "bad_claim_type"),
    "v69b-groups-with-number": ({"groups": [GROUP, 1]}, False, "bad_claim_type"),
    "v69b-wids-object": ({"wids": {"id": GLOBAL_ADMIN_TEMPLATE}}, False, "bad_claim_type"),
    "idtyp-number": ({"idtyp": 1}, True, "bad_claim_type"),
    "name-with-nul": ({"name": "Mallory\x00Admin"}, False, "bad_claim_type"),
    "email-with-lone-surrogate": ({"email": "m\ud800@example.com"}, False, "bad_claim_type"),
    "roles-with-lone-surrogate": ({"roles": ["Portico.Read", "\udfff"]}, True, "bad_claim_type"),
    "azp-number": ({"azp": 1}, False, "bad_claim_type"),
    "azp-not-a-guid": ({"azp": "spa"}, False, "bad_claim_type"),
    "azp-longer-than-a-guid-app-only": ({"azp": "a" * 300}, True, "bad_claim_type"),
}


@pytest.mark.parametrize(("claims", "app", "reason"), KIND.values(), ids=KIND.keys())
def test_token_of_the_wrong_kind_or_claim_type_is_refused(
    client, token_factory, urls, claims, app, reason
):
    token = token_factory(claims=claims, app=app)
    url = SPY_APP if app else SPY
    assert_token_refused(_get(client, url, token), reason)


# --- G. authorization: the token is valid, the permission layer says 403 -------------------------
@pytest.mark.parametrize(
    "scp",
    [
        pytest.param("User.Read", id="v67-other-scope"),
        pytest.param("access_as_user_readonly", id="v67-suffix"),
        pytest.param("Access_As_User", id="v67-other-case"),
        pytest.param("xaccess_as_user", id="v67-prefix"),
        pytest.param("access_as_user.", id="v67-trailing-dot"),
        pytest.param(f"api://{API_CLIENT_ID}/access_as_user", id="v67-full-scope-uri"),
        pytest.param("access_as_user\tUser.Read", id="v67-tab-separated"),
        pytest.param("access_as_user,User.Read", id="v67-comma-separated"),
    ],
)
def test_scope_lookalike_is_insufficient_scope(client, token_factory, urls, scp):
    response = _get(client, SPY, token_factory(claims={"scp": scp}))
    assert_insufficient_scope(response, "access_as_user")


@pytest.mark.parametrize(
    "scp",
    [
        pytest.param("User.Read access_as_user", id="v67-among-others"),
        pytest.param("access_as_user  User.Read", id="v67-double-space"),
        pytest.param(" access_as_user ", id="v67-surrounding-spaces"),
    ],
)
def test_required_scope_is_found_among_space_separated_scopes(client, token_factory, urls, scp):
    _assert_reached(_get(client, SPY, token_factory(claims={"scp": scp})))


def test_app_only_token_is_insufficient_on_a_delegated_endpoint(client, token_factory, urls):
    response = _get(client, SPY, token_factory(app=True))  # vector 68
    assert_insufficient_scope(response, "access_as_user")


@pytest.mark.parametrize(
    "claims",
    [
        pytest.param({}, id="v68-idtyp-app"),
        pytest.param({"idtyp": DROP}, id="v68-no-idtyp-no-scp"),
        pytest.param({"roles": ["Portico.Write", "Portico.Read"]}, id="v68-among-other-roles"),
    ],
)
def test_app_only_token_with_the_app_role_reaches_the_app_endpoint(
    client, token_factory, urls, claims
):
    _assert_reached(_get(client, SPY_APP, token_factory(app=True, claims=claims)), "app")


@pytest.mark.parametrize(
    ("claims", "app"),
    [
        pytest.param({"roles": ["Portico.Read"]}, False, id="v68-user-with-the-app-role"),
        pytest.param(
            {"roles": ["Portico.Read"], "scp": DROP, "idtyp": "user"},
            False,
            id="v68-idtyp-user-with-the-app-role",
        ),
        pytest.param({"roles": ["Portico.Write"]}, True, id="v68-app-with-another-role"),
        pytest.param({"roles": ["portico.read"]}, True, id="v68-app-role-other-case"),
        pytest.param({"roles": ["Portico.Reader"]}, True, id="v69a-app-role-lookalike"),
    ],
)
def test_missing_app_role_or_delegated_kind_is_insufficient_on_the_app_endpoint(
    client, token_factory, urls, claims, app
):
    response = _get(client, SPY_APP, token_factory(app=app, claims=claims))
    assert_insufficient_scope(response, "Portico.Read")


@pytest.mark.parametrize(
    "overage", GROUPS_OVERAGE.values(), ids=["v69c-claim-sources", "v69d-hasgroups"]
)
def test_groups_overage_authenticates_without_groups_and_never_calls_the_source(
    client, token_factory, urls, spy_server, caplog, overage
):
    token = token_factory(claims=overage(spy_server.url))
    counted_before = metrics.value("portico_groups_overage_total")
    _assert_reached(_get(client, SPY, token))
    spy.CALLS.clear()
    assert_insufficient_scope(_get(client, SPY_GROUP, token), GROUP)
    me = _get(client, ME, token).json()
    assert me["groups"] == []
    assert me["groups_overage"] is True
    assert spy_server.requests == []
    assert metrics.value("portico_groups_overage_total") == counted_before + 3  # per request
    assert caplog.text.count("Groups overage") == 1  # the log reminds; the counter counts


def test_listed_group_opens_the_group_endpoint(client, token_factory, urls):
    """The control for vector 69c: the same endpoint with the group in the token."""
    _assert_reached(_get(client, SPY_GROUP, token_factory(claims={"groups": [GROUP]})), "group")


def test_wids_grant_nothing_without_a_mapping(client, token_factory, urls):
    """Vector 69e: a Global Administrator directory role is not a Portico permission."""
    wids = {"wids": [GLOBAL_ADMIN_TEMPLATE]}
    assert_insufficient_scope(
        _get(client, SPY, token_factory(claims={**wids, "scp": "User.Read"})), "access_as_user"
    )
    assert_insufficient_scope(_get(client, SPY_APP, token_factory(claims=wids)), "Portico.Read")
    _assert_reached(_get(client, SPY, token_factory(claims=wids)))
    user = User.objects.get(entra_tenant_id=TENANT, entra_object_id=USER_OID)
    assert not user.is_staff
    assert not user.is_superuser
    assert not user.has_perm("entra_auth.view_user")


# --- never a 500: every claim of a signed token, replaced by every hostile value ---------------
HOSTILE_VALUES: list[Any] = [
    DROP, None, True, False, 0, -1, 2**64, 10**40, 1.5, "", " ", "x", "\x00", "a\x00b", "é",
    "\ud800", "a" * 3000, "access_as_user", "Portico.Read", TENANT, USER_OID, [], [None], [1],
    ["x", 2], [["x"]], ["access_as_user"], {}, {"groups": "src1"}, {"a": [{}]},
]  # fmt: skip
FUZZED_CLAIMS = [
    "iss", "aud", "exp", "nbf", "iat", "tid", "oid", "sub", "ver", "azp", "appid", "scp",
    "roles", "groups", "wids", "idtyp", "name", "preferred_username", "email", "upn", "uti",
    "nonce", "_claim_names", "_claim_sources", "hasgroups", "xms_cc",
]  # fmt: skip


@pytest.mark.parametrize("app", [False, True], ids=["delegated", "app-only"])
def test_signed_token_with_any_hostile_claim_value_never_causes_a_server_error(
    client, token_factory, urls, app
):
    url = ME if app else SPY  # /api/me echoes the claims back: its rendering is exercised too
    client.raise_request_exception = False  # collect every 500 instead of stopping at one
    statuses: dict[tuple[str, str], int] = {}
    for name in FUZZED_CLAIMS:
        for value in HOSTILE_VALUES:
            response = _get(client, url, token_factory(claims={name: value}, app=app))
            statuses[name, repr(value)[:20]] = response.status_code
    allowed = {HTTPStatus.OK, HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN}
    assert {key: code for key, code in statuses.items() if code not in allowed} == {}


# --- H. identity keying: (tid, oid), never a mutable claim ----------------------------------------
def _users(oid: str = USER_OID, tid: str = TENANT):
    return User.objects.filter(entra_tenant_id=tid, entra_object_id=oid)


def test_same_oid_with_a_new_username_is_one_user_with_updated_profile(client, token_factory, urls):
    old = {"preferred_username": "old@example.com", "email": "old@example.com", "name": "Old"}
    new = {"preferred_username": "new@example.com", "email": "new@example.com", "name": "New"}
    _assert_reached(_get(client, SPY, token_factory(claims=old)))
    spy.CALLS.clear()
    _assert_reached(_get(client, SPY, token_factory(claims=new)))  # H1
    user = _users().get()
    assert (user.display_name, user.preferred_username, user.email) == (
        "New",
        "new@example.com",
        "new@example.com",
    )
    assert User.objects.filter(entra_object_id__gt="").count() == 1


def test_same_email_with_another_oid_is_another_user_without_the_first_users_rights(
    client, token_factory, urls
):
    same = {"preferred_username": "shared@example.com", "email": "shared@example.com"}
    _assert_reached(_get(client, SPY, token_factory(claims=same)))
    first = _users().get()
    first.is_staff = True
    first.save()
    first.user_permissions.add(Permission.objects.get(codename="view_user"))
    spy.CALLS.clear()
    _assert_reached(_get(client, SPY, token_factory(claims={**same, "oid": OTHER_OID})))  # H2
    second = _users(OTHER_OID).get()
    assert second.pk != first.pk
    assert not second.is_staff
    assert not second.has_perm("entra_auth.view_user")
    assert second.user_permissions.count() == 0


def test_same_sub_and_oid_in_another_allowed_tenant_is_another_user(
    client, token_factory, entra, urls, settings
):
    settings.PORTICO = {**settings.PORTICO, "ENTRA_ALLOWED_TENANTS": (OTHER_TENANT,)}
    same = {"sub": "the-same-pairwise-sub"}
    _assert_reached(_get(client, SPY, token_factory(claims=same)))
    spy.CALLS.clear()
    guest = {**same, "iss": entra.issuer(tenant=OTHER_TENANT), "tid": OTHER_TENANT}
    _assert_reached(_get(client, SPY, token_factory(claims=guest)))  # H3
    assert _users(tid=TENANT).get().pk != _users(tid=OTHER_TENANT).get().pk


def _claims(tid: str, oid: str) -> Claims:
    return Claims(
        tid=tid,
        oid=oid,
        sub="the-same-pairwise-sub",
        kind=TokenKind.DELEGATED,
        client_id=SPA_CLIENT_ID,
        version="2.0",
        issuer=f"https://login.microsoftonline.com/{tid}/v2.0",
        audience=API_CLIENT_ID,
        expires_at=2_000_000_000,
        issued_at=1_999_996_400,
        scopes=frozenset({"access_as_user"}),
    )


def test_user_key_is_tenant_and_object_id_together(entra):
    """H3 at the key function: same sub (and oid) in two tenants, two users; same pair, one."""
    users.forget_all()
    home = users.user_for_claims(_claims(TENANT, USER_OID))
    guest = users.user_for_claims(_claims(OTHER_TENANT, USER_OID))
    again = users.user_for_claims(_claims(TENANT, USER_OID))
    assert home.pk != guest.pk
    assert again.pk == home.pk


@pytest.mark.parametrize(
    ("oid", "reason"),
    [
        pytest.param(DROP, "missing_oid", id="H4-oid-missing"),
        pytest.param(None, "bad_claim_type", id="H4-oid-null"),
        pytest.param("not-a-guid", "bad_claim_type", id="H4-oid-not-a-guid"),
        pytest.param(USER_OID.upper(), "bad_claim_type", id="H4-oid-upper-case"),
        pytest.param(5, "bad_claim_type", id="H4-oid-number"),
    ],
)
def test_token_without_a_usable_oid_is_refused_and_creates_no_user(
    client, token_factory, urls, oid, reason
):
    assert_token_refused(_get(client, SPY, token_factory(claims={"oid": oid})), reason)
    assert not User.objects.exists()


def test_oversized_display_claims_are_stored_truncated_not_a_server_error(
    client, token_factory, urls
):
    """Display claims are free text of any length (spec §1.3); the columns are not."""
    claims = {"name": "n" * 1000, "preferred_username": "p" * 1000, "email": "e" * 1000}
    _assert_reached(_get(client, SPY, token_factory(claims=claims)))
    user = _users().get()
    assert user.display_name == "n" * 256


def test_app_only_caller_is_keyed_on_its_service_principal_oid(client, token_factory, urls):
    _assert_reached(_get(client, SPY_APP, token_factory(app=True)), "app")
    app = _users(DAEMON_OID).get()
    assert app.kind == User.Kind.APPLICATION
    assert not app.is_staff

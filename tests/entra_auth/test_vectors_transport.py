"""Attack vectors 1-14 and J3 (entra-token-spec §14 A, J): how the token travels.

Only ``Authorization: Bearer <token>`` is read (RFC 6750 §2.1). A request without Bearer
credentials gets the bare challenge, a malformed one 400 ``invalid_request``, and the view
never runs. Row ids carry the spec's vector number.
"""

from __future__ import annotations

from http import HTTPStatus
from unittest import mock
from urllib.parse import urlencode

import pytest
from rest_framework.settings import api_settings

from apps.entra_auth import validation
from tests import urls as spy
from tests.conftest import (
    DROP,
    assert_bad_request,
    assert_no_credentials,
    assert_token_refused,
    bearer,
)

pytestmark = pytest.mark.django_db

SPY = "/api/spy"
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def token(token_factory, spy_urls) -> str:
    """A valid v2 delegated token for the spy endpoint."""
    return token_factory()


# --- A. no Bearer credentials: 401 with the bare challenge ---------------------------------
@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(None, id="v01-no-authorization-header"),
        pytest.param("Basic dXNlcjpwYXNz", id="v02-basic"),
        pytest.param('Digest username="u", realm="portico", nonce="n"', id="v02-digest"),
        pytest.param("Token abc", id="v02-drf-token"),
        pytest.param("Bearertoken", id="v02-scheme-run-into-token"),
        pytest.param("Bearer: token", id="v02-scheme-with-colon"),
    ],
)
def test_request_without_bearer_credentials_gets_the_bare_challenge(
    client, spy_urls, entra, authorization
):
    extra = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}
    response = client.get(SPY, **extra)
    assert_no_credentials(response)
    assert entra.jwks_fetches() == 0


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "BeArEr"])
def test_bearer_scheme_is_case_insensitive(client, token, scheme):  # vector 3
    response = client.get(SPY, HTTP_AUTHORIZATION=f"{scheme} {token}")
    assert response.status_code == HTTPStatus.OK
    assert spy.CALLS == ["scope"]


@pytest.mark.parametrize("spaces", [1, 2, 3])
def test_several_spaces_after_the_scheme_are_accepted(client, token, spaces):  # vector 4
    response = client.get(SPY, HTTP_AUTHORIZATION=f"Bearer{' ' * spaces}{token}")
    assert response.status_code == HTTPStatus.OK
    assert spy.CALLS == ["scope"]


# --- A. malformed Bearer credentials: 400 invalid_request -----------------------------------
@pytest.mark.parametrize(
    ("build", "reason"),
    [
        pytest.param(lambda t: "Bearer", "empty", id="v05-bearer-alone"),
        pytest.param(lambda t: "Bearer ", "empty", id="v05-bearer-space"),
        pytest.param(lambda t: "bearer    ", "empty", id="v05-bearer-spaces"),
        pytest.param(lambda t: f"Bearer {t} {t}", "syntax", id="v06-two-credentials"),
        pytest.param(lambda t: f"Bearer {t}  {t}", "syntax", id="v06-two-credentials-2sp"),
        pytest.param(lambda t: "Bearer abc$def", "syntax", id="v07-dollar"),
        pytest.param(lambda t: f"Bearer {t[:20]}\t{t[20:]}", "syntax", id="v07-tab-inside"),
        pytest.param(lambda t: f"Bearer {t[:20]} {t[20:]}", "syntax", id="v07-space-inside"),
        pytest.param(lambda t: f"Bearer\t{t}", "syntax", id="v07-tab-after-scheme"),
        pytest.param(lambda t: f"Bearer {t} ", "syntax", id="v07-trailing-space"),
        pytest.param(lambda t: f"Bearer {t}\x00", "syntax", id="v07-nul"),
        pytest.param(lambda t: f'Bearer "{t}"', "syntax", id="v07-quoted"),
        pytest.param(lambda t: f"Bearer ={t}", "syntax", id="v07-leading-padding"),
        pytest.param(lambda t: f"Bearer {t},Bearer {t}", "duplicate", id="v08-joined-by-comma"),
        pytest.param(lambda t: f"Bearer {t}, Bearer {t}", "duplicate", id="v08-comma-space"),
        pytest.param(lambda t: f"Bearer {t},", "duplicate", id="v08-trailing-comma"),
        pytest.param(
            lambda t: f"Basic dXNlcjpwYXNz,Bearer {t}", "duplicate", id="v08-basic-then-bearer"
        ),
        pytest.param(lambda t: f"Bearer {t}é", "not_ascii", id="v14-latin1-byte"),
        pytest.param(lambda t: f"Bearer {t[:10]}\u00a0{t[10:]}", "not_ascii", id="v14-nbsp"),
        pytest.param(lambda t: f"Basic é{t}", "not_ascii", id="v14-other-scheme-non-ascii"),
    ],
)
def test_malformed_bearer_header_is_a_bad_request_without_fetching_keys(
    client, token, entra, build, reason
):
    response = client.get(SPY, HTTP_AUTHORIZATION=build(token))
    assert_bad_request(response, reason)
    assert entra.jwks_fetches() == 0


# --- A. the token sent by another method ------------------------------------------------------
def test_token_only_in_query_string_is_ignored_with_the_bare_challenge(client, token, caplog):
    response = client.get(SPY, {"access_token": token})  # vector 9
    assert_no_credentials(response)
    assert token not in caplog.text


def _form(token: str) -> dict[str, str]:
    """A form-encoded body carrying the token, as RFC 6750 §2.2 describes it."""
    return {"data": urlencode({"access_token": token}), "content_type": FORM}


def test_token_only_in_form_body_is_ignored_with_the_bare_challenge(client, token):
    response = client.post(SPY, **_form(token))  # vector 11
    assert_no_credentials(response)


def test_token_in_header_and_query_is_a_bad_request(client, token):
    response = client.get(SPY, {"access_token": token}, **bearer(token))  # vector 10
    assert_bad_request(response, "several_methods")


def test_token_in_header_and_form_body_is_a_bad_request(client, token):
    response = client.post(SPY, **_form(token), **bearer(token))  # vector 10, in the body
    assert_bad_request(response, "several_methods")


def test_access_token_in_a_json_body_is_not_a_transport_method(client, token):
    """RFC 6750 §2.2 covers form bodies only; a JSON field named access_token is just data."""
    response = client.post(
        SPY, {"access_token": "x"}, content_type="application/json", **bearer(token)
    )
    assert response.status_code == HTTPStatus.OK


# --- A. size: refused before any decoding or key fetch ---------------------------------------
def _token_of_length(token_factory, length: int) -> str:
    """A validly signed token of exactly ``length`` characters (a filler claim pads it)."""
    for header in ({}, {"typ": DROP}, {"x5t": "k1"}):
        base = len(token_factory(claims={"filler": ""}, header=header))
        start = max(0, (length - base) * 3 // 4 - 4)
        for size in range(start, start + 8):
            candidate = token_factory(claims={"filler": "x" * size}, header=header)
            if len(candidate) == length:
                return candidate
            if len(candidate) > length:
                break
    raise AssertionError(f"no token of length {length}")


@pytest.fixture
def decoding_spy(monkeypatch):
    """Counts base64/JSON decoding work done by the validator."""
    spies = {
        name: mock.Mock(wraps=getattr(validation, name)) for name in ("_decode_json", "_b64decode")
    }
    for name, spy_fn in spies.items():
        monkeypatch.setattr(validation, name, spy_fn)
    return spies


def test_oversize_token_is_refused_before_decoding_or_fetching_keys(
    client, token_factory, spy_urls, entra, decoding_spy
):
    at_limit = _token_of_length(token_factory, validation.MAX_TOKEN_LENGTH)
    response = client.get(SPY, **bearer(at_limit + "A"))  # vector 12: 16 385 characters
    assert_token_refused(response, "too_large")
    assert entra.jwks_fetches() == 0
    assert decoding_spy["_decode_json"].call_count == 0
    assert decoding_spy["_b64decode"].call_count == 0


def test_oversize_garbage_is_refused_before_decoding(client, spy_urls, entra, decoding_spy):
    response = client.get(SPY, **bearer("a" * 1_000_000))
    assert_token_refused(response, "too_large")
    assert entra.jwks_fetches() == 0
    assert decoding_spy["_decode_json"].call_count == 0


def test_token_of_exactly_the_size_limit_is_accepted(client, token_factory, spy_urls):
    at_limit = _token_of_length(token_factory, validation.MAX_TOKEN_LENGTH)
    response = client.get(SPY, **bearer(at_limit))
    assert response.status_code == HTTPStatus.OK
    assert spy.CALLS == ["scope"]


# --- J3. SessionAuthentication listed second: still 401 with a Bearer challenge --------------
@pytest.fixture
def session_auth_second(settings, monkeypatch, spy_urls):
    """The API with ``SessionAuthentication`` after the Bearer class (J3).

    DRF copies ``DEFAULT_AUTHENTICATION_CLASSES`` onto ``APIView`` when it is imported, so the
    spy views are given the reloaded list explicitly.
    """

    def configure(*classes: str) -> None:
        settings.REST_FRAMEWORK = {
            **settings.REST_FRAMEWORK,
            "DEFAULT_AUTHENTICATION_CLASSES": list(classes),
        }
        for view in (spy.ScopeSpyView, spy.AppRoleSpyView):
            monkeypatch.setattr(
                view, "authentication_classes", api_settings.DEFAULT_AUTHENTICATION_CLASSES
            )

    return configure


BEARER_CLASS = "apps.entra_auth.authentication.EntraBearerAuthentication"
SESSION_CLASS = "rest_framework.authentication.SessionAuthentication"


def test_unauthenticated_request_with_session_auth_second_is_401_not_403(
    client, session_auth_second
):
    session_auth_second(BEARER_CLASS, SESSION_CLASS)
    assert_no_credentials(client.get(SPY))


def test_bad_token_with_session_auth_second_is_401_invalid_token(
    client, session_auth_second, token
):
    session_auth_second(BEARER_CLASS, SESSION_CLASS)
    response = client.get(SPY, **bearer(token[:-4] + "AAAA"))
    assert_token_refused(response, "bad_signature")


def test_valid_token_with_session_auth_second_reaches_the_view(client, session_auth_second, token):
    session_auth_second(BEARER_CLASS, SESSION_CLASS)
    response = client.get(SPY, **bearer(token))
    assert response.status_code == HTTPStatus.OK
    assert spy.CALLS == ["scope"]


def test_session_auth_first_would_turn_the_401_into_a_403(client, session_auth_second):
    """Why the Bearer class must come first (spec §8.3): DRF's challenge comes from class 0."""
    session_auth_second(SESSION_CLASS, BEARER_CLASS)
    response = client.get(SPY)
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert "WWW-Authenticate" not in response
    assert spy.CALLS == []

"""Groups overage resolved through Microsoft Graph (issue 3, "Groups overage", the option).

Nothing here reaches Microsoft. ``graph`` is a loopback fake of Microsoft Graph's
``transitiveMemberOf`` (plain http, which ``PORTICO_ENV=dev`` allows) that counts every
request and can be told to fail in each way Graph can; ``authority`` is a loopback fake of the
Entra token endpoint served over https with a certificate made for the test session, because
msal accepts https authorities only. Most tests replace the app-token acquirer by a stub; the
``msal`` tests send real client-credentials requests (secret, then assertion file) to the fake.
"""

from __future__ import annotations

import contextlib
import json
import logging
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import checks
from django.core.cache import cache

from apps.core import metrics
from apps.core.conf import portico_settings
from apps.dev_issuer.tls import ensure_certificate
from apps.entra_auth import client_credentials
from apps.entra_auth.claims import Claims
from apps.rbac import checks as rbac_checks
from apps.rbac import graph
from apps.rbac.groups import groups_for_matching
from apps.rbac.models import SourceKind, TokenKinds
from apps.rbac.simulation import claims_for_simulation
from tests.conftest import (
    DAEMON_OID,
    GROUPS_OVERAGE,
    TENANT,
    USER_OID,
    FakeEntra,
    MakeRule,
    SpyServer,
    TokenFactory,
    bearer,
    portico_settings_for,
)
from tests.servers import JsonHandler, loopback

GROUP_G = "3f2504e0-4f89-41d3-9a0c-0305e82c3301"
OTHER_GROUPS = [f"00000000-0000-4000-8000-00000000000{n}" for n in range(1, 5)]
PERM_P = "projects.change_project"
ROLE_PERM = "projects.view_project"
SECRET = "not-a-real-secret-but-treated-as-one"
FAILURES = "portico_graph_groups_failures_total"
OVERAGE = "portico_groups_overage_total"
QUERY = "$select=id&$top=999&$count=true"


# --- the fake Graph --------------------------------------------------------------------------
@dataclass
class FakeGraph:
    """Pages of ``transitiveMemberOf`` per object id; ``mode`` selects a failure."""

    url: str = ""
    memberships: dict[str, list[str]] = field(default_factory=dict)
    page_size: int = 999
    # ok | slow | 403 | 500 | hang | garbage | not-a-list | foreign-next | endless | redirect
    mode: str = "ok"
    elsewhere: str = ""  # where foreign-next and redirect point
    expected_token: str = ""
    requests: list[tuple[str, str]] = field(default_factory=list)  # (path, Authorization)

    def reset(self) -> None:
        self.memberships.clear()
        self.page_size, self.mode, self.elsewhere, self.expected_token = 999, "ok", "", ""
        self.requests.clear()

    def answer(self, path: str, request_headers: Any) -> tuple[int, bytes, dict[str, str]]:
        authorization = request_headers.get("Authorization", "")
        self.requests.append((path, authorization))
        if request_headers.get("ConsistencyLevel") != "eventual":
            # As Graph answers an OData cast without it (an advanced query).
            return HTTPStatus.BAD_REQUEST, b'{"error":{"code":"Request_UnsupportedQuery"}}', {}
        if self.expected_token and authorization != f"Bearer {self.expected_token}":
            return HTTPStatus.UNAUTHORIZED, b'{"error":{"code":"InvalidAuthenticationToken"}}', {}
        failure = self._failure()
        if failure is not None:
            return failure
        parts = urlsplit(path)
        segments = parts.path.split("/")  # "", v1.0, users, oid, transitiveMemberOf, cast
        if segments[4:] != ["transitiveMemberOf", "microsoft.graph.group"]:
            return HTTPStatus.NOT_FOUND, b"{}", {}
        query = parse_qs(parts.query)
        if (query.get("$select"), query.get("$count")) != (["id"], ["true"]):
            return HTTPStatus.BAD_REQUEST, b'{"error":{"code":"Request_BadRequest"}}', {}
        start = int(query.get("$skiptoken", ["0"])[0])
        ids = self.memberships.get(f"{segments[2]}/{segments[3]}", [])
        page: dict[str, Any] = {
            "value": [
                {"@odata.type": "#microsoft.graph.group", "id": i}
                for i in ids[start : start + self.page_size]
            ]
        }
        if start + self.page_size < len(ids) or self.mode == "endless":
            base = self.elsewhere if self.mode == "foreign-next" else self.url
            skip = start + self.page_size
            page["@odata.nextLink"] = f"{base}{parts.path}?{QUERY}&$skiptoken={skip}"
        return HTTPStatus.OK, json.dumps(page).encode(), {}

    def _failure(self) -> tuple[int, bytes, dict[str, str]] | None:
        if self.mode in {"403", "500"}:
            return int(self.mode), b'{"error":{"code":"Authorization_RequestDenied"}}', {}
        if self.mode == "hang":
            time.sleep(2)
        if self.mode == "slow":  # each page in time, but not all of them together
            time.sleep(0.3)
        if self.mode == "garbage":
            return HTTPStatus.OK, b"<html>surprise</html>", {}
        if self.mode == "not-a-list":
            return HTTPStatus.OK, b'{"value": {"id": "x"}}', {}
        if self.mode == "redirect":
            return HTTPStatus.FOUND, b"", {"Location": f"{self.elsewhere}/stolen"}
        return None

    def graph_paths(self) -> list[str]:
        return [path for path, _ in self.requests]


def _graph_handler(state: FakeGraph) -> type[BaseHTTPRequestHandler]:
    class Handler(JsonHandler):
        def do_GET(self) -> None:
            # The client may give up first (the "hang" mode): that is the point.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.send_json(*state.answer(self.path, self.headers))

    return Handler


@pytest.fixture(scope="session")
def _graph_server() -> Iterator[FakeGraph]:
    state = FakeGraph()
    with loopback(_graph_handler(state)) as state.url:
        yield state


# --- the fake token endpoint (https, for msal) ---------------------------------------------
@dataclass
class FakeAuthority:
    """Tenant discovery and a client-credentials token endpoint; records each token request."""

    host: str = ""
    ca_file: str = ""
    token_requests: list[dict[str, str]] = field(default_factory=list)
    refuse: bool = False
    issued: int = 0

    def reset(self) -> None:
        self.token_requests.clear()
        self.refuse = False

    def discovery(self, path: str) -> bytes | None:
        tenant = path.strip("/").split("/")[0]
        if path != f"/{tenant}/v2.0/.well-known/openid-configuration":
            return None
        return json.dumps(
            {
                "issuer": f"{self.host}/{tenant}/v2.0",
                "authorization_endpoint": f"{self.host}/{tenant}/oauth2/v2.0/authorize",
                "token_endpoint": f"{self.host}/{tenant}/oauth2/v2.0/token",
            }
        ).encode()

    def token(self, form: dict[str, str]) -> tuple[int, bytes]:
        self.token_requests.append(form)
        if self.refuse:
            error = {
                "error": "invalid_client",
                "error_description": "AADSTS7000215: Invalid client secret provided.\r\nTrace",
            }
            return HTTPStatus.UNAUTHORIZED, json.dumps(error).encode()
        self.issued += 1
        answer = {"token_type": "Bearer", "expires_in": 3599, "access_token": self.last_token}
        return HTTPStatus.OK, json.dumps(answer).encode()

    @property
    def last_token(self) -> str:
        return f"app-token-{self.issued}"


def _authority_handler(state: FakeAuthority) -> type[BaseHTTPRequestHandler]:
    class Handler(JsonHandler):
        def do_GET(self) -> None:
            body = state.discovery(self.path)
            self.send_json(HTTPStatus.OK if body else HTTPStatus.NOT_FOUND, body or b"{}")

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0"))).decode()
            form = {k: v[0] for k, v in parse_qs(raw).items()}
            self.send_json(*state.token(form))

    return Handler


@pytest.fixture(scope="session")
def _authority_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeAuthority]:
    # The dev issuer's own certificate (localhost, 127.0.0.1): trusted by the tests only.
    cert_file, key_file = ensure_certificate(tmp_path_factory.mktemp("authority"))
    state = FakeAuthority(ca_file=str(cert_file))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    with loopback(_authority_handler(state), tls=context) as state.host:
        yield state


# --- fixtures ------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def _fresh_state(fresh_rules: None) -> Iterator[None]:
    graph.forget_all()
    client_credentials.reset()
    yield
    graph.forget_all()
    client_credentials.reset()


@pytest.fixture
def fake_graph(_graph_server: FakeGraph) -> FakeGraph:
    _graph_server.reset()
    return _graph_server


@dataclass
class StubTokens:
    """Stands in for ``client_credentials.app_token``; records the scopes asked for."""

    calls: list[list[str]] = field(default_factory=list)
    error: str = ""

    def __call__(self, *, scopes: list[str]) -> str:
        self.calls.append(list(scopes))
        if self.error:
            raise client_credentials.ClientCredentialsError(self.error)
        return "stub-app-token"


@pytest.fixture
def tokens(monkeypatch: pytest.MonkeyPatch) -> StubTokens:
    stub = StubTokens()
    monkeypatch.setattr(client_credentials, "app_token", stub)
    return stub


def graph_lookup_on(authority: str, fake_graph: FakeGraph, **portico: Any) -> dict[str, Any]:
    """PORTICO with the Graph lookup on, asking ``fake_graph`` with a client secret."""
    return portico_settings_for(
        authority,
        RBAC_GRAPH_GROUPS=True,
        ENTRA_GRAPH_HOST=fake_graph.url,
        ENTRA_CLIENT_SECRET=SECRET,
        **portico,
    )


@pytest.fixture
def graph_on(entra: FakeEntra, fake_graph: FakeGraph, settings: Any) -> FakeGraph:
    """Portico with the Graph lookup on (1 minute cache), pointed at the fake Graph."""
    settings.PORTICO = graph_lookup_on(entra.authority, fake_graph, RBAC_GRAPH_CACHE_SECONDS=60)
    return fake_graph


@pytest.fixture
def rules(make_rule: MakeRule, db: None) -> None:
    """Group G grants P; app role Orders.Read grants view (for both token kinds)."""
    for kind, value, perm in [
        (SourceKind.GROUP, GROUP_G, PERM_P),
        (SourceKind.APP_ROLE, "Orders.Read", ROLE_PERM),
    ]:
        make_rule(kind, value, perms=[perm], token_kinds=TokenKinds.BOTH, label=value)


def overage_claims(spy: SpyServer) -> dict[str, Any]:
    """An overage token's claims, whose ``_claim_sources`` points at the spy."""
    return {"roles": ["Orders.Read"], **GROUPS_OVERAGE["claim-sources"](spy.url)}


def me(client: Any, token: str) -> dict[str, Any]:
    response = client.get("/api/me", **bearer(token))
    assert response.status_code == HTTPStatus.OK, response.content
    return response.json()


USER_PATH = f"/v1.0/users/{USER_OID}/transitiveMemberOf/microsoft.graph.group?{QUERY}"


# --- end to end ----------------------------------------------------------------------------
@pytest.mark.parametrize("enabled", [True, False], ids=["setting-on", "setting-off"])
def test_overage_token_gets_the_group_rule_only_when_graph_lists_the_group(
    client, token_factory: TokenFactory, rules, graph_on, tokens, spy_server, settings, enabled
):
    settings.PORTICO = {**settings.PORTICO, "RBAC_GRAPH_GROUPS": enabled}
    graph_on.memberships[f"users/{USER_OID}"] = [GROUP_G]

    body = me(client, token_factory(claims=overage_claims(spy_server)))

    assert body["groups_overage"] is True
    assert body["groups"] == []  # what the token says; Graph's answer only feeds the rules
    if enabled:
        assert body["permissions"] == [PERM_P, ROLE_PERM]
        assert [r["value"] for r in body["matched_rules"]] == [GROUP_G, "Orders.Read"]
        assert graph_on.requests == [(USER_PATH, "Bearer stub-app-token")]
        assert tokens.calls == [[f"{graph_on.url}/.default"]]
    else:
        assert body["permissions"] == [ROLE_PERM]
        assert graph_on.requests == []
        assert tokens.calls == []
    assert spy_server.requests == []  # the URL inside the token is never used


def test_graph_lookup_is_off_by_default(
    client, token_factory: TokenFactory, entra, rules, fake_graph, tokens, spy_server, caplog
):
    assert portico_settings().rbac_graph_groups is False
    fake_graph.memberships[f"users/{USER_OID}"] = [GROUP_G]
    with caplog.at_level(logging.WARNING, logger="apps.rbac.groups"):
        body = me(client, token_factory(claims=overage_claims(spy_server)))
    assert body["permissions"] == [ROLE_PERM]
    assert fake_graph.requests == []
    assert tokens.calls == []
    assert spy_server.requests == []
    assert "group rules do not apply" in caplog.text


def test_tokens_that_list_their_groups_never_call_graph(
    client, token_factory: TokenFactory, rules, graph_on, tokens
):
    body = me(client, token_factory(claims={"groups": [GROUP_G]}))
    assert body["permissions"] == [PERM_P]
    assert graph_on.requests == []
    assert tokens.calls == []


def test_app_only_tokens_are_looked_up_as_service_principals(
    client, token_factory: TokenFactory, rules, graph_on, tokens, spy_server
):
    graph_on.memberships[f"servicePrincipals/{DAEMON_OID}"] = [GROUP_G]
    graph_on.memberships[f"users/{DAEMON_OID}"] = []  # never asked

    body = me(client, token_factory(app=True, claims={"hasgroups": True, "roles": ["Orders.Read"]}))

    assert body["permissions"] == [PERM_P, ROLE_PERM]
    assert graph_on.graph_paths() == [
        f"/v1.0/servicePrincipals/{DAEMON_OID}/transitiveMemberOf/microsoft.graph.group?{QUERY}"
    ]


def test_all_pages_are_followed_on_the_graph_host(
    client, token_factory: TokenFactory, rules, graph_on, tokens, spy_server
):
    graph_on.page_size = 2
    graph_on.memberships[f"users/{USER_OID}"] = [*OTHER_GROUPS, GROUP_G]  # G on page 3

    body = me(client, token_factory(claims=overage_claims(spy_server)))

    assert body["permissions"] == [PERM_P, ROLE_PERM]
    assert len(graph_on.requests) == 3
    assert {auth for _, auth in graph_on.requests} == {"Bearer stub-app-token"}
    assert tokens.calls == [[f"{graph_on.url}/.default"]]  # one token for every page


# --- caching -------------------------------------------------------------------------------
def test_a_stream_of_requests_makes_one_graph_call_per_user_per_period(
    client, token_factory: TokenFactory, rules, graph_on, tokens, spy_server, settings
):
    settings.PORTICO = {**settings.PORTICO, "RBAC_GRAPH_CACHE_SECONDS": 1}
    graph_on.memberships[f"users/{USER_OID}"] = [GROUP_G]
    token = token_factory(claims=overage_claims(spy_server))

    for _ in range(5):
        assert PERM_P in me(client, token)["permissions"]
    assert len(graph_on.requests) == 1

    graph.forget_all()  # another process: the shared cache answers
    assert PERM_P in me(client, token)["permissions"]
    assert len(graph_on.requests) == 1

    graph_on.memberships[f"users/{USER_OID}"] = []  # removed from G in the directory
    time.sleep(1.2)  # the period ends: the change is seen
    assert me(client, token)["permissions"] == [ROLE_PERM]
    assert len(graph_on.requests) == 2
    assert spy_server.requests == []


def test_results_are_cached_per_tenant_and_object_id(graph_on, tokens):
    graph_on.memberships[f"users/{USER_OID}"] = [GROUP_G]
    graph.graph_groups(claims=claims_for(USER_OID))
    assert cache.get(f"{graph.CACHE_PREFIX}{TENANT}:{USER_OID}")["groups"] == [GROUP_G]
    other = "0b0b0b0b-1c1c-4d2d-8e3e-4f4f4f4f4f4f"
    assert graph.graph_groups(claims=claims_for(other)) == frozenset()
    assert len(graph_on.requests) == 2


def test_concurrent_first_requests_for_one_user_share_one_lookup(graph_on, tokens):
    graph_on.memberships[f"users/{USER_OID}"] = [GROUP_G]
    results: list[frozenset[str]] = []
    threads = [
        threading.Thread(target=lambda: results.append(graph.graph_groups(claims=claims_for())))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert results == [frozenset({GROUP_G})] * 8
    assert len(graph_on.requests) == 1


def claims_for(oid: str = USER_OID, *, tid: str = TENANT) -> Claims:
    """A delegated overage token's claims, as the simulator builds them."""
    return claims_for_simulation({"tid": tid, "oid": oid, "scp": "", "hasgroups": True})


# --- failures ------------------------------------------------------------------------------
FAILURE_MODES = ["403", "500", "hang", "garbage", "not-a-list", "foreign-next", "redirect"]


@pytest.mark.parametrize("mode", FAILURE_MODES)
def test_a_graph_failure_falls_back_to_no_group_rules(
    client,
    token_factory: TokenFactory,
    rules,
    graph_on,
    tokens,
    spy_server,
    caplog,
    monkeypatch,
    mode,
):
    monkeypatch.setattr(graph, "TIMEOUT_SECONDS", 0.5)
    graph_on.memberships[f"users/{USER_OID}"] = [*OTHER_GROUPS, GROUP_G]
    graph_on.page_size = 2 if mode == "foreign-next" else 999
    graph_on.mode = mode
    graph_on.elsewhere = spy_server.url
    counted, overage = metrics.value(FAILURES), metrics.value(OVERAGE)

    with caplog.at_level(logging.WARNING, logger="apps.rbac.groups"):
        body = me(client, token_factory(claims=overage_claims(spy_server)))

    assert body["permissions"] == [ROLE_PERM]  # role rules still apply; no group rule
    assert body["is_staff"] is False
    assert metrics.value(FAILURES) == counted + 1
    assert metrics.value(OVERAGE) == overage + 1
    assert "Microsoft Graph lookup" in caplog.text
    assert "group rules do not apply" in caplog.text
    assert spy_server.requests == []  # neither a nextLink nor a redirect leaves the Graph host
    assert "stub-app-token" not in caplog.text


def test_an_oversized_page_is_a_failure(graph_on, tokens, monkeypatch):
    monkeypatch.setattr(graph, "PAGE_MAX_BYTES", 100)
    graph_on.memberships[f"users/{USER_OID}"] = OTHER_GROUPS
    with pytest.raises(graph.GraphError, match="larger than"):
        graph.graph_groups(claims=claims_for())


def test_one_deadline_bounds_all_pages_together(graph_on, tokens, monkeypatch):
    monkeypatch.setattr(graph, "TIMEOUT_SECONDS", 0.5)
    graph_on.mode, graph_on.page_size = "slow", 1
    graph_on.memberships[f"users/{USER_OID}"] = [*OTHER_GROUPS, GROUP_G]
    with pytest.raises(graph.GraphError):
        graph.graph_groups(claims=claims_for())
    assert len(graph_on.requests) < len(OTHER_GROUPS) + 1


def test_pages_are_bounded(graph_on, tokens):
    graph_on.mode = "endless"
    with pytest.raises(graph.GraphError, match="pages"):
        graph.graph_groups(claims=claims_for())
    assert len(graph_on.requests) == graph.MAX_PAGES


def test_no_app_token_is_a_failure_without_a_graph_call(
    client, token_factory: TokenFactory, rules, graph_on, tokens, spy_server
):
    tokens.error = "invalid_client: AADSTS7000215"
    counted = metrics.value(FAILURES)
    body = me(client, token_factory(claims=overage_claims(spy_server)))
    assert body["permissions"] == [ROLE_PERM]
    assert metrics.value(FAILURES) == counted + 1
    assert graph_on.requests == []


def test_after_a_failure_the_user_is_not_looked_up_again_at_once(graph_on, tokens):
    graph_on.mode = "500"
    with pytest.raises(graph.GraphError, match="500"):
        graph.graph_groups(claims=claims_for())
    graph_on.mode = "ok"
    with pytest.raises(graph.GraphError, match="recent lookup"):
        graph.graph_groups(claims=claims_for())
    assert len(graph_on.requests) == 1


def test_a_bug_in_the_lookup_never_fails_the_request(
    client, token_factory: TokenFactory, rules, graph_on, monkeypatch, spy_server
):
    def broken(**_: object) -> frozenset[str]:
        raise RuntimeError("unexpected")

    monkeypatch.setattr(graph, "graph_groups", broken)
    assert me(client, token_factory(claims=overage_claims(spy_server)))["permissions"] == [
        ROLE_PERM
    ]


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        pytest.param(
            {"tid": "99999999-8888-4777-8666-555555555555"}, "another tenant", id="other-tenant"
        ),
        pytest.param({"oid": "../../me"}, "not a GUID", id="oid-not-a-guid"),
    ],
)
def test_only_home_tenant_guids_are_looked_up(graph_on, tokens, claims, reason):
    with pytest.raises(graph.GraphError, match=reason):
        graph.graph_groups(claims=claims_for(**claims))
    assert graph_on.requests == []
    assert tokens.calls == []


def test_an_http_graph_host_is_refused_outside_dev(graph_on, tokens, settings):
    settings.PORTICO = {**settings.PORTICO, "ENV": "uat"}
    with pytest.raises(graph.GraphError, match="https"):
        graph.graph_groups(claims=claims_for())
    assert graph_on.requests == []


# --- msal against the loopback authority ---------------------------------------------------
@pytest.fixture
def authority(_authority_server: FakeAuthority, monkeypatch: pytest.MonkeyPatch) -> FakeAuthority:
    """The https fake authority, trusted by requests (msal's HTTP client) for this test."""
    _authority_server.reset()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", _authority_server.ca_file)
    monkeypatch.setenv("CURL_CA_BUNDLE", _authority_server.ca_file)
    return _authority_server


@pytest.fixture
def msal_graph(authority: FakeAuthority, fake_graph: FakeGraph, settings: Any) -> FakeGraph:
    """The Graph lookup on, with a real msal client asking the https fake authority."""
    settings.PORTICO = graph_lookup_on(authority.host, fake_graph)
    cache.clear()
    return fake_graph


def test_msal_with_a_client_secret_gets_the_token_graph_accepts(
    authority: FakeAuthority, msal_graph: FakeGraph
):
    msal_graph.memberships[f"users/{USER_OID}"] = [GROUP_G]
    msal_graph.expected_token = f"app-token-{authority.issued + 1}"

    assert graph.graph_groups(claims=claims_for()) == frozenset({GROUP_G})
    other = "0b0b0b0b-1c1c-4d2d-8e3e-4f4f4f4f4f4f"
    assert graph.graph_groups(claims=claims_for(other)) == frozenset()

    assert len(authority.token_requests) == 1  # msal's cache serves the second lookup
    form = authority.token_requests[0]
    assert form["grant_type"] == "client_credentials"
    assert form["client_id"] == portico_settings().entra_api_client_id
    assert form["client_secret"] == SECRET
    assert form["scope"] == f"{msal_graph.url}/.default"
    assert "client_assertion" not in form


def test_msal_with_an_assertion_file_reads_it_on_each_acquisition(
    authority: FakeAuthority, settings: Any, tmp_path: Path
):
    assertion = tmp_path / "azure-identity-token"
    assertion.write_text("eyJhbGciOi.first.assertion\n")
    settings.PORTICO = portico_settings_for(
        authority.host, ENTRA_CLIENT_ASSERTION_FILE=str(assertion), ENTRA_CLIENT_SECRET=SECRET
    )

    first = client_credentials.app_token(scopes=["https://graph.example/.default"])
    assert client_credentials.app_token(scopes=["https://graph.example/.default"]) == first
    assertion.write_text("eyJhbGciOi.second.assertion")  # rotated by the platform
    client_credentials.app_token(scopes=["api://other/.default"])  # not cached: asks again

    sent = [form.get("client_assertion") for form in authority.token_requests]
    assert sent == ["eyJhbGciOi.first.assertion", "eyJhbGciOi.second.assertion"]
    assert {form["client_assertion_type"] for form in authority.token_requests} == {
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    }
    assert all("client_secret" not in form for form in authority.token_requests)


def test_an_unreadable_assertion_file_is_an_error(authority: FakeAuthority, settings, tmp_path):
    settings.PORTICO = portico_settings_for(
        authority.host, ENTRA_CLIENT_ASSERTION_FILE=str(tmp_path / "missing")
    )
    with pytest.raises(client_credentials.ClientCredentialsError, match="ASSERTION_FILE"):
        client_credentials.app_token(scopes=["https://graph.example/.default"])
    assert authority.token_requests == []


def test_a_refused_credential_falls_back_and_never_logs_the_secret(
    authority: FakeAuthority, msal_graph: FakeGraph, caplog
):
    authority.refuse = True
    counted = metrics.value(FAILURES)
    with caplog.at_level(logging.DEBUG):
        assert groups_for_matching(claims=claims_for()) == frozenset()

    assert metrics.value(FAILURES) == counted + 1
    assert "invalid_client" in caplog.text
    assert "AADSTS7000215" in caplog.text
    assert SECRET not in caplog.text
    assert msal_graph.requests == []


def test_no_credential_is_an_error_naming_the_variables(settings):
    settings.PORTICO = portico_settings_for("https://login.microsoftonline.com")
    with pytest.raises(client_credentials.ClientCredentialsError, match="ENTRA_CLIENT_SECRET"):
        client_credentials.app_token(scopes=["https://graph.microsoft.com/.default"])


def test_the_secret_is_not_in_the_settings_repr(settings):
    settings.PORTICO = portico_settings_for("https://x", ENTRA_CLIENT_SECRET=SECRET)
    assert portico_settings().entra_client_secret == SECRET
    assert SECRET not in repr(portico_settings())


# --- system checks -------------------------------------------------------------------------
def ids(settings: Any, **portico: Any) -> set[str]:
    env = portico.pop("ENV", "uat")
    settings.PORTICO = portico_settings_for("https://login.microsoftonline.com", ENV=env, **portico)
    return {m.id for m in (*rbac_checks.check_graph_credentials(), *rbac_checks.check_graph_host())}


@pytest.mark.parametrize(
    ("portico", "expected"),
    [
        pytest.param({}, set(), id="off-by-default"),
        pytest.param({"RBAC_GRAPH_GROUPS": True}, {"rbac.E001"}, id="on-without-credential"),
        pytest.param(
            {"RBAC_GRAPH_GROUPS": True, "ENTRA_CLIENT_SECRET": SECRET}, set(), id="secret"
        ),
        pytest.param(
            {"RBAC_GRAPH_GROUPS": True, "ENTRA_CLIENT_ASSERTION_FILE": "/var/run/t"},
            set(),
            id="assertion-file",
        ),
        pytest.param({"ENTRA_GRAPH_HOST": "http://graph.local"}, {"rbac.E002"}, id="http-uat"),
        pytest.param(
            {"ENTRA_GRAPH_HOST": "http://127.0.0.1:9", "ENV": "dev"}, set(), id="http-dev"
        ),
        pytest.param(
            {"ENTRA_GRAPH_HOST": "https://graph.microsoft.us"}, set(), id="national-cloud"
        ),
        pytest.param(
            {"ENTRA_GRAPH_HOST": "https://graph.microsoft.com/v1.0"}, {"rbac.E002"}, id="path"
        ),
        pytest.param({"ENTRA_GRAPH_HOST": "graph.microsoft.com"}, {"rbac.E002"}, id="no-scheme"),
    ],
)
def test_checks(settings, portico, expected):
    assert ids(settings, **portico) == expected


def test_check_messages_name_the_variables(settings):
    ids(settings, RBAC_GRAPH_GROUPS=True, ENTRA_GRAPH_HOST="http://graph.local")
    e001, e002 = (*rbac_checks.check_graph_credentials(), *rbac_checks.check_graph_host())
    for variable in (
        "PORTICO_RBAC_GRAPH_GROUPS",
        "ENTRA_CLIENT_SECRET",
        "ENTRA_CLIENT_ASSERTION_FILE",
    ):
        assert variable in e001.msg + e001.hint
    assert "ENTRA_GRAPH_HOST" in e002.msg


def test_the_rbac_checks_are_registered(settings):
    registered = checks.registry.registry.get_checks(include_deployment_checks=False)
    assert {rbac_checks.check_graph_credentials, rbac_checks.check_graph_host} <= set(registered)
    ids(settings, RBAC_GRAPH_GROUPS=True)
    assert "rbac.E001" in {message.id for message in checks.run_checks()}

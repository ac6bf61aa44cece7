"""Shared fixtures: keys generated per session, a local Entra look-alike, a token factory.

Nothing here reaches the internet. ``entra`` starts (once per session) a loopback HTTP server
that serves discovery documents and a JWKS for the test tenant, counts every fetch, and can
be told to rotate keys, go down, hang or answer garbage; it points Portico's settings at it.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.core.cache import cache
from jwt.algorithms import RSAAlgorithm

from apps.entra_auth import runtime, users

if TYPE_CHECKING:
    from django.contrib.auth.models import Group, Permission

    from apps.rbac.models import MappingRule

TENANT = "11111111-2222-4333-8444-555555555555"
OTHER_TENANT = "99999999-8888-4777-8666-555555555555"
API_CLIENT_ID = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
OTHER_API_CLIENT_ID = "bbbbbbbb-cccc-4ddd-8eee-ffffffffffff"
SPA_CLIENT_ID = "cccccccc-dddd-4eee-8fff-000000000000"
DAEMON_CLIENT_ID = "dddddddd-eeee-4fff-8000-111111111111"
USER_OID = "0a0a0a0a-1b1b-4c2c-8d3d-4e4e4e4e4e4e"
DROP = object()  # a claim or header value meaning "leave this out"


@dataclass(frozen=True)
class TestKey:
    kid: str
    private: rsa.RSAPrivateKey

    def jwk(self) -> dict[str, Any]:
        public = json.loads(RSAAlgorithm.to_jwk(self.private.public_key()))
        return {
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "x5t": self.kid,
            "n": public["n"],
            "e": public["e"],
        }


@pytest.fixture(scope="session")
def keys() -> dict[str, TestKey]:
    """K1 and K2 (the tenant's, K2 not yet published) and an attacker's key, all 2048-bit."""
    return {
        name: TestKey(name, rsa.generate_private_key(public_exponent=65537, key_size=2048))
        for name in ("k1", "k2", "attacker")
    }


@dataclass
class FakeEntra:
    """The state behind the loopback server; tests change it and read its counters."""

    base_url: str = ""
    published: list[dict[str, Any]] = field(default_factory=list)
    mode: str = "ok"  # ok | down | hang | a literal body to answer instead of the JWKS
    hang_seconds: float = 6.0
    fetches: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def authority(self) -> str:
        return self.base_url

    def issuer(self, version: str = "2.0", tenant: str = TENANT) -> str:
        if version == "2.0":
            return f"{self.base_url}/{tenant}/v2.0"
        return f"{self.base_url}/sts/{tenant}/"

    def jwks_fetches(self) -> int:
        return sum(n for path, n in self.fetches.items() if "/keys" in path)

    def publish(self, *test_keys: TestKey) -> None:
        self.published = [k.jwk() for k in test_keys]

    def reset(self, *test_keys: TestKey) -> None:
        self.publish(*test_keys)
        self.mode = "ok"
        self.fetches.clear()

    def answer(self, path: str) -> tuple[int, bytes]:
        with self.lock:
            self.fetches[path] = self.fetches.get(path, 0) + 1
        parts = path.strip("/").split("/")
        tenant, rest = parts[0], "/".join(parts[1:])
        if rest == "v2.0/.well-known/openid-configuration":
            doc = {
                "issuer": self.issuer("2.0", tenant),
                "jwks_uri": f"{self.base_url}/{tenant}/discovery/v2.0/keys",
            }
            return HTTPStatus.OK, json.dumps(doc).encode()
        if rest == ".well-known/openid-configuration":
            doc = {
                "issuer": self.issuer("1.0", tenant),
                "jwks_uri": f"{self.base_url}/{tenant}/discovery/keys",
            }
            return HTTPStatus.OK, json.dumps(doc).encode()
        if rest in {"discovery/v2.0/keys", "discovery/keys"}:
            if self.mode == "down":
                return HTTPStatus.SERVICE_UNAVAILABLE, b"down"
            if self.mode == "hang":
                time.sleep(self.hang_seconds)
            if self.mode not in {"ok", "hang"}:
                return HTTPStatus.OK, self.mode.encode()
            return HTTPStatus.OK, json.dumps({"keys": self.published}).encode()
        return HTTPStatus.NOT_FOUND, b"{}"


def _handler_for(state: FakeEntra) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, body = state.answer(self.path)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@pytest.fixture(scope="session")
def fake_entra_server() -> Iterator[FakeEntra]:
    state = FakeEntra()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(state))
    server.daemon_threads = True
    state.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()


def portico_settings_for(authority: str, **overrides: Any) -> dict[str, Any]:
    """A PORTICO dict for the test tenant and API, trusting ``authority``."""
    conf = {
        "ENV": "dev",
        "DEV_ISSUER": False,
        "ENTRA_TENANT_ID": TENANT,
        "ENTRA_API_CLIENT_ID": API_CLIENT_ID,
        "ENTRA_API_APP_ID_URI": f"api://{API_CLIENT_ID}",
        "ENTRA_AUTHORITY_HOST": authority,
        "ENTRA_ACCEPTED_TOKEN_VERSIONS": ("1", "2"),
        "ENTRA_ALLOW_INSECURE_AUTHORITY": True,
        "ENTRA_CLOCK_SKEW_SECONDS": 60,
        "ENTRA_KEYS_REFRESH_MIN_SECONDS": 300,
        "ENTRA_SPA_CLIENT_ID": SPA_CLIENT_ID,
        "ENTRA_SPA_SCOPES": (f"api://{API_CLIENT_ID}/access_as_user",),
    }
    conf.update(overrides)
    return conf


@pytest.fixture
def entra(fake_entra_server: FakeEntra, keys: dict[str, TestKey], settings: Any) -> FakeEntra:
    """Portico trusting the loopback Entra, which publishes K1; every cache starts empty."""
    fake_entra_server.reset(keys["k1"])
    settings.PORTICO = portico_settings_for(fake_entra_server.authority)
    cache.clear()
    runtime.reset()
    users.forget_all()
    yield fake_entra_server
    runtime.reset()
    users.forget_all()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign_raw(
    header: dict[str, Any] | bytes,
    payload: dict[str, Any] | bytes,
    key: TestKey,
    alg: str = "RS256",
) -> str:
    """A compact JWS over arbitrary header/payload bytes (for malformed-but-signed cases)."""

    def segment(part: dict[str, Any] | bytes) -> str:
        return b64url(part if isinstance(part, bytes) else json.dumps(part).encode())

    signing_input = f"{segment(header)}.{segment(payload)}"
    algorithm = jwt.get_algorithm_by_name(alg)
    signature = algorithm.sign(signing_input.encode(), key.private)
    return f"{signing_input}.{b64url(signature)}"


TokenFactory = Callable[..., str]


@pytest.fixture
def token_factory(entra: FakeEntra, keys: dict[str, TestKey]) -> TokenFactory:
    """Builds tokens: a valid v2 delegated token for the test API unless told otherwise.

    ``claims`` / ``header`` entries override the defaults; the value ``DROP`` removes one.
    ``key`` names the signing key (k1, k2, attacker); ``version`` is "2.0" or "1.0";
    ``app=True`` makes an app-only token (``roles``, ``idtyp=app``, no ``scp``).
    """

    def make(
        *,
        claims: dict[str, Any] | None = None,
        header: dict[str, Any] | None = None,
        key: str = "k1",
        version: str = "2.0",
        app: bool = False,
        now: int | None = None,
    ) -> str:
        issued = int(time.time()) if now is None else now
        body: dict[str, Any] = {
            "iss": entra.issuer(version),
            "aud": API_CLIENT_ID if version == "2.0" else f"api://{API_CLIENT_ID}",
            "iat": issued,
            "nbf": issued,
            "exp": issued + 3600,
            "tid": TENANT,
            "oid": USER_OID,
            "sub": "pairwise-subject-1",
            "ver": version,
            "uti": uuid.uuid4().hex[:22],
        }
        client_claim = "azp" if version == "2.0" else "appid"
        if app:
            body.update(oid=DAEMON_OID, sub=DAEMON_OID, idtyp="app", roles=["Portico.Read"])
            body[client_claim] = DAEMON_CLIENT_ID
        else:
            body.update(
                scp="access_as_user", name="Test User", preferred_username="test.user@example.com"
            )
            body[client_claim] = SPA_CLIENT_ID
        head: dict[str, Any] = {"typ": "JWT", "alg": "RS256", "kid": key}
        for target, changes in ((body, claims or {}), (head, header or {})):
            for name, value in changes.items():
                if value is DROP:
                    target.pop(name, None)
                else:
                    target[name] = value
        return sign_raw(head, body, keys[key])

    return make


DAEMON_OID = "0d0d0d0d-1e1e-4f2f-8a3a-4b4b4b4b4b4b"


# --- Shared by the attack-vector suites (tests/entra_auth/test_vectors_*.py) ----------------


@pytest.fixture
def spy_urls(settings: Any) -> list[str]:
    """Routes to the spy views of ``tests.urls``; the returned list records each view run."""
    from tests import urls as spy

    settings.ROOT_URLCONF = "tests.urls"
    spy.CALLS.clear()
    return spy.CALLS


@dataclass
class SpyServer:
    """A loopback HTTP server that must never be called: it records every request it gets."""

    url: str = ""
    body: bytes = b"{}"
    requests: list[str] = field(default_factory=list)


@pytest.fixture(scope="session")
def _spy_http_server() -> Iterator[SpyServer]:
    state = SpyServer()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            state.requests.append(self.path)
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(state.body)))
            self.end_headers()
            self.wfile.write(state.body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield state
    server.shutdown()


@pytest.fixture
def spy_server(_spy_http_server: SpyServer, keys: dict[str, TestKey]) -> SpyServer:
    """An attacker-controlled URL (jku, x5u, ``_claim_sources``) serving the attacker's JWKS."""
    _spy_http_server.requests.clear()
    _spy_http_server.body = json.dumps({"keys": [keys["attacker"].jwk()]}).encode()
    return _spy_http_server


def bearer(token: str) -> dict[str, str]:
    """Test-client keyword arguments sending ``token`` in ``Authorization: Bearer``."""
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


BARE_CHALLENGE = 'Bearer realm="portico"'


def assert_no_credentials(response: Any) -> None:
    """401 with the bare challenge (RFC 6750 §3.1: no error code), and the view never ran."""
    from tests import urls as spy

    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response["WWW-Authenticate"] == BARE_CHALLENGE
    body = response.json()
    assert body["code"] == "not_authenticated"
    assert body["detail"]
    assert "reason" not in body
    assert response["Cache-Control"] == "no-store"
    assert spy.CALLS == []


def assert_bad_request(response: Any, reason: str) -> None:
    """400 ``invalid_request`` for ``reason``, and the view never ran."""
    from apps.entra_auth.exceptions import INVALID_REQUEST_REASONS
    from tests import urls as spy

    description = INVALID_REQUEST_REASONS[reason]
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert response["WWW-Authenticate"] == (
        f'{BARE_CHALLENGE}, error="invalid_request", error_description="{description}"'
    )
    assert response.json() == {"detail": description, "code": "invalid_request", "reason": reason}
    assert response["Cache-Control"] == "no-store"
    assert spy.CALLS == []


def assert_token_refused(response: Any, reason: str) -> None:
    """401 ``invalid_token`` for ``reason``, and the view never ran."""
    from apps.entra_auth.exceptions import INVALID_TOKEN_REASONS
    from tests import urls as spy

    description = INVALID_TOKEN_REASONS[reason]
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response["WWW-Authenticate"] == (
        f'{BARE_CHALLENGE}, error="invalid_token", error_description="{description}"'
    )
    assert response.json() == {"detail": description, "code": "invalid_token", "reason": reason}
    assert response["Cache-Control"] == "no-store"
    assert spy.CALLS == []


def assert_insufficient_scope(response: Any, required: str) -> None:
    """403 ``insufficient_scope`` naming what ``required`` was, and the view never ran."""
    from tests import urls as spy

    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response["WWW-Authenticate"] == (
        f'{BARE_CHALLENGE}, error="insufficient_scope", scope="{required}"'
    )
    body = response.json()
    assert body["code"] == "insufficient_scope"
    assert body["detail"]
    assert body["required"] == [required]
    assert response["Cache-Control"] == "no-store"
    assert spy.CALLS == []


@pytest.fixture
def unused_port() -> int:
    """A loopback TCP port that nothing listens on (bound, then released): a dead server."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


TestKey.__test__ = False  # a key, not a test class: keeps pytest from trying to collect it


@pytest.fixture(autouse=True)
def _fresh_log_throttles(monkeypatch: pytest.MonkeyPatch) -> None:
    """Warnings logged once a minute per process start afresh in each test, so a test can
    assert that its own request logged one."""
    from apps.core.throttle import Throttle
    from apps.rbac import groups, resolution

    monkeypatch.setattr(groups, "_overage_warning", Throttle(60.0))
    monkeypatch.setattr(resolution, "_database_warning", Throttle(60.0))


# --- Shared by the RBAC suites (tests/rbac, tests/api): rules, their targets, overage -------


def permission(name: str) -> Permission:
    """The Permission row for ``app_label.codename``."""
    from django.contrib.auth.models import Permission

    app_label, codename = name.split(".")
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


def group_with(name: str, *perms: str) -> Group:
    """A Django group holding ``perms`` (``app_label.codename``)."""
    from django.contrib.auth.models import Group

    group = Group.objects.create(name=name)
    group.permissions.set([permission(p) for p in perms])
    return group


def stored_rule(
    kind: str,
    value: str,
    *,
    perms: tuple[str, ...] | list[str] = (),
    groups: tuple[Group, ...] | list[Group] = (),
    **fields: Any,
) -> MappingRule:
    """A rule written straight to the database: no audit entry, no version bump."""
    from apps.rbac.models import MappingRule

    rule = MappingRule.objects.create(source_kind=kind, source_value=value, **fields)
    rule.groups.set(groups)
    rule.permissions.set([permission(p) for p in perms])
    return rule


Committed = Callable[[], AbstractContextManager[Any]]


@pytest.fixture
def committed(django_capture_on_commit_callbacks: Any) -> Committed:
    """A block whose on-commit callbacks (the version bump of ``apps/rbac/signals.py``) run
    at its end, as after a real commit."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


MakeRule = Callable[..., "MappingRule"]


@pytest.fixture
def make_rule(committed: Committed) -> MakeRule:
    """Creates a rule through ``services.mapping_save`` (validated, audited, version bumped),
    labelled "<kind> <value>" unless ``label`` is given."""
    from apps.rbac import services
    from apps.rbac.models import TokenKinds

    def make(
        kind: str,
        value: str,
        *,
        perms: tuple[str, ...] | list[str] | set[str] = (),
        groups: tuple[Group, ...] | list[Group] = (),
        token_kinds: str = TokenKinds.DELEGATED,
        **fields: Any,
    ) -> MappingRule:
        data = {
            "source_kind": kind,
            "source_value": value,
            "label": f"{kind} {value}",
            "token_kinds": token_kinds,
            **fields,
        }
        with committed():
            return services.mapping_save(
                rule=None,
                data=data,
                groups=groups,
                permissions=[permission(p) for p in perms],
                via="test",
            )

    return make


@pytest.fixture
def fresh_rules() -> Iterator[None]:
    """Rules of one test must not be seen by the next: the mapping snapshot reloads before
    and after it (rules written in the test transaction never bump the version)."""
    from apps.rbac import resolution

    resolution.bump_version()
    yield
    resolution.bump_version()


# The two ways Entra says a token's groups did not fit: ``_claim_names`` with a
# ``_claim_sources`` endpoint at the given URL (which must never be fetched), and ``hasgroups``.
GROUPS_OVERAGE: dict[str, Callable[[str], dict[str, Any]]] = {
    "claim-sources": lambda url: {
        "_claim_names": {"groups": "src1"},
        "_claim_sources": {"src1": {"endpoint": f"{url}/v1.0/users/{USER_OID}/getMemberObjects"}},
    },
    "hasgroups": lambda url: {"hasgroups": True},
}


@pytest.fixture(scope="module")
def module_entra(keys: dict[str, TestKey]) -> Iterator[FakeEntra]:
    """A loopback FakeEntra of the module's own, publishing K1: a server started for the
    module keeps trusting it while other tests reconfigure the session one."""
    from tests.servers import own_fake_entra

    with own_fake_entra(keys["k1"]) as state:
        yield state

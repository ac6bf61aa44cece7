"""Key infrastructure failures seen through HTTP (entra-token-spec vector 70 a, b, d, g, h).

Whatever the discovery or JWKS endpoint does (down, hanging, trickling, redirecting,
answering garbage or broken HTTP), a request gets a 503 with ``Retry-After`` while no key is
in hand, keeps getting 200 while good keys are cached, and never gets a 500.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from apps.entra_auth import keys as keys_module
from apps.entra_auth.fetch import FetchError, fetch_document
from config import env as envmod
from tests.conftest import (
    TENANT,
    FakeEntra,
    SpyServer,
    TokenFactory,
    assert_token_refused,
    bearer,
    portico_settings_for,
)

pytestmark = pytest.mark.django_db


def assert_keys_unavailable(response: Any) -> None:
    """503: our outage, not the caller's fault: Retry-After, JSON, no invalid_token challenge."""
    assert response.status_code == HTTPStatus.SERVICE_UNAVAILABLE
    assert int(response["Retry-After"]) > 0
    assert "error=" not in response.headers.get("WWW-Authenticate", "")
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "temporarily_unavailable"
    assert response["Cache-Control"] == "no-store"


def ready(client: Any) -> tuple[int, dict[str, Any]]:
    response = client.get("/api/ready")
    return response.status_code, response.json()


# --- down, then back -----------------------------------------------------------------------
def test_jwks_down_at_first_request_is_503_while_liveness_stays_ok(
    client: Any, entra: FakeEntra, token_factory: TokenFactory, spy_urls: list[str]
) -> None:
    entra.mode = "down"
    assert_keys_unavailable(client.get("/api/spy", **bearer(token_factory())))
    assert spy_urls == []
    assert client.get("/api/health").status_code == HTTPStatus.OK
    status, body = ready(client)
    assert status == HTTPStatus.SERVICE_UNAVAILABLE
    assert body["not_ready"] == ["signing_keys"]


def test_service_recovers_without_a_restart_when_jwks_comes_back(
    client: Any,
    entra: FakeEntra,
    token_factory: TokenFactory,
    spy_urls: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(keys_module, "COLD_RETRY_SECONDS", 0.0)
    entra.mode = "down"
    assert_keys_unavailable(client.get("/api/spy", **bearer(token_factory())))
    entra.mode = "ok"
    assert client.get("/api/spy", **bearer(token_factory())).status_code == HTTPStatus.OK
    assert ready(client)[0] == HTTPStatus.OK


def test_jwks_outage_after_a_good_fetch_is_served_from_cache(
    client: Any, entra: FakeEntra, token_factory: TokenFactory, spy_urls: list[str]
) -> None:
    assert client.get("/api/spy", **bearer(token_factory())).status_code == HTTPStatus.OK
    assert ready(client)[0] == HTTPStatus.OK  # loads the v1.0 keys as well
    fetched = entra.jwks_fetches()
    entra.mode = "down"
    for _ in range(3):
        response = client.get("/api/spy", **bearer(token_factory(header={"kid": "zzz"})))
        assert response.status_code == HTTPStatus.UNAUTHORIZED  # not a 503: keys are in hand
        assert 'error="invalid_token"' in response["WWW-Authenticate"]
    assert entra.jwks_fetches() <= fetched + 1  # at most one gated attempt
    assert client.get("/api/spy", **bearer(token_factory())).status_code == HTTPStatus.OK
    assert ready(client)[0] == HTTPStatus.OK


@pytest.mark.parametrize("body", ["<html>Service Unavailable</html>", "[]", "{}", '{"keys":[]}'])
def test_garbage_jwks_is_503_when_cold_and_harmless_when_warm(
    body: str,
    client: Any,
    entra: FakeEntra,
    token_factory: TokenFactory,
    spy_urls: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(keys_module, "COLD_RETRY_SECONDS", 0.0)
    entra.mode = body
    assert_keys_unavailable(client.get("/api/spy", **bearer(token_factory())))
    entra.mode = "ok"
    assert client.get("/api/spy", **bearer(token_factory())).status_code == HTTPStatus.OK
    entra.mode = body
    assert client.get("/api/spy", **bearer(token_factory())).status_code == HTTPStatus.OK


# --- slow endpoints (vector 70d) -----------------------------------------------------------
def test_hanging_jwks_answers_503_within_the_fetch_timeout(
    client: Any,
    entra: FakeEntra,
    token_factory: TokenFactory,
    spy_urls: list[str],
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings.PORTICO = portico_settings_for(entra.authority, ENTRA_KEYS_FETCH_TIMEOUT_SECONDS=1.0)
    monkeypatch.setattr(entra, "hang_seconds", 3.0)
    entra.mode = "hang"
    started = time.monotonic()
    response = client.get("/api/spy", **bearer(token_factory()))
    elapsed = time.monotonic() - started
    assert_keys_unavailable(response)
    assert 0.9 < elapsed < 2.5


@contextmanager
def raw_http_server(answer: Callable[[socket.socket], None]) -> Iterator[str]:
    """A loopback server that reads a request and writes whatever ``answer`` writes."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve_one(connection: socket.socket) -> None:
        with connection:
            try:
                connection.recv(65536)
                answer(connection)
            except OSError:
                pass  # the client gave up: that is the point of most of these tests

    def accept_loop() -> None:
        while True:
            try:
                connection, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve_one, args=(connection,), daemon=True).start()

    threading.Thread(target=accept_loop, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


def _trickle(connection: socket.socket) -> None:
    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
    for _ in range(100):
        connection.sendall(b" ")
        time.sleep(0.1)


def test_a_trickling_body_is_cut_off_at_the_fetch_timeout() -> None:
    """A per-read timeout alone would wait 10 s here: one byte every 0.1 s."""
    with raw_http_server(_trickle) as url:
        started = time.monotonic()
        with pytest.raises(FetchError):
            fetch_document(f"{url}/keys", timeout=0.5, max_bytes=1024, allow_http=True)
        assert time.monotonic() - started < 1.5


MALFORMED_HTTP: dict[str, bytes] = {
    "not http": b"HELLO\r\n\r\n",
    "broken chunking": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n",
    "header line too long": b"HTTP/1.1 200 OK\r\nX-A: " + b"a" * 70_000 + b"\r\n\r\n{}",
    "too many headers": b"HTTP/1.1 200 OK\r\n" + b"X-A: a\r\n" * 150 + b"\r\n{}",
    "closed at once": b"",
}


@pytest.mark.parametrize("answer", MALFORMED_HTTP.values(), ids=MALFORMED_HTTP.keys())
def test_malformed_http_is_a_fetch_error(answer: bytes) -> None:
    with (
        raw_http_server(lambda connection: connection.sendall(answer)) as url,
        pytest.raises(FetchError),
    ):
        fetch_document(f"{url}/keys", timeout=2, max_bytes=1024, allow_http=True)


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:abc/keys", "http://[::1/keys", "file:///etc/passwd", "ftp://127.0.0.1/"],
)
def test_unusable_urls_are_a_fetch_error(url: str) -> None:
    with pytest.raises(FetchError):
        fetch_document(url, timeout=1, max_bytes=1024, allow_http=True)


def test_malformed_http_from_the_authority_is_503_not_500(
    client: Any, token_factory: TokenFactory, settings: Any, spy_urls: list[str]
) -> None:
    with raw_http_server(lambda connection: connection.sendall(b"HELLO\r\n\r\n")) as authority:
        settings.PORTICO = portico_settings_for(authority)
        token = token_factory(claims={"iss": f"{authority}/{TENANT}/v2.0"})
        assert_keys_unavailable(client.get("/api/spy", **bearer(token)))


# --- redirects -----------------------------------------------------------------------------
@contextmanager
def redirecting_authority(target: str, *, status: int, redirect: str) -> Iterator[str]:
    """An authority whose discovery or JWKS (``redirect``) answers ``status`` to ``target``."""
    base = ""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            is_keys = self.path.endswith("/keys")
            if (redirect == "jwks") == is_keys:
                self.send_response(status)
                self.send_header("Location", target)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            document = {
                "issuer": f"{base}/{TENANT}/v2.0",
                "jwks_uri": f"{base}/{TENANT}/discovery/v2.0/keys",
            }
            body = json.dumps(document).encode()
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    base = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    try:
        yield base
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("redirect", ["discovery", "jwks"])
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_redirects_are_not_followed(
    redirect: str,
    status: int,
    client: Any,
    entra: FakeEntra,
    token_factory: TokenFactory,
    spy_server: SpyServer,
    settings: Any,
    spy_urls: list[str],
) -> None:
    spy_server.body = json.dumps({"keys": [entra.published[0]]}).encode()  # K1: would verify
    with redirecting_authority(f"{spy_server.url}/keys", status=status, redirect=redirect) as base:
        settings.PORTICO = portico_settings_for(base)
        token = token_factory(claims={"iss": f"{base}/{TENANT}/v2.0"})
        assert_keys_unavailable(client.get("/api/spy", **bearer(token)))
    assert spy_server.requests == []


# --- the dev issuer in other environments (vector 70h) -------------------------------------
@pytest.mark.parametrize(
    ("env", "tenant"),
    [("uat", envmod.DEV_TENANT_ID), ("prod", envmod.DEV_TENANT_ID), ("uat", TENANT)],
    ids=["uat", "prod", "uat-dev-issuer-posing-as-our-tenant"],
)
def test_dev_issuer_token_is_unknown_issuer_outside_dev(
    env: str,
    tenant: str,
    client: Any,
    entra: FakeEntra,
    settings: Any,
    spy_urls: list[str],
) -> None:
    from apps.dev_issuer.minting import mint_token

    settings.PORTICO = portico_settings_for(
        envmod.DEV_AUTHORITY_HOST, DEV_ISSUER=True, ENTRA_TENANT_ID=tenant
    )
    token = mint_token()
    settings.PORTICO = portico_settings_for(entra.authority, ENV=env)
    response = client.get("/api/spy", **bearer(token))
    assert_token_refused(response, "unknown_issuer")
    # Only an iss naming our tenant costs a look at the (cached) v1.0 discovery document.
    assert entra.fetches.get(f"/{TENANT}/discovery/v2.0/keys") is None


# --- Redis down (vector 70g) ---------------------------------------------------------------
def test_redis_down_is_served_from_process_memory(
    client: Any,
    entra: FakeEntra,
    token_factory: TokenFactory,
    settings: Any,
    spy_urls: list[str],
    unused_port: int,
) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{unused_port}/1",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    for _ in range(2):
        assert client.get("/api/spy", **bearer(token_factory())).status_code == HTTPStatus.OK
    refused = client.get("/api/spy", **bearer(token_factory(header={"kid": "zzz"})))
    assert refused.status_code == HTTPStatus.UNAUTHORIZED
    assert entra.jwks_fetches() == 1
    status, body = ready(client)
    assert status == HTTPStatus.OK
    assert body["degraded"] == ["cache"]

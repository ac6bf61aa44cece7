"""One JSON line per request with the request id, and never a token (apps/core/request_log.py).

The lines are read from the configured console handler itself (its redaction filter
included), switched to the production JSON formatter for the test.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus

import pytest

from apps.core.json_log import JsonFormatter
from apps.core.logging import RedactTokensFilter
from apps.core.request_log import oid_hash
from tests.conftest import DAEMON_OID, TENANT, USER_OID, bearer

pytestmark = pytest.mark.django_db
TRACE_ID = "Root=1-67891233-abcdef012345678912345678;Sampled=1"


@contextmanager
def console_output() -> Iterator[io.StringIO]:
    """What Portico's console handler writes meanwhile, in the production JSON format."""
    handler = next(
        h
        for h in logging.getLogger().handlers
        if any(isinstance(f, RedactTokensFilter) for f in h.filters)
    )
    stream, formatter = io.StringIO(), handler.formatter
    previous = handler.setStream(stream)
    handler.setFormatter(JsonFormatter())
    try:
        yield stream
    finally:
        handler.setStream(previous)
        handler.setFormatter(formatter)


def parsed(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def request_line(stream: io.StringIO) -> dict:
    (line,) = [line for line in parsed(stream) if line["logger"] == "portico.request"]
    return line


def assert_no_token(text: str, token: str) -> None:
    for secret in (token, *(part for part in token.split(".") if len(part) >= 8)):
        assert secret not in text


def test_a_request_logs_one_line_with_its_id_and_without_its_token(client, token_factory):
    token = token_factory()
    with console_output() as output:
        response = client.get(
            "/api/me?page=2", **bearer(token), HTTP_X_AMZN_TRACE_ID=TRACE_ID, HTTP_USER_AGENT="t/1"
        )
    assert response.status_code == HTTPStatus.OK
    assert response["X-Request-ID"] == TRACE_ID
    line = request_line(output)
    assert line["request_id"] == TRACE_ID
    assert line["http"] == {
        "method": "GET",
        "path": "/api/me",
        "status": HTTPStatus.OK,
        "duration_ms": line["http"]["duration_ms"],
        "token_kind": "delegated",
        "oid_hash": oid_hash(TENANT, USER_OID),
        "user_agent": "t/1",
    }
    assert line["http"]["duration_ms"] >= 0
    assert_no_token(output.getvalue(), token)
    assert USER_OID not in output.getvalue()
    assert "page=2" not in output.getvalue()


def test_every_line_logged_during_a_request_carries_its_id(client, token_factory):
    expired = token_factory(claims={"exp": 1_000_000_000, "iat": 999_999_000, "nbf": 999_999_000})
    with console_output() as output:
        response = client.get("/api/me", **bearer(expired), HTTP_X_REQUEST_ID="caller-id-42")
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    lines = parsed(output)
    assert {line["logger"] for line in lines} >= {
        "apps.entra_auth.authentication",
        "portico.request",
    }
    assert {line["request_id"] for line in lines} == {"caller-id-42"}
    assert request_line(output)["http"]["token_kind"] is None
    assert_no_token(output.getvalue(), expired)


def test_a_token_in_the_query_string_or_path_never_reaches_the_log(client, token_factory):
    token = token_factory()
    with console_output() as output:
        client.get(f"/api/me?access_token={token}")
        client.get(f"/api/projects/{token}")
        client.get("/api/me", HTTP_USER_AGENT=f"curl Bearer {token}")
    assert_no_token(output.getvalue(), token)
    assert len([line for line in parsed(output) if line["logger"] == "portico.request"]) == 3


def test_app_tokens_are_logged_as_app_with_the_daemons_hash(client, token_factory):
    with console_output() as output:
        client.get("/api/me", **bearer(token_factory(app=True)))
    line = request_line(output)
    assert line["http"]["token_kind"] == "app"
    assert line["http"]["oid_hash"] == oid_hash(TENANT, DAEMON_OID)
    assert line["http"]["oid_hash"] != oid_hash(TENANT, USER_OID)


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"HTTP_X_REQUEST_ID": "has space"},
        {"HTTP_X_REQUEST_ID": 'quote"d'},
        {"HTTP_X_REQUEST_ID": "x" * 201},
        {"HTTP_X_REQUEST_ID": "-starts-with-dash"},
        {"HTTP_X_AMZN_TRACE_ID": "Root=1-2\nforged: line"},
        {"HTTP_X_REQUEST_ID": "caf\u00e9"},
    ],
    ids=["none", "space", "quote", "too-long", "leading-dash", "newline", "non-ascii"],
)
def test_a_missing_or_unsafe_request_id_is_replaced_by_a_generated_one(client, headers):
    response = client.get("/api/health", **headers)
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])


def test_the_albs_trace_id_wins_over_the_callers_request_id(client):
    response = client.get("/api/health", HTTP_X_AMZN_TRACE_ID=TRACE_ID, HTTP_X_REQUEST_ID="mine")
    assert response["X-Request-ID"] == TRACE_ID
    response = client.get("/api/health", HTTP_X_AMZN_TRACE_ID="bad id", HTTP_X_REQUEST_ID="mine")
    assert response["X-Request-ID"] == "mine"


def test_refused_hosts_are_logged_too(client):
    with console_output() as output:
        response = client.get("/api/me", HTTP_HOST="evil.example.com")
    assert response.status_code == HTTPStatus.BAD_REQUEST
    assert request_line(output)["http"]["status"] == HTTPStatus.BAD_REQUEST


def test_the_json_formatter_keeps_exceptions_on_one_line_and_redacted():
    token = "eyJhbGciOiJSUzI1NiJ9.eyJvaWQiOiIxMjM0NTY3OCJ9.c2lnbmF0dXJlLXZhbHVl"
    try:
        raise ValueError(f"bad token {token}")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), None)
        import sys

        record.exc_info = sys.exc_info()
    line = JsonFormatter().format(record)
    assert "\n" not in line
    assert json.loads(line)["exception"].startswith("Traceback")
    assert_no_token(line, token)


def test_production_settings_log_json_and_dev_plain(monkeypatch):
    from tests.core.test_checks import load_settings

    prod = load_settings(monkeypatch, {"PORTICO_ENV": "prod"})
    dev = load_settings(monkeypatch, {"PORTICO_ENV": "dev"})
    forced = load_settings(monkeypatch, {"PORTICO_ENV": "dev", "PORTICO_LOG_FORMAT": "json"})
    assert prod["LOGGING"]["handlers"]["console"]["formatter"] == "json"
    assert dev["LOGGING"]["handlers"]["console"]["formatter"] == "plain"
    assert forced["LOGGING"]["handlers"]["console"]["formatter"] == "json"
    for loaded in (prod, dev):
        for handler in loaded["LOGGING"]["handlers"].values():
            assert "redact_tokens" in handler["filters"]

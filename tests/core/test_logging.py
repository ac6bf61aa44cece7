"""No token reaches a log: the redaction filter, the logging configuration, and vector J2."""

from __future__ import annotations

import io
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http import HTTPStatus

import pytest
from django.core.cache import cache

from apps.core.logging import RedactTokensFilter, redact
from apps.entra_auth import runtime
from tests.conftest import OTHER_API_CLIENT_ID

TOKEN = (
    "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0"
    ".eyJhdWQiOiJhcGk6Ly9wb3J0aWNvIiwib2lkIjoiMGEwYSJ9"
    ".c2lnbmF0dXJlLWJ5dGVzLXRoYXQtbG9vay1yYW5kb20tZW5vdWdo"
)


def segments(token: str) -> list[str]:
    return [part for part in token.split(".") if len(part) >= 8]


def leaked(text: str, token: str) -> list[str]:
    return [secret for secret in (token, *segments(token)) if secret in text]


def make_record(msg: str, *args: object, exc_info: object = None) -> logging.LogRecord:
    return logging.LogRecord("portico.test", logging.WARNING, __file__, 1, msg, args, exc_info)


def configured_handlers() -> list[logging.Handler]:
    """Every handler Portico's LOGGING (and Django's defaults) left on any logger."""
    loggers = [logging.getLogger()] + [
        logger
        for logger in logging.Logger.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    return [
        handler
        for logger in loggers
        for handler in logger.handlers
        # pytest's capture handlers and library NullHandlers write nowhere.
        if not type(handler).__module__.startswith("_pytest")
        and not isinstance(handler, logging.NullHandler)
    ]


def redacting_handler() -> logging.Handler:
    return next(
        h
        for h in logging.getLogger().handlers
        if any(isinstance(f, RedactTokensFilter) for f in h.filters)
    )


def through_handler(record: logging.LogRecord) -> str:
    """The line the configured console handler would write for ``record`` (or '')."""
    handler = redacting_handler()
    return handler.format(record) if handler.filter(record) else ""


# --- the filter ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        f"token {TOKEN} refused",
        f"Authorization: Bearer {TOKEN}",
        "Authorization: bearer 0pAque-T0ken_value~with/odd+chars==",
        f"GET /api/me?access_token={TOKEN}&page=2",
        "GET /cb?id_token=abc.def.ghi&refresh_token=opaque-refresh-value",
        f"header segment {TOKEN.split('.')[0]} alone",
        f"payload segment {TOKEN.split('.')[1]} alone",
        f"jwe eyJhbGciOiJSU0EtT0FFUCJ9.a2V5.aXY.Y2lwaGVy.dGFn {TOKEN}",
    ],
)
def test_redact_removes_token_shaped_values(text):
    cleaned = redact(text)
    assert "[redacted]" in cleaned
    assert leaked(cleaned, TOKEN) == []
    for secret in ("0pAque-T0ken", "abc.def", "opaque-refresh", "a2V5.aXY"):
        assert secret not in cleaned


@pytest.mark.parametrize(
    "text",
    [
        "Bearer token refused: expired",
        'WWW-Authenticate: Bearer realm="portico", error="invalid_token"',
        "Signing key fetch failed for https://login.microsoftonline.com/x: timed out",
    ],
)
def test_redact_leaves_ordinary_messages_readable(text):
    """Over-redaction costs operators the reason a request failed."""
    assert redact(text) == text


def test_filter_redacts_the_formatted_message_and_its_arguments():
    record = make_record("refused %s from %s", f"Bearer {TOKEN}", "10.0.0.1")
    assert RedactTokensFilter().filter(record) is True
    assert record.getMessage() == "refused Bearer [redacted] from 10.0.0.1"
    assert leaked(logging.Formatter().format(record), TOKEN) == []


def test_filter_redacts_a_token_inside_a_traceback():
    def fail_with_token() -> None:
        raise ValueError(f"could not decode {TOKEN}")

    try:
        fail_with_token()
    except ValueError:
        record = make_record("request failed", exc_info=sys.exc_info())
    RedactTokensFilter().filter(record)
    output = logging.Formatter().format(record)
    assert "Traceback" in output
    assert "could not decode [redacted]" in output
    assert leaked(output, TOKEN) == []


def test_every_configured_handler_redacts():
    """Django's defaults attach their own handlers to ``django`` and ``django.server``
    (runserver's access log, query strings included); none may bypass the filter."""
    handlers = configured_handlers()
    assert handlers
    for handler in handlers:
        assert any(isinstance(f, RedactTokensFilter) for f in handler.filters), handler


@contextmanager
def handler_output() -> Iterator[io.StringIO]:
    """What every configured stream handler writes, for the duration of the block."""
    buffer = io.StringIO()
    handlers = [h for h in configured_handlers() if isinstance(h, logging.StreamHandler)]
    previous = [(handler, handler.setStream(buffer)) for handler in handlers]
    try:
        yield buffer
    finally:
        for handler, stream in previous:
            if stream is not None:
                handler.setStream(stream)


def test_django_request_and_server_logs_are_redacted_on_the_way_out(settings):
    settings.DEBUG = True  # Django's own console handler only writes with DEBUG on
    with handler_output() as output:
        logging.getLogger("django.server").info(
            '"%s" %s %s', f"GET /api/me?access_token={TOKEN} HTTP/1.1", "401", "58"
        )
        logging.getLogger("django.request").warning("Unauthorized: %s (%s)", "/api/me", TOKEN)
    written = output.getvalue()
    assert "GET /api/me?access_token=[redacted] HTTP/1.1" in written
    assert written.count("Unauthorized: /api/me ([redacted])") == 1  # once, not per handler
    assert leaked(written, TOKEN) == []


# --- J2: no token in any log record across a batch of requests ---------------------------


@pytest.mark.django_db
def test_j2_no_token_in_logs(client, token_factory, entra, caplog):
    now = int(time.time())
    valid = token_factory()
    refused = [
        token_factory(claims={"exp": now - 3600, "iat": now - 7200, "nbf": now - 7200}),
        token_factory(claims={"aud": OTHER_API_CLIENT_ID}),
        token_factory(key="attacker", header={"kid": "zzz"}),
        token_factory(header={"jku": "http://127.0.0.1:1/jwks.json"}),
        valid[:-8] + "AAAAAAAA",
        "eyJhbGciOiJub25lIn0.eyJvaWQiOiJ4eHh4eHh4eCJ9.",
    ]
    statuses = []
    with caplog.at_level(logging.DEBUG):
        for token in (valid, *refused):
            response = client.get("/api/me", HTTP_AUTHORIZATION=f"Bearer {token}")
            statuses.append(response.status_code)
        statuses.append(client.get(f"/api/me?access_token={valid}").status_code)
        statuses.append(
            client.get(
                f"/api/me?access_token={valid}", HTTP_AUTHORIZATION=f"Bearer {valid}"
            ).status_code
        )
        statuses.append(client.post("/api/me", {"access_token": valid}).status_code)
        # A cold start with the key endpoint down: the 503 path logs too.
        entra.mode = "down"
        cache.clear()
        runtime.reset()
        cold = client.get("/api/me", HTTP_AUTHORIZATION=f"Bearer {token_factory()}")
        statuses.append(cold.status_code)

    assert statuses == [
        HTTPStatus.OK,
        *[HTTPStatus.UNAUTHORIZED] * len(refused),
        HTTPStatus.UNAUTHORIZED,
        HTTPStatus.BAD_REQUEST,
        HTTPStatus.UNAUTHORIZED,
        HTTPStatus.SERVICE_UNAVAILABLE,
    ]
    messages = [record.getMessage() for record in caplog.records]
    assert any("Bearer token refused" in m for m in messages)  # the batch did log
    assert any(m.startswith("Unauthorized: /api/me") for m in messages)

    all_tokens = (valid, *refused)
    for record in caplog.records:
        raw = f"{record.getMessage()} {record.args!r} {record.exc_text or ''}"
        formatted = through_handler(record)
        for token in all_tokens:
            assert leaked(raw, token) == [], record.name
            assert leaked(formatted, token) == [], record.name


@pytest.mark.parametrize(
    "text",
    [
        "AUTHORIZATION: BEARER abcdefghijklmnopqrstuvwxyz012345",
        "GET /cb?ACCESS_TOKEN=abc.def.ghi HTTP/1.1",
        "Id_Token=secretvalue&x=1",
        'payload {"a": 1} as eyJhbGciOiJSUzI1NiJ9',
    ],
)
def test_the_fast_path_never_skips_text_a_pattern_would_redact(text):
    from apps.core.logging import _PATTERNS, redact

    assert any(pattern.search(text) for pattern in _PATTERNS)
    assert redact(text) != text
    assert "[redacted]" in redact(text)

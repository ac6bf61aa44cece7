"""schemathesis against ``/api/schema/``: generated requests, real views, real tokens.

Every operation is called with a token minted by the dev issuer for the admin persona (after
``seed_demo``: projects and RBAC are granted to it) and with no token at all; no answer may
be a 500, and every answer must match the schema (status code, content type, body, headers).
Bounded by ``MAX_EXAMPLES`` per operation so that the whole module stays well under a minute.
"""

from __future__ import annotations

from collections.abc import Iterator
from io import StringIO
from typing import Any

import pytest
import schemathesis
from django.core.management import call_command
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from apps.dev_issuer.minting import mint_token
from apps.rbac import resolution
from tests.dev_issuer.conftest import dev_issuer  # noqa: F401  (a fixture used below)

MAX_EXAMPLES = 8
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
HYPOTHESIS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,  # the same examples on every run: CI failures reproduce locally
    database=None,  # nothing written under .hypothesis/
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# Read through the WSGI app at collection, as a client would (schemathesis' lazy fixture
# loader does not run under pytest 9). Tests then run with the dev issuer configured.
def _schema(*modes: GenerationMode) -> Any:
    loaded = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())
    loaded.config.generation.update(modes=list(modes))
    return loaded


# Valid requests must get documented answers; invalid ones (wrong types, missing fields,
# path segments the router does not match) must at least never be a 500.
schema = _schema(GenerationMode.POSITIVE)
garbage = _schema(GenerationMode.NEGATIVE)


@pytest.fixture(autouse=True)
def _connection_kept_across_requests() -> Iterator[None]:
    """As Django's test client does: the WSGI handler closes the database connection after
    each request, which would end the test's transaction (PostgreSQL answers 503 after)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture(autouse=True)
def _seeded(dev_issuer: Any, django_capture_on_commit_callbacks: Any) -> None:  # noqa: F811
    """``seed_demo``'s rules and projects, so that the admin persona may do everything."""
    with django_capture_on_commit_callbacks(execute=True):
        call_command("seed_demo", stdout=StringIO())
    resolution.bump_version()


@pytest.mark.django_db
@schema.parametrize()
@HYPOTHESIS
def test_api_conforms_to_its_schema_with_an_admin_token(case: Any) -> None:
    token = mint_token(user="admin")
    case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)


@pytest.mark.django_db
@schema.parametrize()
@HYPOTHESIS
def test_api_conforms_to_its_schema_without_a_token(case: Any) -> None:
    case.call_and_validate(checks=CHECKS)


@pytest.mark.django_db
@garbage.parametrize()
@HYPOTHESIS
def test_invalid_requests_never_get_a_server_error(case: Any) -> None:
    token = mint_token(user="admin")
    case.call_and_validate(
        headers={"Authorization": f"Bearer {token}"}, checks=[not_a_server_error]
    )

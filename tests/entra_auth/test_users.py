"""``(tid, oid)`` -> user: just-in-time creation, vectors H1-H4, and the write-only-on-change
and zero-query promises of the warm path (entra-token-spec §6.1, design §1)."""

from __future__ import annotations

import time
from http import HTTPStatus

import pytest
from django.core.cache import cache
from django.db import connection
from django.db.models import QuerySet
from django.test.utils import CaptureQueriesContext

from apps.entra_auth import users
from apps.entra_auth.claims import Claims, TokenKind
from apps.entra_auth.models import User
from tests.conftest import (
    DAEMON_CLIENT_ID,
    DAEMON_OID,
    DROP,
    OTHER_TENANT,
    TENANT,
    USER_OID,
    portico_settings_for,
)

OTHER_OID = "0b0b0b0b-2c2c-4d3d-8e4e-5f5f5f5f5f5f"
pytestmark = pytest.mark.django_db


def get_me(client, token: str):
    return client.get("/api/me", HTTP_AUTHORIZATION=f"Bearer {token}")


def person(**claims: object) -> dict[str, object]:
    return {"name": "Test User", "preferred_username": "test.user@example.com", **claims}


def test_first_request_creates_the_user_keyed_on_tid_and_oid(client, token_factory):
    response = get_me(client, token_factory(claims={"email": "test.user@example.com"}))
    assert response.status_code == HTTPStatus.OK
    user = User.objects.get()
    assert (user.entra_tenant_id, user.entra_object_id) == (TENANT, USER_OID)
    assert user.kind == User.Kind.PERSON
    assert user.display_name == "Test User"
    assert user.preferred_username == "test.user@example.com"
    assert user.email == "test.user@example.com"
    assert not user.has_usable_password()
    assert not user.is_staff
    assert not user.is_superuser


def test_username_is_never_used_to_find_a_user(client, token_factory):
    """A local row whose username is the caller's upn is someone else (spec §6.1)."""
    local = User.objects.create_user(username="test.user@example.com", email="x@example.com")
    assert get_me(client, token_factory()).status_code == HTTPStatus.OK
    created = User.objects.get(entra_object_id=USER_OID)
    assert created.pk != local.pk
    assert User.objects.count() == 2


def test_h1_same_oid_new_username_updates_the_one_user(client, token_factory):
    first = token_factory(claims=person(email="old@example.com"))
    renamed = token_factory(
        claims=person(
            name="Test User (renamed)",
            preferred_username="renamed@example.com",
            email="renamed@example.com",
        )
    )
    assert get_me(client, first).status_code == HTTPStatus.OK
    response = get_me(client, renamed)
    assert response.status_code == HTTPStatus.OK
    assert response.json()["username"] == "renamed@example.com"
    user = User.objects.get()
    assert user.display_name == "Test User (renamed)"
    assert user.preferred_username == "renamed@example.com"
    assert user.email == "renamed@example.com"


def test_h2_same_email_different_oid_is_another_user(client, token_factory):
    shared = {"preferred_username": "shared@example.com", "email": "shared@example.com"}
    assert get_me(client, token_factory(claims=shared)).status_code == HTTPStatus.OK
    first = User.objects.get()
    User.objects.filter(pk=first.pk).update(is_staff=True)  # what the first one was granted

    response = get_me(client, token_factory(claims={**shared, "oid": OTHER_OID}))
    assert response.status_code == HTTPStatus.OK
    second = User.objects.get(entra_object_id=OTHER_OID)
    assert second.pk != first.pk
    assert not second.is_staff
    assert not second.user_permissions.exists()
    assert User.objects.count() == 2


def test_h3_same_sub_in_another_tenant_is_another_user(client, token_factory, entra, settings):
    settings.PORTICO = portico_settings_for(entra.authority, ENTRA_ALLOWED_TENANTS=(OTHER_TENANT,))
    same = {"sub": "the-same-pairwise-sub", "oid": USER_OID}
    home = token_factory(claims=same)
    guest = token_factory(
        claims={**same, "tid": OTHER_TENANT, "iss": entra.issuer(tenant=OTHER_TENANT)}
    )
    assert get_me(client, home).json()["tid"] == TENANT
    assert get_me(client, guest).json()["tid"] == OTHER_TENANT
    identities = set(User.objects.values_list("entra_tenant_id", "entra_object_id"))
    assert identities == {(TENANT, USER_OID), (OTHER_TENANT, USER_OID)}


def claims_for(*, tid: str, oid: str, sub: str = "same-sub") -> Claims:
    now = int(time.time())
    return Claims(
        tid=tid,
        oid=oid,
        sub=sub,
        kind=TokenKind.DELEGATED,
        client_id="spa",
        version="2.0",
        issuer=f"https://login.microsoftonline.com/{tid}/v2.0",
        audience="api",
        expires_at=now + 3600,
        issued_at=now,
        name="Same Name",
        preferred_username="same@example.com",
    )


def test_h3_the_key_function_separates_tenants():
    users.forget_all()
    cache.clear()
    home = users.user_for_claims(claims_for(tid=TENANT, oid=USER_OID))
    guest = users.user_for_claims(claims_for(tid=OTHER_TENANT, oid=USER_OID))
    assert home.pk != guest.pk
    again = users.user_for_claims(claims_for(tid=TENANT, oid=USER_OID, sub="another-sub"))
    assert again.pk == home.pk  # sub plays no part in the key
    users.forget_all()


def test_h4_missing_oid_asks_for_the_profile_scope(client, token_factory):
    response = get_me(client, token_factory(claims={"oid": DROP}))
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert "request the profile scope" in response["WWW-Authenticate"]
    assert 'error="invalid_token"' in response["WWW-Authenticate"]
    assert "request the profile scope" in response.json()["detail"]
    assert not User.objects.exists()


def test_the_profile_is_written_only_when_it_changed(client, token_factory):
    token = token_factory()
    assert get_me(client, token).status_code == HTTPStatus.OK

    users.forget_all()  # another worker: the shared cache still knows the user
    with CaptureQueriesContext(connection) as queries:
        assert get_me(client, token).status_code == HTTPStatus.OK
    assert len(queries) == 0

    users.forget_all()
    cache.clear()  # nothing cached anywhere: one read of the user, no write
    with CaptureQueriesContext(connection) as queries:
        assert get_me(client, token).status_code == HTTPStatus.OK
    statements = [
        q["sql"].lstrip().split()[0].upper() for q in queries if "entra_auth_user" in q["sql"]
    ]
    assert statements == ["SELECT"]

    changed = token_factory(claims={"name": "New Name"})
    with CaptureQueriesContext(connection) as queries:
        assert get_me(client, changed).status_code == HTTPStatus.OK
    statements = [q["sql"].lstrip().split()[0].upper() for q in queries]
    assert statements.count("UPDATE") == 1
    assert "INSERT" not in statements
    assert User.objects.get().display_name == "New Name"


def test_a_warm_authenticated_request_makes_no_query(
    client, token_factory, django_assert_num_queries
):
    token = token_factory()
    assert get_me(client, token).status_code == HTTPStatus.OK
    with django_assert_num_queries(0):
        assert get_me(client, token).status_code == HTTPStatus.OK


def test_app_only_tokens_make_an_application_user(client, token_factory):
    response = get_me(client, token_factory(app=True))
    assert response.status_code == HTTPStatus.OK
    app = User.objects.get()
    assert app.kind == User.Kind.APPLICATION
    assert (app.entra_tenant_id, app.entra_object_id) == (TENANT, DAEMON_OID)
    assert app.entra_client_id == DAEMON_CLIENT_ID
    assert app.display_name == f"Application {DAEMON_CLIENT_ID}"
    assert app.preferred_username == ""
    assert not app.has_usable_password()
    assert not app.is_staff
    assert not app.is_superuser


def test_a_deactivated_user_is_refused_on_the_next_request(client, token_factory):
    token = token_factory()
    assert get_me(client, token).status_code == HTTPStatus.OK
    user = User.objects.get()
    user.is_active = False
    user.save()  # post_save evicts the cached user, here and in the shared cache

    response = get_me(client, token)
    assert response.status_code == HTTPStatus.FORBIDDEN
    assert response.json()["code"] == "principal_disabled"


def test_concurrent_first_requests_do_not_create_duplicates(client, token_factory, monkeypatch):
    """Both workers miss the row; the loser's INSERT hits the unique constraint and reads the
    winner's row instead of failing."""
    winner = User.objects.create(
        username="created-by-another-worker",
        entra_tenant_id=TENANT,
        entra_object_id=USER_OID,
        display_name="Test User",
        preferred_username="test.user@example.com",
    )
    real_first = QuerySet.first
    misses = []

    def first_misses_once(queryset: QuerySet) -> object:
        if not misses:
            misses.append(True)
            return None  # as if the row did not exist yet when this worker looked
        return real_first(queryset)

    monkeypatch.setattr(QuerySet, "first", first_misses_once)
    response = get_me(client, token_factory())
    assert response.status_code == HTTPStatus.OK
    assert misses == [True]
    assert User.objects.get().pk == winner.pk

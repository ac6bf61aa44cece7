"""The admin page of the token explainer: staff with the simulator's permission only, POST
with CSRF, the same verdicts as the command, and the token never echoed into the page."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django.urls import reverse

from tests.entra_auth.explain_cases import CASES

pytestmark = pytest.mark.django_db

URL = "admin-explain-token"
LOCAL_BACKEND = "apps.rbac.backends.LocalAccountsBackend"


@pytest.fixture
def entra(entra: Any, settings: Any) -> Any:
    """The loopback Entra, with local (break-glass) admin logins allowed, as in dev."""
    settings.PORTICO = {**settings.PORTICO, "ADMIN_PASSWORD_LOGIN": True}
    return entra


@pytest.fixture
def staff(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("staff", password="pw-1234567", is_staff=True)


@pytest.fixture
def explainer(client: Client, staff: Any) -> Client:
    staff.user_permissions.add(
        Permission.objects.get(content_type__app_label="rbac", codename="simulate_mappingrule")
    )
    client.force_login(staff, backend=LOCAL_BACKEND)
    return client


def explain(client: Client, token: str) -> Any:
    return client.post(reverse(URL), {"token": token})


@pytest.mark.parametrize(("build", "reason", "step", "words"), CASES)
def test_the_page_explains_each_refusal(
    explainer, entra, token_factory, build, reason, step, words
):
    token = build(token_factory, entra)
    response = explain(explainer, token)

    assert response.status_code == HTTPStatus.OK
    page = response.content.decode()
    assert f"Refused ({reason})" in page
    assert f'class="step-{step} status-failed"' in page
    assert words.replace("'", "&#x27;") in page
    if step != "access":  # the last step: nothing after it
        assert 'class="status-not-run"' in page
    assert token not in page


def test_the_page_shows_a_valid_token_step_by_step_and_its_mapping(explainer, entra, token_factory):
    token = token_factory(claims={"roles": ["Portico.Nothing"]})
    page = explain(explainer, token).content.decode()

    assert "<h2>Accepted</h2>" in page
    assert "status-failed" not in page
    assert page.count("status-passed") == 12
    assert "None: nothing is granted (deny by default)." in page
    assert "Portico.Nothing</code>: no rule" in page
    assert token not in page


def test_the_page_needs_the_simulate_permission(client, staff, entra, token_factory):
    client.force_login(staff, backend=LOCAL_BACKEND)
    assert explain(client, token_factory()).status_code == HTTPStatus.FORBIDDEN


def test_the_page_sends_anonymous_visitors_to_the_admin_login(client):
    response = client.get(reverse(URL))
    assert response.status_code == HTTPStatus.FOUND
    assert response["Location"].startswith(reverse("admin:login"))


def test_the_page_refuses_a_post_without_csrf_token(staff, entra, token_factory):
    client = Client(enforce_csrf_checks=True)
    staff.user_permissions.add(
        Permission.objects.get(content_type__app_label="rbac", codename="simulate_mappingrule")
    )
    client.force_login(staff, backend=LOCAL_BACKEND)
    assert explain(client, token_factory()).status_code == HTTPStatus.FORBIDDEN


def test_the_page_is_never_cached(explainer, entra, token_factory):
    response = explain(explainer, token_factory())
    assert "no-store" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


def test_the_admin_index_links_the_explainer_for_those_who_may_use_it(explainer, staff):
    assert reverse(URL) in explainer.get(reverse("admin:index")).content.decode()
    staff.user_permissions.clear()
    staff.is_superuser = False
    staff.save()
    other = Client()
    other.force_login(staff, backend=LOCAL_BACKEND)
    assert reverse(URL) not in other.get(reverse("admin:index")).content.decode()

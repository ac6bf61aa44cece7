from http import HTTPStatus

import pytest

from tests import urls as spy


@pytest.fixture
def spy_urls(settings):
    settings.ROOT_URLCONF = "tests.urls"
    spy.CALLS.clear()
    return spy.CALLS


@pytest.mark.django_db
def test_valid_v2_delegated_token_reaches_the_view(client, token_factory, spy_urls, entra):
    response = client.get("/api/spy", HTTP_AUTHORIZATION=f"Bearer {token_factory()}")
    assert response.status_code == HTTPStatus.OK
    assert spy_urls == ["scope"]
    assert entra.jwks_fetches() == 1

from http import HTTPStatus

import pytest


@pytest.mark.django_db
def test_valid_v2_delegated_token_reaches_the_view(client, token_factory, spy_urls, entra):
    response = client.get("/api/spy", HTTP_AUTHORIZATION=f"Bearer {token_factory()}")
    assert response.status_code == HTTPStatus.OK
    assert spy_urls == ["scope"]
    assert entra.jwks_fetches() == 1

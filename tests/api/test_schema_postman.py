"""The Postman collection (docs/postman/) against the live URL patterns and schema.

Every route under ``/api`` and every OpenAPI operation must have a request in the
collection, so a new endpoint cannot ship without one; the collection signs in with
authorization code + PKCE from variables that every environment file defines.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from django.urls import URLPattern, get_resolver, reverse

POSTMAN = Path(__file__).resolve().parents[2] / "docs" / "postman"
COLLECTION = json.loads((POSTMAN / "portico.postman_collection.json").read_text())
ENVIRONMENTS = {
    path.name.split("-")[1].split(".")[0]: json.loads(path.read_text())
    for path in POSTMAN.glob("portico-*.postman_environment.json")
}
# Pages for a browser, not an API client: Swagger UI and its OAuth2 redirect page.
BROWSER_ONLY = {"docs", "docs-oauth2-redirect"}


def requests(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for item in items:
        found += requests(item["item"]) if "item" in item else [item["request"]]
    return found


def concrete(request: dict[str, Any]) -> tuple[str, str]:
    """(METHOD, /api/path/) with path variables given the value 1."""
    path = "/" + "/".join(request["url"]["path"])
    return request["method"], re.sub(r":\w+", "1", path)


COVERED = {concrete(request) for request in requests(COLLECTION["item"])}


def api_routes() -> dict[str, str]:
    """URL name -> a concrete path, for every pattern in the ``api`` namespace."""
    (api,) = [p for p in get_resolver().url_patterns if getattr(p, "namespace", "") == "api"]
    routes = {}
    for pattern in api.url_patterns:
        assert isinstance(pattern, URLPattern), pattern  # nested includes: extend this test
        kwargs = dict.fromkeys(pattern.pattern.regex.groupindex, "1")
        routes[pattern.name] = reverse(f"api:{pattern.name}", kwargs=kwargs)
    return routes


def test_every_api_url_pattern_has_a_request() -> None:
    routes = api_routes()
    assert set(routes) > BROWSER_ONLY
    covered_paths = {path for _, path in COVERED}
    missing = {name: path for name, path in routes.items() if path not in covered_paths}
    assert set(missing) == BROWSER_ONLY, f"add these to the Postman collection: {missing}"


def test_every_openapi_operation_has_a_request(client: Any) -> None:
    schema = client.get("/api/schema/?format=json").json()
    wanted = {
        (method.upper(), re.sub(r"\{\w+\}", "1", path))
        for path, item in schema["paths"].items()
        for method in item
    }
    assert wanted - COVERED == set()
    assert ("GET", "/api/schema/") in COVERED


def test_the_collection_signs_in_with_authorization_code_and_pkce() -> None:
    auth = COLLECTION["auth"]
    assert auth["type"] == "oauth2"
    params = {p["key"]: p["value"] for p in auth["oauth2"]}
    assert params["grant_type"] == "authorization_code_with_pkce"
    assert params["challengeAlgorithm"] == "S256"
    assert params["authUrl"] == "{{authorityHost}}/{{tenantId}}/oauth2/v2.0/authorize"
    assert params["accessTokenUrl"] == "{{authorityHost}}/{{tenantId}}/oauth2/v2.0/token"
    assert params["clientId"] == "{{clientId}}"
    assert "clientSecret" not in params  # a public client: PKCE instead of a secret


def test_public_endpoints_send_no_token() -> None:
    public = {
        concrete(r) for r in requests(COLLECTION["item"]) if r.get("auth") == {"type": "noauth"}
    }
    assert public == {("GET", "/api/health"), ("GET", "/api/ready"), ("GET", "/api/schema/")}


@pytest.mark.parametrize("environment", ["local", "dev", "uat", "prod"])
def test_each_environment_defines_every_variable_and_no_secret(environment: str) -> None:
    values = {v["key"]: v["value"] for v in ENVIRONMENTS[environment]["values"]}
    used = set(re.findall(r"\{\{(\w+)\}\}", json.dumps(COLLECTION))) - {"baseUrl", "environment"}
    assert used <= set(values), used - set(values)
    assert values["environment"] == environment
    assert values["baseUrl"].startswith("https://")
    assert values["token"] == ""
    assert values["scope"] == "{{apiAppIdUri}}/access_as_user"


def test_the_local_environment_matches_the_dev_issuer() -> None:
    from config.env import DEV_API_CLIENT_ID, DEV_SPA_CLIENT_ID, DEV_TENANT_ID

    values = {v["key"]: v["value"] for v in ENVIRONMENTS["local"]["values"]}
    assert values["authorityHost"] == "https://localhost:8443/dev-issuer"
    assert values["tenantId"] == DEV_TENANT_ID
    assert values["clientId"] == DEV_SPA_CLIENT_ID
    assert values["apiAppIdUri"] == f"api://{DEV_API_CLIENT_ID}"


def test_every_request_url_is_built_from_the_base_url() -> None:
    for request in requests(COLLECTION["item"]):
        assert request["url"]["raw"].startswith("{{baseUrl}}/api/"), request["url"]["raw"]
        assert request["url"]["host"] == ["{{baseUrl}}"]

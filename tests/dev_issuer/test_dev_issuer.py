"""The dev-only issuer: Entra's document layout, minting through ``mint_token``, and its key.

Tokens minted here go through the real validator, which reads the dev issuer's discovery
documents and JWKS in process (entra-token-spec §13: tests exercise the real path).
"""

from __future__ import annotations

import base64
import json
import shutil
import stat
import subprocess
from http import HTTPStatus
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command

from apps.dev_issuer import minting, signing_key
from apps.dev_issuer.personas import DEV_DAEMON_CLIENT_ID, app_object_id, persona
from apps.entra_auth import runtime
from config.env import DEV_API_CLIENT_ID, DEV_SPA_CLIENT_ID, DEV_TENANT_ID
from tests.conftest import portico_settings_for
from tests.dev_issuer.conftest import AUTHORITY

pytestmark = pytest.mark.django_db


def mint(*args: str) -> str:
    out = StringIO()
    call_command("mint_token", *args, stdout=out)
    return out.getvalue().strip()


def unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Header and payload, read to check what was minted (the API verifies them for real)."""
    header, payload = (
        json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
        for part in token.split(".")[:2]
    )
    return header, payload


def me(client, token: str):
    return client.get("/api/me", HTTP_AUTHORIZATION=f"Bearer {token}")


# --- documents ------------------------------------------------------------------------------


def test_v2_discovery_follows_entras_layout(client, dev_issuer):
    response = client.get(f"/dev-issuer/{DEV_TENANT_ID}/v2.0/.well-known/openid-configuration")
    assert response.status_code == HTTPStatus.OK
    document = response.json()
    assert document["issuer"] == f"{AUTHORITY}/{DEV_TENANT_ID}/v2.0"
    assert document["jwks_uri"] == f"{AUTHORITY}/{DEV_TENANT_ID}/discovery/v2.0/keys"
    assert document["id_token_signing_alg_values_supported"] == ["RS256"]


def test_v1_discovery_follows_entras_layout(client, dev_issuer):
    response = client.get(f"/dev-issuer/{DEV_TENANT_ID}/.well-known/openid-configuration")
    assert response.status_code == HTTPStatus.OK
    document = response.json()
    assert document["jwks_uri"] == f"{AUTHORITY}/{DEV_TENANT_ID}/discovery/keys"
    assert DEV_TENANT_ID in document["issuer"]
    assert not document["issuer"].startswith("https://sts.windows.net")  # never a real issuer


@pytest.mark.parametrize("keys_path", ["discovery/v2.0/keys", "discovery/keys"])
def test_jwks_keys_look_like_entras(client, dev_issuer, keys_path):
    response = client.get(f"/dev-issuer/{DEV_TENANT_ID}/{keys_path}")
    assert response.status_code == HTTPStatus.OK
    (key,) = response.json()["keys"]
    assert set(key) == {"kty", "use", "kid", "x5t", "n", "e"}  # no alg, as Entra
    assert (key["kty"], key["use"], key["e"]) == ("RSA", "sig", "AQAB")
    assert not {"d", "p", "q"} & set(key)  # the public half only


@pytest.mark.parametrize(
    "path",
    [
        f"{DEV_TENANT_ID}/v2.0/.well-known/openid-configuration",
        f"{DEV_TENANT_ID}/discovery/v2.0/keys",
    ],
)
def test_documents_are_404_with_the_dev_issuer_off(client, dev_issuer, settings, path):
    settings.PORTICO = {**settings.PORTICO, "DEV_ISSUER": False}
    assert client.get(f"/dev-issuer/{path}").status_code == HTTPStatus.NOT_FOUND


@pytest.mark.parametrize(
    "path",
    [
        "99999999-8888-4777-8666-555555555555/discovery/v2.0/keys",  # a tenant not ours
        "99999999-8888-4777-8666-555555555555/oauth2/v2.0/authorize",
        f"{DEV_TENANT_ID}/discovery/v3.0/keys",
    ],
)
def test_unknown_tenants_and_paths_are_404(client, dev_issuer, path):
    assert client.get(f"/dev-issuer/{path}").status_code == HTTPStatus.NOT_FOUND


# --- mint_token -----------------------------------------------------------------------------


def test_minted_v2_token_is_accepted_with_the_personas_claims(client, dev_issuer):
    token = mint("--user", "editor", "--scopes", "access_as_user,Files.Read")
    header, claims = unverified(token)
    assert (header["alg"], header["typ"]) == ("RS256", "JWT")
    assert header["kid"]
    assert claims["iss"] == f"{AUTHORITY}/{DEV_TENANT_ID}/v2.0"
    assert claims["aud"] == DEV_API_CLIENT_ID
    assert claims["ver"] == "2.0"
    assert claims["azp"] == DEV_SPA_CLIENT_ID

    response = me(client, token)
    assert response.status_code == HTTPStatus.OK
    editor = persona("editor")
    identity = {
        key: response.json()[key]
        for key in (
            "oid",
            "tid",
            "name",
            "username",
            "token_type",
            "scopes",
            "roles",
            "groups",
            "groups_overage",
        )
    }
    assert identity == {
        "oid": editor.oid,
        "tid": DEV_TENANT_ID,
        "name": "Eddie Editor",
        "username": "editor@dev.portico.invalid",
        "token_type": "delegated",
        "scopes": ["Files.Read", "access_as_user"],
        "roles": ["Portico.Editor"],
        "groups": [],
        "groups_overage": False,
    }


def test_minted_token_with_roles_and_groups(client, dev_issuer):
    token = mint("--user", "someone", "--roles", "Portico.Reader", "--groups", "g-1,g-2")
    body = me(client, token).json()
    assert body["name"] == "Someone"
    assert body["roles"] == ["Portico.Reader"]
    assert body["groups"] == ["g-1", "g-2"]
    assert body["oid"] == persona("someone").oid


def test_minted_v1_token_is_accepted(client, dev_issuer):
    token = mint("--version", "1", "--user", "reader")
    _, claims = unverified(token)
    assert claims["ver"] == "1.0"
    assert claims["aud"] == f"api://{DEV_API_CLIENT_ID}"
    assert claims["appid"] == DEV_SPA_CLIENT_ID
    assert claims["upn"] == "reader@dev.portico.invalid"
    response = me(client, token)
    assert response.status_code == HTTPStatus.OK
    assert response.json()["username"] == "reader@dev.portico.invalid"


@pytest.mark.parametrize("version", ["1", "2"])
def test_minted_app_only_token_is_accepted(client, dev_issuer, version):
    token = mint("--app", "--user", "nightly-job", "--roles", "Portico.Read", "--version", version)
    _, claims = unverified(token)
    assert claims["idtyp"] == "app"
    assert "scp" not in claims
    assert claims["azp" if version == "2" else "appid"] == DEV_DAEMON_CLIENT_ID
    body = me(client, token).json()
    assert body["token_type"] == "app"
    assert body["oid"] == app_object_id("nightly-job")
    assert body["roles"] == ["Portico.Read"]
    assert body["scopes"] == []


def test_expires_in_sets_the_lifetime(client, dev_issuer):
    _, claims = unverified(mint("--expires-in", "120"))
    assert claims["exp"] - claims["iat"] == 120
    assert claims["nbf"] == claims["iat"]


@pytest.mark.parametrize("seconds", ["0", "-5", str(30 * 3600 + 1)])
def test_expires_in_is_bounded(dev_issuer, seconds):
    with pytest.raises(CommandError, match="--expires-in"):
        mint("--expires-in", seconds)


def test_an_expired_minted_token_is_refused(client, dev_issuer):
    response = me(client, minting.mint_token(expires_in=-120))
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json()["reason"] == "expired"


@pytest.mark.parametrize(
    "changes", [{"DEV_ISSUER": False}, {"ENV": "uat"}, {"ENV": "prod"}], ids=str
)
def test_mint_token_refuses_outside_dev_or_with_the_dev_issuer_off(dev_issuer, settings, changes):
    settings.PORTICO = {**settings.PORTICO, **changes}
    with pytest.raises(CommandError, match="dev issuer is off"):
        mint()
    assert not (dev_issuer / "dev-issuer").exists()  # and no key was created


def test_minted_tokens_are_refused_by_a_production_configuration(client, dev_issuer, settings):
    """Vector 70(h): with the dev issuer off, its tokens name an issuer nobody trusts."""
    token = mint()
    settings.PORTICO = portico_settings_for(
        "https://login.microsoftonline.com", ENV="prod", ENTRA_ALLOW_INSECURE_AUTHORITY=False
    )
    response = me(client, token)
    assert response.status_code == HTTPStatus.UNAUTHORIZED
    assert response.json()["reason"] == "unknown_issuer"


# --- the signing key ------------------------------------------------------------------------


def test_the_signing_key_is_created_under_var_dir_readable_by_its_owner_only(dev_issuer):
    mint()
    path = dev_issuer / "dev-issuer" / "signing-key.pem"
    assert path.is_file()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")


def test_a_key_created_meanwhile_by_another_process_wins(dev_issuer, keys, monkeypatch):
    """Two workers (or a worker and mint_token) starting together must agree on one key."""
    path = dev_issuer / "dev-issuer" / "signing-key.pem"
    theirs = keys["attacker"].private
    generate = rsa.generate_private_key

    def generate_while_another_process_writes(**kwargs: Any) -> rsa.RSAPrivateKey:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(
            theirs.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        return generate(**kwargs)

    monkeypatch.setattr(rsa, "generate_private_key", generate_while_another_process_writes)
    ours = signing_key.signing_key()
    assert ours.public_key().public_numbers() == theirs.public_key().public_numbers()
    assert [p.name for p in path.parent.iterdir()] == ["signing-key.pem"]  # no temporary left


def test_the_signing_key_survives_a_restart(client, dev_issuer):
    """Tokens minted by ``manage.py mint_token`` (another process) must verify in the server."""
    token = mint()
    signing_key.signing_key.cache_clear()  # a new process reads the same file
    runtime.reset()
    assert me(client, token).status_code == HTTPStatus.OK
    _, claims = unverified(mint())
    assert claims["iss"] == f"{AUTHORITY}/{DEV_TENANT_ID}/v2.0"


def test_the_jwks_serves_the_key_tokens_are_signed_with(client, dev_issuer):
    kid = unverified(mint())[0]["kid"]
    document = client.get(f"/dev-issuer/{DEV_TENANT_ID}/discovery/v2.0/keys").json()
    assert [key["kid"] for key in document["keys"]] == [kid]


def test_the_default_key_location_is_ignored_by_git():
    """The default var/ directory never holds a tracked file, and git ignores the key."""
    base = Path(django_settings.BASE_DIR)
    git = shutil.which("git")
    if git is None or not (base / ".git").exists():
        pytest.skip("not a git checkout")
    default_key = Path(django_settings.VAR_DIR) / "dev-issuer" / "signing-key.pem"
    relative = default_key.relative_to(base)
    ignored = subprocess.run(
        [git, "check-ignore", "--quiet", "--no-index", str(relative)], cwd=base, check=False
    )
    assert ignored.returncode == 0
    tracked = subprocess.run(
        [git, "ls-files", "--", str(default_key.parent.parent.relative_to(base))],
        cwd=base,
        capture_output=True,
        text=True,
        check=True,
    )
    assert tracked.stdout == ""

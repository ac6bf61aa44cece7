"""The sign-in checks: one test per check id, each naming the variable to set."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core import checks

from apps.signin import checks as signin_checks
from tests.conftest import portico_settings_for

SIGNIN_CHECKS = [
    function
    for name, function in vars(signin_checks).items()
    if name.startswith("check_") and callable(function)
]


@pytest.fixture
def conf(settings):
    def apply(**overrides):
        settings.PORTICO = portico_settings_for("https://login.microsoftonline.com", **overrides)

    return apply


def ids(messages) -> list[str]:
    return [message.id for message in messages]


def test_the_checks_are_registered():
    assert set(SIGNIN_CHECKS) <= set(checks.registry.registry.get_checks())


def test_e001_password_login_off_without_any_credential(conf):
    conf(ADMIN_PASSWORD_LOGIN=False)
    (message,) = signin_checks.check_admin_reachable()
    assert message.id == "signin.E001"
    assert "PORTICO_ADMIN_PASSWORD_LOGIN" in message.msg
    assert "ENTRA_CLIENT_CERTIFICATE_FILE" in message.hint


@pytest.mark.parametrize(
    "credential",
    [
        {"ENTRA_CLIENT_SECRET": "s"},
        {"ENTRA_CLIENT_ASSERTION_FILE": "/var/run/secrets/azure/token"},
        {"ENTRA_CLIENT_CERTIFICATE_FILE": "/etc/portico/client.pem"},
        {"ADMIN_PASSWORD_LOGIN": True},
    ],
)
def test_e001_is_quiet_when_someone_can_sign_in(conf, credential):
    conf(**{"ADMIN_PASSWORD_LOGIN": False, **credential})
    assert signin_checks.check_admin_reachable() == []


def test_e002_the_web_client_id_must_be_a_guid(conf):
    conf(ENTRA_WEB_CLIENT_ID="portico-web")
    assert ids(signin_checks.check_web_client()) == ["signin.E002"]
    conf(ENTRA_WEB_CLIENT_ID="aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee")
    assert signin_checks.check_web_client() == []


def test_e003_a_bad_certificate_file_is_reported(conf, tmp_path: Path):
    bad = tmp_path / "client.pem"
    bad.write_text("not a pem")
    conf(ENTRA_CLIENT_CERTIFICATE_FILE=str(bad))
    (message,) = signin_checks.check_certificate_file()
    assert message.id == "signin.E003"
    assert "ENTRA_CLIENT_CERTIFICATE_FILE" in message.msg


def test_w001_password_login_in_prod(conf):
    conf(ENV="prod", ADMIN_PASSWORD_LOGIN=True)
    assert ids(signin_checks.check_password_login_in_prod()) == ["signin.W001"]
    conf(ENV="prod", ADMIN_PASSWORD_LOGIN=False)
    assert signin_checks.check_password_login_in_prod() == []


def test_w002_entra_sign_in_needs_an_https_authority(conf):
    conf(ENTRA_AUTHORITY_HOST="http://127.0.0.1:8000/dev-issuer")
    (message,) = signin_checks.check_signin_authority()
    assert message.id == "signin.W002"
    assert "ENTRA_AUTHORITY_HOST" in message.msg
    conf()
    assert signin_checks.check_signin_authority() == []

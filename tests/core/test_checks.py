"""System checks: one test per check id, registration, and the checks at the process edges.

Every message must name what the operator sets (design §4.2). The subprocess tests run
``manage.py check --deploy`` and ``import config.wsgi`` the way a deployment does, from an
environment built from scratch so that the developer's own variables cannot leak in.
"""

from __future__ import annotations

import os
import re
import runpy
import secrets
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core import checks
from django.core.checks import CheckMessage

from apps.core import checks as core_checks
from apps.dev_issuer import checks as dev_issuer_checks
from apps.entra_auth import checks as entra_checks
from config.env import EnvProblem, EnvReader, create_once, dev_secret_key
from tests.conftest import API_CLIENT_ID, OTHER_TENANT, SPA_CLIENT_ID, TENANT, portico_settings_for

BASE_DIR = Path(django_settings.BASE_DIR)
CHECK_MODULES = (core_checks, entra_checks, dev_issuer_checks)
PORTICO_CHECKS = [
    function
    for module in CHECK_MODULES
    for name, function in vars(module).items()
    if name.startswith("check_") and callable(function)
]
GOOD_SECRET = "s" * 20 + secrets.token_urlsafe(48)
AUTHORITY = "https://login.microsoftonline.com"


def configure(settings: Any, *, env: str = "uat", **changes: Any) -> None:
    """A sound configuration for ``env``; ``changes`` override settings or PORTICO keys."""
    portico = {k: changes.pop(k) for k in list(changes) if k.isupper()}
    overrides = {"ENTRA_ALLOW_INSECURE_AUTHORITY": False, **portico}
    settings.PORTICO = portico_settings_for(AUTHORITY, ENV=env, **overrides)
    settings.SECRET_KEY = changes.pop("secret_key", GOOD_SECRET)
    settings.ALLOWED_HOSTS = changes.pop("allowed_hosts", ["app-uat.internal.example.com"])
    settings.DEBUG = changes.pop("debug", env == "dev")
    settings.PORTICO_ENV_PROBLEMS = changes.pop("problems", ())
    assert not changes, f"unknown test settings {changes}"


def portico_messages() -> list[CheckMessage]:
    return [message for check in PORTICO_CHECKS for message in check()]


@pytest.mark.parametrize("env", ["dev", "uat", "prod"])
def test_a_sound_configuration_passes_every_check(settings, env):
    configure(settings, env=env)
    assert portico_messages() == []


def test_the_dev_defaults_pass_every_check(settings):
    """The dev issuer over http with DEBUG on is the intended local setup."""
    configure(
        settings,
        env="dev",
        DEV_ISSUER=True,
        ENTRA_AUTHORITY_HOST="http://127.0.0.1:8000/dev-issuer",
        ENTRA_ALLOW_INSECURE_AUTHORITY=True,
    )
    assert portico_messages() == []


CASES = [
    pytest.param(
        "core.E001",
        {"problems": (EnvProblem("DJANGO_DEBUG", "must be one of 1/0; got 'maybe'"),)},
        "DJANGO_DEBUG",
        id="core.E001",
    ),
    pytest.param("core.E002", {"ENTRA_TENANT": TENANT}, "ENTRA_TENANT", id="core.E002"),
    pytest.param("core.E003", {"secret_key": "short"}, "DJANGO_SECRET_KEY", id="core.E003"),
    pytest.param(
        "core.E004", {"allowed_hosts": ["*"]}, "DJANGO_ALLOWED_HOSTS", id="core.E004-wildcard"
    ),
    pytest.param("core.E004", {"allowed_hosts": []}, "DJANGO_ALLOWED_HOSTS", id="core.E004-empty"),
    pytest.param(
        "core.E005",
        {"METRICS_FLUSH_SECONDS": 0},
        "PORTICO_METRICS_FLUSH_SECONDS",
        id="core.E005",
    ),
    pytest.param(
        "entra_auth.E001", {"ENTRA_TENANT_ID": "contoso"}, "ENTRA_TENANT_ID", id="entra_auth.E001"
    ),
    pytest.param(
        "entra_auth.E001", {"ENTRA_TENANT_ID": ""}, "ENTRA_TENANT_ID", id="entra_auth.E001-unset"
    ),
    pytest.param(
        "entra_auth.E001",
        {"ENTRA_TENANT_ID": "9188040d-6c67-4c5b-b112-36a304b66dad"},
        "ENTRA_TENANT_ID",
        id="entra_auth.E001-consumers",
    ),
    pytest.param(
        "entra_auth.E002",
        {"ENTRA_API_CLIENT_ID": "portico-api"},
        "ENTRA_API_CLIENT_ID",
        id="entra_auth.E002",
    ),
    pytest.param(
        "entra_auth.E003",
        {"ENTRA_API_APP_ID_URI": f"api://{API_CLIENT_ID}/"},
        "ENTRA_API_APP_ID_URI",
        id="entra_auth.E003",
    ),
    pytest.param(
        "entra_auth.E004",
        {"ENTRA_AUTHORITY_HOST": "login.microsoftonline.com"},
        "ENTRA_AUTHORITY_HOST",
        id="entra_auth.E004",
    ),
    pytest.param(
        "entra_auth.E005",
        {"ENTRA_AUTHORITY_HOST": "http://127.0.0.1:9000"},
        "ENTRA_ALLOW_INSECURE_AUTHORITY",
        id="entra_auth.E005",
    ),
    pytest.param(
        "entra_auth.E006",
        {"ENTRA_ACCEPTED_TOKEN_VERSIONS": ("2.0",)},
        "ENTRA_ACCEPTED_TOKEN_VERSIONS",
        id="entra_auth.E006",
    ),
    pytest.param(
        "entra_auth.E007",
        {"ENTRA_ALLOWED_TENANTS": (OTHER_TENANT, "fabrikam")},
        "ENTRA_ALLOWED_TENANTS",
        id="entra_auth.E007",
    ),
    pytest.param(
        "entra_auth.E008",
        {"ENTRA_CLOCK_SKEW_SECONDS": 3600},
        "ENTRA_CLOCK_SKEW_SECONDS",
        id="entra_auth.E008",
    ),
    pytest.param(
        "entra_auth.E009",
        {"ENTRA_KEYS_REFRESH_MIN_SECONDS": 0},
        "ENTRA_KEYS_REFRESH_MIN_SECONDS",
        id="entra_auth.E009",
    ),
    pytest.param(
        "dev_issuer.E001",
        {"env": "dev", "DEV_ISSUER": True, "debug": False},
        "PORTICO_DEV_ISSUER",
        id="dev_issuer.E001",
    ),
    pytest.param(
        "dev_issuer.E002",
        {"env": "dev", "DEV_ISSUER": True, "ENTRA_AUTHORITY_HOST": AUTHORITY},
        "ENTRA_AUTHORITY_HOST",
        id="dev_issuer.E002",
    ),
]


@pytest.mark.parametrize(("check_id", "changes", "variable"), CASES)
def test_each_error_names_the_variable_to_fix(settings, check_id, changes, variable):
    configure(settings, **changes)
    messages = [m for m in portico_messages() if m.id == check_id]
    assert len(messages) == 1, portico_messages()
    message = messages[0]
    assert message.level == checks.ERROR
    assert variable in f"{message.msg} {message.hint}"


CRITICAL_CASES = [
    pytest.param("core.C001", {"env": "prod", "debug": True}, "DJANGO_DEBUG", id="core.C001"),
    pytest.param(
        "entra_auth.C001",
        {"env": "prod", "ENTRA_AUTHORITY_HOST": "http://login.example.test"},
        "ENTRA_AUTHORITY_HOST",
        id="entra_auth.C001",
    ),
    pytest.param(
        "entra_auth.C002",
        {"env": "prod", "ENTRA_ALLOW_INSECURE_AUTHORITY": True},
        "ENTRA_ALLOW_INSECURE_AUTHORITY",
        id="entra_auth.C002",
    ),
    pytest.param(
        "dev_issuer.C001",
        {"env": "uat", "DEV_ISSUER": True},
        "PORTICO_DEV_ISSUER",
        id="dev_issuer.C001-uat",
    ),
    pytest.param(
        "dev_issuer.C001",
        {"env": "prod", "DEV_ISSUER": True, "debug": True},
        "PORTICO_DEV_ISSUER",
        id="dev_issuer.C001-prod-even-with-debug",
    ),
]


@pytest.mark.parametrize(("check_id", "changes", "variable"), CRITICAL_CASES)
def test_security_misconfiguration_is_critical(settings, check_id, changes, variable):
    configure(settings, **changes)
    messages = [m for m in portico_messages() if m.id == check_id]
    assert len(messages) == 1, portico_messages()
    assert messages[0].level == checks.CRITICAL
    assert variable in f"{messages[0].msg} {messages[0].hint}"


def test_every_check_id_has_its_test():
    """One test per check id: a new id in the check modules needs its row above."""
    declared = {
        match
        for module in CHECK_MODULES
        for match in re.findall(
            r'"((?:core|entra_auth|dev_issuer)\.[CEW]\d{3})"', Path(module.__file__).read_text()
        )
    }
    tested = {case.values[0] for case in (*CASES, *CRITICAL_CASES)}
    assert declared == tested


def test_every_unparseable_variable_is_reported_on_its_own(settings):
    reader = EnvReader({"DJANGO_DEBUG": "maybe", "ENTRA_CLOCK_SKEW_SECONDS": "abc"})
    reader.flag("DJANGO_DEBUG", False)
    reader.integer("ENTRA_CLOCK_SKEW_SECONDS", 60)
    configure(settings, problems=tuple(reader.problems))
    errors = core_checks.check_environment_parsed()
    assert [e.id for e in errors] == ["core.E001", "core.E001"]
    assert "DJANGO_DEBUG" in errors[0].msg
    assert "DJANGO_DEBUG" in errors[0].hint
    assert "ENTRA_CLOCK_SKEW_SECONDS" in errors[1].msg
    assert "ENTRA_CLOCK_SKEW_SECONDS" in errors[1].hint


def test_the_checks_are_registered(settings):
    """Django's own runner finds every Portico check, from each of the three apps."""
    registered = checks.registry.registry.get_checks(include_deployment_checks=False)
    assert set(PORTICO_CHECKS) <= set(registered)
    configure(
        settings,
        env="dev",
        DEV_ISSUER=True,
        debug=False,
        ENTRA_TENANT_ID="contoso",
        secret_key="",
        problems=(EnvProblem("DJANGO_DEBUG", "must be a flag"),),
    )
    found = {message.id for message in checks.run_checks()}
    assert {"core.E001", "entra_auth.E001", "dev_issuer.E001"} <= found


# --- config.env.EnvReader -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("1", True), ("TRUE", True), ("on", True), ("yes", True), ("0", False), ("Off", False)],
)
def test_flags_accept_the_usual_spellings(raw, expected):
    reader = EnvReader({"DJANGO_DEBUG": raw})
    assert reader.flag("DJANGO_DEBUG", not expected) is expected
    assert reader.problems == []


def test_unset_or_blank_variables_take_the_default():
    reader = EnvReader({"DJANGO_DEBUG": "  ", "ENTRA_CLOCK_SKEW_SECONDS": ""})
    assert reader.flag("DJANGO_DEBUG", True) is True
    assert reader.integer("ENTRA_CLOCK_SKEW_SECONDS", 60) == 60
    assert reader.choice("PORTICO_ENV", "dev", ("dev", "uat", "prod")) == "dev"
    assert reader.items("DJANGO_ALLOWED_HOSTS", ("localhost",)) == ("localhost",)
    assert reader.problems == []


@pytest.mark.parametrize(
    ("variable", "raw", "read"),
    [
        ("DJANGO_DEBUG", "maybe", lambda r: r.flag("DJANGO_DEBUG", False)),
        ("ENTRA_CLOCK_SKEW_SECONDS", "abc", lambda r: r.integer("ENTRA_CLOCK_SKEW_SECONDS", 60)),
        ("ENTRA_CLOCK_SKEW_SECONDS", "1.5", lambda r: r.integer("ENTRA_CLOCK_SKEW_SECONDS", 60)),
        (
            "PORTICO_ENV",
            "staging",
            lambda r: r.choice("PORTICO_ENV", "dev", ("dev", "uat", "prod")),
        ),
    ],
)
def test_unparseable_values_are_recorded_not_raised(variable, raw, read):
    reader = EnvReader({variable: raw})
    read(reader)  # the default comes back; the problem is kept for core.E001
    assert [p.variable for p in reader.problems] == [variable]
    assert repr(raw) in reader.problems[0].message


def test_lists_split_on_commas_and_spaces():
    reader = EnvReader({"DJANGO_ALLOWED_HOSTS": " a.example.com, b.example.com  c.example.com,"})
    assert reader.items("DJANGO_ALLOWED_HOSTS") == (
        "a.example.com",
        "b.example.com",
        "c.example.com",
    )


def test_the_dev_secret_key_is_generated_once_and_private(tmp_path):
    path = tmp_path / "var" / "dev-secret-key"
    first = dev_secret_key(path)
    assert len(first) >= 50
    assert dev_secret_key(path) == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["dev-secret-key"]


def test_create_once_keeps_what_another_process_wrote_first(tmp_path):
    path = tmp_path / "dev-secret-key"
    path.write_bytes(b"theirs")
    create_once(path, b"ours")
    assert path.read_bytes() == b"theirs"
    assert [p.name for p in tmp_path.iterdir()] == ["dev-secret-key"]


# --- config/settings.py, evaluated against a given environment ----------------------------


def load_settings(monkeypatch: pytest.MonkeyPatch, environ: dict[str, str]) -> dict[str, Any]:
    """The globals ``config/settings.py`` computes from ``environ``; Django's stay as they are."""
    monkeypatch.setattr(os, "environ", {"DJANGO_SECRET_KEY": GOOD_SECRET, **environ})
    return runpy.run_path(str(BASE_DIR / "config" / "settings.py"))


def test_settings_collect_parsing_problems_for_core_e001(monkeypatch):
    loaded = load_settings(
        monkeypatch,
        {"DJANGO_DEBUG": "maybe", "ENTRA_CLOCK_SKEW_SECONDS": "abc", "PORTICO_ENV": "staging"},
    )
    variables = {problem.variable for problem in loaded["PORTICO_ENV_PROBLEMS"]}
    assert variables == {"DJANGO_DEBUG", "ENTRA_CLOCK_SKEW_SECONDS", "PORTICO_ENV"}


def test_settings_lower_case_the_api_client_id(monkeypatch):
    """Entra writes GUIDs in lower case and aud is compared verbatim: an upper-case client id
    from the portal would otherwise pass entra_auth.E002 and then refuse every token."""
    loaded = load_settings(
        monkeypatch,
        {
            "PORTICO_ENV": "uat",
            "ENTRA_TENANT_ID": TENANT.upper(),
            "ENTRA_API_CLIENT_ID": API_CLIENT_ID.upper(),
        },
    )
    assert loaded["PORTICO"]["ENTRA_TENANT_ID"] == TENANT
    assert loaded["PORTICO"]["ENTRA_API_CLIENT_ID"] == API_CLIENT_ID
    assert loaded["PORTICO"]["ENTRA_API_APP_ID_URI"] == f"api://{API_CLIENT_ID}"


def test_settings_outside_dev_have_no_dev_defaults(monkeypatch):
    loaded = load_settings(monkeypatch, {"PORTICO_ENV": "prod"})
    assert loaded["DEBUG"] is False
    assert loaded["ALLOWED_HOSTS"] == []
    assert loaded["PORTICO"]["DEV_ISSUER"] is False
    assert loaded["PORTICO"]["ENTRA_TENANT_ID"] == ""
    assert loaded["PORTICO"]["ENTRA_AUTHORITY_HOST"] == AUTHORITY
    assert loaded["PORTICO"]["ENTRA_ALLOW_INSECURE_AUTHORITY"] is False
    assert loaded["SECURE_SSL_REDIRECT"] is True
    assert loaded["PORTICO_ENV_PROBLEMS"] == ()


def test_settings_read_csrf_trusted_origins_from_the_environment(monkeypatch):
    origins = "https://app-uat.internal.example.com, https://admin-uat.internal.example.com"
    loaded = load_settings(monkeypatch, {"DJANGO_CSRF_TRUSTED_ORIGINS": origins})
    assert loaded["CSRF_TRUSTED_ORIGINS"] == [
        "https://app-uat.internal.example.com",
        "https://admin-uat.internal.example.com",
    ]
    assert load_settings(monkeypatch, {})["CSRF_TRUSTED_ORIGINS"] == []


def test_settings_for_postgresql_persist_connections_with_health_checks(monkeypatch):
    url = "postgres://portico:secret@db.internal.example.com:5432/portico"
    database = load_settings(monkeypatch, {"DATABASE_URL": url})["DATABASES"]["default"]
    assert database["ENGINE"] == "django.db.backends.postgresql"  # psycopg 3
    assert database["CONN_MAX_AGE"] == 600
    assert database["CONN_HEALTH_CHECKS"] is True
    assert database["OPTIONS"]["connect_timeout"] == 2
    with_own = load_settings(monkeypatch, {"DATABASE_URL": f"{url}?connect_timeout=5"})
    assert with_own["DATABASES"]["default"]["OPTIONS"]["connect_timeout"] == 5


def test_settings_with_redis_use_the_degrading_cache_and_cached_sessions(monkeypatch):
    loaded = load_settings(monkeypatch, {"REDIS_URL": "redis://cache:6379/0"})
    assert loaded["CACHES"]["default"]["BACKEND"] == "apps.core.cache.DegradingRedisCache"
    assert loaded["SESSION_ENGINE"] == "django.contrib.sessions.backends.cached_db"
    assert "SESSION_ENGINE" not in load_settings(monkeypatch, {})


# --- at the process edges: manage.py check --deploy, and config/wsgi.py -------------------


@dataclass(frozen=True)
class Finished:
    returncode: int
    stdout: str
    stderr: str


CHECK_DEPLOY = ("manage.py", "check", "--deploy", "--fail-level", "WARNING")
IMPORT_WSGI = ("-c", "import config.wsgi")
EDGE_RUNS: dict[str, tuple[tuple[str, ...], dict[str, str]]] = {
    "deploy": (CHECK_DEPLOY, {}),
    # What an ECS task definition passes (deploy/): PostgreSQL, Redis, the ALB's host name.
    "deploy_aws": (
        CHECK_DEPLOY,
        {
            "DJANGO_ALLOWED_HOSTS": "app.internal.example.com",
            "DJANGO_CSRF_TRUSTED_ORIGINS": "https://app.internal.example.com",
            "DATABASE_URL": "postgres://portico:secret@portico-db.internal.example.com:5432/portico",
            "REDIS_URL": "rediss://portico-cache.internal.example.com:6379/0",
            "ENTRA_SPA_SCOPES": f"api://{API_CLIENT_ID}/access_as_user",
            "PORTICO_LOG_FORMAT": "json",
        },
    ),
    "prod_without_secret_key": (("manage.py", "check"), {"DJANGO_SECRET_KEY": ""}),
    "deploy_with_dev_issuer": (CHECK_DEPLOY, {"PORTICO_DEV_ISSUER": "1"}),
    "unparseable": (
        ("manage.py", "check"),
        {"DJANGO_DEBUG": "maybe", "ENTRA_CLOCK_SKEW_SECONDS": "abc", "PORTICO_ENV": "staging"},
    ),
    "wsgi_bad_tenant": (IMPORT_WSGI, {"PORTICO_ENV": "uat", "ENTRA_TENANT_ID": "contoso"}),
    "wsgi_good": (IMPORT_WSGI, {"PORTICO_ENV": "uat"}),
    "wsgi_debug_in_prod": (IMPORT_WSGI, {"DJANGO_DEBUG": "1"}),
}


def production_environ(home: Path) -> dict[str, str]:
    """A production-like environment from scratch: no variable of the developer's leaks in."""
    secret_key = secrets.token_urlsafe(48)
    assert len(secret_key) == 64
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "PORTICO_ENV": "prod",
        "DJANGO_SECRET_KEY": secret_key,
        "DJANGO_ALLOWED_HOSTS": "app.internal.example.com",
        "ENTRA_TENANT_ID": TENANT,
        "ENTRA_API_CLIENT_ID": API_CLIENT_ID,
        # The SPA's registration: frontend_config.E001 requires it outside dev.
        "ENTRA_SPA_CLIENT_ID": SPA_CLIENT_ID,
        # Admin sign-in through Entra (signin.E001): the registration's secret, from the store.
        "ENTRA_CLIENT_SECRET": secrets.token_urlsafe(30),
        "DATABASE_URL": f"sqlite:///{home / 'portico.sqlite3'}",
    }


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Finished]:
    """Every run of EDGE_RUNS, started together (each is a whole Django start-up)."""
    home = tmp_path_factory.mktemp("home")
    running = {
        name: subprocess.Popen(
            [sys.executable, *args],
            cwd=BASE_DIR,
            env={**production_environ(home), **changes},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name, (args, changes) in EDGE_RUNS.items()
    }
    finished = {}
    for name, process in running.items():
        stdout, stderr = process.communicate(timeout=60)
        finished[name] = Finished(process.returncode, stdout, stderr)
    return finished


def test_check_deploy_passes_with_production_variables(edge):
    result = edge["deploy"]
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


def test_check_deploy_is_clean_with_the_variables_of_an_ecs_task(edge):
    result = edge["deploy_aws"]
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
    assert result.stderr == ""


def test_a_missing_secret_key_in_prod_is_reported_not_a_crash(edge):
    """Django refuses to read an empty SECRET_KEY (ImproperlyConfigured); core.E003 must
    still name the variable instead of the check run dying with a traceback."""
    result = edge["prod_without_secret_key"]
    assert result.returncode != 0
    assert "(core.E003) DJANGO_SECRET_KEY is required" in result.stderr
    assert "Traceback" not in result.stderr
    assert "ImproperlyConfigured" not in result.stderr


def test_check_deploy_fails_with_the_dev_issuer_enabled(edge):
    """Vector 70(h): production settings with the dev issuer switched on."""
    result = edge["deploy_with_dev_issuer"]
    assert result.returncode != 0
    assert "dev_issuer.C001" in result.stderr
    assert "PORTICO_DEV_ISSUER" in result.stderr


def test_manage_check_reports_unparseable_variables(edge):
    result = edge["unparseable"]
    assert result.returncode != 0
    for variable in ("DJANGO_DEBUG", "ENTRA_CLOCK_SKEW_SECONDS", "PORTICO_ENV"):
        assert f"(core.E001) {variable} " in result.stderr


def test_wsgi_refuses_to_start_with_a_bad_variable(edge):
    result = edge["wsgi_bad_tenant"]
    assert result.returncode != 0
    assert "Portico refuses to start" in result.stderr
    assert "ENTRA_TENANT_ID" in result.stderr
    assert "Traceback" not in result.stderr


def test_wsgi_starts_with_good_variables(edge):
    result = edge["wsgi_good"]
    assert result.returncode == 0, result.stderr
    assert "refuses" not in result.stderr


def test_wsgi_refuses_to_serve_prod_with_debug_on(edge):
    """Django's security.W018 runs only under --deploy; core.C001 stops gunicorn itself."""
    result = edge["wsgi_debug_in_prod"]
    assert result.returncode != 0
    assert "(core.C001) DJANGO_DEBUG" in result.stderr

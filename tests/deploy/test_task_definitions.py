"""The ECS task definitions under deploy/ecs/: one image promoted unchanged, configured only
by variables Portico reads and the README documents, secrets only by reference."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest

from config import env as envmod
from tests.deploy.task_definitions import (
    ECS_DIR,
    ENVIRONMENTS,
    ROOT,
    container,
    environment,
    load,
    names_read,
    process_environment,
    readme_variables,
    secrets,
)

SERVICES = [f"task-{env}.json" for env in ENVIRONMENTS]
MIGRATIONS = [f"migrate-{env}.json" for env in ENVIRONMENTS]
ALL = SERVICES + MIGRATIONS
# Values that look like credentials: a URL with a password, a long random-looking string,
# a private key. Names ending in "secret", "password", "key" or "token" name a secret value.
SECRET_NAME = re.compile(r"(SECRET|PASSWORD|PASSWD|TOKEN|_KEY|CREDENTIALS?)$", re.IGNORECASE)
SECRET_VALUE = re.compile(r"://[^/@\s]*:[^/@\s]+@|-----BEGIN|[A-Za-z0-9+=_]{32,}")
REQUIRED_SECRETS = {"DJANGO_SECRET_KEY", "DATABASE_URL"}
HEALTHCHECK = re.compile(r"^HEALTHCHECK .* CMD (\[.*\])$", re.MULTILINE)


def env_of(name: str) -> str:
    return name.split("-", 1)[1].removesuffix(".json")


def test_every_environment_has_a_service_and_a_migration_task_and_nothing_else() -> None:
    assert sorted(p.name for p in ECS_DIR.glob("*.json")) == sorted(ALL)


@pytest.mark.parametrize("name", ALL)
def test_every_variable_set_is_one_portico_reads_and_the_readme_documents(name: str) -> None:
    definition = load(name)
    values = process_environment(definition)
    read, problems = names_read(values)
    assert set(values) - read == set(), "set but never read by config/settings.py"
    assert set(values) - readme_variables() == set(), "missing from the README's table"
    assert problems == ()


@pytest.mark.parametrize("name", ALL)
def test_secrets_come_from_secrets_manager_of_their_own_environment(name: str) -> None:
    references = secrets(load(name))
    assert set(references) >= REQUIRED_SECRETS
    arn = r"^arn:aws:secretsmanager:[a-z0-9-]+:\d{12}:secret:"
    prefix = re.compile(rf"{arn}portico/{env_of(name)}/")
    assert [ref for ref in references.values() if not prefix.match(ref)] == []


@pytest.mark.parametrize("name", ALL)
def test_no_secret_looking_value_is_a_literal_environment_variable(name: str) -> None:
    literal = environment(load(name))
    assert [k for k in literal if SECRET_NAME.search(k)] == []
    assert {k: v for k, v in literal.items() if SECRET_VALUE.search(v)} == {}
    assert set(literal) & set(secrets(load(name))) == set()


def test_the_secret_patterns_catch_credentials_and_spare_ordinary_settings() -> None:
    assert SECRET_NAME.search("DJANGO_SECRET_KEY")
    assert SECRET_NAME.search("ENTRA_CLIENT_SECRET")
    assert not SECRET_NAME.search("PORTICO_ADMIN_PASSWORD_LOGIN")
    assert SECRET_VALUE.search("postgres://portico:hunter2@db:5432/portico")
    assert SECRET_VALUE.search("x" * 12 + "Zm9vYmFyYmF6cXV4cXV1eHF1dXhxdXV4cXV1eA==")
    assert not SECRET_VALUE.search("api://a1d3e5f7-0003-4c2b-9d8e-7f6a5b4c3d21/access_as_user")
    assert not SECRET_VALUE.search("https://app.internal.example.com")


def test_every_task_runs_the_same_image_reference() -> None:
    images = {name: container(load(name))["image"] for name in ALL}
    assert len(set(images.values())) == 1, images


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_each_environment_names_itself(env: str) -> None:
    for name in (f"task-{env}.json", f"migrate-{env}.json"):
        definition = load(name)
        assert environment(definition)["PORTICO_ENV"] == env
        assert definition["family"].startswith(f"portico-{env}")
        assert container(definition)["logConfiguration"]["options"]["awslogs-group"] == (
            f"/ecs/portico-{env}"
        )


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_migration_task_is_configured_like_the_service(env: str) -> None:
    service, migration = load(f"task-{env}.json"), load(f"migrate-{env}.json")
    assert environment(migration) == environment(service)
    assert secrets(migration) == secrets(service)
    assert container(migration)["command"] == ["python", "manage.py", "migrate", "--noinput"]
    assert "portMappings" not in container(migration)


@pytest.mark.parametrize("name", SERVICES)
def test_services_run_the_images_command_and_its_health_check(name: str) -> None:
    service = container(load(name))
    assert "command" not in service, "the image's CMD (gunicorn) must not be overridden"
    assert "entryPoint" not in service
    dockerfile = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    image_check = HEALTHCHECK.search(dockerfile)
    assert image_check is not None
    assert service["healthCheck"]["command"] == ["CMD", *json.loads(image_check[1])]
    assert service["portMappings"][0]["containerPort"] == 8000


@pytest.mark.parametrize("name", ALL)
def test_tasks_log_to_cloudwatch_and_run_on_a_read_only_root(name: str) -> None:
    definition = load(name)
    main = container(definition)
    assert main["logConfiguration"]["logDriver"] == "awslogs"
    assert main["readonlyRootFilesystem"] is True
    # ... with /tmp writable: a volume, declared by the image too (tests/deploy/test_dockerfile)
    assert [m["containerPath"] for m in main["mountPoints"]] == ["/tmp"]  # noqa: S108 - a path in the container
    assert definition["requiresCompatibilities"] == ["FARGATE"]
    assert definition["networkMode"] == "awsvpc"


@pytest.mark.parametrize("env", ["uat", "prod"])
def test_uat_and_prod_trust_entra_only(env: str) -> None:
    values = environment(load(f"task-{env}.json"))
    assert values.get("PORTICO_DEV_ISSUER", "off") in {"0", "off", "false", "no"}
    assert "dev-issuer" not in values.get("ENTRA_AUTHORITY_HOST", "")
    assert "ENTRA_ALLOW_INSECURE_AUTHORITY" not in values
    assert "DJANGO_DEBUG" not in values
    dev_ids = {envmod.DEV_TENANT_ID, envmod.DEV_API_CLIENT_ID, envmod.DEV_SPA_CLIENT_ID}
    assert set(values.values()) & dev_ids == set()


def test_prod_is_prod() -> None:
    assert environment(load("task-prod.json"))["PORTICO_ENV"] == "prod"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_portico_accepts_each_environments_configuration(env: str, tmp_path) -> None:
    """``manage.py check --deploy`` with the task's variables (secrets as dummies): no error."""
    values = process_environment(load(f"task-{env}.json"))
    values["DATABASE_URL"] = f"sqlite:///{tmp_path / 'check.sqlite3'}"
    done = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "ERROR"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **values},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr

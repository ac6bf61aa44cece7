"""scripts/build_native.py's pure parts: the build context it copies and the Dockerfile
instructions it runs. (The build itself runs in .ci/run: it needs pip and npm.)"""

from __future__ import annotations

from http import HTTPStatus
from pathlib import Path, PurePosixPath

import pytest

from scripts.build_native import (
    BuildError,
    copy_context,
    dockerfile_instruction,
    ignore_patterns,
    is_ignored,
    probe,
)
from tests.servers import JsonHandler, loopback

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def patterns():
    return ignore_patterns(ROOT / ".dockerignore")


@pytest.mark.parametrize(
    "path",
    [
        ".git/config",
        ".venv/bin/python",
        "var/portico.sqlite3",
        "apps/core/__pycache__/conf.cpython-311.pyc",
        "frontend/node_modules/react/index.js",
        "frontend/dist/index.html",
        "tests/conftest.py",
        "docs/img/rbac-rules.png",
        "requirements-dev.txt",
        ".env",
        ".env.production",
        "deploy/ecs/task-prod.json",
        "config/tls/server.key",
    ],
)
def test_the_build_context_leaves_out(path: str, patterns) -> None:
    assert is_ignored(PurePosixPath(path), patterns)


@pytest.mark.parametrize(
    "path",
    [
        "manage.py",
        "requirements.txt",
        "config/gunicorn.conf.py",
        "apps/core/conf.py",
        "frontend/package.json",
        "frontend/src/main.tsx",
        "frontend_config/views.py",
        "apps/dev_issuer/templates/dev_issuer/sign_in.html",
    ],
)
def test_the_build_context_keeps(path: str, patterns) -> None:
    assert not is_ignored(PurePosixPath(path), patterns)


def test_star_stays_within_one_segment_and_double_star_spans_many(tmp_path) -> None:
    ignore = tmp_path / ".dockerignore"
    ignore.write_text("*.log\n**/cache\n")
    rules = ignore_patterns(ignore)
    assert is_ignored(PurePosixPath("build.log"), rules)
    assert not is_ignored(PurePosixPath("logs/build.log"), rules)
    assert is_ignored(PurePosixPath("a/b/cache/file"), rules)


def test_exceptions_are_refused_rather_than_half_supported(tmp_path) -> None:
    ignore = tmp_path / ".dockerignore"
    ignore.write_text("docs\n!docs/keep.md\n")
    with pytest.raises(BuildError, match="exceptions"):
        ignore_patterns(ignore)


def test_copy_context_copies_kept_files_only(tmp_path) -> None:
    source, target = tmp_path / "src", tmp_path / "out"
    for path in ("manage.py", "apps/x.py", ".git/HEAD", "tests/test_x.py", "var/db.sqlite3"):
        (source / path).parent.mkdir(parents=True, exist_ok=True)
        (source / path).write_text(path)
    copied = copy_context(source, target, ignore_patterns(ROOT / ".dockerignore"))
    assert copied == 2
    assert sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()) == [
        "apps/x.py",
        "manage.py",
    ]


def test_the_script_runs_the_dockerfiles_own_command_and_health_check() -> None:
    assert dockerfile_instruction("CMD")[0] == "gunicorn"
    health = dockerfile_instruction("HEALTHCHECK")
    assert health[:2] == ["python", "-c"]
    assert "127.0.0.1:8000/api/health" in health[2]


class _Answers(JsonHandler):
    """A stand-in server: ``/api/ready`` answers ``ready``; every other path 404."""

    ready = (HTTPStatus.SERVICE_UNAVAILABLE, b'{"status": "not_ready"}')

    def do_GET(self) -> None:
        self.send_json(*(self.ready if self.path == "/api/ready" else (HTTPStatus.NOT_FOUND, b"")))


@pytest.fixture
def stand_in():
    """The stand-in's port."""
    with loopback(_Answers) as url:
        yield int(url.rsplit(":", 1)[1])


def test_a_failing_readiness_probe_fails_the_build(stand_in, tmp_path) -> None:
    with pytest.raises(BuildError, match=r"/api/ready: 503"):
        probe(stand_in, tmp_path, has_spa=False)


def test_a_ready_answer_that_is_not_ready_fails_the_build(stand_in, tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(_Answers, "ready", (HTTPStatus.OK, b'{"status": "degraded"}'))
    with pytest.raises(BuildError, match="/api/ready"):
        probe(stand_in, tmp_path, has_spa=False)

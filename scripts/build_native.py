"""Build Portico the way the Dockerfile does, without Docker, then serve it and probe it.

Why: CI machines have no Docker engine, yet "the image builds and serves" must be proved on
every change. This script repeats the Dockerfile's steps in a temporary directory and fails
(exit 1) when any step or probe fails:

1. copy the tree as the build context would (the ``.dockerignore`` rules);
2. ``npm ci && npm run build`` in ``frontend/`` (when it exists), as the ``spa`` stage;
3. a venv from ``requirements.txt`` alone, binary wheels only (no dev dependencies, no
   compiler), as the ``deps`` stage;
4. ``collectstatic`` with ``PORTICO_ENV=prod`` and no secret, as the ``runtime`` stage;
5. ``migrate`` as its own command (the one-off task), then gunicorn with the image's
   command and a production-like environment on 127.0.0.1;
6. probes through the ALB's eyes (``Host`` = the app's name, ``X-Forwarded-Proto: https``):
   ``/api/health``, ``/api/ready``, the Dockerfile's own HEALTHCHECK command, ``/config.json``
   and the SPA shell ``/`` with one of its hashed assets.

The served environment is ``uat``: production settings (DEBUG off, manifest static files,
HSTS, secure cookies, SSL redirect, no dev issuer) that, unlike ``prod``, accept an
``http://`` authority, so readiness can load signing keys from a loopback stand-in tenant
(``benchmarks/fake_entra.py``) with no network. Run from the repository root:
``.venv/bin/python -m scripts.build_native`` (``--keep`` leaves the directory for a look).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath

from benchmarks.fake_entra import API_CLIENT_ID, SPA_CLIENT_ID, FakeEntra, SigningKey
from benchmarks.load import asset_paths
from benchmarks.server import free_port, gunicorn, server_env, tail, wait_for_health

ROOT = Path(__file__).resolve().parent.parent
APP_HOST = "app-native.internal.example.com"  # what the ALB would send as Host
STEP_TIMEOUT_SECONDS = 300


class BuildError(RuntimeError):
    """A build step or a probe failed; the message says which and why."""


# --- 1. the build context ---------------------------------------------------------------
def ignore_patterns(path: Path) -> list[re.Pattern[str]]:
    """``.dockerignore`` as regular expressions over POSIX paths relative to the root.

    Docker's syntax, as far as this repository uses it: ``*`` and ``?`` stay within one path
    segment, ``**`` spans any number of them, and a pattern that matches a directory leaves
    out everything under it. ``!`` exceptions are refused rather than half-supported.
    """
    patterns = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("!"):
            raise BuildError(f"{path.name}: '!' exceptions are not supported here: {line}")
        patterns.append(re.compile(_glob_regex(line.strip("/")) + r"(?:/.*)?"))
    return patterns


def _glob_regex(pattern: str) -> str:
    """One ``.dockerignore`` glob as a regular expression (without the anchors)."""
    out = []
    for token in re.split(r"(\*\*/|\*\*|\*|\?)", pattern):
        out.append(
            {"**/": r"(?:.*/)?", "**": r".*", "*": r"[^/]*", "?": r"[^/]"}.get(token)
            or re.escape(token)
        )
    return "".join(out)


def is_ignored(relative: PurePosixPath, patterns: list[re.Pattern[str]]) -> bool:
    """Whether the build context leaves ``relative`` out."""
    return any(p.fullmatch(str(relative)) for p in patterns)


def copy_context(source: Path, target: Path, patterns: list[re.Pattern[str]]) -> int:
    """Copy what the build context holds; the number of files copied."""
    copied = 0
    for directory, subdirectories, files in os.walk(source):
        here = Path(directory)
        relative_dir = PurePosixPath(here.relative_to(source).as_posix())
        subdirectories[:] = [
            d for d in subdirectories if not is_ignored(relative_dir / d, patterns)
        ]
        for name in files:
            if is_ignored(relative_dir / name, patterns) or (here / name).is_symlink():
                continue
            destination = target / relative_dir / name
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(here / name, destination)
            copied += 1
    return copied


# --- 2-5. the build steps ---------------------------------------------------------------
def run(step: str, command: list[str], *, cwd: Path, env: dict[str, str] | None = None) -> None:
    """Run one build step; on failure, raise with the end of its output."""
    started = time.monotonic()
    done = subprocess.run(  # noqa: S603 - fixed argument lists, no shell
        command,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT_SECONDS,
        check=False,
    )
    if done.returncode != 0:
        lines = (done.stdout + done.stderr).splitlines()
        output = "\n".join(lines if len(lines) <= 40 else [*lines[:15], "...", *lines[-25:]])
        raise BuildError(f"{step} failed ({done.returncode}): {shlex.join(command)}\n{output}")
    print(f"  {step}: ok ({time.monotonic() - started:.0f} s)", flush=True)


def build_spa(app: Path) -> bool:
    """The ``spa`` stage; False when the tree has no ``frontend/`` (nothing to build)."""
    frontend = app / "frontend"
    if not (frontend / "package.json").exists():
        print("  spa: no frontend/ in the tree, skipped", flush=True)
        return False
    npm = shutil.which("npm")
    if npm is None:
        raise BuildError("frontend/ exists but npm is not installed: the SPA cannot be built")
    run("npm ci", [npm, "ci", "--no-audit", "--no-fund"], cwd=frontend)
    run("npm run build", [npm, "run", "build"], cwd=frontend)
    # The image copies only dist/ from the spa stage: node_modules never reaches it.
    shutil.rmtree(frontend / "node_modules")
    return True


def build_venv(app: Path, venv: Path) -> None:
    """The ``deps`` stage: runtime requirements only, binary wheels only."""
    run("venv", [sys.executable, "-m", "venv", str(venv)], cwd=app)
    pip = [str(venv / "bin" / "pip"), "install", "--disable-pip-version-check", "--quiet"]
    run("pip install", [*pip, "--only-binary=:all:", "-r", "requirements.txt"], cwd=app)


def build_env(venv: Path) -> dict[str, str]:
    """A build stage's environment: nothing of the caller's configuration leaks in."""
    path = f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}"
    return {"PATH": path, "HOME": str(Path.home()), "PORTICO_ENV": "prod"}


def served_env(
    venv: Path, entra: FakeEntra, *, database_url: str, redis_url: str | None, port: int
) -> dict[str, str]:
    """What an ECS task would set (deploy/ecs/): the benchmarks' server environment (the
    stand-in tenant, a throwaway key) with uat settings and the app's host name."""
    env = server_env(entra, port=port, database_url=database_url, redis_url=redis_url, workers=2)
    env.update(
        PATH=build_env(venv)["PATH"],
        PORTICO_ENV="uat",
        ENTRA_CLIENT_SECRET=f"native-build-only-{secrets.token_urlsafe(24)}",
        DJANGO_ALLOWED_HOSTS=APP_HOST,
        DJANGO_CSRF_TRUSTED_ORIGINS=f"https://{APP_HOST}",
        ENTRA_SPA_CLIENT_ID=SPA_CLIENT_ID,
        ENTRA_SPA_SCOPES=f"api://{API_CLIENT_ID}/access_as_user",
        GUNICORN_ACCESSLOG="",
    )
    return env


# --- 6. serve and probe -----------------------------------------------------------------
def dockerfile_instruction(name: str) -> list[str]:
    """The exec-form arguments of the runtime stage's ``CMD`` or ``HEALTHCHECK ... CMD``."""
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    lines = [line.strip() for line in text.splitlines() if line.strip().startswith(name)]
    if not lines:
        raise BuildError(f"Dockerfile has no {name}")
    return json.loads(lines[-1].split("CMD", 1)[1])


def request(port: int, path: str) -> tuple[int, dict[str, str], bytes]:
    """One GET as the ALB forwards it: (status, lower-cased headers, body)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", path, headers={"Host": APP_HOST, "X-Forwarded-Proto": "https"})
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def expect(port: int, path: str, content_type: str) -> tuple[dict[str, str], bytes]:
    """GET ``path``; it must answer 200 with ``content_type``."""
    status, headers, body = request(port, path)
    if status != 200 or not headers.get("content-type", "").startswith(content_type):
        raise BuildError(f"GET {path}: {status} {headers.get('content-type')} {body[:300]!r}")
    print(f"  GET {path}: 200 {content_type}", flush=True)
    return headers, body


def probe(port: int, venv: Path, has_spa: bool) -> None:
    """Every probe of the module docstring; raises BuildError on the first failure."""
    _, body = expect(port, "/api/ready", "application/json")
    if json.loads(body).get("status") != "ready":
        raise BuildError(f"/api/ready: {body[:300]!r}")
    healthcheck = dockerfile_instruction("HEALTHCHECK")
    healthcheck[-1] = healthcheck[-1].replace("127.0.0.1:8000", f"127.0.0.1:{port}")
    run("Dockerfile HEALTHCHECK", [str(venv / "bin" / "python"), *healthcheck[1:]], cwd=ROOT)
    if not has_spa:
        status = request(port, "/")[0]
        if status >= 500:
            raise BuildError(f"GET / without an SPA build: {status}")
        print(f"  GET /: {status} (no frontend/ in the tree: no SPA shell expected)")
        return
    expect(port, "/config.json", "application/json")
    _, shell = expect(port, "/", "text/html")
    assets = asset_paths(shell.decode())
    if not assets:
        raise BuildError(f"the SPA shell references no /assets/ file: {shell[:300]!r}")
    headers, _ = expect(port, assets[0], "")
    if "immutable" not in headers.get("cache-control", ""):
        raise BuildError(f"{assets[0]} is not served as immutable: {headers}")


def build_and_probe(workdir: Path, database_url: str | None, redis_url: str | None) -> None:
    app, venv = workdir / "app", workdir / "venv"
    files = copy_context(ROOT, app, ignore_patterns(ROOT / ".dockerignore"))
    print(f"  context: {files} files copied to {app}", flush=True)
    # The spa and deps stages are independent, as in the Dockerfile: build them side by side.
    with ThreadPoolExecutor(max_workers=2) as stages:
        spa, deps = stages.submit(build_spa, app), stages.submit(build_venv, app, venv)
        has_spa = spa.result()
        deps.result()
    python = str(venv / "bin" / "python")
    collectstatic = [python, "manage.py", "collectstatic", "--noinput", "-v", "0"]
    run("collectstatic", collectstatic, cwd=app, env=build_env(venv))
    with FakeEntra(SigningKey()).serve() as entra:
        port = free_port()
        env = served_env(
            venv,
            entra,
            database_url=database_url or f"sqlite:///{workdir / 'native.sqlite3'}",
            redis_url=redis_url,
            port=port,
        )
        run("migrate", [python, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=app, env=env)
        log, base = workdir / "gunicorn.log", f"http://127.0.0.1:{port}"
        cmd = dockerfile_instruction("CMD")  # the image's CMD, run from the built tree
        command = [str(venv / "bin" / cmd[0]), *cmd[1:]]
        with gunicorn(env, log, command=command, cwd=app) as process:
            try:
                wait_for_health(base, process, log, lambda: request(port, "/api/health")[0])
            except RuntimeError as exc:
                raise BuildError(str(exc)) from None
            try:
                probe(port, venv, has_spa)
            except BuildError as exc:
                raise BuildError(f"{exc}\ngunicorn log:\n{tail(log)}") from None


def main(argv: list[str] | None = None) -> int:
    """Build, serve, probe; exit 0 when every probe passed, 1 otherwise."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument(
        "--database-url", help="migrate and serve this database (default: a temporary SQLite)"
    )
    parser.add_argument("--redis-url", help="serve with this shared cache (default: none)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="portico-native-"))
    print(f"native image build in {workdir}", flush=True)
    try:
        build_and_probe(workdir, args.database_url, args.redis_url)
    except (BuildError, subprocess.TimeoutExpired, OSError) as exc:
        print(f"native image build FAILED: {exc}", file=sys.stderr)
        return 1
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    print(f"native image build: ok in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Portico under gunicorn for the benchmarks: its environment, migration, start and stop.

Why a module of its own: ``http_bench`` and ``request_profile`` must configure Portico the
same way (fake Entra, dev environment without the dev issuer, a throwaway database), and the
start/stop code must guarantee that no gunicorn outlives a benchmark, whatever fails.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from benchmarks.fake_entra import API_CLIENT_ID, TENANT, FakeEntra

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
START_TIMEOUT_SECONDS = 30.0
# Variables that configure Portico or gunicorn: never inherited from the caller's shell, so
# that a stray ENTRA_* or GUNICORN_* cannot change what is measured.
_OWN_PREFIXES = ("ENTRA_", "PORTICO_", "DJANGO_", "GUNICORN_", "CORS_")
_OWN_NAMES = {"DATABASE_URL", "REDIS_URL", "WEB_CONCURRENCY"}


def free_port() -> int:
    """A loopback port nobody listens on now (the small race is acceptable for a benchmark)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_env(
    entra: FakeEntra, *, port: int, database_url: str, redis_url: str | None, workers: int
) -> dict[str, str]:
    """The environment gunicorn and ``migrate`` run with: Portico trusting the fake Entra."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(_OWN_PREFIXES) and k not in _OWN_NAMES
    }
    env.update(
        PORTICO_ENV="dev",
        DJANGO_DEBUG="0",
        DJANGO_SECRET_KEY=f"benchmark-only-{secrets.token_urlsafe(40)}",
        PORTICO_DEV_ISSUER="0",
        ENTRA_TENANT_ID=TENANT,
        ENTRA_API_CLIENT_ID=API_CLIENT_ID,
        ENTRA_AUTHORITY_HOST=entra.authority,
        ENTRA_ALLOW_INSECURE_AUTHORITY="1",
        DATABASE_URL=database_url,
        WEB_CONCURRENCY=str(workers),
        PORTICO_BIND=f"127.0.0.1:{port}",
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    return env


def migrate(env: dict[str, str]) -> None:
    """``manage.py migrate`` as its own command, as in production (design §3)."""
    subprocess.run(
        [str(VENV_BIN / "python"), "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=120,
    )


@contextmanager
def gunicorn(
    env: dict[str, str],
    log_path: Path,
    *,
    command: Sequence[str] = (
        str(VENV_BIN / "gunicorn"),
        *("-c", "config/gunicorn.conf.py", "config.wsgi:application"),
    ),
    cwd: Path = ROOT,
) -> Iterator[subprocess.Popen[bytes]]:
    """gunicorn with the production command line (or ``command`` run in ``cwd``, e.g. the
    image's CMD in a built tree); always stopped, workers included."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            list(command),
            cwd=cwd,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: the workers can be reaped too
        )
        try:
            yield process
        finally:
            stop(process)


def stop(process: subprocess.Popen[bytes]) -> None:
    """TERM to the master (it stops its workers); KILL the process group if it lingers."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)


def get(url: str, token: str | None = None) -> tuple[int, bytes]:
    """One GET; (status, body), never raising on an HTTP error status."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def wait_for_health(
    base: str,
    process: subprocess.Popen[bytes],
    log_path: Path,
    health: Callable[[], int] | None = None,
) -> None:
    """Until ``/api/health`` answers 200 (``health()`` is its status when given, e.g. asked
    with a load balancer's headers); fails fast, with gunicorn's log, if it died."""
    status = health or (lambda: get(f"{base}/api/health")[0])
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited ({process.returncode}):\n{tail(log_path)}")
        try:
            if status() == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"/api/health not ready in {START_TIMEOUT_SECONDS:g} s:\n{tail(log_path)}")


def tail(path: Path, lines: int = 30) -> str:
    """The end of gunicorn's log: why it did not start is usually in the last lines."""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

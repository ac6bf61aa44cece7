"""Where the time of one ``/api/me`` request goes, compared with ``/api/health``, in process.

Why: ``http_bench`` measures the ratio me/health through gunicorn and wrk, on a machine they
share, so its figures move with whatever else runs there. This script removes the sockets
and the load generator: it calls Portico's WSGI application directly with the environ
gunicorn would build, counts CPU time of this process only (``time.process_time``, so other
processes on the machine inflate it far less than wall time), takes the best of several
rounds, and splits the extra cost of ``/api/me`` into its parts. With ``--profile`` it also
prints the functions whose own time per request differs most between the two endpoints.

Run from the repository root: ``.venv/bin/python -m benchmarks.request_profile --profile``.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from benchmarks.fake_entra import FakeEntra, SigningKey
from benchmarks.server import migrate, server_env

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def wsgi_environ(path: str, token: str | None) -> dict[str, Any]:
    """The environ gunicorn's sync worker passes for a bodiless GET from wrk."""
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "RAW_URI": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "SERVER_SOFTWARE": "gunicorn",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "50000",
        "HTTP_HOST": "127.0.0.1:8000",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    if token is not None:
        environ["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return environ


def serve(app: WsgiApp, path: str, token: str | None, times: int) -> None:
    """``times`` requests, each response consumed and closed as a WSGI server must."""
    statuses: list[str] = []

    def start_response(status: str, headers: list[Any], exc_info: Any = None) -> None:
        statuses.append(status)

    for _ in range(times):
        response = app(wsgi_environ(path, token), start_response)
        b"".join(response)
        response.close()  # type: ignore[attr-defined]  # Django's responses have close()
    if any(not status.startswith("200") for status in statuses):
        raise RuntimeError(f"{path} answered {sorted(set(statuses))}")


def best_cpu_micros(work: Callable[[], None], per: int, rounds: int) -> float:
    """The best (least disturbed) of ``rounds`` CPU-time measurements, in us per operation."""
    samples = []
    for _ in range(rounds):
        start = time.process_time()
        work()
        samples.append((time.process_time() - start) / per * 1e6)
    return min(samples)


def components(token: str, rounds: int) -> dict[str, float]:
    """The two Portico steps /api/me adds, timed alone (warm caches): us per call."""
    from apps.entra_auth.runtime import token_validator
    from apps.entra_auth.users import user_for_claims

    validator = token_validator()
    claims = validator.validate(token)
    n = 20_000

    def validate() -> None:
        for _ in range(n):
            validator.validate(token)

    def user() -> None:
        for _ in range(n):
            user_for_claims(claims)

    return {
        "TokenValidator.validate (cache hit)": best_cpu_micros(validate, n, rounds),
        "user_for_claims (local LRU hit + copy)": best_cpu_micros(user, n, rounds),
    }


def profile_diff(app: WsgiApp, token: str, requests: int, top: int, rounds: int) -> None:
    """Own time per request, by function, /api/me minus /api/health, largest first.

    The endpoints are profiled alternately ``rounds`` times and each function keeps its
    smallest figure, so that a burst of load from another process does not show as a
    difference between the endpoints.
    """
    per_function: dict[str, dict[tuple[str, int, str], float]] = {"health": {}, "me": {}}
    for _ in range(rounds):
        for label, path, bearer in (("health", "/api/health", None), ("me", "/api/me", token)):
            profiler = cProfile.Profile()
            profiler.runcall(serve, app, path, bearer, requests)
            stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
            best = per_function[label]
            for key, row in stats.items():
                micros = row[2] / requests * 1e6
                best[key] = min(best.get(key, micros), micros)
    health, me = per_function["health"], per_function["me"]
    delta = {key: me.get(key, 0.0) - health.get(key, 0.0) for key in health.keys() | me.keys()}
    print(f"\ncProfile, own time per request (us), /api/me minus /api/health, top {top}:")
    print(f"{'me':>7} {'health':>7} {'delta':>7}  function")
    for key in sorted(delta, key=lambda k: -abs(delta[k]))[:top]:
        filename, line, name = key
        where = filename.split("site-packages/")[-1].removeprefix(str(Path.cwd()) + "/")
        figures = f"{me.get(key, 0):7.2f} {health.get(key, 0):7.2f} {delta[key]:+7.2f}"
        print(f"{figures}  {name} ({where}:{line})")
    print(
        f"total own time per request: me {sum(me.values()):.1f} us, "
        f"health {sum(health.values()):.1f} us (cProfile inflates both)"
    )


def measure(args: argparse.Namespace, entra: FakeEntra) -> None:
    """Load Django as gunicorn's worker does, then time both endpoints and the components."""
    # whitenoise warns when collectstatic has not run; the API does not serve static files.
    warnings.filterwarnings("ignore", message="No directory at")
    from config.wsgi import application

    token = entra.token()
    serve(application, "/api/me", token, 200)  # keys fetched, user created: warm from here
    serve(application, "/api/health", None, 200)
    n = args.requests
    health = best_cpu_micros(lambda: serve(application, "/api/health", None, n), n, args.rounds)
    me = best_cpu_micros(lambda: serve(application, "/api/me", token, n), n, args.rounds)
    print(f"in-process WSGI calls, CPU time per request (best of {args.rounds} rounds of {n}):")
    print(f"{'GET /api/health':<48} {health:6.1f} us")
    print(f"{'GET /api/me':<48} {me:6.1f} us")
    print(f"{'  extra for /api/me':<48} {me - health:6.1f} us")
    for name, micros in components(token, args.rounds).items():
        print(f"{'    ' + name:<48} {micros:6.1f} us")
    print(f"in-process ratio health/me = {health / me:.1%} (no sockets, no gunicorn, no wrk)")
    if args.profile:
        profile_diff(application, token, n, args.top, args.rounds)


def main(argv: list[str] | None = None) -> int:
    """Configure Portico as ``http_bench`` does (fake Entra, temp SQLite), then measure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="per round (3000)")
    parser.add_argument("--rounds", type=int, default=5, help="best of (5)")
    parser.add_argument("--profile", action="store_true", help="print the cProfile diff")
    parser.add_argument("--top", type=int, default=25, help="rows of the diff (25)")
    args = parser.parse_args(argv)
    with (
        tempfile.TemporaryDirectory(prefix="portico-profile-") as workdir,
        FakeEntra(SigningKey()).serve() as entra,
    ):
        env = server_env(
            entra,
            port=8000,
            database_url=f"sqlite:///{Path(workdir) / 'profile.sqlite3'}",
            redis_url=os.environ.get("REDIS_URL"),
            workers=1,
        )
        migrate(env)
        os.environ.clear()
        os.environ.update(env)
        measure(args, entra)
    return 0


if __name__ == "__main__":
    sys.exit(main())

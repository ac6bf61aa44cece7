"""Requests/s and latency of ``/api/health`` and ``/api/me`` through gunicorn, measured by wrk.

Why: design §1 promises that a warm ``/api`` request needs no network call and no database
query, so an authenticated request should cost little more than an unauthenticated one. The
figure that tests the promise is the ratio me/health in one run on one machine (target
>= 85 %); absolute requests/s depend on the machine, and here wrk and gunicorn share it.

The script starts everything it needs and stops it again: a loopback fake Entra (discovery +
JWKS, a thread in this process), a migrated temporary SQLite database (or ``DATABASE_URL``),
and gunicorn exactly as production runs it (``-c config/gunicorn.conf.py``), configured only
through environment variables. Run from the repository root:
``.venv/bin/python -m benchmarks.http_bench -d 10``.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from benchmarks import cpu_accounting
from benchmarks.fake_entra import USER_OID, FakeEntra, SigningKey
from benchmarks.server import free_port, get, gunicorn, migrate, server_env, wait_for_health

RATIO_TARGET = 0.85
OTHERS_WARNING = 0.10  # other processes' share of the machine above which a run is suspect
_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run reported."""

    label: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: int


@dataclass(frozen=True)
class Run:
    """One wrk run and the CPU accounting around it (None where /proc is unavailable)."""

    wrk: WrkResult
    server_us_per_request: float | None
    others_share: float | None


def parse_wrk(label: str, output: str) -> WrkResult:
    """Reads wrk's ``--latency`` report; raises ValueError when a figure is missing."""

    def number(pattern: str) -> str:
        match = re.search(pattern, output, re.MULTILINE)
        if match is None:
            raise ValueError(f"wrk output has no {pattern!r}:\n{output}")
        return match.group(1)

    def latency(percentile: str) -> float:
        match = re.search(rf"^\s+{percentile}%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.MULTILINE)
        if match is None:
            raise ValueError(f"wrk output has no {percentile}% latency:\n{output}")
        return float(match.group(1)) * _UNITS_MS[match.group(2)]

    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return WrkResult(
        label=label,
        requests_per_second=float(number(r"^Requests/sec:\s+([\d.]+)")),
        p50_ms=latency("50"),
        p99_ms=latency("99"),
        requests=int(number(r"(\d+) requests in")),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
    )


def wrk(url: str, *, seconds: int, args: argparse.Namespace, script: Path | None) -> str:
    """One wrk run; its report. The token travels in a Lua script, never on a command line."""
    command = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{seconds}s", "--latency"]
    if script is not None:
        command += ["-s", str(script)]
    done = subprocess.run(
        [*command, url], capture_output=True, text=True, timeout=seconds + 30, check=True
    )
    return done.stdout


def measure(
    label: str, url: str, script: Path | None, args: argparse.Namespace, master: int
) -> Run:
    """One measured wrk run, with gunicorn's CPU per request and the machine's other load."""
    before = cpu_accounting.sample(master)
    result = parse_wrk(label, wrk(url, seconds=args.duration, args=args, script=script))
    after = cpu_accounting.sample(master)
    return Run(
        result,
        cpu_accounting.server_micros_per_request(before, after, result.requests),
        cpu_accounting.others_share(before, after),
    )


def median(values: list[float | None]) -> float | None:
    """The median of the known values: CPU figures are None where /proc is unavailable."""
    known = [v for v in values if v is not None]
    return statistics.median(known) if known else None


def summary(runs: list[Run]) -> Run:
    """Medians over the rounds (counts are summed), so one disturbed run does not decide."""
    first = runs[0].wrk
    return Run(
        WrkResult(
            label=first.label,
            requests_per_second=statistics.median(r.wrk.requests_per_second for r in runs),
            p50_ms=statistics.median(r.wrk.p50_ms for r in runs),
            p99_ms=statistics.median(r.wrk.p99_ms for r in runs),
            requests=sum(r.wrk.requests for r in runs),
            non_2xx=sum(r.wrk.non_2xx for r in runs),
            socket_errors=sum(r.wrk.socket_errors for r in runs),
        ),
        median([r.server_us_per_request for r in runs]),
        max((r.others_share for r in runs if r.others_share is not None), default=None),
    )


def _fmt(value: float | None, spec: str) -> str:
    """``value`` formatted, or "n/a": the table must print on any platform."""
    return "n/a" if value is None else format(value, spec)


def print_table(rows: list[Run]) -> None:
    """One row per run or summary; the columns the README explains."""
    print(
        f"\n{'endpoint':<16} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'requests':>8} "
        f"{'non-2xx':>7} {'sockerr':>7} {'srv CPU us/req':>14} {'other load':>10}"
    )
    for run in rows:
        r = run.wrk
        print(
            f"{r.label:<16} {r.requests_per_second:>8.1f} {r.p50_ms:>7.2f} {r.p99_ms:>7.2f} "
            f"{r.requests:>8} {r.non_2xx:>7} {r.socket_errors:>7} "
            f"{_fmt(run.server_us_per_request, '.0f'):>14} {_fmt(run.others_share, '.0%'):>10}"
        )


def print_report(health: Run, me: Run, control: Run | None, args: argparse.Namespace) -> bool:
    """The summary table, the ratios with a verdict, and the caveats; True when met."""
    if args.rounds > 1:
        print(f"\nmedian of {args.rounds} rounds (other load: the worst round):")
    print_table([health, me] if control is None else [health, control, me])
    ratio = me.wrk.requests_per_second / health.wrk.requests_per_second
    clean = me.wrk.non_2xx == health.wrk.non_2xx == 0
    met = ratio >= RATIO_TARGET and clean
    print(f"\n{'me / health, req/s':<31} = {ratio:6.1%} (target >= {RATIO_TARGET:.0%})  ", end="")
    print("MET" if met else "MISSED" + ("" if clean else " (non-2xx answers)"))
    if health.server_us_per_request and me.server_us_per_request:
        cpu_ratio = health.server_us_per_request / me.server_us_per_request
        label = "health / me, server CPU per req"
        print(f"{label:<31} = {cpu_ratio:6.1%} (the same ratio, by gunicorn's CPU cost)")
    if control is not None:
        share = me.wrk.requests_per_second / control.wrk.requests_per_second
        label = "me / (health + token), req/s"
        print(f"{label:<31} = {share:6.1%} (auth + view work; the token's transport excluded)")
    others = max((r.others_share or 0.0) for r in (health, me, control) if r is not None)
    if others > OTHERS_WARNING:
        print(
            f"WARNING: processes other than gunicorn and wrk used up to {others:.0%} of the "
            "machine during a run: requests/s are disturbed. Rerun on a quiet machine, or "
            "with --rounds 3, and compare with the CPU-per-request ratio."
        )
    print(
        f"note: wrk ({args.threads} threads) and gunicorn ({args.workers} sync workers) share "
        f"this machine's {os.cpu_count()} cores, so absolute req/s understate a dedicated "
        "server; read the ratio. gunicorn's sync worker closes the connection after every "
        "response, so each request also pays a TCP connect (on both endpoints)."
    )
    return met


def benchmark(base: str, script: Path, args: argparse.Namespace, master: int) -> bool:
    """Warm up, then ``--rounds`` rounds alternating the order (ABBA) to cancel drift."""
    endpoints = {
        "health": ("GET /api/health", "/api/health", None),
        "me": ("GET /api/me", "/api/me", script),
    }
    if args.control:
        # The same bearer header on a view without authentication: what carrying the token
        # costs (bytes through the kernel, gunicorn's parser, the access log) without using it.
        endpoints["control"] = ("health + token", "/api/health", script)
    for _, path, lua in endpoints.values():
        wrk(base + path, seconds=args.warmup, args=args, script=lua)
    runs: dict[str, list[Run]] = {name: [] for name in endpoints}
    for round_number in range(args.rounds):
        order = list(endpoints) if round_number % 2 == 0 else list(reversed(endpoints))
        for name in order:
            label, path, lua = endpoints[name]
            runs[name].append(measure(label, base + path, lua, args, master))
            if args.rounds > 1:
                print_table(runs[name][-1:])
    control = summary(runs["control"]) if args.control else None
    return print_report(summary(runs["health"]), summary(runs["me"]), control, args)


@dataclass(frozen=True)
class Served:
    """A running gunicorn: its base URL, the environment it runs with, its master pid."""

    base: str
    env: dict[str, str]
    master: int


@contextmanager
def portico_server(
    entra: FakeEntra,
    args: argparse.Namespace,
    *,
    database_url: str,
    redis_url: str | None,
    log_path: Path,
    settings: Mapping[str, str] | None = None,
    before_start: Callable[[dict[str, str]], object] = lambda env: None,
) -> Iterator[Served]:
    """Portico (``settings`` added to its environment) migrated, ``before_start(env)`` run
    (e.g. a data writer), then gunicorn with ``--workers`` and ``--access-log``, healthy;
    stopped with its workers on leaving."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = server_env(
        entra,
        port=port,
        database_url=database_url,
        redis_url=redis_url,
        workers=args.workers,
    )
    env.update(settings or {})
    migrate(env)
    before_start(env)
    env["GUNICORN_ACCESSLOG"] = args.access_log
    with gunicorn(env, log_path) as process:
        wait_for_health(base, process, log_path)
        yield Served(base, env, process.pid)


def bearer_script(workdir: Path, token: str) -> Path:
    """The wrk Lua script that sends ``token``: it never appears on a command line."""
    script = workdir / "bearer.lua"
    script.write_text(f'wrk.headers["Authorization"] = "Bearer {token}"\n')
    return script


def run(args: argparse.Namespace, workdir: Path) -> bool:
    """Everything between starting the fake Entra and stopping gunicorn."""
    database_url = args.database_url or f"sqlite:///{workdir / 'bench.sqlite3'}"
    with (
        FakeEntra(SigningKey()).serve() as entra,
        portico_server(
            entra,
            args,
            database_url=database_url,
            redis_url=args.redis_url,
            log_path=workdir / "gunicorn.log",
        ) as served,
    ):
        print(
            f"gunicorn {args.workers} workers on {served.base}; database "
            f"{'DATABASE_URL' if args.database_url else 'temporary SQLite'}; cache "
            f"{'Redis (REDIS_URL)' if args.redis_url else 'in-process (locmem)'}; access log "
            f"{args.access_log!r}; wrk -t{args.threads} -c{args.connections} "
            f"-d{args.duration}s --latency; {args.rounds} round(s)"
        )
        token = entra.token(lifetime=3600 + 4 * args.rounds * args.duration)
        status, body = get(f"{served.base}/api/me", token)
        if status != 200 or USER_OID.encode() not in body:
            raise RuntimeError(f"/api/me answered {status}: {body[:300]!r}")
        return benchmark(served.base, bearer_script(workdir, token), args, served.master)


def add_server_arguments(
    parser: argparse.ArgumentParser, *, redis_help: str, database_note: str = ""
) -> None:
    """The options every gunicorn benchmark shares: wrk's load, the workers, the stores."""
    parser.add_argument("-t", "--threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument("-c", "--connections", type=int, default=16, help="wrk connections")
    parser.add_argument("-w", "--workers", type=int, default=2, help="WEB_CONCURRENCY (2)")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("DATABASE_URL"),
        help="migrate and use this database (default: $DATABASE_URL, else a temp SQLite)"
        + database_note,
    )
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL"), help=redis_help)
    parser.add_argument(
        "--access-log",
        default="/dev/null",
        help="GUNICORN_ACCESSLOG (default /dev/null; an empty value turns the log off)",
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line; defaults are the documented benchmark (-t2 -c16, 2 workers, 10 s)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-d", "--duration", type=int, default=10, help="seconds per endpoint")
    parser.add_argument("--warmup", type=int, default=2, help="seconds per endpoint, unmeasured")
    parser.add_argument(
        "-r", "--rounds", type=int, default=1, help="alternating rounds, medians reported (1)"
    )
    parser.add_argument(
        "--control",
        action="store_true",
        help="also measure /api/health carrying the bearer header (isolates the token's bytes)",
    )
    add_server_arguments(
        parser,
        redis_help="pass REDIS_URL to gunicorn (default: $REDIS_URL, else the in-process cache)",
    )
    return parser.parse_args(argv)


def in_workdir(
    run_it: Callable[[argparse.Namespace, Path], bool],
    args: argparse.Namespace,
    prefix: str,
    failures: tuple[type[Exception], ...] = (),
) -> int:
    """``run_it`` in a temporary directory: exit status 0 when the target is met, 1 when
    not, 2 (with the reason) when the benchmark could not run (``failures`` also say so)."""
    with tempfile.TemporaryDirectory(prefix=prefix) as workdir:
        try:
            return 0 if run_it(args, Path(workdir)) else 1
        except (RuntimeError, OSError, subprocess.SubprocessError, ValueError, *failures) as exc:
            print(f"benchmark failed: {exc}", file=sys.stderr)
            return 2


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit 0 when me/health meets the target, 1 when not, 2 on error."""
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed (Debian: apt-get install wrk)", file=sys.stderr)
        return 2
    return in_workdir(run, args, "portico-bench-")


if __name__ == "__main__":
    sys.exit(main())

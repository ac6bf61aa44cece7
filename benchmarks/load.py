"""Portico under production-like load: PostgreSQL, Redis, 200 mapping rules, the SPA, wrk.

Why: issue 6 sets throughput targets for the whole request mix one task serves behind the
ALB, measured against the cheapest request (``/api/health``) on the same server in the same
run, so that the figures compare across machines:

- ``/api/me`` (a valid token, 200 active mapping rules) >= 70 % of ``/api/health``;
- ``/api/me`` with Redis stopped >= 80 % of ``/api/me`` with Redis up (an outage degrades);
- the SPA shell ``/`` and ``/config.json`` >= 80 % of ``/api/health``.

A hashed asset is measured too (no target: whitenoise serves it before Django routes).

The script starts and stops everything it uses: a throwaway PostgreSQL database (created on
``--postgres-url``'s server, dropped at the end), a private ``redis-server`` on a free
loopback port (so it can be stopped without touching anybody's shared Redis), the loopback
fake Entra, and gunicorn with the production command and ``PORTICO_ENV=uat`` settings (DEBUG
off, manifest static files, HSTS, SSL redirect honoured through ``X-Forwarded-Proto``;
``uat`` rather than ``prod`` only because the fake Entra is ``http://``). wrk sends every
request as the ALB would (``benchmarks/load.lua``). Run from the repository root:
``.venv/bin/python -m benchmarks.load -d 10``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import redis

from benchmarks.fake_entra import SPA_CLIENT_ID, FakeEntra, SigningKey
from benchmarks.http_bench import (
    OTHERS_WARNING,
    Run,
    Served,
    in_workdir,
    measure,
    portico_server,
    print_table,
    summary,
    wrk,
)
from benchmarks.rbac_bench import set_rules
from benchmarks.rbac_rules import Layout, layout, save_layout
from benchmarks.server import free_port

LUA = Path(__file__).with_name("load.lua")
TOKEN_VARIABLE = "PORTICO_LOAD_TOKEN"  # noqa: S105 - a variable name, read by load.lua
# Vite writes relative references ("./assets/index-<hash>.js"); the SPA is mounted at "/".
_ASSET = re.compile(r"""(?:src|href)="\.?/?(assets/[^"]+)\"""")


@dataclass(frozen=True)
class Target:
    """One measured request: a label, a path, whether it carries the bearer token."""

    key: str
    label: str
    path: str
    token: bool = False


# (numerator, denominator, minimum ratio of requests/s): the targets.
TARGETS = (
    ("me", "health", 0.70),
    ("me_redis_down", "me", 0.80),
    ("shell", "health", 0.80),
    ("config", "health", 0.80),
)


# --- what the server runs against --------------------------------------------------------
@contextmanager
def throwaway_database(admin_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database on ``admin_url``'s server; dropped afterwards."""
    name = f"portico_load_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield with_database(admin_url, name)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def with_database(url: str, name: str) -> str:
    """``url`` with its database name replaced by ``name`` (query options kept)."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def asset_paths(shell: str) -> list[str]:
    """The ``/assets/…`` files an SPA shell references, in order."""
    return [f"/{path}" for path in _ASSET.findall(shell)]


class PrivateRedis:
    """A ``redis-server`` of our own on a free loopback port: stopping it hurts nobody."""

    def __init__(self, db: int) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/{db}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                *("redis-server", "--bind", "127.0.0.1", "--port", str(self.port)),
                *("--save", "", "--appendonly", "no"),
            ],
            stdout=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        for _ in range(50):
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError(f"redis-server did not answer on port {self.port}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


@contextmanager
def token_for_wrk(token: str | None) -> Iterator[None]:
    """Hand the token to wrk's Lua script through the environment, for the runs inside."""
    if token is None:
        yield
        return
    os.environ[TOKEN_VARIABLE] = token
    try:
        yield
    finally:
        os.environ.pop(TOKEN_VARIABLE, None)


def request(base: str, path: str, token: str | None = None) -> tuple[int, bytes]:
    """One GET as the ALB forwards it (``X-Forwarded-Proto: https``): (status, body)."""
    host, port = base.removeprefix("http://").split(":")
    headers = {"X-Forwarded-Proto": "https"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def check_me(base: str, token: str, expected_rules: int, tries: int = 8) -> None:
    """``/api/me`` answers 200 with the expected rules matched, on every worker."""
    for _ in range(tries):
        status, body = request(base, "/api/me", token)
        if status != 200:
            raise RuntimeError(f"/api/me answered {status}: {body[:300]!r}")
        matched = len(json.loads(body)["matched_rules"])
        if matched != expected_rules:
            raise RuntimeError(f"/api/me matched {matched} rules, expected {expected_rules}")


def spa_targets(base: str) -> list[Target]:
    """The shell, ``/config.json`` and one hashed asset; those that answer 200."""
    found = []
    status, shell = request(base, "/")
    if status == 200 and b"<html" in shell.lower():
        found.append(Target("shell", "GET / (shell)", "/"))
        assets = asset_paths(shell.decode(errors="replace"))
        if assets and request(base, assets[0])[0] == 200:
            found.append(Target("asset", "GET /assets/…", assets[0]))
    else:
        print(f"note: / answered {status} without an HTML shell (no SPA build): not measured")
    if request(base, "/config.json")[0] == 200:
        found.append(Target("config", "GET /config.json", "/config.json"))
    else:
        print("note: /config.json does not answer 200: not measured")
    return found


# --- the measurements --------------------------------------------------------------------
@dataclass
class Server:
    base: str
    master: int
    token: str
    layout: Layout
    redis: PrivateRedis


def measured(server: Server, target: Target, args: argparse.Namespace) -> Run:
    """Warm-up, then one measured wrk run of ``target``."""
    url = server.base + target.path
    with token_for_wrk(server.token if target.token else None):
        wrk(url, seconds=args.warmup, args=args, script=LUA)
        return measure(target.label, url, LUA, args, server.master)


def one_round(server: Server, targets: list[Target], args: argparse.Namespace) -> dict[str, Run]:
    """Every target with Redis up, then ``/api/me`` with Redis stopped (restarted after)."""
    runs = {t.key: measured(server, t, args) for t in targets}
    server.redis.stop()
    try:
        check_me(server.base, server.token, server.layout.matching())
        down = Target("me_redis_down", "me, Redis down", "/api/me", token=True)
        runs[down.key] = measured(server, down, args)
    finally:
        server.redis.start()
    return runs


def report(rounds: list[dict[str, Run]], args: argparse.Namespace) -> bool:
    """The table (medians over rounds), each target's ratio and verdict; True when all met."""
    keys = list(rounds[0])
    rows = {k: [r[k] for r in rounds] for k in keys}
    medians = {k: summary(v) for k, v in rows.items()}
    if len(rounds) > 1:
        print(f"\nmedian of {len(rounds)} rounds (other load: the worst round):")
    print_table(list(medians.values()))
    print()
    met = True
    for numerator, denominator, minimum in TARGETS:
        if numerator not in medians or denominator not in medians:
            print(f"{numerator} / {denominator}: not measured (endpoint missing)")
            met = False
            continue
        ratio = statistics.median(
            r[numerator].wrk.requests_per_second / r[denominator].wrk.requests_per_second
            for r in rounds
        )
        clean = medians[numerator].wrk.non_2xx == medians[denominator].wrk.non_2xx == 0
        ok = ratio >= minimum and clean
        met &= ok
        verdict = "MET" if ok else "MISSED" + ("" if clean else " (non-2xx answers)")
        label = f"{numerator} / {denominator}, req/s"
        print(f"{label:<32} = {ratio:6.1%} (target >= {minimum:.0%})  {verdict}")
    if "asset" in medians:
        ratio = medians["asset"].wrk.requests_per_second / medians["health"].wrk.requests_per_second
        print(f"{'asset / health, req/s':<32} = {ratio:6.1%} (no target)")
    others = max((r.others_share or 0.0) for v in rows.values() for r in v)
    if others > OTHERS_WARNING:
        print(f"WARNING: other processes used up to {others:.0%} of the machine: figures noisy.")
    return met


def run(args: argparse.Namespace, workdir: Path) -> bool:
    """Everything between creating the database and stopping gunicorn."""
    rules = layout(rules=args.rules, token_roles=20, token_groups=50)
    spec = workdir / "layout.json"
    save_layout(spec, rules)
    private_redis = PrivateRedis(args.redis_db)
    private_redis.start()
    active: list[int] = []  # the rule writer's count, for the heading
    try:
        with (
            throwaway_database(args.postgres_url) as database_url,
            FakeEntra(SigningKey()).serve() as entra,
            portico_server(
                entra,
                args,
                database_url=database_url,
                redis_url=private_redis.url,
                log_path=workdir / "gunicorn.log",
                settings=production_like(),
                before_start=lambda env: active.append(set_rules(env, spec, "create")[0]),
            ) as served,
        ):
            return serve_and_measure(served, entra, rules, private_redis, args, active[0])
    finally:
        private_redis.stop()


def production_like() -> dict[str, str]:
    """What ``server_env`` leaves at dev values: the uat settings of a task definition."""
    return {
        "PORTICO_ENV": "uat",
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "ENTRA_SPA_CLIENT_ID": SPA_CLIENT_ID,
        "ENTRA_CLIENT_SECRET": f"load-benchmark-only-{secrets.token_urlsafe(24)}",
    }


def serve_and_measure(
    served: Served,
    entra: FakeEntra,
    rules: Layout,
    private_redis: PrivateRedis,
    args: argparse.Namespace,
    active: int,
) -> bool:
    base = served.base
    lifetime = 3600 + args.rounds * 8 * (args.duration + args.warmup)
    token = entra.token(
        roles=rules.roles, group_ids=rules.groups, scopes=rules.scopes, lifetime=lifetime
    )
    check_me(base, token, rules.matching())
    server = Server(base, served.master, token, rules, private_redis)
    targets = [
        Target("health", "GET /api/health", "/api/health"),
        *spa_targets(base),
        Target("me", "GET /api/me", "/api/me", token=True),
    ]
    print(
        f"gunicorn {args.workers} workers (PORTICO_ENV=uat) on {base}; PostgreSQL "
        f"(throwaway database); private redis-server :{private_redis.port} db "
        f"{args.redis_db}; {active} active rules ({rules.matching()} match the token); "
        f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s --latency "
        f"-s benchmarks/load.lua; {args.rounds} round(s); machine: {machine()}"
    )
    rounds = []
    for number in range(args.rounds):
        rounds.append(one_round(server, targets, args))
        if args.rounds > 1:
            print(f"\nround {number + 1}:")
            print_table(list(rounds[-1].values()))
    return report(rounds, args)


def machine() -> str:
    """CPUs, model and memory: the figures mean little without them."""
    model = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        found = re.search(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(), re.MULTILINE)
        model = found.group(1).strip() if found else model
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} vCPU {model}, {memory:.0f} GiB"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-d", "--duration", type=int, default=10, help="seconds per target")
    parser.add_argument("--warmup", type=int, default=2, help="seconds per target, unmeasured")
    parser.add_argument("-t", "--threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument("-c", "--connections", type=int, default=16, help="wrk connections")
    parser.add_argument("-r", "--rounds", type=int, default=1, help="rounds, medians reported")
    parser.add_argument("-w", "--workers", type=int, default=2, help="WEB_CONCURRENCY (2)")
    parser.add_argument("--rules", type=int, default=200, help="active mapping rules (200)")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "PORTICO_LOAD_POSTGRES_URL", "postgres://portico:portico@127.0.0.1:5432/portico"
        ),
        help="a PostgreSQL URL whose role may CREATE DATABASE; a throwaway one is made there",
    )
    parser.add_argument("--redis-db", type=int, default=10, help="db number on the private Redis")
    parser.add_argument(
        "--access-log",
        default="",
        help="GUNICORN_ACCESSLOG (default empty: off; Django's JSON request log stays on)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Exit 0 when every target is met, 1 when one is missed, 2 when it could not run."""
    args = parse_args(argv)
    for tool in ("wrk", "redis-server"):
        if shutil.which(tool) is None:
            print(f"{tool} is not installed (Debian: apt-get install {tool})", file=sys.stderr)
            return 2
    return in_workdir(run, args, "portico-load-", failures=(psycopg.Error,))


if __name__ == "__main__":
    sys.exit(main())

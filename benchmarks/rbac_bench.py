"""What mapping resolution costs: ``/api/me`` with N active rules against the same request
with none, through gunicorn and Redis, measured by wrk in one run (issue 3).

Why: the issue's target is that resolving a big token against a realistic rule set keeps at
least 90 % of the throughput of the same request with no rules (design §1: in memory, no
query; the version check is one Redis GET, paid in both cases). The token carries
``--token-roles`` app roles and ``--token-groups`` group ids; ``--rules`` rules mix app roles,
groups and scopes (``benchmarks/rbac_rules.py``), some of them matching the token, with
direct permissions and Django groups as targets.

Between measurements a separate process (configured like gunicorn) activates or deactivates
every rule in one transaction; the version bump in Redis makes both workers reload, and a
warm-up run follows before anything is measured. Run from the repository root:
``REDIS_URL=redis://127.0.0.1:6379/5 .venv/bin/python -m benchmarks.rbac_bench -d 10 -r 3``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks import cpu_accounting, http_bench
from benchmarks.fake_entra import FakeEntra, SigningKey
from benchmarks.http_bench import (
    Run,
    add_server_arguments,
    bearer_script,
    in_workdir,
    measure,
    portico_server,
    print_table,
    summary,
    wrk,
)
from benchmarks.rbac_rules import Layout, layout, save_layout
from benchmarks.server import ROOT, VENV_BIN, get

RATIO_TARGET = 0.90
MODES = ("none", "rules")


def set_rules(
    env: dict[str, str], spec: Path, command: str, *, time_it: bool = False
) -> tuple[int, dict[str, float]]:
    """Run the writer process: the number of active rules afterwards, and (``time_it``) the
    in-process CPU us per call of the resolution steps, measured in that process."""
    extra = ["--time"] if time_it else []
    done = subprocess.run(
        [str(VENV_BIN / "python"), "-m", "benchmarks.rbac_rules", command, str(spec), *extra],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = done.stdout.strip().splitlines()
    return int(lines[0]), json.loads(lines[1]) if time_it else {}


def check_answers(base: str, token: str, expected_matches: int, tries: int = 16) -> int:
    """Every worker answers with the expected rules matched; the permissions granted."""
    permissions = set()
    for _ in range(tries):  # urllib closes each connection: the workers take turns
        status, body = get(f"{base}/api/me", token)
        if status != 200:
            raise RuntimeError(f"/api/me answered {status}: {body[:300]!r}")
        me = json.loads(body)
        if len(me["matched_rules"]) != expected_matches:
            raise RuntimeError(
                f"/api/me matched {len(me['matched_rules'])} rules, expected {expected_matches}"
            )
        permissions.add(len(me["permissions"]))
    if len(permissions) != 1:
        raise RuntimeError(f"workers disagree on the permissions: {sorted(permissions)}")
    return permissions.pop()


@dataclass
class Bench:
    """One running setup: the server's environment and address, the token, the rules."""

    env: dict[str, str]
    spec: Path
    layout: Layout
    base: str
    token: str
    script: Path  # wrk Lua script setting the bearer header
    master: int  # gunicorn's master pid, for the CPU accounting
    state: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    timings: dict[str, dict[str, float]] = field(default_factory=dict)

    def switch(self, mode: str, args: argparse.Namespace) -> None:
        """Activate (``rules``) or deactivate (``none``) every rule, warm up, check."""
        active = self.apply(mode)
        self.warm_up(mode, active, args)

    def apply(self, mode: str) -> int:
        """Activate (``rules``) or deactivate (``none``) every rule; the active rules after.

        The resolution steps are timed in the writer process the first time in each mode.
        """
        command = "activate" if mode == "rules" else "deactivate"
        first = mode not in self.timings
        active, timing = set_rules(self.env, self.spec, command, time_it=first)
        if first:
            self.timings[mode] = timing
        return active

    def warm_up(self, mode: str, active: int, args: argparse.Namespace) -> None:
        """An unmeasured wrk run, then every worker must answer as ``mode`` says."""
        expected = self.layout.matching() if mode == "rules" else 0
        wrk(f"{self.base}/api/me", seconds=args.warmup, args=args, script=self.script)
        self.state[mode] = (active, expected, check_answers(self.base, self.token, expected))


def others_now(master: int, seconds: float = 1.0) -> float | None:
    """The share of the machine other processes use now (gunicorn idle, wrk not running)."""
    before = cpu_accounting.sample(master)
    time.sleep(seconds)
    return cpu_accounting.others_share(before, cpu_accounting.sample(master))


def wait_until_quiet(master: int, limit: float) -> None:
    """Up to ``limit`` seconds until other processes use at most the warning share."""
    deadline = time.monotonic() + limit
    while (share := others_now(master)) is not None and share > http_bench.OTHERS_WARNING:
        if time.monotonic() > deadline:
            print(f"(still {share:.0%} other load after {limit:g} s: measuring anyway)")
            return
        print(f"(waiting: other processes use {share:.0%} of the machine)")
        time.sleep(2)


def measured(label: str, bench: Bench, args: argparse.Namespace) -> Run:
    """One wrk run on a quiet machine; a run disturbed by other load is repeated."""
    for attempt in range(args.retries + 1):
        wait_until_quiet(bench.master, args.quiet_wait)
        run = measure(label, f"{bench.base}/api/me", bench.script, args, bench.master)
        if undisturbed(run) or attempt == args.retries:
            return run
        print(f"(run disturbed: {run.others_share:.0%} other load; repeating it)")
    raise AssertionError("unreachable")


def benchmark(bench: Bench, args: argparse.Namespace) -> bool:
    """``--rounds`` rounds, the order alternating (ABBA), each run preceded by a switch."""
    runs: dict[str, list[Run]] = {mode: [] for mode in MODES}
    labels = {"none": "me, no rules", "rules": f"me, {args.rules} rules"}
    for round_number in range(args.rounds):
        order = MODES if round_number % 2 == 0 else tuple(reversed(MODES))
        for mode in order:
            bench.switch(mode, args)
            runs[mode].append(measured(labels[mode], bench, args))
            if args.rounds > 1:
                print_table(runs[mode][-1:])
    rounds = list(zip(runs["none"], runs["rules"], strict=True))
    kept = [pair for pair in rounds if all(map(undisturbed, pair))] or rounds
    if len(kept) < len(rounds):
        print(
            f"\n{len(rounds) - len(kept)} of {len(rounds)} rounds left out: a run in them was "
            "disturbed by other load even after the retries"
        )
    paired = [rules.wrk.requests_per_second / none.wrk.requests_per_second for none, rules in kept]
    nones, ruled = ([pair[i] for pair in kept] for i in (0, 1))
    return report(summary(nones), summary(ruled), paired, bench, args)


def undisturbed(run: Run) -> bool:
    return (run.others_share or 0.0) <= http_bench.OTHERS_WARNING


def report(
    none: Run, rules: Run, paired: list[float], bench: Bench, args: argparse.Namespace
) -> bool:
    """The table, the ratios with a verdict, what was resolved; True when the target is met.

    The verdict uses the median of the per-round ratios: the two runs of a round are
    adjacent in time, so a drift of the machine's speed over the run cancels out in them.
    """
    if len(paired) > 1:
        print(f"\nmedian of {len(paired)} rounds (other load: the worst round):")
    print_table([none, rules])
    active, matched, granted = bench.state["rules"]
    print(
        f"\nrules mode: {active} active rules, {matched} match the token, granting "
        f"{granted} permissions; no-rules mode: {bench.state['none'][0]} active rules"
    )
    for step in ("grant_for_claims", "rules_matching"):
        figures = (bench.timings["none"][step], bench.timings["rules"][step])
        print(
            f"in-process CPU per {step + '()':<19}: no rules {figures[0]:6.1f} us, "
            f"{args.rules} rules {figures[1]:6.1f} us"
        )
    ratio = statistics.median(paired)
    clean = rules.wrk.non_2xx == none.wrk.non_2xx == 0
    met = ratio >= RATIO_TARGET and clean
    if len(paired) > 1:
        rounds = ", ".join(f"{r:.1%}" for r in paired)
        print(f"{'rules / no rules, req/s, per round':<36} : {rounds}")
        medians = rules.wrk.requests_per_second / none.wrk.requests_per_second
        print(f"{'rules / no rules, ratio of medians':<36} = {medians:6.1%}")
    label = f"{args.rules} rules / no rules, req/s"
    print(f"{label:<36} = {ratio:6.1%} (target >= {RATIO_TARGET:.0%})  ", end="")
    print("MET" if met else "MISSED" + ("" if clean else " (non-2xx answers)"))
    if none.server_us_per_request and rules.server_us_per_request:
        cpu = none.server_us_per_request / rules.server_us_per_request
        extra = rules.server_us_per_request - none.server_us_per_request
        label = "no rules / rules, server CPU per req"
        print(f"{label:<36} = {cpu:6.1%} (rules add {extra:+.0f} us of server CPU per request)")
    others = max((r.others_share or 0.0) for r in (none, rules))
    if others > http_bench.OTHERS_WARNING:
        print(
            f"WARNING: processes other than gunicorn and wrk used up to {others:.0%} of the "
            "machine during a run: requests/s are disturbed. Rerun on a quiet machine."
        )
    return met


def run(args: argparse.Namespace, workdir: Path) -> bool:
    """Everything between starting the fake Entra and stopping gunicorn."""
    database_url = args.database_url or f"sqlite:///{workdir / 'bench.sqlite3'}"
    spec_layout = layout(rules=args.rules, token_roles=args.token_roles, token_groups=args.groups)
    spec = workdir / "layout.json"
    save_layout(spec, spec_layout)
    with FakeEntra(SigningKey()).serve() as entra:
        token = token_for(entra, spec_layout, args)
        with portico_server(
            entra,
            args,
            database_url=database_url,
            redis_url=args.redis_url,
            log_path=workdir / "gunicorn.log",
            before_start=lambda env: set_rules(env, spec, "create"),
        ) as served:
            print(
                f"gunicorn {args.workers} workers on {served.base}; database "
                f"{'DATABASE_URL' if args.database_url else 'temporary SQLite'}; cache Redis "
                f"(REDIS_URL); token {len(token)} bytes with {args.token_roles} roles and "
                f"{args.groups} groups; {args.rules} rules; wrk -t{args.threads} "
                f"-c{args.connections} -d{args.duration}s --latency; {args.rounds} round(s)"
            )
            script = bearer_script(workdir, token)
            bench = Bench(served.env, spec, spec_layout, served.base, token, script, served.master)
            return benchmark(bench, args)


def token_for(entra: FakeEntra, spec_layout: Layout, args: argparse.Namespace) -> str:
    lifetime = 3600 + 2 * args.rounds * (args.duration + args.warmup + 10)
    return entra.token(
        lifetime=lifetime,
        roles=spec_layout.roles,
        group_ids=spec_layout.groups,
        scopes=spec_layout.scopes,
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """The command line; defaults are the issue's benchmark (200 rules, 20 roles, 50 groups)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-d", "--duration", type=int, default=10, help="seconds per run")
    parser.add_argument("--warmup", type=int, default=2, help="seconds after each switch")
    parser.add_argument("-r", "--rounds", type=int, default=1, help="ABBA rounds, medians (1)")
    parser.add_argument("--rules", type=int, default=200, help="active rules (200)")
    parser.add_argument("--token-roles", type=int, default=20, help="app roles in the token")
    parser.add_argument(
        "--token-groups", dest="groups", type=int, default=50, help="group ids in the token"
    )
    add_server_arguments(
        parser,
        redis_help="REDIS_URL for gunicorn and the rule writer (default: $REDIS_URL; required)",
        database_note="; its mapping rules are replaced",
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=120,
        help="seconds to wait before each run for other load to drop below 10%% (120)",
    )
    parser.add_argument(
        "--retries", type=int, default=2, help="repeat a run disturbed by other load (2)"
    )
    return parser.parse_args(argv)


def cannot_run(args: argparse.Namespace) -> str:
    """Why the benchmark cannot run here ("" when it can)."""
    if shutil.which("wrk") is None:
        return "wrk is not installed (Debian: apt-get install wrk)"
    if not args.redis_url:
        return (
            "REDIS_URL (or --redis-url) is required: the workers learn of the rule switch "
            "through the version in Redis, and production pays that Redis GET per request"
        )
    return ""


def run_main(
    run_it: Callable[[argparse.Namespace, Path], bool], prefix: str, argv: list[str] | None
) -> int:
    """The command line parsed and checked, then ``run_it`` in a temporary directory."""
    args = parse_args(argv)
    problem = cannot_run(args)
    if problem:
        print(problem, file=sys.stderr)
        return 2
    return in_workdir(run_it, args, prefix)


def main(argv: list[str] | None = None) -> int:
    """Exit 0 when the target is met, 1 when not, 2 when the benchmark could not run."""
    return run_main(run, "portico-rbac-bench-", argv)


if __name__ == "__main__":
    sys.exit(main())

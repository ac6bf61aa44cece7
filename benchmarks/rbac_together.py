"""The RBAC benchmark with both states measured at the same time, on two servers.

Why: on a shared VM the speed of the machine itself drifts by ±15 % between runs a few
seconds apart (the CPU time per request of one unchanged server moves that much), so the
sequential ``rbac_bench`` needs many rounds for a stable ratio. Here two gunicorn servers run
side by side, one whose rules are all inactive and one with every rule active (each its own
temporary SQLite database, the same Redis, the same token), and two wrk processes load them
at once, each with half the threads and connections. Both servers are saturated and the
kernel shares the cores between their workers evenly, so the ratio of their requests/s is
the ratio of their costs per request, and any drift of the machine hits both alike.

Run from the repository root:
``REDIS_URL=redis://127.0.0.1:6379/5 .venv/bin/python -m benchmarks.rbac_together -d 10 -r 5``.
Options are those of ``rbac_bench`` (``--database-url`` excepted).
"""

from __future__ import annotations

import argparse
import os
import sys
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

from benchmarks import cpu_accounting, rbac_bench
from benchmarks.cpu_accounting import CpuSample
from benchmarks.fake_entra import FakeEntra, SigningKey
from benchmarks.http_bench import (
    Run,
    bearer_script,
    parse_wrk,
    portico_server,
    print_table,
    summary,
    wrk,
)
from benchmarks.rbac_bench import MODES, Bench, set_rules, token_for
from benchmarks.rbac_rules import layout, save_layout


def start(
    name: str, entra: FakeEntra, stack: ExitStack, shared: Bench, args: argparse.Namespace
) -> Bench:
    """A server with its own database, holding the layout's rules (their state set later)."""
    workdir = shared.spec.parent
    served = stack.enter_context(
        portico_server(
            entra,
            args,
            database_url=f"sqlite:///{workdir / f'{name}.sqlite3'}",
            redis_url=args.redis_url,
            log_path=workdir / f"{name}.log",
            before_start=lambda env: set_rules(env, shared.spec, "create"),
        )
    )
    # The state and timings dictionaries stay shared: the report reads them from either.
    return replace(shared, env=served.env, base=served.base, master=served.master)


def prepare(
    assignment: dict[str, Bench], current: dict[str, str], args: argparse.Namespace
) -> None:
    """Give each server the state it is assigned, then warm both up and check them.

    A switch on one server bumps the version in the shared Redis, so both reload: both are
    warmed up again before anything is measured.
    """
    changed = False
    for mode, server in assignment.items():
        if current.get(server.base) != mode:
            server.state[mode] = (server.apply(mode), 0, 0)
            current[server.base] = mode
            changed = True
    if not changed:
        return
    for mode, server in assignment.items():
        server.warm_up(mode, server.state[mode][0], args)


def others_share(
    before: dict[str, CpuSample | None], after: dict[str, CpuSample | None]
) -> float | None:
    """Share of the machine used by processes other than both servers, wrk and this script."""
    known = [sample for sample in (*before.values(), *after.values()) if sample is not None]
    if len(known) != 2 * len(MODES):
        return None
    first, *_, last = known  # before["none"] ... after["rules"]
    ours = sum(b.server for b in known[len(MODES) :]) - sum(b.server for b in known[: len(MODES)])
    ours += (last.clients - first.clients) + (last.own - first.own)
    capacity = (last.wall - first.wall) * (os.cpu_count() or 1)
    return max(0.0, (last.machine_busy - first.machine_busy - ours) / capacity)


def measure_together(servers: dict[str, Bench], args: argparse.Namespace) -> dict[str, Run]:
    """Both servers under wrk at once, each with half the threads and connections."""
    half = argparse.Namespace(
        threads=max(1, args.threads // 2), connections=max(1, args.connections // 2)
    )
    before = {mode: cpu_accounting.sample(server.master) for mode, server in servers.items()}
    with ThreadPoolExecutor(max_workers=len(servers)) as pool:
        outputs = {
            mode: pool.submit(
                wrk, f"{s.base}/api/me", seconds=args.duration, args=half, script=s.script
            )
            for mode, s in servers.items()
        }
        reports = {mode: future.result() for mode, future in outputs.items()}
    after = {mode: cpu_accounting.sample(server.master) for mode, server in servers.items()}
    others = others_share(before, after)
    labels = {"none": "me, no rules", "rules": f"me, {args.rules} rules"}
    runs = {}
    for mode in MODES:
        result = parse_wrk(labels[mode], reports[mode])
        micros = cpu_accounting.server_micros_per_request(
            before[mode], after[mode], result.requests
        )
        runs[mode] = Run(result, micros, others)
    return runs


def benchmark(servers: list[Bench], args: argparse.Namespace) -> bool:
    """``--rounds`` simultaneous runs, the servers trading states every round (so that a
    difference between the two servers themselves cancels out); the report of rbac_bench."""
    runs: dict[str, list[Run]] = {mode: [] for mode in MODES}
    current: dict[str, str] = {}
    for round_number in range(args.rounds):
        first, second = servers if round_number % 2 == 0 else reversed(servers)
        assignment = {"none": first, "rules": second}
        prepare(assignment, current, args)
        for attempt in range(args.retries + 1):
            rbac_bench.wait_until_quiet(first.master, args.quiet_wait)
            pair = measure_together(assignment, args)
            if rbac_bench.undisturbed(pair["none"]) or attempt == args.retries:
                break
            print(f"(run disturbed: {pair['none'].others_share:.0%} other load; repeating it)")
        for mode in MODES:
            runs[mode].append(pair[mode])
        print_table([pair[mode] for mode in MODES])
    rounds = list(zip(runs["none"], runs["rules"], strict=True))
    kept = [pair for pair in rounds if rbac_bench.undisturbed(pair[0])] or rounds
    paired = [rules.wrk.requests_per_second / none.wrk.requests_per_second for none, rules in kept]
    nones, ruled = ([pair[i] for pair in kept] for i in (0, 1))
    print(
        "\nboth servers loaded at the same time: their requests/s are each about half of "
        "what one server alone would serve; the ratio is what counts"
    )
    return rbac_bench.report(summary(nones), summary(ruled), paired, servers[0], args)


def run(args: argparse.Namespace, workdir: Path) -> bool:
    """Everything between starting the fake Entra and stopping both servers."""
    spec_layout = layout(rules=args.rules, token_roles=args.token_roles, token_groups=args.groups)
    spec = workdir / "layout.json"
    save_layout(spec, spec_layout)
    with FakeEntra(SigningKey()).serve() as entra, ExitStack() as stack:
        token = token_for(entra, spec_layout, args)
        script = bearer_script(workdir, token)
        shared = Bench({}, spec, spec_layout, "", token, script, 0)
        servers = [start(name, entra, stack, shared, args) for name in ("a", "b")]
        print(
            f"two servers of {args.workers} gunicorn workers, one with {args.rules} active rules "
            f"and one with none (trading states every round), loaded at once by two wrk "
            f"(-t{max(1, args.threads // 2)} -c{max(1, args.connections // 2)} "
            f"-d{args.duration}s each); Redis; token {len(token)} bytes with "
            f"{args.token_roles} roles and {args.groups} groups; {args.rounds} round(s)"
        )
        return benchmark(servers, args)


def main(argv: list[str] | None = None) -> int:
    """Exit 0 when the target is met, 1 when not, 2 when the benchmark could not run."""
    return rbac_bench.run_main(run, "portico-rbac-together-", argv)


if __name__ == "__main__":
    sys.exit(main())

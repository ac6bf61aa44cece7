"""CPU time of the benchmark's own processes, and of everything else on the machine (Linux).

Why: wrk, gunicorn and anything else running (a test suite, another benchmark) share the
same cores, so requests/s move with other people's work. Two figures make a run readable:
the CPU each request cost gunicorn's workers (barely affected by others), and the share of
the machine that processes other than ours used meanwhile (large means: do not trust the
requests/s of that run). Without ``/proc`` both are ``None`` and the report says "n/a".
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_PROC = Path("/proc")


@dataclass(frozen=True)
class CpuSample:
    """Cumulative CPU seconds at one instant."""

    wall: float
    server: float  # the gunicorn master and its workers
    clients: float  # waited-for children of this process: the wrk runs
    own: float  # this process: the fake Entra thread, the script
    machine_busy: float  # every CPU of the machine, all processes, not idle
    workers: tuple[int, ...]


def _process_seconds(pid: int) -> float:
    """utime + stime of one process, from /proc (no psutil: the benchmark adds no dependency)."""
    fields = (_PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime + stime


def _children(pid: int) -> tuple[int, ...]:
    text = (_PROC / str(pid) / "task" / str(pid) / "children").read_text()
    return tuple(sorted(int(child) for child in text.split()))


def _machine_busy_seconds() -> float:
    # cpu  user nice system idle iowait irq softirq steal ...; interrupt time is left out:
    # on loopback it is mostly our own traffic, and it is not charged to any process.
    user, nice, system, _, _, _, _, steal = (
        int(v) for v in (_PROC / "stat").read_text().splitlines()[0].split()[1:9]
    )
    return (user + nice + system + steal) / _TICKS


def sample(master: int) -> CpuSample | None:
    """CPU seconds so far of gunicorn ``master`` (with its workers), wrk, us and the machine."""
    try:
        workers = _children(master)
        server = sum(_process_seconds(pid) for pid in (master, *workers))
        busy = _machine_busy_seconds()
    except (OSError, ValueError, IndexError):
        return None
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    own = resource.getrusage(resource.RUSAGE_SELF)
    return CpuSample(
        wall=time.monotonic(),
        server=server,
        clients=children.ru_utime + children.ru_stime,
        own=own.ru_utime + own.ru_stime,
        machine_busy=busy,
        workers=workers,
    )


def server_micros_per_request(
    before: CpuSample | None, after: CpuSample | None, requests: int
) -> float | None:
    """gunicorn's CPU per request over a run; None when a worker was replaced meanwhile."""
    if before is None or after is None or before.workers != after.workers or not requests:
        return None
    return (after.server - before.server) / requests * 1e6


def others_share(before: CpuSample | None, after: CpuSample | None) -> float | None:
    """Share of all cores used by processes other than gunicorn, wrk and this script."""
    if before is None or after is None:
        return None
    ours = sum(getattr(after, f) - getattr(before, f) for f in ("server", "clients", "own"))
    capacity = (after.wall - before.wall) * (os.cpu_count() or 1)
    return max(0.0, (after.machine_busy - before.machine_busy - ours) / capacity)

"""CPU seconds spent by whole process trees (a gunicorn master and its workers, the PostgreSQL postmaster and
its backends) between two moments, read from /proc: on a 2-core machine, where a request's CPU goes is
what sets the throughput."""

import os
from pathlib import Path

_TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name may hold spaces and parentheses: the fields after its closing parenthesis are fixed.
    return text[text.rindex(")") + 2 :].split()


def process_tree(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = _stat_fields(int(entry.name))
            if fields:
                parents[int(entry.name)] = int(fields[1])
    tree, frontier = [root], [root]
    while frontier:
        frontier = [pid for pid, parent in parents.items() if parent in frontier]
        tree += frontier
    return tree


def _cpu_seconds_by_pid(roots: list[int]) -> dict[int, float]:
    seconds = {}
    for root in roots:
        for pid in process_tree(root):
            fields = _stat_fields(pid)
            if fields:
                seconds[pid] = (int(fields[11]) + int(fields[12])) / _TICKS_PER_S  # utime + stime
    return seconds


class CpuMeter:
    """CPU seconds of each named group of process trees since start(); processes born in between count in
    full, processes that ended in between are lost (pooled connections and workers live throughout)."""

    def __init__(self, groups: dict[str, list[int]]) -> None:
        self._groups = groups
        self._started: dict[str, dict[int, float]] = {}

    def start(self) -> None:
        self._started = {name: _cpu_seconds_by_pid(roots) for name, roots in self._groups.items()}

    def seconds(self) -> dict[str, float]:
        used = {}
        for name, roots in self._groups.items():
            now, before = _cpu_seconds_by_pid(roots), self._started[name]
            used[name] = sum(value - before.get(pid, 0.0) for pid, value in now.items())
        return used

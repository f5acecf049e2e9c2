"""A monitor of the local PostgreSQL that publishes what RDS publishes for a DB instance: namespace AWS/RDS, dimension
DBInstanceIdentifier, one datapoint per metric and period (RDS's period is a minute), as EMF lines on stdout. Each
value is computed from the running server (its processes, its data directory, its statistics views) against the DB
instance the template describes by default (identifier, class, allocated storage), so load drives it; none is
chosen. The local stack's only: in AWS, RDS publishes these itself.

    python -m local_stack.rds_monitor DATABASE_URL [--period 60] [--allocated-storage-gib N] [--instance-class C]

Metrics, as https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/rds-metrics.html defines them, and what stands
in for each here:

| metric | unit | RDS | here |
|---|---|---|---|
| CPUUtilization | Percent | the instance's CPU utilization | the time the server's processes ran or were ready to run over the period (CPU time, the reaped children's included, and run-queue wait), as a share of the class's vCPUs (at most 100) |
| DatabaseConnections | Count | client network connections | `client backend` sessions in pg_stat_activity, the monitor's own left out (as RDS leaves out its own) |
| FreeableMemory | Bytes | MemAvailable of the instance's /proc/meminfo | the class's memory less the proportional set size (PSS) of the server's processes: what they use, shared memory counted once |
| FreeStorageSpace | Bytes | available storage | the allocated storage less the disk space of the data directory (tables, indexes, WAL, temporary files, the server log) |
| ReadLatency | Seconds | average time per disk read | average time per read the server waited for (pg_stat_io: read_time / reads, with track_io_timing on) |
| WriteLatency | Seconds | average time per disk write | average time per write-side call the server waited for: writes, extensions and fsyncs, of relations and of WAL (pg_stat_io, with track_io_timing and track_wal_io_timing on) |

Why run-queue wait counts as CPU: an instance's vCPUs are its own, but here the server shares the machine's cores
with the doors, the clients and whatever else runs, and a backend ready to run waits while they have a core. On an
instance of its own it would have run then: the time it waited for a core (the kernel's /proc/<pid>/schedstat) is
counted with the time it ran, so a server that wants every vCPU reads 100 % however busy the machine is. A system
without schedstat counts CPU time alone.

Why pg_stat_io for the latencies: RDS times the I/O of the instance's own volume; here the disk is shared with every
other program on the machine, while pg_stat_io times only the server's own I/O calls. It times them above the OS
page cache, so a read the cache serves counts (RDS's volume never sees it), and local latencies come out lower than
RDS's: they move with the server's I/O load, which is what the alarms and panels need. A period without I/O gives 0,
as RDS reports an idle volume; with timing off (a server not started with infra/postgresql.conf) nothing is published
for them: a missing timing is not a 0.

The server must run on this machine (its processes are read with psutil): `make run`'s embedded server, or one a
DATABASE_URL names on loopback. When it does not answer, the period publishes nothing, as an instance that is down
does not report.
"""  # noqa: E501 - the table above is Markdown, one row a line

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil
import psycopg
from psycopg.rows import dict_row

from .cloudwatch import AwsMetrics, LineStream

NAMESPACE = "AWS/RDS"
DIMENSION = "DBInstanceIdentifier"
# RDS sends its instance metrics to CloudWatch every minute:
# https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/monitoring-cloudwatch.html
RDS_PERIOD_S = 60
GIB = 1024**3
PERCENT, COUNT, BYTES, SECONDS = "Percent", "Count", "Bytes", "Seconds"
APPLICATION_NAME = "rds-monitor"
# vCPUs and memory (GiB) of the classes the template may name, from
# https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Concepts.DBInstanceClass.Summary.html
INSTANCE_CLASSES = {
    "db.t4g.micro": (2, 1),
    "db.t4g.small": (2, 2),
    "db.t4g.medium": (2, 4),
    "db.t4g.large": (2, 8),
    "db.t4g.xlarge": (4, 16),
    "db.t4g.2xlarge": (8, 32),
    "db.t3.micro": (2, 1),
    "db.t3.small": (2, 2),
    "db.t3.medium": (2, 4),
    "db.t3.large": (2, 8),
    "db.t3.xlarge": (4, 16),
    "db.t3.2xlarge": (8, 32),
}
_IO_TOTALS = """
SELECT coalesce(sum(reads), 0) AS reads, coalesce(sum(read_time), 0) AS read_ms,
       coalesce(sum(writes), 0) + coalesce(sum(extends), 0) + coalesce(sum(fsyncs), 0) AS writes,
       coalesce(sum(write_time), 0) + coalesce(sum(extend_time), 0) + coalesce(sum(fsync_time), 0) AS write_ms
FROM pg_stat_io
"""


class MonitorError(RuntimeError):
    """The monitor cannot read this server (not on this machine, or an unknown instance class)."""


@dataclass(frozen=True)
class Instance:
    """The DB instance the local server stands for."""

    identifier: str
    instance_class: str
    allocated_storage_bytes: int

    @property
    def vcpus(self) -> int:
        return INSTANCE_CLASSES[self.instance_class][0]

    @property
    def memory_bytes(self) -> int:
        return INSTANCE_CLASSES[self.instance_class][1] * GIB

    @classmethod
    def from_template(
        cls, *, instance_class: str | None = None, allocated_storage_gib: float | None = None
    ) -> Instance:
        """The template's defaults (DbInstanceIdentifier, DbInstanceClass, DbAllocatedStorage), each overridable: a
        scenario that runs storage out on a laptop gives a smaller allocation."""
        from infra.render import stack_values

        defaults = stack_values()
        instance_class = instance_class or defaults["DbInstanceClass"]
        if instance_class not in INSTANCE_CLASSES:
            raise MonitorError(
                f"instance class {instance_class} is not in local_stack/rds_monitor.py's"
                " INSTANCE_CLASSES: add its vCPUs and memory from AWS's table"
            )
        gib = allocated_storage_gib if allocated_storage_gib is not None else float(defaults["DbAllocatedStorage"])
        # The Database resource is named by this parameter: the alarms' and dashboards' ${Database}.
        return cls(defaults["DbInstanceIdentifier"], instance_class, int(gib * GIB))


@dataclass(frozen=True)
class Counters:
    """Cumulative counters, read at one instant: a period's values are the differences between two reads."""

    at: float  # time.monotonic()
    cpu_s: float
    waited_s: dict[int, float]  # each live process's run-queue wait so far, by pid
    io: dict[str, float]  # _IO_TOTALS' columns; empty when the server does not time its I/O


class RdsMonitor:
    def __init__(
        self, database_url: str, instance: Instance, metrics: AwsMetrics, log: Callable[[str], None] = lambda _: None
    ) -> None:
        self._database_url = database_url
        self.instance = instance
        self._metrics = metrics
        self._log = log
        self._connection: psycopg.Connection | None = None
        self._postmaster: psutil.Process | None = None
        self._data_dir: Path | None = None
        self._previous: Counters | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def collect(self) -> dict[str, tuple[float, str]]:
        """Each metric's value for the period since the previous call ({} while the server does not answer). The
        first call after a (re)connection has no previous counters: it gives the gauges only."""
        try:
            return self._collect()
        except (psycopg.OperationalError, psutil.NoSuchProcess):
            # Down, or restarting (a new postmaster): the period has no datapoint, the next one reconnects.
            self._disconnect()
            return {}

    def publish(self) -> None:
        values = self.collect()
        if values:
            self._metrics.put(NAMESPACE, [[DIMENSION]], {DIMENSION: self.instance.identifier}, values)

    def start(self, period_s: float = RDS_PERIOD_S) -> None:
        self.collect()  # the counters the first period starts from
        self._thread = threading.Thread(target=self._run, args=(period_s,), name="rds-monitor", daemon=True)
        self._thread.start()
        self._log(
            f"RDS monitor: AWS/RDS metrics of {self.instance.identifier} ({self.instance.instance_class},"
            f" {self.instance.allocated_storage_bytes / GIB:g} GiB) every {period_s:g} s"
        )

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self._disconnect()

    def _run(self, period_s: float) -> None:
        while not self._stop.wait(period_s):
            self.publish()

    def _collect(self) -> dict[str, tuple[float, str]]:
        connection = self._connected()
        postmaster = self._postmaster
        assert postmaster is not None and self._data_dir is not None
        processes = [postmaster, *postmaster.children()]
        connections = connection.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
        ).fetchone()[0]
        values = {
            "DatabaseConnections": (float(connections), COUNT),
            "FreeableMemory": (float(max(self.instance.memory_bytes - _memory_used(processes), 0)), BYTES),
            "FreeStorageSpace": (
                float(max(self.instance.allocated_storage_bytes - _disk_used(self._data_dir), 0)),
                BYTES,
            ),
        }
        now = Counters(
            time.monotonic(),
            _cpu_seconds(postmaster, processes[1:]),
            _run_queue_waits(processes),
            self._io_totals(connection),
        )
        previous, self._previous = self._previous, now
        if previous is not None:
            values["CPUUtilization"] = (cpu_utilization(previous, now, self.instance.vcpus), PERCENT)
            values |= _latencies(previous.io, now.io)
        return values

    def _connected(self) -> psycopg.Connection:
        if self._connection is None or self._connection.closed:
            self._connection = psycopg.connect(self._database_url, autocommit=True, application_name=APPLICATION_NAME)
            backend, data_dir = self._connection.execute(
                "SELECT pg_backend_pid(), current_setting('data_directory')"
            ).fetchone()
            self._postmaster = _postmaster_of(backend)
            self._data_dir = Path(data_dir)
            self._previous = None  # a restarted server's counters start again
        return self._connection

    def _io_totals(self, connection: psycopg.Connection) -> dict[str, float]:
        timing = connection.execute("SELECT current_setting('track_io_timing') = 'on'").fetchone()[0]
        if not timing or connection.info.server_version < 160000:  # pg_stat_io: PostgreSQL 16 and later
            return {}
        with connection.cursor(row_factory=dict_row) as cursor:
            return {name: float(value) for name, value in cursor.execute(_IO_TOTALS).fetchone().items()}

    def _disconnect(self) -> None:
        if self._connection is not None:
            self._connection.close()
        self._connection = self._postmaster = self._data_dir = self._previous = None


def _postmaster_of(backend_pid: int) -> psutil.Process:
    try:
        postmaster = psutil.Process(backend_pid).parent()
    except psutil.Error:
        postmaster = None
    if postmaster is None or postmaster.name() != "postgres":
        raise MonitorError("the server's processes are not on this machine: the RDS monitor reads them (CPU, memory)")
    return postmaster


def _cpu_seconds(postmaster: psutil.Process, children: list[psutil.Process]) -> float:
    """CPU time of the server so far: the postmaster's, its live children's, and the children it has reaped (a
    backend whose session ended; the kernel adds its time to the postmaster's children_* when it is waited for)."""
    own = postmaster.cpu_times()
    total = own.user + own.system + own.children_user + own.children_system
    for child in children:
        try:
            times = child.cpu_times()
        except psutil.NoSuchProcess:  # ended since it was listed: its time is in children_* from now on
            continue
        total += times.user + times.system
    return total


def _run_queue_waits(processes: list[psutil.Process]) -> dict[int, float]:
    """Each process's time spent ready to run but waiting for a core so far, in seconds (the second field of
    /proc/<pid>/schedstat, in nanoseconds); none where the system does not keep it."""
    waits = {}
    for process in processes:
        try:
            fields = Path(f"/proc/{process.pid}/schedstat").read_text().split()
        except OSError:  # ended since it was listed, or no schedstat on this system
            continue
        waits[process.pid] = int(fields[1]) / 1e9
    return waits


def cpu_utilization(previous: Counters, now: Counters, vcpus: int) -> float:
    """The period's CPUUtilization: CPU time and run-queue wait over the period, as a share of the vCPUs' time (at most
    100). A process started within the period brings all its wait; one that ended takes its wait since the last read
    with it (its CPU time is kept: the postmaster's reaped children's)."""
    waited = sum(seconds - previous.waited_s.get(pid, 0.0) for pid, seconds in now.waited_s.items())
    busy = 100 * (now.cpu_s - previous.cpu_s + waited) / ((now.at - previous.at) * vcpus)
    return round(min(max(busy, 0.0), 100.0), 3)


def _memory_used(processes: list[psutil.Process]) -> int:
    """What the server's processes hold in memory, each shared page counted once across them (PSS, where the system
    gives it; RSS elsewhere, which counts shared memory once per process)."""
    used = 0
    for process in processes:
        try:
            memory = process.memory_full_info()
        except psutil.NoSuchProcess:
            continue
        used += getattr(memory, "pss", memory.rss)
    return used


def _disk_used(data_dir: Path) -> int:
    """Disk space taken by the files under the data directory (blocks allocated, as `du` counts them)."""
    used = 0
    for directory, _, files in os.walk(data_dir):
        for name in files:
            try:
                status = (Path(directory) / name).lstat()
            except FileNotFoundError:  # a temporary file or WAL segment removed since the listing
                continue
            used += getattr(status, "st_blocks", 0) * 512 or status.st_size
    return used


def _latencies(previous: dict[str, float], now: dict[str, float]) -> dict[str, tuple[float, str]]:
    """Average seconds per operation over the period (0 without any, as RDS reports an idle volume); nothing without
    timing, or after a reset of the statistics (a crash discards them)."""
    if not previous or not now or now["reads"] < previous["reads"] or now["writes"] < previous["writes"]:
        return {}
    values = {}
    for metric, count, milliseconds in (("ReadLatency", "reads", "read_ms"), ("WriteLatency", "writes", "write_ms")):
        operations = now[count] - previous[count]
        waited_s = (now[milliseconds] - previous[milliseconds]) / 1000
        values[metric] = (round(waited_s / operations, 9) if operations else 0.0, SECONDS)
    return values


def monitor_local_server(
    database_url: str, period_s: float, stream: LineStream, log: Callable[[str], None]
) -> RdsMonitor | None:
    """The monitor of the server `database_url` names, publishing to `stream` every `period_s`, as `make run` and the
    drill start it; None, with a line saying why, when it cannot read that server."""
    monitor = RdsMonitor(database_url, Instance.from_template(), AwsMetrics(stream), log=log)
    try:
        monitor.start(period_s)
    except (MonitorError, psycopg.Error) as error:
        monitor.stop()
        log(f"RDS monitor off: {error}")
        return None
    return monitor


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_stack.rds_monitor", description=__doc__.split("\n\n")[0])
    parser.add_argument("database_url", help="a superuser's connection to the local server (data_directory)")
    parser.add_argument("--period", type=float, default=RDS_PERIOD_S, help="seconds per datapoint (default 60)")
    parser.add_argument("--instance-class", help="default: the template's DbInstanceClass")
    parser.add_argument("--allocated-storage-gib", type=float, help="default: the template's DbAllocatedStorage")
    args = parser.parse_args(argv)
    instance = Instance.from_template(
        instance_class=args.instance_class, allocated_storage_gib=args.allocated_storage_gib
    )
    monitor = RdsMonitor(
        args.database_url,
        instance,
        AwsMetrics(LineStream()),
        log=lambda message: print(f"[rds-monitor] {message}", file=sys.stderr, flush=True),
    )
    monitor.start(args.period)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        monitor.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

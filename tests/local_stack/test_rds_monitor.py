"""The local RDS monitor: AWS/RDS metrics of a real server, as RDS names and measures them, moved by real load."""

import io
import json
import os
import threading

import psutil
import psycopg
import pytest

from local_stack.cloudwatch import AwsMetrics, LineStream
from local_stack.rds_monitor import GIB, Counters, Instance, RdsMonitor, _run_queue_waits, cpu_utilization

MIB = 1024**2


@pytest.fixture(scope="module")
def monitored(isolated_database):
    """A monitor of the module's own server, as the template's instance (db.t4g.micro: 2 vCPUs, 1 GiB), and what it
    published."""
    server, _ = isolated_database
    published = io.StringIO()
    monitor = RdsMonitor(server.dsn("student_records"), Instance.from_template(), AwsMetrics(LineStream(published)))
    monitor.collect()
    yield monitor, published, server
    monitor.stop()


@pytest.fixture
def db(monitored):
    _, _, server = monitored
    with psycopg.connect(server.dsn("student_records"), autocommit=True) as connection:
        yield connection


def test_the_template_gives_the_instance():
    # When the instance is read from the template's defaults
    instance = Instance.from_template()
    # Then it is the stack's DB instance, with its class's vCPUs and memory and its allocated storage
    assert (instance.identifier, instance.instance_class) == ("student-records", "db.t4g.micro")
    assert (instance.vcpus, instance.memory_bytes, instance.allocated_storage_bytes) == (2, GIB, 20 * GIB)
    assert Instance.from_template(allocated_storage_gib=0.5).allocated_storage_bytes == GIB // 2


def test_each_period_is_one_emf_document_as_rds_publishes_it(monitored):
    monitor, published, _ = monitored
    # When a period ends
    monitor.publish()
    # Then its datapoints are in AWS/RDS, by DBInstanceIdentifier, with RDS's units
    document = json.loads(published.getvalue().splitlines()[-1])
    directive = document["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "AWS/RDS" and directive["Dimensions"] == [["DBInstanceIdentifier"]]
    assert document["DBInstanceIdentifier"] == "student-records"
    units = {metric["Name"]: metric["Unit"] for metric in directive["Metrics"]}
    assert (
        units.items()
        >= {
            "CPUUtilization": "Percent",
            "DatabaseConnections": "Count",
            "FreeableMemory": "Bytes",
            "FreeStorageSpace": "Bytes",
        }.items()
    )
    assert all(isinstance(document[name], float) for name in units)


def test_connections_held_open_are_counted(monitored, db):
    monitor, _, server = monitored
    before = monitor.collect()["DatabaseConnections"][0]
    # When five clients hold a connection each
    held = [psycopg.connect(server.dsn("student_records")) for _ in range(5)]
    try:
        during = monitor.collect()["DatabaseConnections"][0]
    finally:
        for connection in held:
            connection.close()
    # Then the count rises by five (the monitor's own connection is left out, as RDS leaves out its own)
    assert during - before == 5


def test_a_cpu_heavy_query_shows_in_cpu_utilization(monitored, db):
    monitor, _, _ = monitored
    monitor.collect()
    # When one query keeps one core busy for the whole period (one of the class's two vCPUs: about 50 %)
    db.execute("SET max_parallel_workers_per_gather = 0")
    db.execute("SELECT count(*) FROM generate_series(1, 15000000)")
    busy = monitor.collect()["CPUUtilization"][0]
    # Then the period's CPUUtilization shows it
    assert 20 <= busy <= 100, busy


def test_time_waiting_for_a_core_counts_as_cpu_the_instance_would_have_used():
    # Given a period of 1 s on 2 vCPUs, the server's processes running 0.5 s and ready to run 1.5 s more, waiting for a
    # core the machine gave to other programs
    before = Counters(at=10.0, cpu_s=3.0, waited_s={100: 1.0, 101: 2.0}, io={})
    after = Counters(at=11.0, cpu_s=3.5, waited_s={100: 1.5, 102: 1.0}, io={})
    # Then the period reads as the whole of the vCPUs: a process that ended takes nothing away, a new one brings its
    # wait (0.5 + 1.0 waited, 0.5 ran: 2 s of 2 vCPU-seconds)
    assert cpu_utilization(before, after, vcpus=2) == 100.0
    # And without waiting, CPU time alone is the share
    assert cpu_utilization(Counters(10.0, 3.0, {}, {}), Counters(11.0, 3.5, {}, {}), vcpus=2) == 25.0


def test_the_server_processes_run_queue_waits_are_read_from_the_kernel():
    # Given this process, which has run and been scheduled
    waits = _run_queue_waits([psutil.Process()])
    # Then its wait is read, in seconds (Linux keeps it in /proc/<pid>/schedstat)
    assert list(waits) == [os.getpid()] and waits[os.getpid()] >= 0


def test_data_written_takes_free_storage_space(monitored, db):
    monitor, _, _ = monitored
    before = monitor.collect()["FreeStorageSpace"][0]
    # When about 25 MB of rows are written (and their WAL)
    db.execute("CREATE TABLE filler AS SELECT md5(random()::text) AS value FROM generate_series(1, 300000)")
    after = monitor.collect()["FreeStorageSpace"][0]
    # Then the free storage of the allocation drops by at least as much
    assert before - after >= 20 * MIB, (before - after) / MIB


def test_memory_the_server_holds_is_not_freeable(monitored, db):
    monitor, _, server = monitored
    before = monitor.collect()["FreeableMemory"][0]
    # When four sessions each fill about 30 MB of temporary buffers (memory of their own process)
    sessions = [psycopg.connect(server.dsn("student_records"), autocommit=True) for _ in range(4)]
    try:
        for session in sessions:
            session.execute("SET temp_buffers = '64MB'")
            session.execute(
                "CREATE TEMP TABLE held AS SELECT md5(random()::text) AS value FROM generate_series(1, 400000)"
            )
        during = monitor.collect()["FreeableMemory"][0]
    finally:
        for session in sessions:
            session.close()
    # Then the freeable memory of the class's 1 GiB drops by most of it
    assert before - during >= 60 * MIB, (before - during) / MIB
    assert 0 < during < GIB


def test_reads_and_commits_give_read_and_write_latency(monitored, db):
    monitor, _, _ = monitored
    db.execute(
        "CREATE TABLE IF NOT EXISTS io_load AS SELECT md5(random()::text) AS value FROM generate_series(1, 300000)"
    )
    monitor.collect()
    # When the server reads a table it does not hold in shared buffers, and commits rows one by one
    db.execute("SELECT count(*) FROM io_load")
    for number in range(50):
        db.execute("INSERT INTO io_load VALUES (%s)", (str(number),))
    db.execute("SELECT pg_stat_force_next_flush()")
    db.execute("SELECT 1")  # the end of this transaction reports the session's I/O statistics
    values = monitor.collect()
    # Then both latencies are published, in seconds per operation
    assert values["ReadLatency"][1] == values["WriteLatency"][1] == "Seconds"
    assert 0 < values["ReadLatency"][0] < 1 and 0 < values["WriteLatency"][0] < 1, values


def test_a_server_that_is_down_publishes_nothing_until_it_is_back(monitored):
    monitor, published, server = monitored
    lines = len(published.getvalue().splitlines())
    # When the server stops, a period passes, and it starts again
    server.stop()
    try:
        assert monitor.collect() == {}
        monitor.publish()
    finally:
        server.start()
    # Then the period had no datapoint, and the monitor reads the new server from the next period on
    assert len(published.getvalue().splitlines()) == lines
    assert "DatabaseConnections" in monitor.collect()
    assert "CPUUtilization" in monitor.collect()


def test_the_monitor_publishes_every_period_until_stopped(isolated_database):
    server, _ = isolated_database
    published = io.StringIO()
    monitor = RdsMonitor(server.dsn("student_records"), Instance.from_template(), AwsMetrics(LineStream(published)))
    three = threading.Event()

    def counted() -> bool:
        return len(published.getvalue().splitlines()) >= 3

    # When it runs with a period of 0.1 s
    monitor.start(0.1)
    try:
        for _ in range(100):
            if counted():
                three.set()
                break
            three.wait(0.05)
    finally:
        monitor.stop()
    # Then a document came every period, each with CPUUtilization
    assert three.is_set()
    assert all("CPUUtilization" in json.loads(line) for line in published.getvalue().splitlines())

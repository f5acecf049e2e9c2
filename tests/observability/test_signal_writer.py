"""The Flask door's signal writer: request log lines and X-Ray datagrams leave the request thread, in batches,
from a bounded queue that counts what it drops; what waits is written when the worker stops."""

import json
import time

import pytest

from observability.runtime import Observability
from observability.signal_writer import SignalWriter
from tests.apps import OBSERVABILITY
from tests.observability.stack import DoorProcess, UdpCollector

NEVER_S = 3600  # an interval that never passes during a test: only flush() and close() write


class _CountingStdout:
    def __init__(self) -> None:
        self.writes: list[str] = []

    def write(self, text: str) -> int:
        self.writes.append(text)
        return len(text)

    def flush(self) -> None:
        pass


class _Puts:
    """A recorder that keeps what is put in it, by metric name."""

    def __init__(self) -> None:
        self.recorded: list[tuple[str, float]] = []

    def put(self, spec, value, dimensions=None) -> None:
        self.recorded.append((spec.name, value))


def _counting_stdout(monkeypatch) -> _CountingStdout:
    # In the test itself: pytest's capture sets sys.stdout back between a fixture's setup and the test.
    counting = _CountingStdout()
    monkeypatch.setattr("sys.stdout", counting)
    return counting


def _worker(signals_interval_s: float) -> Observability:
    """A Flask worker's Observability, its writer thread started, its metrics kept apart."""
    observability = Observability(
        OBSERVABILITY.model_copy(update={"signals_flush_interval_ms": signals_interval_s * 1000}),
        metrics_sink=lambda line: None,
    )
    observability.write_in_background()
    return observability


@pytest.fixture
def collector():
    udp = UdpCollector()
    yield udp
    udp.close()


def test_lines_and_datagrams_wait_for_the_flush_then_go_out_together(monkeypatch, collector):
    stdout = _counting_stdout(monkeypatch)
    writer = SignalWriter(max_waiting=100, recorder=_Puts())
    # Given three requests' lines and segments
    for n in range(3):
        writer.write_line(f'{{"n":{n}}}\n')
        writer.send_datagram(
            b'{"format":"json","version":1}\n' + json.dumps({"trace_id": str(n)}).encode(),
            ("127.0.0.1", collector.port),
        )
    # Then nothing was written by the request threads
    assert stdout.writes == [] and collector.documents == []
    # When the writer flushes, the lines go out in one write, in order, and every datagram is sent
    writer.flush()
    assert stdout.writes == ['{"n":0}\n{"n":1}\n{"n":2}\n']
    documents = collector.wait_for(lambda received: len(received) == 3)
    assert sorted(d["trace_id"] for d in documents) == ["0", "1", "2"]


def test_a_full_queue_drops_and_counts_what_it_drops(monkeypatch):
    stdout = _counting_stdout(monkeypatch)
    puts = _Puts()
    recorded = puts.recorded
    writer = SignalWriter(max_waiting=2, recorder=puts)
    # When five lines come while only two may wait
    for n in range(5):
        writer.write_line(f"{n}\n")
    writer.flush()
    # Then the first two are written and the three dropped are counted once, as SignalsDropped
    assert stdout.writes == ["0\n1\n"] and recorded == [("SignalsDropped", 3)]
    # And a flush with nothing dropped counts nothing
    writer.flush()
    assert recorded == [("SignalsDropped", 3)]


def test_stopping_writes_what_waits(monkeypatch):
    stdout = _counting_stdout(monkeypatch)
    writer = _worker(NEVER_S)
    writer.write_line("last words\n")
    writer.close()
    assert stdout.writes == ["last words\n"]


def test_the_writer_flushes_by_itself_every_interval(monkeypatch):
    stdout = _counting_stdout(monkeypatch)
    writer = _worker(0.01)
    try:
        writer.write_line("soon\n")
        deadline = time.monotonic() + 5
        while stdout.writes != ["soon\n"]:  # readiness wait for the writer's own thread
            assert time.monotonic() < deadline, stdout.writes
            time.sleep(0.005)
    finally:
        writer.close()


@pytest.fixture
def start_flask_door(database_conninfo, tmp_path, monkeypatch, collector):
    doors = []

    def start(signals_interval_ms: int) -> DoorProcess:
        monkeypatch.setenv("SIGNALS_FLUSH_INTERVAL_MS", str(signals_interval_ms))  # the door's process reads it
        doors.append(DoorProcess("flask", database_conninfo, collector.port, tmp_path))
        return doors[-1]

    yield start
    for door in doors:
        if door.process.poll() is None:
            door.stop()


def _request_lines(door: DoorProcess) -> list[dict]:
    return [line for line in door.output_lines() if line.get("message") == "request"]


def _counts(door: DoorProcess, times: int) -> list[str]:
    trace_ids = []
    for _ in range(times):
        status, headers, _ = door.send("GET", "/students/count")
        assert status == 200
        trace_ids.append(headers["X-Amzn-Trace-Id"].removeprefix("Root="))
    return trace_ids


def test_the_flask_door_writes_every_requests_line_and_segment_through_the_writer(start_flask_door, collector):
    # When requests are served by gunicorn with batching every 50 ms
    door = start_flask_door(50)
    trace_ids = _counts(door, 5)
    # Then each one's segment reaches the daemon and its request line the output, within a flush or two
    collector.wait_for(lambda documents: {d["trace_id"] for d in documents} >= set(trace_ids))
    deadline = time.monotonic() + 10
    while len(_request_lines(door)) < 5:
        assert time.monotonic() < deadline, "request lines never written"
        time.sleep(0.02)


def test_a_stopping_worker_writes_what_waits(start_flask_door, collector):
    # Given a door whose writer would only flush after an hour, and requests it served
    door = start_flask_door(NEVER_S * 1000)
    trace_ids = _counts(door, 3)
    assert _request_lines(door) == []
    # When the door stops (gunicorn's graceful shutdown of its worker)
    door.stop()
    # Then every request's line and segment was written on the way out
    assert len(_request_lines(door)) == 3
    collector.wait_for(lambda documents: {d["trace_id"] for d in documents} >= set(trace_ids))

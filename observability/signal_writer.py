"""How request log lines and X-Ray datagrams leave the process: at once, on the request's thread (DirectWriter), or
off it, in batches (SignalWriter, the Flask door's workers).

Lambda writes at once: an invocation's signals must be out before it is frozen. Under load in a Flask worker, each
request's log line (a `write`) and trace (a `sendto` whose loopback delivery wakes the daemon) cost several times
their in-process price in the kernel (bench/README.md §1), so a writer thread per process writes the lines gathered
during SIGNALS_FLUSH_INTERVAL_MS (default 50) in one write and sends the datagrams in one burst. Nothing waits on it:
past SIGNALS_QUEUE_MAX (default 10,000) waiting items a new one is dropped and counted in the SignalsDropped metric,
as is a datagram the socket loses (udp.DatagramSender). What waits is written when the worker exits; a crash loses at
most one interval.
"""

import sys
import threading
from collections import deque
from typing import Protocol, TypeVar

from .catalog import SIGNALS_DROPPED
from .emf import MetricsRecorder
from .udp import Address, DatagramSender


class Writer(Protocol):
    def write_line(self, line: str) -> None:
        """A complete line, newline included."""

    def send_datagram(self, datagram: bytes, address: Address) -> None: ...

    def close(self) -> None:
        """Writes what waits, and closes the sockets."""


class DirectWriter:
    """Each line and datagram out at once: the Lambda door, and the Flask door with SIGNALS_FLUSH_INTERVAL_MS=0."""

    def __init__(self, recorder: MetricsRecorder, sender: DatagramSender | None = None) -> None:
        self._recorder = recorder
        self._sender = sender or DatagramSender()

    def write_line(self, line: str) -> None:
        _write_stdout(line)

    def send_datagram(self, datagram: bytes, address: Address) -> None:
        lost = self._sender.send(datagram, address)
        if lost:
            self._recorder.put(SIGNALS_DROPPED, lost)

    def close(self) -> None:
        self._sender.close()


class SignalWriter:
    """Lines and datagrams queued by the request threads, written by flush(): the worker's writer thread calls it
    (runtime.Observability.write_in_background)."""

    def __init__(self, max_waiting: int, recorder: MetricsRecorder, sender: DatagramSender | None = None) -> None:
        self._max_waiting = max_waiting
        self._recorder = recorder
        self._lines: deque[str] = deque()
        self._datagrams: deque[tuple[bytes, Address]] = deque()
        self._dropped = 0
        self._drop_lock = threading.Lock()
        self._sender = sender or DatagramSender()

    def write_line(self, line: str) -> None:
        if len(self._lines) >= self._max_waiting:
            self._drop()
        else:
            self._lines.append(line)

    def send_datagram(self, datagram: bytes, address: Address) -> None:
        if len(self._datagrams) >= self._max_waiting:
            self._drop()
        else:
            self._datagrams.append((datagram, address))

    def flush(self) -> None:
        """Writes the waiting lines in one write and sends the waiting datagrams; what was dropped or lost since the
        last flush is counted in SignalsDropped, with the metrics not yet flushed."""
        lines = _drain(self._lines)
        if lines:
            _write_stdout("".join(lines))
        lost = 0
        for datagram, address in _drain(self._datagrams):
            lost += self._sender.send(datagram, address)  # a request never waits on it; what is lost is counted
        with self._drop_lock:
            dropped, self._dropped = self._dropped + lost, 0
        if dropped:
            self._recorder.put(SIGNALS_DROPPED, dropped)

    def close(self) -> None:
        self.flush()
        self._sender.close()

    def _drop(self) -> None:
        with self._drop_lock:
            self._dropped += 1


def _write_stdout(text: str) -> None:
    stdout = sys.stdout  # looked up per write: Lambda and test captures replace it
    try:
        stdout.write(text)
        stdout.flush()  # as the logging handler does: the line is out when the request is answered
    except (OSError, ValueError):
        pass  # a closed or broken stdout fails nothing, as with a logging handler


_Waiting = TypeVar("_Waiting")


def _drain(waiting: deque[_Waiting]) -> list[_Waiting]:
    # popleft until empty: appends from request threads during the drain go to this batch or the next, never lost
    drained = []
    try:
        while True:
            drained.append(waiting.popleft())
    except IndexError:
        return drained

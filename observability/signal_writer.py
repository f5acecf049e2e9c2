"""Request log lines and X-Ray datagrams written off the request thread, in batches (the Flask door's workers).

Under load, each request's log line (a `write`) and trace (a `sendto` whose loopback delivery wakes the daemon)
cost several times their in-process price in the kernel (bench/README.md §1). A writer thread per process
writes the lines gathered during SIGNALS_FLUSH_INTERVAL_MS (default 50) in one write and sends the datagrams in
one burst. Nothing waits on it: past SIGNALS_QUEUE_MAX (default 10,000) waiting items a new one is dropped and
counted in the SignalsDropped metric, as is a datagram the socket loses (udp.DatagramSender). What waits is
written when the worker exits; a crash loses at most one interval. Lambda writes synchronously: an invocation's
signals must be out before it is frozen.
"""

import sys
import threading
from collections import deque

from .catalog import SIGNALS_DROPPED
from .metrics import recorder
from .udp import DatagramSender


class SignalWriter:
    def __init__(self, interval_s: float, max_waiting: int) -> None:
        self._interval_s = interval_s
        self._max_waiting = max_waiting
        self._lines: deque[str] = deque()
        self._datagrams: deque[tuple[bytes, tuple[str, int]]] = deque()
        self._dropped = 0
        self._drop_lock = threading.Lock()
        self._sender = DatagramSender()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="signal-writer", daemon=True)

    def write_line(self, line: str) -> None:
        """A complete line, newline included."""
        if len(self._lines) >= self._max_waiting:
            self._drop()
        else:
            self._lines.append(line)

    def send_datagram(self, datagram: bytes, address: tuple[str, int]) -> None:
        if len(self._datagrams) >= self._max_waiting:
            self._drop()
        else:
            self._datagrams.append((datagram, address))

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Writes what waits, and the drops' count with the worker's last metrics."""
        self._stopped.set()
        self._thread.join(timeout=5)
        self.flush()
        recorder.flush()

    def flush(self) -> None:
        lines = _drain(self._lines)
        if lines:
            try:
                sys.stdout.write("".join(lines))
                sys.stdout.flush()
            except (OSError, ValueError):
                pass  # a closed or broken stdout fails nothing, as with a logging handler
        lost = 0
        for datagram, address in _drain(self._datagrams):
            lost += self._sender.send(datagram, address)  # a request never waits on it; what is lost is counted
        with self._drop_lock:
            dropped, self._dropped = self._dropped + lost, 0
        if dropped:
            recorder.put(SIGNALS_DROPPED, dropped)

    def _drop(self) -> None:
        with self._drop_lock:
            self._dropped += 1

    def _run(self) -> None:
        while not self._stopped.wait(self._interval_s):
            self.flush()


def _drain(waiting: deque) -> list:
    # popleft until empty: appends from request threads during the drain go to this batch or the next, never lost
    drained = []
    try:
        while True:
            drained.append(waiting.popleft())
    except IndexError:
        return drained


# Set by the Flask door (observability/flask_door.py); None: every line and datagram is written at once.
writer: SignalWriter | None = None

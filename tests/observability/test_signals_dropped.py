"""Every X-Ray datagram lost on the way out counts in SignalsDropped, on both doors: the Flask writer's queue full
(test_signal_writer.py), or the socket refusing it: the daemon not listening (ECONNREFUSED, reported by the
kernel on the next send), a full buffer (ENOBUFS, EAGAIN), a datagram too large (EMSGSIZE)."""

import errno
import socket
import time

import pytest

from observability.signal_writer import DirectWriter, SignalWriter
from observability.udp import DatagramSender
from observability.xray_daemon import XRayDaemon
from tests.observability.stack import DoorProcess

DATAGRAM = b'{"format":"json","version":1}\n{}'


def _closed_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class _FailingSocket:
    """Raises the given errors, one per send, then accepts."""

    def __init__(self, *errors: int) -> None:
        self.errors = list(errors)
        self.sent: list[bytes] = []

    def send(self, datagram: bytes) -> int:
        if self.errors:
            code = self.errors.pop(0)
            raise (ConnectionRefusedError if code == errno.ECONNREFUSED else OSError)(code, "forced")
        self.sent.append(datagram)
        return len(datagram)


def _sender_with(fake: _FailingSocket) -> DatagramSender:
    return DatagramSender(connect=lambda address: fake)  # the connected socket it would have opened


@pytest.mark.parametrize("code", [errno.ENOBUFS, errno.EAGAIN, errno.EMSGSIZE])
def test_a_datagram_the_socket_refuses_is_one_lost(code):
    fake = _FailingSocket(code)
    sender = _sender_with(fake)
    assert sender.send(DATAGRAM, ("127.0.0.1", 2000)) == 1
    assert sender.send(DATAGRAM, ("127.0.0.1", 2000)) == 0 and fake.sent == [DATAGRAM]


def test_connection_refused_reports_an_earlier_loss_and_this_datagram_is_sent_again():
    # ECONNREFUSED says an earlier datagram met a closed port; the send that reports it sent nothing
    fake = _FailingSocket(errno.ECONNREFUSED)
    assert _sender_with(fake).send(DATAGRAM, ("127.0.0.1", 2000)) == 1
    assert fake.sent == [DATAGRAM]
    # and when the second try fails too, both are lost
    fake = _FailingSocket(errno.ECONNREFUSED, errno.ENOBUFS)
    assert _sender_with(fake).send(DATAGRAM, ("127.0.0.1", 2000)) == 2


def test_a_daemon_that_is_not_listening_is_noticed_on_a_real_socket():
    # Given nothing listening on the daemon's port
    address = ("127.0.0.1", _closed_udp_port())
    sender = DatagramSender()
    try:
        # When datagrams are sent there, then the kernel's report of each refusal counts a loss
        lost = [sender.send(DATAGRAM, address) for _ in range(4)]
    finally:
        sender.close()
    assert lost[0] == 0 and sum(lost) >= 2, lost


def test_an_address_that_does_not_resolve_loses_the_datagram():
    assert DatagramSender().send(DATAGRAM, ("no-such-host.invalid", 2000)) == 1


class _Puts(list):
    """A recorder that keeps what is put in it, by metric name."""

    def put(self, spec, value, dimensions=None) -> None:
        self.append((spec.name, value))


@pytest.fixture
def puts() -> _Puts:
    return _Puts()


def test_the_flask_writer_counts_datagrams_the_socket_lost(puts):
    # Given a writer whose socket refuses the first two datagrams (a full buffer, then one too large)
    fake = _FailingSocket(errno.ENOBUFS, errno.EMSGSIZE)
    writer = SignalWriter(max_waiting=100, recorder=puts, sender=_sender_with(fake))
    for _ in range(3):
        writer.send_datagram(DATAGRAM, ("127.0.0.1", 2000))
    # When it flushes, then the two losses are one SignalsDropped value of 2
    writer.flush()
    assert puts == [("SignalsDropped", 2)] and len(fake.sent) == 1


def test_the_lambda_doors_sender_counts_a_datagram_the_socket_lost(puts):
    # Given no writer thread (the Lambda door sends each document at once) and a socket that refuses one
    direct = DirectWriter(puts, _sender_with(_FailingSocket(errno.ENOBUFS)))
    daemon = XRayDaemon("127.0.0.1:2000", direct.send_datagram, puts)
    # When two documents are sent, then the lost one is counted at once
    daemon.send({"id": "a"})
    daemon.send({"id": "b"})
    assert puts == [("SignalsDropped", 1)]


def test_a_malformed_daemon_address_loses_every_document_counted(puts):
    direct = DirectWriter(puts, _sender_with(_FailingSocket()))
    XRayDaemon("no-port-here", direct.send_datagram, puts).send({"id": "a"})
    assert puts == [("SignalsDropped", 1)]


# --- each door in its own server process, its daemon not listening ---


def _signals_dropped(door: DoorProcess) -> int:
    return sum(line["SignalsDropped"] for line in door.output_lines() if "SignalsDropped" in line)


@pytest.mark.parametrize(
    ("door_name", "signals_interval_ms"),
    [("lambda", "0"), ("flask", "0"), ("flask", "50")],
    ids=["lambda", "flask-at-once", "flask-writer"],
)
def test_a_door_whose_daemon_is_not_listening_counts_signals_dropped(
    database_conninfo, tmp_path, door_name, signals_interval_ms
):
    # Given a door whose X-Ray daemon address has nothing listening (the agent stopped)
    door = DoorProcess(
        door_name, database_conninfo, _closed_udp_port(), tmp_path, {"SIGNALS_FLUSH_INTERVAL_MS": signals_interval_ms}
    )
    try:
        # When it serves requests (the kernel reports each refused datagram on the next send)
        deadline = time.monotonic() + 15
        while _signals_dropped(door) == 0:
            assert time.monotonic() < deadline, door.stdout_path.read_text()[-3000:]
            assert door.send("GET", "/students/count")[0] == 200
            time.sleep(0.06)  # past a writer interval: its count joins the next request's EMF
    finally:
        door.stop()
    # Then SignalsDropped is in its EMF, and one warning line (JSON, as every line) says why, once
    assert _signals_dropped(door) >= 1
    warnings = [line for line in door.output_lines() if "not reaching the daemon" in str(line.get("message"))]
    assert len(warnings) == 1 and "ConnectionRefusedError" in warnings[0]["message"]

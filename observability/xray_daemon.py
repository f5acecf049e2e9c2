"""The X-Ray daemon's address and its UDP protocol: one JSON document per datagram, after a header line, each
datagram within the size the daemon reads; a datagram lost on the way out is counted in SignalsDropped."""

import os
from collections.abc import Mapping

import orjson

from . import settings, signal_writer
from .catalog import SIGNALS_DROPPED
from .metrics import recorder
from .settings import DEFAULT_DAEMON_ADDRESS
from .udp import DatagramSender

DAEMON_ADDRESS_VARIABLE = "AWS_XRAY_DAEMON_ADDRESS"
DATAGRAM_HEADER = b'{"format":"json","version":1}\n'
# The size of one datagram, header included. The segment document specification: "A segment document can be up to
# 64 kB" (https://docs.aws.amazon.com/xray/latest/devguide/xray-api-segmentdocuments.html); the daemon reads each
# datagram into a buffer of 64 KiB, header included, and parses what fits (aws-xray-daemon: Socket.BufferSizeKB 64
# in pkg/cfg/cfg.go, read into receiveBufferSize by cmd/tracing/daemon.go); and an IPv4 UDP datagram carries at most
# 65,507 bytes (more is EMSGSIZE). 64,000 bytes is within all three, however "kB" is read.
MAX_DATAGRAM_BYTES = 64_000
MAX_DOCUMENT_BYTES = MAX_DATAGRAM_BYTES - len(DATAGRAM_HEADER)


def daemon_address(env: Mapping[str, str] = os.environ) -> tuple[str, int]:
    """The UDP (host, port) the SDKs send to, read as they read AWS_XRAY_DAEMON_ADDRESS: for local tools (the
    trace viewer); the service itself sends where its settings say (ObservabilitySettings.xray_daemon_address)."""
    return parse_daemon_address(env.get(DAEMON_ADDRESS_VARIABLE, DEFAULT_DAEMON_ADDRESS))


def parse_daemon_address(value: str) -> tuple[str, int]:
    """`host:port`, or `tcp:host:port udp:host:port` (either order) of which the UDP one counts."""
    forms = value.split()
    if len(forms) == 2:
        by_protocol = dict(form.partition(":")[::2] for form in forms)
        if "udp" not in by_protocol:
            raise ValueError(f"no udp: address in {value!r}")
        forms = [by_protocol["udp"]]
    if len(forms) != 1:
        raise ValueError(f"invalid X-Ray daemon address {value!r}")
    host, colon, port = forms[0].rpartition(":")
    if not colon or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"invalid X-Ray daemon address {value!r}; expected HOST:PORT")
    return host, int(port)


class _Daemon:
    """Where documents go: the Flask door's writer thread when there is one, else straight to the socket (Lambda,
    where an invocation's signals must be out before it is frozen). The address is parsed again whenever the
    settings in force name another (tests point it at a collector of their own)."""

    def __init__(self) -> None:
        self._sender = DatagramSender()
        self._variable: str | None = None
        self._address: tuple[str, int] | None = None

    def send(self, document: dict) -> None:
        """One document, serialized here; a lost trace never fails a request (UDP: nothing waits for the daemon)."""
        try:
            encoded = orjson.dumps(document, default=str)
        except TypeError as error:
            self._sender.report("serializing", error)
            recorder.put(SIGNALS_DROPPED, 1)
            return
        self.send_encoded(encoded)

    def send_encoded(self, document: bytes) -> None:
        """One document already serialized (at most MAX_DOCUMENT_BYTES: tracing.py splits and trims to fit)."""
        try:
            variable = settings.current.xray_daemon_address
            if variable != self._variable:
                self._address, self._variable = parse_daemon_address(variable), variable
        except ValueError as error:
            self._sender.report(variable, error)
            recorder.put(SIGNALS_DROPPED, 1)
            return
        datagram = DATAGRAM_HEADER + document
        if signal_writer.writer is not None:
            signal_writer.writer.send_datagram(datagram, self._address)
            return
        lost = self._sender.send(datagram, self._address)
        if lost:
            recorder.put(SIGNALS_DROPPED, lost)


daemon = _Daemon()

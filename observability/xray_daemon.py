"""The X-Ray daemon's address and its UDP protocol: one JSON document per datagram, after a header line, each
datagram within the size the daemon reads; a document lost on the way out is counted in SignalsDropped."""

import os
from collections.abc import Callable, Mapping
from typing import Any

import orjson

from .catalog import SIGNALS_DROPPED
from .emf import MetricsRecorder
from .settings import DEFAULT_DAEMON_ADDRESS, parse_daemon_address
from .udp import Address, LossWarning

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


class XRayDaemon:
    """The daemon at `address`: each document serialized, framed and handed to `send_datagram` (the writer of the
    Observability in force: at once in Lambda, where an invocation's signals must be out before it is frozen, or the
    Flask worker's writer thread). A lost trace never fails a request (UDP: nothing waits for the daemon); a document
    that cannot be sent at all (an address that does not parse, a value that does not serialize) counts in
    SignalsDropped."""

    def __init__(
        self, address: str, send_datagram: Callable[[bytes, Address], None], recorder: MetricsRecorder
    ) -> None:
        self._variable = address
        self._target: Address | ValueError
        try:
            self._target = parse_daemon_address(address)
        except ValueError as error:  # settings built without validation (model_copy) can hold one
            self._target = error
        self._send_datagram = send_datagram
        self._recorder = recorder
        self._report = LossWarning()

    def send(self, document: dict[str, Any]) -> None:
        """One document, serialized here."""
        try:
            encoded = orjson.dumps(document, default=str)
        except TypeError as error:
            self._lost("serializing", error)
            return
        self.send_encoded(encoded)

    def send_encoded(self, document: bytes) -> None:
        """One document already serialized (at most MAX_DOCUMENT_BYTES: tracing.py splits and trims to fit)."""
        if isinstance(self._target, ValueError):
            self._lost(self._variable, self._target)
            return
        self._send_datagram(DATAGRAM_HEADER + document, self._target)

    def _lost(self, where: str, error: Exception) -> None:
        self._report(where, error)
        self._recorder.put(SIGNALS_DROPPED, 1)

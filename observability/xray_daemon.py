"""The X-Ray daemon's address and its UDP protocol: one JSON document per datagram, after a header line."""

import logging
import os
import socket
from collections.abc import Mapping

import orjson

from . import signal_writer

DAEMON_ADDRESS_VARIABLE = "AWS_XRAY_DAEMON_ADDRESS"
DEFAULT_DAEMON_ADDRESS = "127.0.0.1:2000"
_DATAGRAM_HEADER = b'{"format":"json","version":1}\n'

log = logging.getLogger(__name__)


def daemon_address(env: Mapping[str, str] = os.environ) -> tuple[str, int]:
    """The UDP (host, port) the SDKs send to, read as they read AWS_XRAY_DAEMON_ADDRESS."""
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
    """The socket, opened at the first send (after gunicorn's fork), and the address, read again whenever the
    variable changes (tests point it at a collector of their own)."""

    def __init__(self) -> None:
        self._socket: socket.socket | None = None
        self._variable: str | None = None
        self._address: tuple[str, int] | None = None
        self._warned = False

    def send(self, document: dict) -> None:
        """One datagram; a lost trace never fails a request (UDP: nothing waits for the daemon)."""
        try:
            variable = os.environ.get(DAEMON_ADDRESS_VARIABLE, DEFAULT_DAEMON_ADDRESS)
            if variable != self._variable:
                self._address, self._variable = parse_daemon_address(variable), variable
            datagram = _DATAGRAM_HEADER + orjson.dumps(document, default=str)
            if signal_writer.writer is not None:
                signal_writer.writer.send_datagram(datagram, self._address)
                return
            if self._socket is None:
                self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                self._socket.setblocking(False)
            self._socket.sendto(datagram, self._address)
        except (OSError, ValueError, TypeError) as error:
            if not self._warned:  # once per process: the daemon's absence is one fact, not one per request
                self._warned = True
                log.warning("X-Ray documents are not reaching the daemon (%s): %s", variable, type(error).__name__)


daemon = _Daemon()

"""The ports `make run` listens on, each moved by an environment variable. A port another program holds is
reported in one line that names the variable and a free value for it, whether it is found before anything
starts (`held_by_others`) or when a server binds (each binder raises `PortInUse` from its own bind failure)."""

import errno
import socket
from collections.abc import Iterable
from dataclasses import dataclass

# Where `make run` looks for a free value to suggest: the next ports up, else one the kernel picks.
_NEIGHBOURS_TRIED = 20


@dataclass(frozen=True)
class Port:
    """A port a local server listens on (`what`), and the variable that moves it."""

    what: str
    variable: str
    host: str
    number: int
    protocol: str = "tcp"
    # AWS_XRAY_DAEMON_ADDRESS holds HOST:PORT; the others a port number alone.
    variable_holds_address: bool = False

    def value(self, number: int) -> str:
        return f"{self.host}:{number}" if self.variable_holds_address else str(number)


class PortInUse(Exception):
    """Another program holds the port; the message is one line naming the variable that moves it."""

    def __init__(self, port: Port) -> None:
        self.port = port
        suggestion = _free_neighbour(port)
        super().__init__(
            f"{port.what} cannot listen on {port.host} {port.protocol} port {port.number}: another program holds it; "
            f"set {port.variable} to move it, e.g. {port.variable}={port.value(suggestion)}"
        )


def is_address_in_use(error: OSError) -> bool:
    return error.errno == errno.EADDRINUSE


def held_by_others(ports: Iterable[Port]) -> list[PortInUse]:
    """The ports another program holds, each as the error that names it (empty when all are free)."""
    return [PortInUse(port) for port in ports if not _bindable(port, port.number)]


def _bindable(port: Port, number: int) -> bool:
    kind = _kind(port.protocol)
    with socket.socket(socket.AF_INET, kind) as probe:
        if kind == socket.SOCK_STREAM:
            # As every TCP server here binds (gunicorn, http.server, PostgreSQL): connections of an earlier run
            # lingering in TIME_WAIT do not hold the port.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((port.host, number))
        except OSError as error:
            if is_address_in_use(error):
                return False
            raise
    return True


def free_port(host: str = "127.0.0.1", protocol: str = "tcp") -> int:
    """A port the kernel picks as free now (it may be taken again before it is bound)."""
    with socket.socket(socket.AF_INET, _kind(protocol)) as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


def _kind(protocol: str) -> socket.SocketKind:
    return socket.SOCK_DGRAM if protocol == "udp" else socket.SOCK_STREAM


def _free_neighbour(port: Port) -> int:
    for number in range(port.number + 1, min(port.number + 1 + _NEIGHBOURS_TRIED, 65536)):
        if _bindable(port, number):
            return number
    return free_port(port.host, port.protocol)

"""Datagrams to the X-Ray daemon, and how many of them were lost (for SignalsDropped), on either door."""

import socket
from collections.abc import Callable

from .logs import logger

Address = tuple[str, int]


def connected_socket(address: Address) -> socket.socket:
    """A non-blocking UDP socket connected to `address`: a full socket buffer loses a trace; it never stalls a request
    or the writer."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        sock.connect(address)
    except OSError:
        sock.close()
        raise
    return sock


class LossWarning:
    """One warning line that X-Ray documents are being lost, and why, the first time: the daemon's absence is one fact,
    not one per request."""

    def __init__(self) -> None:
        self._warned = False

    def __call__(self, where: object, error: Exception) -> None:
        if not self._warned:
            self._warned = True
            shown = ":".join(map(str, where)) if isinstance(where, tuple) else where
            logger.warning(
                "X-Ray documents are not reaching the daemon (%s): %s; counted in SignalsDropped",
                shown,
                type(error).__name__,
            )


class DatagramSender:
    """Non-blocking UDP sockets, each connected to one daemon address (one in practice), opened at the first send
    (after gunicorn's fork).

    Connected, so that a daemon that is not listening is noticed: the ICMP "port unreachable" an earlier datagram
    met comes back as ECONNREFUSED on the next send, which then sends nothing; that send is tried once more. A full
    socket buffer (EAGAIN, ENOBUFS), a datagram the kernel refuses (EMSGSIZE) or an address that does not resolve
    lose the datagram at hand. UDP reports no more than that: what the daemon itself drops is not seen here."""

    def __init__(self, connect: Callable[[Address], socket.socket] = connected_socket) -> None:
        self._connect = connect
        self._sockets: dict[Address, socket.socket] = {}
        self._report = LossWarning()

    def send(self, datagram: bytes, address: Address) -> int:
        """Sends one datagram; returns how many datagrams are known lost by this call (0, 1 or 2)."""
        try:
            sock = self._sockets.get(address)
            if sock is None:
                sock = self._sockets[address] = self._connect(address)
            try:
                sock.send(datagram)
                return 0
            except ConnectionRefusedError as refused:
                self._report(address, refused)  # the earlier datagram was refused; this one is tried once more
                try:
                    sock.send(datagram)
                    return 1
                except OSError as error:
                    self._report(address, error)
                    return 2
        except OSError as error:  # socket.gaierror included
            self._report(address, error)
            return 1

    def close(self) -> None:
        for sock in self._sockets.values():
            sock.close()
        self._sockets.clear()

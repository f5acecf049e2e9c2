"""Datagrams to the X-Ray daemon, and how many of them were lost (for SignalsDropped), on either door."""

import socket


class DatagramSender:
    """Non-blocking UDP sockets, each connected to one daemon address (one in practice), opened at the first send
    (after gunicorn's fork).

    Connected, so that a daemon that is not listening is noticed: the ICMP "port unreachable" an earlier datagram
    met comes back as ECONNREFUSED on the next send, which then sends nothing; that send is tried once more. A full
    socket buffer (EAGAIN, ENOBUFS), a datagram the kernel refuses (EMSGSIZE) or an address that does not resolve
    lose the datagram at hand. UDP reports no more than that: what the daemon itself drops is not seen here."""

    def __init__(self) -> None:
        self._sockets: dict[tuple[str, int], socket.socket] = {}
        self._warned = False

    def send(self, datagram: bytes, address: tuple[str, int]) -> int:
        """Sends one datagram; returns how many datagrams are known lost by this call (0, 1 or 2)."""
        try:
            sock = self._sockets.get(address)
            if sock is None:
                sock = self._connect(address)
            try:
                sock.send(datagram)
                return 0
            except ConnectionRefusedError as refused:
                self.report(address, refused)  # the earlier datagram was refused; this one is tried once more
                try:
                    sock.send(datagram)
                    return 1
                except OSError as error:
                    self.report(address, error)
                    return 2
        except OSError as error:  # socket.gaierror included
            self.report(address, error)
            return 1

    def _connect(self, address: tuple[str, int]) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            sock.setblocking(False)  # a full socket buffer loses a trace; it never stalls a request or the writer
            sock.connect(address)
        except OSError:
            sock.close()
            raise
        self._sockets[address] = sock
        return sock

    def report(self, address: object, error: Exception) -> None:
        """One warning per process that documents are being lost, and why."""
        if not self._warned:  # once per process: the daemon's absence is one fact, not one per request
            self._warned = True
            from .logs import logger  # the service's JSON lines (late: logs imports tracing, which imports this)

            where = ":".join(map(str, address)) if isinstance(address, tuple) else address
            logger.warning("X-Ray documents are not reaching the daemon (%s): %s; counted in SignalsDropped",
                           where, type(error).__name__)

    def close(self) -> None:
        for sock in self._sockets.values():
            sock.close()
        self._sockets.clear()

"""Whether new connections to the database succeed: the state behind failing fast.

A connection attempt that fails (the pool's, when it fills or replaces a connection) opens an outage. While it is
open, requests are not made to wait for the pool: the database layer serves them from a connection that is ready
at once, and refuses the rest immediately. One probe thread per process, started by the outage, tries a new
connection every `interval_s`; the first that succeeds lets the pool drop the connections the server ended and
refill (`on_back`) and closes the outage. Only the probe closes it, so that the connections the server ended are
gone before requests wait for the pool again (psycopg_pool pauses a second before trying another connection when
the one it checked is dead).

An outage's verdict is trusted for `trusted_for_s` after the last attempt that failed. A process that stops
running for longer, a Lambda execution environment frozen between invocations (its probe thread frozen too), does
not refuse on an old verdict when it thaws: its next requests wait for the pool as usual, and the next failed
attempt makes the verdict current again (the thawed probe's, within an interval).
"""

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from observability import logger


@dataclass(frozen=True)
class Outage:
    since: datetime  # when the first attempt failed (UTC)
    cause: str  # the failed attempt's exception type (its text can name hosts: not for clients)


class Reachability:
    def __init__(
        self,
        probe: Callable[[], None],
        on_back: Callable[[], None],
        *,
        interval_s: float,
        trusted_for_s: float,
        name: str,
    ) -> None:
        """`probe` opens and closes one connection (and reports its own failure, as every attempt does);
        `on_back` runs once the probe succeeded, before requests wait for the pool again."""
        self._probe = probe
        self._on_back = on_back
        self.interval_s = interval_s
        self._trusted_for_s = trusted_for_s
        self._name = name
        self._lock = threading.Lock()
        self._outage: Outage | None = None
        self._opened_at = 0.0  # time.monotonic() when the outage opened
        self._last_failure = 0.0  # time.monotonic() of the latest failed attempt
        self._prober: threading.Thread | None = None
        self._closed = threading.Event()

    def attempt_failed(self, error: BaseException) -> None:
        """A connection attempt failed: opens an outage (and its probe) unless one is open."""
        now = time.monotonic()
        with self._lock:
            self._last_failure = now
            if self._outage is not None or self._closed.is_set():
                return
            self._outage = outage = Outage(datetime.now(UTC), type(error).__qualname__)
            self._opened_at = now
            self._prober = threading.Thread(target=self._probe_until_back, name=f"{self._name}-probe", daemon=True)
            self._prober.start()
        logger.warning(
            "database unreachable: requests refused at once while a probe reconnects",
            extra={
                "unreachable_since": outage.since.isoformat(timespec="milliseconds"),
                "cause": outage.cause,
                "probe_interval_ms": round(self.interval_s * 1000),
            },
        )

    def refusing(self) -> Outage | None:
        """The open outage, when its verdict is recent enough to refuse requests on; else None."""
        outage = self._outage
        if outage is None or time.monotonic() - self._last_failure > self._trusted_for_s:
            return None
        return outage

    def close(self) -> None:
        with self._lock:  # a probe is started under the lock: this one is started, or none will be
            self._closed.set()
            prober = self._prober
        if prober is not None and prober is not threading.current_thread():
            prober.join(timeout=5)

    def _probe_until_back(self) -> None:
        while not self._closed.wait(self.interval_s):
            try:
                self._probe()
            # Any failure means "not yet": the attempt reported itself (BLE001, B112)
            except Exception:  # noqa: BLE001  # nosec B112
                continue
            try:
                self._on_back()
            finally:
                with self._lock:
                    opened_at, self._outage, self._prober = self._opened_at, None, None
            logger.warning(
                "database reachable again: requests served", extra={"outage_s": round(time.monotonic() - opened_at, 3)}
            )
            return

"""The Observability in force in this process: the one object that owns what the service's signals need, built from
one ObservabilitySettings, and the one piece of process-wide state of this package.

It owns the metrics recorder (where EMF goes, under which namespace), the X-Ray daemon traces go to (None when
tracing is off), the writer lines and datagrams leave by (at once, or a Flask worker's writer thread) and the one
flush point of the metrics (flush). Python's logging is process-wide by nature: installing applies the settings to
the service's logger too (logs.apply_settings).

The composition root installs one when it builds the application (application.build_application); until then one
with the default settings is in force, so that a tool that imports the data layer and installs nothing logs,
measures and traces as a door would by default. What emits (the doors' instrumentation, the data layer, the domain's
events) asks installed() for it as it emits, so that everything of one request goes to the same place. Installing
another closes the one before it: its threads stopped, what waits written, its metrics flushed."""

import atexit
import threading
from collections.abc import Callable

from .emf import MetricsRecorder, Sink, agent_sink, stdout_sink
from .logs import apply_settings
from .settings import ObservabilitySettings
from .signal_writer import DirectWriter, SignalWriter, Writer
from .udp import Address
from .xray_daemon import XRayDaemon


class Observability:
    def __init__(self, settings: ObservabilitySettings, *, metrics_sink: Sink | None = None) -> None:
        """`metrics_sink`: where EMF documents go instead of where the settings say (tests read them there)."""
        self.settings = settings
        self._own_metrics_sink = metrics_sink is not None
        if metrics_sink is None:
            # On EC2 the CloudWatch agent receives EMF over UDP; in Lambda (and locally) EMF lines go to stdout.
            metrics_sink = agent_sink(settings.emf_agent_endpoint) if settings.emf_agent_endpoint else stdout_sink
        self.recorder = MetricsRecorder(
            settings.metrics_namespace, metrics_sink, settings.enabled, settings.emf_log_group_name
        )
        # AWS_XRAY_SDK_ENABLED=false, the SDK's own switch, turns tracing off here too (bench: "no traces").
        self.daemon = (
            XRayDaemon(settings.xray_daemon_address, self.send_datagram, self.recorder) if settings.tracing else None
        )
        self._writer: Writer = DirectWriter(self.recorder)
        self._threads: list[_Repeating] = []
        self._lock = threading.Lock()
        self._state = "direct"  # then "background" (a Flask worker), and "closed"

    def described_by(self, settings: ObservabilitySettings) -> bool:
        """Whether `settings` alone make this Observability (its metrics go where they say)."""
        return not self._own_metrics_sink and self.settings == settings

    def write_line(self, line: str) -> None:
        """A complete log line, newline included."""
        self._writer.write_line(line)

    def send_datagram(self, datagram: bytes, address: Address) -> None:
        self._writer.send_datagram(datagram, address)

    def flush(self) -> None:
        """The one flush point of the metrics: writes what was recorded since the last flush. The Lambda door calls
        it after each invocation; in a Flask worker the flusher thread does every METRICS_FLUSH_INTERVAL_S (the door
        after each request when it is 0), and close() once more when the worker exits."""
        self.recorder.flush()

    def write_in_background(self) -> None:
        """A Flask worker's threads, started once (however many apps the process creates): the writer of lines and
        datagrams every SIGNALS_FLUSH_INTERVAL_MS, and the flusher of the metrics every METRICS_FLUSH_INTERVAL_S, each
        when its interval is above 0. Stopped by close(), which the process's exit calls."""
        with self._lock:
            if self._state != "direct":
                return
            self._state = "background"
            settings = self.settings
            if settings.signals_flush_interval_ms > 0:
                writer = SignalWriter(settings.signals_queue_max, self.recorder)
                self._writer = writer
                self._threads.append(
                    _Repeating("signal-writer", settings.signals_flush_interval_ms / 1000, writer.flush)
                )
            if settings.metrics_flush_interval_s > 0:
                self._threads.append(_Repeating("emf-flusher", settings.metrics_flush_interval_s, self.flush))
            for thread in self._threads:
                thread.start()
            if self._threads:  # else nothing ever waits: each line and datagram goes at once, metrics per request
                atexit.register(self.close)

    def close(self) -> None:
        """Stops the threads, then writes what waits: the lines and datagrams, and the metrics with the drops counted
        among them. What is written afterwards goes out at once."""
        with self._lock:
            if self._state == "closed":
                return
            self._state = "closed"
        atexit.unregister(self.close)
        for thread in self._threads:
            thread.stop()
        closing, self._writer = self._writer, DirectWriter(self.recorder)
        closing.close()
        self.flush()


class _Repeating:
    """Calls `action` every `interval_s` on a daemon thread of its own, until stopped."""

    def __init__(self, name: str, interval_s: float, action: Callable[[], None]) -> None:
        self._interval_s = interval_s
        self._action = action
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stopped.wait(self._interval_s):
            self._action()


_installed = Observability(ObservabilitySettings.model_construct())  # the defaults need no validation


def install(settings: ObservabilitySettings, *, metrics_sink: Sink | None = None) -> Observability:
    """Puts `settings` in force for this process, closing the Observability they replace, and returns the new one;
    the settings in force already, it changes nothing (every application a process builds installs its own)."""
    global _installed  # the holder this module documents, set here only
    if metrics_sink is None and _installed.described_by(settings):
        return _installed
    previous, _installed = _installed, Observability(settings, metrics_sink=metrics_sink)
    apply_settings(settings)
    previous.close()
    return _installed


def installed() -> Observability:
    """The Observability in force."""
    return _installed

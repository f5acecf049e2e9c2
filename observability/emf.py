"""CloudWatch Embedded Metric Format: a thread-safe recorder that only takes catalog metrics.

Why not Powertools Metrics: it keeps one process-wide buffer with one dimension set per flush, which
fits one Lambda invocation at a time but not a threaded Flask worker (concurrent requests would share
dimensions) nor our documents, which carry several dimension sets. This recorder groups values by
dimensions, writes one EMF document per group, and is flushed per Lambda invocation or per interval.
Counters are summed per flush (read them with Sum); samples (latencies, gauges) keep every value.
"""

import json
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from .catalog import CATALOG, Aggregation, Dimension, MetricSpec

MAX_METRICS_PER_DOCUMENT = 100
MAX_VALUES_PER_METRIC = 100
MAX_DIMENSION_VALUE_LENGTH = 1024

Sink = Callable[[str], None]
_GroupKey = tuple[tuple[tuple[Dimension, ...], ...], tuple[tuple[Dimension, str], ...]]


class UnknownMetric(ValueError):
    pass


def stdout_sink(line: str) -> None:
    # sys.stdout looked up per call: Lambda and test captures both replace it.
    sys.stdout.write(line + "\n")


def agent_sink(endpoint: str) -> Sink:
    """The CloudWatch agent's EMF listener, e.g. udp://127.0.0.1:25888 (on EC2)."""
    parts = urlsplit(endpoint)
    if parts.scheme != "udp" or not parts.hostname or not parts.port:
        raise ValueError(f"EMF_AGENT_ENDPOINT must look like udp://127.0.0.1:25888, got {endpoint!r}")
    address = (parts.hostname, parts.port)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def send(line: str) -> None:
        sock.sendto(line.encode() + b"\n", address)

    return send


class MetricsRecorder:
    def __init__(self, namespace: str, sink: Sink, enabled: bool = True, log_group: str | None = None) -> None:
        self.namespace = namespace
        self.sink = sink
        self.enabled = enabled
        self.log_group = log_group  # where the CloudWatch agent files the documents (Lambda ignores it)
        self._lock = threading.Lock()
        self._groups: dict[_GroupKey, dict[MetricSpec, list[float]]] = {}

    def put(self, spec: MetricSpec, value: float, dimensions: Mapping[Dimension, str] | None = None) -> None:
        dimensions = dimensions or {}
        if CATALOG.get(spec.name) is not spec:
            raise UnknownMetric(f"{spec.name} is not in the metric catalog")
        if set(dimensions) != spec.dimension_names:
            raise UnknownMetric(f"{spec.name} takes dimensions {sorted(spec.dimension_names)}, got {sorted(dimensions)}")
        for name, dimension_value in dimensions.items():
            if not dimension_value or len(dimension_value) > MAX_DIMENSION_VALUE_LENGTH:
                raise ValueError(f"dimension {name} must be 1 to {MAX_DIMENSION_VALUE_LENGTH} characters")
        if not self.enabled:
            return
        key = (spec.dimension_sets, tuple(sorted(dimensions.items())))
        with self._lock:
            self._groups.setdefault(key, {}).setdefault(spec, []).append(value)

    def flush(self) -> int:
        """Writes what was recorded since the last flush; returns the number of documents written."""
        with self._lock:
            groups, self._groups = self._groups, {}
        timestamp = int(time.time() * 1000)
        written = 0
        for (dimension_sets, dimensions), metrics in groups.items():
            for document in _documents(self.namespace, timestamp, dimension_sets, dict(dimensions), metrics):
                if self.log_group:
                    document["_aws"]["LogGroupName"] = self.log_group
                self.sink(json.dumps(document, separators=(",", ":")))
                written += 1
        return written


def _documents(namespace, timestamp, dimension_sets, dimensions, metrics) -> list[dict]:
    values = {
        spec: [sum(recorded)] if spec.aggregation is Aggregation.SUM else recorded for spec, recorded in metrics.items()
    }
    specs = list(values)
    documents = []
    for first in range(0, len(specs), MAX_METRICS_PER_DOCUMENT):
        batch = specs[first : first + MAX_METRICS_PER_DOCUMENT]
        longest = max(len(values[spec]) for spec in batch)
        for offset in range(0, longest, MAX_VALUES_PER_METRIC):
            present = [spec for spec in batch if len(values[spec]) > offset]
            document: dict = {
                "_aws": {
                    "Timestamp": timestamp,
                    "CloudWatchMetrics": [
                        {
                            "Namespace": namespace,
                            "Dimensions": [[name.value for name in dimension_set] for dimension_set in dimension_sets],
                            "Metrics": [{"Name": spec.name, "Unit": spec.unit.value} for spec in present],
                        }
                    ],
                },
                **{name.value: dimension_value for name, dimension_value in dimensions.items()},
            }
            for spec in present:
                chunk = values[spec][offset : offset + MAX_VALUES_PER_METRIC]
                document[spec.name] = chunk[0] if len(chunk) == 1 else chunk
            documents.append(document)
    return documents


class IntervalFlusher:
    """Flushes a recorder every `interval_s` on a daemon thread, and once more when stopped."""

    def __init__(self, recorder: MetricsRecorder, interval_s: float) -> None:
        self._recorder = recorder
        self._interval_s = interval_s
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="emf-flusher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join(timeout=5)
        self._recorder.flush()

    def _run(self) -> None:
        while not self._stopped.wait(self._interval_s):
            self._recorder.flush()

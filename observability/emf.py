"""CloudWatch Embedded Metric Format: a thread-safe recorder that only takes catalog metrics.

Why not Powertools Metrics: it keeps one process-wide buffer with one dimension set per flush, which
fits one Lambda invocation at a time but not a threaded Flask worker (concurrent requests would share
dimensions) nor our documents, which carry several dimension sets. This recorder groups values by
dimensions, writes one EMF document per group, and is flushed by the Observability that owns it (runtime.py): per
Lambda invocation, or per interval in a Flask worker.
Counters are summed per flush (read them with Sum); samples (latencies, gauges) keep every value.
"""

import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, cast

import orjson

from .catalog import CATALOG, Aggregation, Dimension, MetricSpec
from .settings import agent_address

MAX_METRICS_PER_DOCUMENT = 100
MAX_VALUES_PER_METRIC = 100
MAX_DIMENSION_VALUE_LENGTH = 1024

Sink = Callable[[str], None]  # takes one EMF document: one JSON line, without its newline
_DimensionSets = tuple[tuple[Dimension, ...], ...]


class UnknownMetric(ValueError):
    pass


class StdoutSink:
    """EMF documents as lines on stdout (Lambda, local runs); a flush's documents go out in one write."""

    def __call__(self, document: str) -> None:
        self.write_many([document])

    def write_many(self, documents: list[str]) -> None:
        # sys.stdout looked up per call: Lambda and test captures both replace it.
        sys.stdout.write("\n".join(documents) + "\n")


stdout_sink = StdoutSink()


def agent_sink(endpoint: str) -> Sink:
    """The CloudWatch agent's EMF listener, e.g. udp://127.0.0.1:25888 (on EC2): one datagram per document."""
    address = agent_address(endpoint)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)

    def send(line: str) -> None:
        sock.sendto(line.encode() + b"\n", address)

    return send


def _writer(sink: Sink) -> Callable[[list[str]], None]:
    """A flush's documents in one call where the sink takes them so (stdout), else one call each (the agent)."""
    write_many = getattr(sink, "write_many", None)
    if write_many is not None:
        return cast(Callable[[list[str]], None], write_many)

    def one_by_one(documents: list[str]) -> None:
        for document in documents:
            sink(document)

    return one_by_one


@dataclass(frozen=True, eq=False)  # hashed by identity: one object per group, looked up on every value
class _Group:
    """Metrics with the same dimension sets and dimension values: they share documents."""

    dimension_sets: _DimensionSets
    dimensions: dict[str, str]  # as each document carries them, sorted by name


class MetricsRecorder:
    def __init__(
        self,
        namespace: str,
        sink: Sink,
        enabled: bool = True,
        log_group: str | None = None,
        catalog: Mapping[str, MetricSpec] = CATALOG,
    ) -> None:
        """`catalog`: the metrics it takes (the service's; a test's own to try documents of many metrics)."""
        self._catalog = catalog
        self._lock = threading.Lock()
        self._pending: dict[_Group, dict[MetricSpec, list[float]]] = {}
        # Validation is done once per (metric, dimensions as given): dimension values come from small fixed
        # sets (catalog.py: never ids or personal data), so these caches stay small.
        self._groups: dict[tuple[MetricSpec, tuple[tuple[Dimension, str], ...]], _Group] = {}
        self._groups_by_key: dict[tuple[_DimensionSets, tuple[tuple[Dimension, str], ...]], _Group] = {}
        self._namespace = namespace
        self._enabled = enabled
        self._log_group = log_group  # where the CloudWatch agent files the documents (Lambda ignores it)
        self._write = _writer(sink)
        self._directives: dict[tuple[_Group, tuple[MetricSpec, ...]], orjson.Fragment] = {}  # they name the namespace

    def put(self, spec: MetricSpec, value: float, dimensions: Mapping[Dimension, str] | None = None) -> None:
        self.put_many({spec: value}, dimensions)

    def put_many(self, values: Mapping[MetricSpec, float], dimensions: Mapping[Dimension, str] | None = None) -> None:
        """Several metrics with the same dimensions (one request's, one statement's) under one lock."""
        if not self._enabled:
            return
        given = tuple(dimensions.items()) if dimensions else ()
        recorded = [(self._group(spec, given), spec, value) for spec, value in values.items()]
        with self._lock:
            for group, spec, value in recorded:
                metrics = self._pending.get(group)
                if metrics is None:
                    metrics = self._pending[group] = {}
                samples = metrics.get(spec)
                if samples is None:
                    metrics[spec] = [value]
                else:
                    samples.append(value)

    def flush(self) -> int:
        """Writes what was recorded since the last flush; returns the number of documents written."""
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return 0
        timestamp = int(time.time() * 1000)
        documents = [
            orjson.dumps(document).decode()
            for group, metrics in pending.items()
            for document in self._documents(timestamp, group, metrics)
        ]
        self._write(documents)
        return len(documents)

    def _group(self, spec: MetricSpec, given: tuple[tuple[Dimension, str], ...]) -> _Group:
        group = self._groups.get((spec, given))
        if group is None:
            group = self._groups[spec, given] = self._validated_group(spec, dict(given))
        return group

    def _validated_group(self, spec: MetricSpec, dimensions: dict[Dimension, str]) -> _Group:
        if self._catalog.get(spec.name) is not spec:
            raise UnknownMetric(f"{spec.name} is not in the metric catalog")
        if set(dimensions) != spec.dimension_names:
            raise UnknownMetric(
                f"{spec.name} takes dimensions {sorted(spec.dimension_names)}, got {sorted(dimensions)}"
            )
        for name, dimension_value in dimensions.items():
            if not dimension_value or len(dimension_value) > MAX_DIMENSION_VALUE_LENGTH:
                raise ValueError(f"dimension {name} must be 1 to {MAX_DIMENSION_VALUE_LENGTH} characters")
        key = (spec.dimension_sets, tuple(sorted(dimensions.items())))
        group = self._groups_by_key.get(key)
        if group is None:
            group = _Group(spec.dimension_sets, {name.value: dimension_value for name, dimension_value in key[1]})
            group = self._groups_by_key.setdefault(key, group)  # a racing thread's group wins if it came first
        return group

    def _documents(
        self, timestamp: int, group: _Group, metrics: dict[MetricSpec, list[float]]
    ) -> Iterator[dict[str, Any]]:
        values = [
            (spec, [sum(recorded)] if spec.aggregation is Aggregation.SUM else recorded)
            for spec, recorded in metrics.items()
        ]
        for first in range(0, len(values), MAX_METRICS_PER_DOCUMENT):
            batch = values[first : first + MAX_METRICS_PER_DOCUMENT]
            longest = max(len(recorded) for _, recorded in batch)
            for offset in range(0, longest, MAX_VALUES_PER_METRIC):
                present = [
                    (spec, recorded[offset : offset + MAX_VALUES_PER_METRIC])
                    for spec, recorded in batch
                    if len(recorded) > offset
                ]
                metadata = {
                    "Timestamp": timestamp,
                    "CloudWatchMetrics": self._directive(group, tuple(spec for spec, _ in present)),
                }
                if self._log_group:
                    metadata["LogGroupName"] = self._log_group
                document: dict[str, Any] = {"_aws": metadata, **group.dimensions}
                for spec, chunk in present:
                    document[spec.name] = chunk[0] if len(chunk) == 1 else chunk
                yield document

    def _directive(self, group: _Group, present: tuple[MetricSpec, ...]) -> orjson.Fragment:
        """The document's CloudWatchMetrics, rendered once per group and set of metrics present."""
        directive = self._directives.get((group, present))
        if directive is None:
            directive = self._directives[group, present] = orjson.Fragment(
                orjson.dumps(
                    [
                        {
                            "Namespace": self._namespace,
                            "Dimensions": [
                                [name.value for name in dimension_set] for dimension_set in group.dimension_sets
                            ],
                            "Metrics": [{"Name": spec.name, "Unit": spec.unit.value} for spec in present],
                        }
                    ]
                )
            )
        return directive

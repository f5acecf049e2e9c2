"""What the local stand-ins for AWS services write where CloudWatch would read it: whole lines on one stream (the
process's stdout, shared by every thread and every execution environment), and metrics in AWS's own namespaces as
EMF documents, so that the alarm replay and the dashboard preview read them like the doors' own.

These metrics are the local stack's only: in AWS the services publish them themselves, and nothing here ships.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Mapping, Sequence
from typing import TextIO

import orjson

COUNT = "Count"
MILLISECONDS = "Milliseconds"


class LineStream:
    """Whole lines on one stream from many threads: a line is never cut by another's (a pipe or a file shared by
    several writers only keeps writes whole up to a size, and Python may split a long one)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def write_line(self, line: str) -> None:
        stream = self._stream or sys.stdout  # looked up per line: test captures replace sys.stdout
        with self._lock:
            stream.write(line if line.endswith("\n") else line + "\n")
            stream.flush()


class AwsMetrics:
    """Writes one EMF document per call, as its datapoint happens (the alarm replay compresses time, so a document
    batched for a second would move its datapoints by a minute of alarm time)."""

    def __init__(self, stream: LineStream) -> None:
        self._stream = stream

    def put(
        self,
        namespace: str,
        dimension_sets: Sequence[Sequence[str]],
        dimensions: Mapping[str, str],
        values: Mapping[str, tuple[float, str]],
    ) -> None:
        """`values`: metric name -> (value, unit); each of `dimension_sets` names some of `dimensions`."""
        document = {
            "_aws": {
                "Timestamp": int(time.time() * 1000),
                "CloudWatchMetrics": [
                    {
                        "Namespace": namespace,
                        "Dimensions": [list(dimension_set) for dimension_set in dimension_sets],
                        "Metrics": [{"Name": name, "Unit": unit} for name, (_, unit) in values.items()],
                    }
                ],
            },
            **dimensions,
            **{name: value for name, (value, _) in values.items()},
        }
        self._stream.write_line(orjson.dumps(document).decode())

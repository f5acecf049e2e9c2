"""Whether a deployed stack's signals of an end-to-end run arrived: the `Requests` metric, X-Ray traces and
the request log lines. Each check polls until the run's requests show or the shared deadline passes (EMF
metrics take minutes to arrive; traces and log lines less), printing progress while it waits."""

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from observability.catalog import REQUESTS, Dimension

from .door import ScenarioFailed

POLL_INTERVAL_S = 15.0
QUERY_POLL_INTERVAL_S = 1.0
TRACE_SAMPLE_SIZE = 10
METRIC_PERIOD_S = 60
QUERY_IDS_PER_CHUNK = 100  # a Logs Insights query string holds at most 10,000 characters
# Metrics, traces and log lines carry the time they were made; the window opens a minute before the run and
# closes a minute after now, so clock skew between here and AWS loses none of them.
WINDOW_MARGIN = timedelta(minutes=1)
_QUERY_RUNNING = ("Scheduled", "Running")


@dataclass
class Waiter:
    """Polls attempts until one succeeds or the deadline (time.monotonic()) passes."""

    deadline: float
    progress: Callable[[str], None]
    interval_s: float

    def until(self, what: str, attempt: Callable[[], tuple[bool, str]]) -> str:
        """attempt() says whether it is done and how far it got; returns how far, or fails with it."""
        while True:
            done, state = attempt()
            if done:
                return state
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise ScenarioFailed(f"{state}, when the wait ended")
            self.progress(f"waiting for {what}: {state} ({left:.0f} s left)")
            time.sleep(min(self.interval_s, left))


def _window_end() -> datetime:
    return datetime.now(UTC) + WINDOW_MARGIN


def requests_metric(
    cloudwatch, namespace: str, front_door: str, expected: int, started: datetime, waiter: Waiter
) -> str:
    """The door's `Requests` (dimension FrontDoor alone) sum to at least the run's requests that reached it."""
    query = {
        "Id": "requests",
        "MetricStat": {
            "Metric": {
                "Namespace": namespace,
                "MetricName": REQUESTS.name,
                "Dimensions": [{"Name": Dimension.FRONT_DOOR.value, "Value": front_door}],
            },
            "Period": METRIC_PERIOD_S,
            "Stat": "Sum",
        },
    }

    def attempt() -> tuple[bool, str]:
        pages = cloudwatch.get_paginator("get_metric_data").paginate(
            MetricDataQueries=[query], StartTime=started - WINDOW_MARGIN, EndTime=_window_end()
        )
        total = sum(value for page in pages for result in page["MetricDataResults"] for value in result["Values"])
        return total >= expected, f"{total:g} of the run's {expected} requests counted"

    return waiter.until(f"{namespace}/{REQUESTS.name} FrontDoor={front_door}", attempt)


def sample(correlation_ids: list[str], size: int = TRACE_SAMPLE_SIZE) -> list[str]:
    """Up to `size` ids spread over the run."""
    step = max(1, len(correlation_ids) // size)
    return correlation_ids[::step][:size]


def traces(xray, front_door: str, correlation_ids: list[str], started: datetime, waiter: Waiter) -> str:
    """X-Ray finds a trace by its correlation_id annotation for at least one id of each sample. X-Ray samples
    requests in AWS (by default the first each second and 5 % of the rest), so not every id has a trace."""
    sampled, found = sample(correlation_ids), set()

    def attempt() -> tuple[bool, str]:
        for correlation_id in sampled:
            if correlation_id not in found and _has_trace(xray, correlation_id, started):
                found.add(correlation_id)
        return bool(found), f"traces for {len(found)} of {len(sampled)} sampled correlation ids"

    return waiter.until(f"X-Ray traces of the {front_door} door", attempt)


def _has_trace(xray, correlation_id: str, started: datetime) -> bool:
    pages = xray.get_paginator("get_trace_summaries").paginate(
        StartTime=started - WINDOW_MARGIN,
        EndTime=_window_end(),
        FilterExpression=f'annotation.correlation_id = "{correlation_id}"',
    )
    # X-Ray scans the window in slices, and a page may be empty while a later one is not.
    return any(page["TraceSummaries"] for page in pages)


def request_log_lines(
    logs, log_group: str, front_door: str, correlation_ids: list[str], started: datetime, waiter: Waiter
) -> str:
    """Logs Insights finds the door's request line of every request of the run that reached it. The lines are
    asked for by correlation id, in chunks: at the Lambda door that id is API Gateway's request id, which shares
    nothing with the run's X-Request-Id."""
    expected = set(correlation_ids)

    def attempt() -> tuple[bool, str]:
        found = set()
        for chunk in _chunks(sorted(expected), QUERY_IDS_PER_CHUNK):
            query = (
                "fields @timestamp, @message"
                f' | filter message = "request" and correlation_id in {json.dumps(chunk)}'
                " | limit 10000"
            )
            query_id = logs.start_query(
                logGroupName=log_group,
                queryString=query,
                startTime=int((started - WINDOW_MARGIN).timestamp()),
                endTime=int(_window_end().timestamp()),
            )["queryId"]
            found |= set(chunk) & {_correlation_id(row) for row in _query_results(logs, query_id, waiter.deadline)}
        missing = sorted(expected - found)
        return not missing, (
            f"{len(found)} of the run's {len(expected)} request lines found"
            + (f" (missing e.g. {missing[0]})" if missing else "")
        )

    return waiter.until(f"the {front_door} door's request lines in {log_group}", attempt)


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def _query_results(logs, query_id: str, deadline: float) -> list[list[dict]]:
    while True:
        answer = logs.get_query_results(queryId=query_id)
        if answer["status"] not in _QUERY_RUNNING:
            break
        if time.monotonic() > deadline:
            logs.stop_query(queryId=query_id)
            raise ScenarioFailed(f"Logs Insights query {query_id} still {answer['status']} when the wait ended")
        time.sleep(QUERY_POLL_INTERVAL_S)
    if answer["status"] != "Complete":
        raise ScenarioFailed(f"Logs Insights query {query_id} ended {answer['status']}")
    return answer["results"]


def _correlation_id(row: list[dict]) -> str | None:
    """The correlation id of a result row's @message, a request line as the doors write it (JSON)."""
    message = next((cell["value"] for cell in row if cell["field"] == "@message"), "")
    try:
        line = json.loads(message)
    except ValueError:
        return None
    return line.get("correlation_id") if isinstance(line, dict) else None

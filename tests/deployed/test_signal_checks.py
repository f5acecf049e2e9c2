"""The signal checks of the end-to-end suite (deployed/signals.py) against moto: the Requests metric from the
app's own EMF, X-Ray traces by their correlation_id annotation, and request lines through Logs Insights.

What moto does not prove: it ignores a Logs Insights query's `filter` (every event of the window comes back,
with @timestamp and @message only), and it refuses a FilterExpression, which tests/deployed/moto_aws.py
evaluates instead. The query texts are asserted here; their evaluation by AWS is not."""

import json
import time
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from deployed import signals
from deployed.door import ScenarioFailed
from observability.catalog import REQUESTS, Dimension
from observability.emf import MetricsRecorder
from observability.request_log import write_request_line
from tests.deployed.moto_aws import evaluate_annotation_filters, ingest_emf

NAMESPACE = "StudentRecords"
LOG_GROUP = "/student-records-e2e/flask/app"


@pytest.fixture
def started() -> datetime:
    return datetime.now(UTC) - timedelta(seconds=5)


@pytest.fixture
def progress() -> list[str]:
    return []


def _waiter(progress: list[str], seconds: float = 0.3) -> signals.Waiter:
    return signals.Waiter(time.monotonic() + seconds, progress.append, interval_s=0.05)


def _requests_emf(front_door: str, routes: list[str]) -> list[str]:
    """EMF as a door writes it: one Requests per request, flushed once."""
    lines: list[str] = []
    recorder = MetricsRecorder(NAMESPACE, lines.append)
    for route in routes:
        recorder.put(REQUESTS, 1, {Dimension.FRONT_DOOR: front_door, Dimension.ROUTE: route})
    recorder.flush()
    return lines


def test_the_requests_metric_passes_once_the_doors_requests_are_counted(aws, started, progress):
    # Given three lambda requests and five flask ones, as the doors' EMF, in CloudWatch
    ingest_emf(_requests_emf("lambda", ["/students", "/students", "/health"]))
    ingest_emf(_requests_emf("flask", ["/students"] * 5))
    cloudwatch = boto3.client("cloudwatch")
    # When the lambda door's requests are awaited, Then all three are counted (and the flask ones are not)
    assert (
        signals.requests_metric(cloudwatch, NAMESPACE, "lambda", 3, started, _waiter(progress))
        == "3 of the run's 3 requests counted"
    )
    # And one more than arrived is awaited until the deadline, with progress, then fails
    with pytest.raises(ScenarioFailed, match="3 of the run's 4 requests counted, when the wait ended"):
        signals.requests_metric(cloudwatch, NAMESPACE, "lambda", 4, started, _waiter(progress))
    assert progress and progress[0].startswith(f"waiting for {NAMESPACE}/Requests FrontDoor=lambda: 3 of the run's 4")


def test_the_requests_metric_counts_only_the_runs_window(aws, started, progress):
    # Given a request counted half an hour before the run
    document = json.loads(_requests_emf("lambda", ["/students"])[0])
    document["_aws"]["Timestamp"] -= 30 * 60 * 1000
    ingest_emf([json.dumps(document)])
    # Then the run does not count it
    with pytest.raises(ScenarioFailed, match="0 of the run's 1"):
        signals.requests_metric(boto3.client("cloudwatch"), NAMESPACE, "lambda", 1, started, _waiter(progress))


def _segment(correlation_id: str, **fields) -> str:
    now = time.time()
    return json.dumps(
        {
            "id": fields.pop("id", "70de5b6f19ff9a0a"),
            "name": "student-records",
            "trace_id": f"1-{int(now):08x}-{correlation_id.encode().hex()[:24]:0<24}",
            "start_time": now - 0.02,
            "end_time": now,
            "annotations": {"route": "/students", "correlation_id": correlation_id, "front_door": "flask"},
            **fields,
        }
    )


def test_traces_are_found_by_their_correlation_id_annotation(aws, started, progress):
    # Given a Flask segment and a Lambda handler subsegment (sent apart from Lambda's segment), each annotated
    xray = boto3.client("xray")
    asked = evaluate_annotation_filters(xray.meta.events)
    xray.put_trace_segments(
        TraceSegmentDocuments=[
            _segment("e2e-run1-1"),
            _segment(
                "lambda-request-id-7",
                id="5ad7e4c0b1f2a3d4",
                type="subsegment",
                parent_id="70de5b6f19ff9a0b",
                name="## lambda_handler",
            ),
        ]
    )
    # When both ids are looked for, Then both are found, each by its own filter expression
    assert (
        signals.traces(xray, "flask", ["e2e-run1-1", "lambda-request-id-7"], started, _waiter(progress))
        == "traces for 2 of 2 sampled correlation ids"
    )
    assert asked == ['annotation.correlation_id = "e2e-run1-1"', 'annotation.correlation_id = "lambda-request-id-7"']


def test_one_traced_id_of_the_sample_is_enough_since_xray_samples(aws, started, progress):
    xray = boto3.client("xray")
    evaluate_annotation_filters(xray.meta.events)
    run_ids = [f"e2e-run1-{number}" for number in range(1, 41)]
    xray.put_trace_segments(TraceSegmentDocuments=[_segment(signals.sample(run_ids)[3])])
    assert (
        signals.traces(xray, "flask", run_ids, started, _waiter(progress))
        == f"traces for 1 of {signals.TRACE_SAMPLE_SIZE} sampled correlation ids"
    )


def test_no_trace_of_the_sample_fails_when_the_wait_ends(aws, started, progress):
    xray = boto3.client("xray")
    evaluate_annotation_filters(xray.meta.events)
    xray.put_trace_segments(TraceSegmentDocuments=[_segment("e2e-another-run-1")])
    with pytest.raises(ScenarioFailed, match="traces for 0 of 2 sampled correlation ids, when the wait ended"):
        signals.traces(xray, "flask", ["e2e-run1-1", "e2e-run1-2"], started, _waiter(progress))


def test_a_sample_spreads_over_the_run():
    ids = [str(number) for number in range(100)]
    assert signals.sample(ids, 4) == ["0", "25", "50", "75"]
    assert signals.sample(ids[:3], 10) == ["0", "1", "2"]


def _request_lines(capsys, correlation_ids: list[str]) -> list[str]:
    """The doors' own request lines for these correlation ids, as written to stdout."""
    capsys.readouterr()
    for correlation_id in correlation_ids:
        write_request_line(
            correlation_id,
            {
                "method": "GET",
                "route": "/students/{student_id}",
                "status": 200,
                "duration_ms": 1.2,
                "front_door": "flask",
            },
        )
    return capsys.readouterr().out.splitlines()


def _log_group_with(lines: list[str]):
    logs = boto3.client("logs")
    logs.create_log_group(logGroupName=LOG_GROUP)
    logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName="i-0123456789abcdef0")
    now_ms = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName=LOG_GROUP,
        logStreamName="i-0123456789abcdef0",
        logEvents=[{"timestamp": now_ms, "message": line} for line in lines],
    )
    return logs


def test_every_request_line_of_the_door_is_found(aws, started, progress, capsys):
    # Given the run's request lines beside another run's and a line that is not JSON
    lines = _request_lines(capsys, ["e2e-run1-1", "e2e-run1-2", "e2e-other-1"])
    logs = _log_group_with([*lines, "[INFO] not a JSON line"])
    # When the run's lines are looked for, Then both are found
    assert (
        signals.request_log_lines(logs, LOG_GROUP, "flask", ["e2e-run1-1", "e2e-run1-2"], started, _waiter(progress))
        == "2 of the run's 2 request lines found"
    )
    # And the query asks for request lines by those correlation ids
    query = logs.describe_queries(logGroupName=LOG_GROUP)["queries"][0]["queryString"]
    assert query == (
        'fields @timestamp, @message | filter message = "request" and correlation_id in'
        ' ["e2e-run1-1", "e2e-run1-2"] | limit 10000'
    )


def test_a_missing_request_line_is_named_when_the_wait_ends(aws, started, progress, capsys):
    logs = _log_group_with(_request_lines(capsys, ["e2e-run1-1"]))
    with pytest.raises(ScenarioFailed, match=r"1 of the run's 2 request lines found \(missing e.g. e2e-run1-2\)"):
        signals.request_log_lines(logs, LOG_GROUP, "flask", ["e2e-run1-1", "e2e-run1-2"], started, _waiter(progress))


def test_many_correlation_ids_are_asked_for_in_chunks(aws, started, progress, capsys, monkeypatch):
    ids = [f"e2e-run1-{number}" for number in range(1, 6)]
    logs = _log_group_with(_request_lines(capsys, ids))
    monkeypatch.setattr(signals, "QUERY_IDS_PER_CHUNK", 2)
    assert (
        signals.request_log_lines(logs, LOG_GROUP, "flask", ids, started, _waiter(progress))
        == "5 of the run's 5 request lines found"
    )
    assert len(logs.describe_queries(logGroupName=LOG_GROUP)["queries"]) == 3

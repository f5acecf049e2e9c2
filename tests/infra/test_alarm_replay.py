"""Alarm replay: the real alarm definitions evaluated against EMF written by the app's own recorder."""

import json

import boto3
import pytest
from moto import mock_aws

from infra.alarm_replay import ALARM, INSUFFICIENT_DATA, OK, aggregate, main, publish, replay
from infra.alarms import load_alarms
from observability.catalog import (
    DB_CONNECTION_ERRORS,
    DB_QUERY_LATENCY,
    READINESS_FAILURES,
    REQUESTS,
    SERVER_ERRORS,
    Dimension,
)
from observability.emf import MetricsRecorder
from tests.infra.aws_timeline import NAMES, AwsTimeline

T0 = 1_795_000_020  # a minute boundary (seconds)


class Timeline:
    """EMF lines as the app writes them, one flush per (minute, second) moment."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def at(self, minute: int, *puts, second: int = 10) -> None:
        written: list[str] = []
        recorder = MetricsRecorder("StudentRecords", written.append)
        for spec, value, dimensions in puts:
            recorder.put(spec, value, dimensions)
        recorder.flush()
        for line in written:
            document = json.loads(line)
            document["_aws"]["Timestamp"] = (T0 + minute * 60 + second) * 1000
            self.lines.append(json.dumps(document))


def _transitions(result, alarm):
    return [(t.old_state, t.new_state, int(t.at.timestamp()) - T0) for t in result.transitions if t.alarm == alarm]


@pytest.fixture(scope="module")
def catalog():
    return load_alarms()


def test_connection_errors_alarm_after_3_of_5_minutes_and_recover(catalog):
    # Given connection errors in minutes 5, 6 and 7 of a twelve-minute log (and nothing else but readiness)
    timeline = Timeline()
    for minute in range(12):
        timeline.at(minute, (READINESS_FAILURES, 0, {}))
    for minute in (5, 6, 7):
        timeline.at(minute, (DB_CONNECTION_ERRORS, 4, {}))
    # When replayed
    result = replay(catalog, timeline.lines)
    # Then the alarm goes to ALARM at the end of minute 7, and back to OK at the end of minute 10,
    # when fewer than 3 of the last 5 minutes breach
    assert _transitions(result, "db-connection-errors") == [
        (INSUFFICIENT_DATA, OK, 60),
        (OK, ALARM, 8 * 60),
        (ALARM, OK, 11 * 60),
    ]
    # And the paging composite follows its child
    assert [(t.old_state, t.new_state) for t in result.transitions if t.alarm == "on-call-page"] == [
        (INSUFFICIENT_DATA, OK),
        (OK, ALARM),
        (ALARM, OK),
    ]
    assert "db-cpu-high" in result.skipped and "db-connection-errors" in result.replayed


def test_percentile_latency_alarm(catalog):
    timeline = Timeline()
    for minute in range(6):
        slow = 900.0 if minute >= 2 else 10.0
        # 99 fast statements and one of `slow` ms each minute: p99 is the 99th of 100
        timeline.at(
            minute,
            *[(DB_QUERY_LATENCY, 5.0, {Dimension.QUERY_NAME: "students.get"})] * 98,
            (DB_QUERY_LATENCY, slow, {Dimension.QUERY_NAME: "students.get"}),
            (DB_QUERY_LATENCY, slow, {Dimension.QUERY_NAME: "students.get"}),
        )
    result = replay(catalog, timeline.lines)
    assert (OK, ALARM, 5 * 60) in _transitions(result, "db-query-latency-p99")


def test_metric_math_rate_alarm(catalog):
    flask = {Dimension.FRONT_DOOR: "flask", Dimension.ROUTE: "/students"}
    timeline = Timeline()
    for minute in range(6):
        errors = 3 if minute >= 1 else 0  # 3 of 20 requests: 15 %
        timeline.at(
            minute,
            *[(REQUESTS, 1, flask)] * 20,
            *[(SERVER_ERRORS, 1, flask)] * errors,
            *[(SERVER_ERRORS, 0, flask)] * (20 - errors),
        )
    result = replay(catalog, timeline.lines)
    assert _transitions(result, "flask-5xx-rate")[-1][:2] == (OK, ALARM)
    message = next(t.message for t in result.transitions if t.alarm == "flask-5xx-rate" and t.new_state == ALARM)
    assert [metric["Id"] for metric in message["Trigger"]["Metrics"]] == [
        "server_errors",
        "requests",
        "server_error_rate",
    ]


def test_missing_readiness_is_breaching(catalog):
    timeline = Timeline()
    for minute in (0, 1, 2):
        timeline.at(minute, (READINESS_FAILURES, 0, {}))
    timeline.at(8, (DB_CONNECTION_ERRORS, 0, {}))  # the log goes on, readiness is silent from minute 3
    result = replay(catalog, timeline.lines)
    assert (OK, ALARM, 6 * 60) in _transitions(result, "readiness-failures")


def test_time_scale_compresses_periods(catalog):
    timeline = Timeline()
    for second in range(12):
        puts = [(DB_CONNECTION_ERRORS, 1, {})] if 3 <= second <= 7 else [(READINESS_FAILURES, 0, {})]
        timeline.at(0, *puts, second=second)
    result = replay(catalog, timeline.lines, time_scale=60)
    states = [new for _, new, _ in _transitions(result, "db-connection-errors")]
    assert states[-2:] == [ALARM, OK]


def test_statistics():
    values = [float(v) for v in range(1, 101)]
    assert aggregate(values, "p99") == 99.0
    assert aggregate(values, "p50") == 50.0
    assert aggregate(values, "Sum") == 5050.0
    assert aggregate(values, "SampleCount") == 100.0


def test_sns_messages_published_and_read_back(catalog, monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    timeline = Timeline()
    for minute in range(12):
        timeline.at(minute, (READINESS_FAILURES, 0, {}))
    for minute in (5, 6, 7):
        timeline.at(minute, (DB_CONNECTION_ERRORS, 2, {}))
    result = replay(catalog, timeline.lines)
    with mock_aws():
        sns, sqs = boto3.client("sns"), boto3.client("sqs")
        topics, queues = {}, {}
        for name in ("notifications", "paging"):
            topics[name] = sns.create_topic(Name=name)["TopicArn"]
            url = sqs.create_queue(QueueName=name)["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            sns.subscribe(TopicArn=topics[name], Protocol="sqs", Endpoint=arn)
            queues[name] = url
        assert publish(result.transitions, topics, sns) == len(result.transitions)
        received = {}
        for name, url in queues.items():
            received[name] = []
            while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
                received[name] += [json.loads(json.loads(m["Body"])["Message"]) for m in messages]
                sqs.delete_message_batch(
                    QueueUrl=url,
                    Entries=[
                        {"Id": str(index), "ReceiptHandle": m["ReceiptHandle"]} for index, m in enumerate(messages)
                    ],
                )
        assert sum(len(messages) for messages in received.values()) == len(result.transitions)
    paging = [(m["AlarmName"], m["NewStateValue"]) for m in received["paging"]]
    assert paging == [("on-call-page", OK), ("on-call-page", ALARM), ("on-call-page", OK)]
    alarmed = next(
        m for m in received["notifications"] if m["AlarmName"] == "db-connection-errors" and m["NewStateValue"] == ALARM
    )
    assert alarmed["OldStateValue"] == OK
    assert alarmed["Trigger"]["MetricName"] == "DbConnectionErrors"
    assert alarmed["Trigger"]["Statistic"] == "SUM"
    assert alarmed["NewStateReason"].startswith("Threshold Crossed: 3 out of the last 5 datapoints")
    assert alarmed["StateChangeTime"].endswith("+0000")


def test_command_prints_transitions(tmp_path, capsys):
    timeline = Timeline()
    for minute in (0, 1, 2, 3):
        timeline.at(minute, (DB_CONNECTION_ERRORS, 1, {}))
    log = tmp_path / "captured.log"
    log.write_text("not json\n" + "\n".join(timeline.lines) + "\n")
    assert main([str(log)]) == 0
    output = capsys.readouterr()
    assert "db-connection-errors: OK -> ALARM" in output.out
    assert "skipped" in output.err


# ---- alarms on AWS's metrics, from the local stack's stand-ins --------------------------------------------------


def test_api_gateway_5xx_alarm_replays_from_the_local_gateways_metrics(catalog):
    # Given twenty requests a minute through the local gateway, five of them answered 5xx in minutes 2, 3 and 4
    timeline = AwsTimeline(T0)
    for minute in range(9):
        failing = 5 if minute in (2, 3, 4) else 0
        timeline.requests(minute, 20 - failing)
        timeline.requests(minute, failing, status=503)
    # When replayed
    result = replay(catalog, timeline.lines)
    # Then API Gateway's 5xx alarm (Average of 5XXError above 5 % for 3 of 3 minutes) fires at the end of minute 4
    # and clears at the end of minute 5; its 4xx alarm stays OK; both are replayed, not skipped
    assert _transitions(result, "api-5xx-errors") == [
        (INSUFFICIENT_DATA, OK, 60),
        (OK, ALARM, 5 * 60),
        (ALARM, OK, 6 * 60),
    ]
    assert _transitions(result, "api-4xx-errors") == [(INSUFFICIENT_DATA, OK, 60)]
    assert {"api-5xx-errors", "api-4xx-errors", "api-latency-p99"} <= set(result.replayed)
    # And the message names API Gateway's metric under the local stack's API and stage
    message = next(t.message for t in result.transitions if t.alarm == "api-5xx-errors" and t.new_state == ALARM)
    trigger = message["Trigger"]
    assert (trigger["Namespace"], trigger["MetricName"], trigger["Statistic"]) == (
        "AWS/ApiGateway",
        "5XXError",
        "AVERAGE",
    )
    assert trigger["Dimensions"] == [
        {"value": NAMES["ApiName"], "name": "ApiName"},
        {"value": NAMES["ApiStageName"], "name": "Stage"},
    ]


def test_lambda_alarms_replay_from_the_local_runtimes_metrics(catalog):
    # Given ten invocations a minute: two failing in minutes 1 to 3, slower than 80 % of the timeout in minutes 4 to
    # 8, and some throttled in minutes 6, 7 and 8
    timeline = AwsTimeline(T0)
    for minute in range(12):
        timeline.invocations(
            minute, 10, failed=2 if minute in (1, 2, 3) else 0, duration_ms=9_000.0 if 4 <= minute <= 8 else 15.0
        )
        if minute in (6, 7, 8):
            timeline.throttles(minute, 3)
    # When replayed
    result = replay(catalog, timeline.lines)
    # Then the error rate (metric math over Errors and Invocations) breaches 3 of 3 minutes
    assert (OK, ALARM, 4 * 60) in _transitions(result, "api-function-errors")
    # And the p90 duration against 80 % of the template's 10 s timeout (8 000 ms) for 5 of 5 minutes
    assert (OK, ALARM, 9 * 60) in _transitions(result, "api-function-duration-p90")
    duration = next(t.message for t in result.transitions if t.alarm == "api-function-duration-p90")
    assert duration["Trigger"]["Threshold"] == 8_000
    # And throttles in 3 of 5 minutes, Throttles being published only when there are some
    assert (OK, ALARM, 9 * 60) in _transitions(result, "api-function-throttles")
    assert _transitions(result, "api-function-throttles")[0] == (INSUFFICIENT_DATA, OK, 60)
    # And the functions the log has no datapoint of stay OK (their missing data is not breaching)
    assert _transitions(result, "migrations-function-errors") == [(INSUFFICIENT_DATA, OK, 60)]


def test_the_new_versions_alarms_replay_from_the_alias_metrics_of_the_version_that_ran(catalog):
    # Given ten invocations a minute through the alias live on version 1, and a canary of version 2 taking one more a
    # minute in minutes 2 and 3 (failing, and slower than 80 % of the timeout), then rolled back; version 1 failing
    # in minute 6
    timeline = AwsTimeline(T0)
    for minute in range(9):
        timeline.invocations(minute, 10, failed=10 if minute == 6 else 0, version="1")
        if minute in (2, 3):
            timeline.invocations(minute, 1, failed=1, duration_ms=9_500.0, version="2")
    # When replayed
    result = replay(catalog, timeline.lines)
    # Then the new version's alarms (${ApiFunction.Version.Version}: the version a local deployment publishes) fire on
    # version 2's datapoints alone, and clear once it takes no more invocations
    assert _transitions(result, "api-new-version-errors") == [
        (INSUFFICIENT_DATA, OK, 60),
        (OK, ALARM, 3 * 60),
        (ALARM, OK, 5 * 60),
    ]
    assert _transitions(result, "api-new-version-duration-p90") == [
        (INSUFFICIENT_DATA, OK, 60),
        (OK, ALARM, 4 * 60),
        (ALARM, OK, 5 * 60),
    ]
    [errors] = [t.message for t in result.transitions if t.alarm == "api-new-version-errors" and t.new_state == ALARM]
    assert {(d["name"], d["value"]) for d in errors["Trigger"]["Dimensions"]} == {
        ("FunctionName", NAMES["ApiFunction"]),
        ("Resource", f"{NAMES['ApiFunction']}:live"),
        ("ExecutedVersion", "2"),
    }


def test_rds_alarms_replay_from_the_monitors_metrics_and_a_late_datapoint_is_not_a_recovery(catalog):
    # Given the RDS monitor's connections: 94 from minute 3 to 9, one of those minutes without a datapoint (the
    # monitor's clock fell behind a period), 6 otherwise
    timeline = AwsTimeline(T0)
    for minute in range(14):
        if minute != 6:
            timeline.database(minute, DatabaseConnections=94 if 3 <= minute <= 9 else 6)
    # When replayed
    result = replay(catalog, timeline.lines)
    # Then the instance's alarm (its ${Database} the monitor's DBInstanceIdentifier) fires after five datapoints above
    # 80, the missing one not considered (TreatMissingData: missing), and clears at the first one under
    assert _transitions(result, "db-connections-high") == [
        (INSUFFICIENT_DATA, OK, 60),
        (OK, ALARM, 9 * 60),
        (ALARM, OK, 11 * 60),
    ]


def test_load_balancer_alarms_replay_from_the_stand_ins_metrics(catalog):
    # Given the target group's hosts each minute: its one target unhealthy in minutes 2 to 5
    timeline = AwsTimeline(T0)
    for minute in range(9):
        unhealthy = 2 <= minute <= 5
        timeline.hosts(minute, healthy=0 if unhealthy else 1, unhealthy=1 if unhealthy else 0)
    # When replayed
    result = replay(catalog, timeline.lines)
    # Then "no healthy targets" (3 of 3) and "unhealthy targets" (3 of 5) fire, under the stand-in's names for the
    # balancer and its target group, and clear once the target is healthy again
    assert _transitions(result, "flask-lb-no-healthy-targets") == [
        (INSUFFICIENT_DATA, OK, 60),
        (OK, ALARM, 5 * 60),
        (ALARM, OK, 7 * 60),
    ]
    assert (OK, ALARM, 5 * 60) in _transitions(result, "flask-lb-unhealthy-targets")

"""Alarm replay: the real alarm definitions evaluated against EMF written by the app's own recorder."""

import json

import boto3
import pytest
from moto import mock_aws

from infra.alarm_replay import ALARM, INSUFFICIENT_DATA, OK, aggregate, main, publish, replay
from infra.alarms import load_alarms
from observability.catalog import (
    DB_CONNECTION_ERRORS, DB_QUERY_LATENCY, READINESS_FAILURES, REQUESTS, SERVER_ERRORS, Dimension,
)
from observability.emf import MetricsRecorder

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
        (INSUFFICIENT_DATA, OK, 60), (OK, ALARM, 8 * 60), (ALARM, OK, 11 * 60)]
    # And the paging composite follows its child
    assert [(t.old_state, t.new_state) for t in result.transitions if t.alarm == "on-call-page"] == [
        (INSUFFICIENT_DATA, OK), (OK, ALARM), (ALARM, OK)]
    assert "db-cpu-high" in result.skipped and "db-connection-errors" in result.replayed


def test_percentile_latency_alarm(catalog):
    timeline = Timeline()
    for minute in range(6):
        slow = 900.0 if minute >= 2 else 10.0
        # 99 fast statements and one of `slow` ms each minute: p99 is the 99th of 100
        timeline.at(minute, *[(DB_QUERY_LATENCY, 5.0, {Dimension.QUERY_NAME: "students.get"})] * 98,
                    (DB_QUERY_LATENCY, slow, {Dimension.QUERY_NAME: "students.get"}),
                    (DB_QUERY_LATENCY, slow, {Dimension.QUERY_NAME: "students.get"}))
    result = replay(catalog, timeline.lines)
    assert (OK, ALARM, 5 * 60) in _transitions(result, "db-query-latency-p99")


def test_metric_math_rate_alarm(catalog):
    flask = {Dimension.FRONT_DOOR: "flask", Dimension.ROUTE: "/students"}
    timeline = Timeline()
    for minute in range(6):
        errors = 3 if minute >= 1 else 0  # 3 of 20 requests: 15 %
        timeline.at(minute, *[(REQUESTS, 1, flask)] * 20, *[(SERVER_ERRORS, 1, flask)] * errors,
                    *[(SERVER_ERRORS, 0, flask)] * (20 - errors))
    result = replay(catalog, timeline.lines)
    assert _transitions(result, "flask-5xx-rate")[-1][:2] == (OK, ALARM)
    message = next(t.message for t in result.transitions if t.alarm == "flask-5xx-rate" and t.new_state == ALARM)
    assert [metric["Id"] for metric in message["Trigger"]["Metrics"]] == [
        "server_errors", "requests", "server_error_rate"]


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
                sqs.delete_message_batch(QueueUrl=url, Entries=[
                    {"Id": str(index), "ReceiptHandle": m["ReceiptHandle"]} for index, m in enumerate(messages)])
        assert sum(len(messages) for messages in received.values()) == len(result.transitions)
    paging = [(m["AlarmName"], m["NewStateValue"]) for m in received["paging"]]
    assert paging == [("on-call-page", OK), ("on-call-page", ALARM), ("on-call-page", OK)]
    alarmed = next(m for m in received["notifications"]
                   if m["AlarmName"] == "db-connection-errors" and m["NewStateValue"] == ALARM)
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

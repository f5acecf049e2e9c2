"""Alarm replay: evaluates the alarm definitions (alarms/*.yaml) against datapoints taken from EMF
output, the way CloudWatch would, and writes the SNS message CloudWatch sends at each state change.

    python -m infra.alarm_replay captured.log [--time-scale 60] [--publish-to-sns TOPIC_ARN ...]

Alarms are replayed whose metrics are all the application's own (EMF, namespace StudentRecords by default), derived
from them (the burn rates of the service-level objectives: slos/, computed as Application Signals would,
infra/slos.py), or in an AWS namespace the log holds: the local stack's stand-ins write AWS/ApiGateway and AWS/Lambda
metrics as EMF (local_stack/cloudwatch.py), under the names a stack called student-records would give them
(infra/render.py's stack_values, which fill the alarms' ${...} dimension values). Alarms on AWS metrics the log does
not hold are listed as skipped. Per period, values are
aggregated with the alarm's statistic (percentiles included); each period is evaluated M of N with its
TreatMissingData; the composite alarm follows its paging children. `--time-scale 60` compresses time so
that a short drill exercises one-minute alarms: each alarm period lasts period/60 seconds of the log.

Simplifications, stated: percentiles use the nearest-rank method on the raw EMF values (CloudWatch's are
approximations of the same); with TreatMissingData `missing`, an evaluation window with no datapoint at
all is INSUFFICIENT_DATA (CloudWatch may look further back first).
"""

import argparse
import json
import math
import operator
import sys
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from observability.settings import METRICS_NAMESPACE

from . import metric_math, slos
from .alarms import ALARMS_DIR, AlarmCatalog, AlarmSpec, Metric, load_alarms, threshold_value
from .dashboards import placeholders, substitute

ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
REGION_NAME = "US East (N. Virginia)"
OK, ALARM, INSUFFICIENT_DATA = "OK", "ALARM", "INSUFFICIENT_DATA"
_COMPARE = {
    "GreaterThanThreshold": (operator.gt, "greater than"),
    "GreaterThanOrEqualToThreshold": (operator.ge, "greater than or equal to"),
    "LessThanThreshold": (operator.lt, "less than"),
    "LessThanOrEqualToThreshold": (operator.le, "less than or equal to"),
}
SeriesKey = tuple[str, str, frozenset[tuple[str, str]]]


# ---- datapoints from EMF -------------------------------------------------------------------------------------


def datapoints_from_emf(lines: Iterable[str]) -> dict[SeriesKey, list[tuple[float, float]]]:
    """(namespace, metric, dimensions) -> [(timestamp in seconds, value)], one series per EMF dimension set."""
    series: dict[SeriesKey, list[tuple[float, float]]] = defaultdict(list)
    for raw_line in lines:
        line = raw_line.strip()
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        try:
            document = json.loads(line)
            directives = document["_aws"]["CloudWatchMetrics"]
            timestamp = document["_aws"]["Timestamp"] / 1000
        except (ValueError, KeyError, TypeError):
            continue
        for directive in directives:
            for metric in directive["Metrics"]:
                values = document.get(metric["Name"])
                values = values if isinstance(values, list) else [values]
                for dimension_set in directive["Dimensions"]:
                    key = (
                        directive["Namespace"],
                        metric["Name"],
                        frozenset((name, document[name]) for name in dimension_set),
                    )
                    series[key] += [(timestamp, float(value)) for value in values if value is not None]
    return series


def with_application_signals(
    series: dict[SeriesKey, list[tuple[float, float]]], namespace: str, time_scale: float
) -> dict[SeriesKey, list[tuple[float, float]]]:
    """The series, with what Application Signals publishes for the service-level objectives (BurnRate and
    AttainmentRate, one datapoint a minute), computed from the doors' own (infra/slos.py), their SloName the one a stack
    called student-records gives them."""
    times = [t for points in series.values() for t, _ in points]
    if not times:
        return series
    objectives, start, end = slos.load_objectives(), min(times), max(times)
    derived = slos.burn_rate_series(
        objectives, series, namespace, period_s=60 / time_scale, start=start, end=end, time_scale=time_scale
    )
    derived |= slos.attainment_series(
        objectives, series, namespace, period_s=60 / time_scale, start=start, end=end, time_scale=time_scale
    )
    from .render import DEFAULT_STACK_NAME

    stack_name = {"AWS::StackName": DEFAULT_STACK_NAME}
    return series | {
        (
            key_namespace,
            name,
            frozenset((dimension, substitute(value, stack_name)) for dimension, value in dimensions),
        ): points
        for (key_namespace, name, dimensions), points in derived.items()
    }


def aggregate(values: list[float], statistic: str) -> float:
    if statistic == "Sum":
        return math.fsum(values)
    if statistic == "Average":
        return math.fsum(values) / len(values)
    if statistic == "Minimum":
        return min(values)
    if statistic == "Maximum":
        return max(values)
    if statistic == "SampleCount":
        return float(len(values))
    if statistic.startswith("p"):
        ordered = sorted(values)
        rank = math.ceil(float(statistic[1:]) / 100 * len(ordered))
        return ordered[max(rank, 1) - 1]
    raise ValueError(f"unknown statistic {statistic}")


# ---- evaluation ----------------------------------------------------------------------------------------------


@dataclass
class Transition:
    alarm: str
    old_state: str
    new_state: str
    at: datetime
    reason: str
    message: dict = field(repr=False)
    topic: str = "notifications"  # which topic the alarm notifies: notifications, or paging for the composite


@dataclass
class ReplayResult:
    transitions: list[Transition]
    replayed: list[str]
    skipped: list[str]


@dataclass(frozen=True)
class Stack:
    """What the alarms' placeholders stand for: the metrics namespace, the dimension values (${ApiName}, ...) and
    the functions' timeouts (thresholds relative to one)."""

    namespace: str
    dimension_values: dict[str, str]
    function_timeouts_s: dict[str, int]

    @classmethod
    def local(cls, namespace: str = METRICS_NAMESPACE) -> "Stack":
        """The local stack's: the template's names for a stack called student-records, with its defaults, and the names
        the local stand-ins publish under for the resources they stand for: the DB instance (its Ref is its
        identifier, which the RDS monitor publishes) and the load balancer and its target group (whose full names
        AWS generates), and the version the local Lambda door publishes for a deployment (the alias is the
        template's own, `${ApiFunction}:live`)."""
        from local_stack.lambda_door import NEW_VERSION
        from local_stack.load_balancer import LOAD_BALANCER, TARGET_GROUP

        from .render import DEFAULT_STACK_NAME, SOURCE, function_timeouts_s, load_template, stack_values

        values = stack_values()
        values |= {
            "AWS::StackName": DEFAULT_STACK_NAME,
            "AWS::Region": REGION,
            "Database": values["DbInstanceIdentifier"],
            "FlaskLoadBalancer.LoadBalancerFullName": LOAD_BALANCER,
            "FlaskTargetGroup.TargetGroupFullName": TARGET_GROUP,
            "ApiFunction.Version.Version": NEW_VERSION,
        }
        return cls(namespace, values, function_timeouts_s(load_template(SOURCE)["Resources"]))

    def namespace_of(self, metric: Metric) -> str:
        return metric.namespace.replace("${MetricsNamespace}", self.namespace)

    def dimensions_of(self, metric: Metric) -> list[tuple[str, str]]:
        """The metric's dimensions with their values filled in (one without a known value kept as written)."""
        return [
            (
                name,
                substitute(value, self.dimension_values)
                if placeholders(value) <= set(self.dimension_values)
                else value,
            )
            for name, value in metric.dimensions
        ]

    def metric_key(self, metric: Metric) -> SeriesKey:
        return self.namespace_of(metric), metric.name, frozenset(self.dimensions_of(metric))


def replay(
    catalog: AlarmCatalog, lines: Iterable[str], *, namespace: str = METRICS_NAMESPACE, time_scale: float = 1.0
) -> ReplayResult:
    series = datapoints_from_emf(lines)
    if not series:
        return ReplayResult([], [], [alarm.name for alarm in catalog.alarms])
    stack = Stack.local(namespace)
    times = [t for points in series.values() for t, _ in points]
    start, end = min(times), max(times)
    series = with_application_signals(series, namespace, time_scale)
    replayable = {namespace, slos.BURN_RATE_NAMESPACE} | {key_namespace for key_namespace, _, _ in series}
    replayed, skipped, transitions = [], [], []
    states: dict[str, list[tuple[float, str]]] = {}
    for alarm in catalog.alarms:
        if not all(stack.namespace_of(metric) in replayable for metric in alarm.metrics()):
            skipped.append(alarm.name)
            continue
        replayed.append(alarm.name)
        alarm_transitions, timeline = _evaluate(alarm, series, stack, start, end, time_scale)
        transitions += alarm_transitions
        states[alarm.name] = timeline
    transitions += _composite_transitions(catalog, states)
    transitions.sort(key=lambda transition: transition.at)
    return ReplayResult(transitions, replayed, skipped)


def _period_values(alarm: AlarmSpec, series, stack: Stack, start: float, end: float, period_s: float):
    """period index -> the value compared to the threshold (None when there is no datapoint)."""
    first, last = int(start // period_s), int(end // period_s)

    def per_period(metric: Metric, statistic: str) -> dict[int, float]:
        buckets: dict[int, list[float]] = defaultdict(list)
        for timestamp, value in series.get(stack.metric_key(metric), []):
            buckets[int(timestamp // period_s)].append(value)
        return {index: aggregate(values, statistic) for index, values in buckets.items()}

    if alarm.metric is not None:
        values = per_period(alarm.metric, alarm.statistic or "Average")
        return {index: values.get(index) for index in range(first, last + 1)}
    inputs = {query.id: per_period(query.metric, query.statistic) for query in alarm.queries if query.metric}
    expression = next(query.expression for query in alarm.queries if query.expression)
    return {
        index: metric_math.evaluate(expression, {name: values.get(index) for name, values in inputs.items()})
        for index in range(first, last + 1)
    }


def _evaluate(alarm: AlarmSpec, series, stack: Stack, start, end, time_scale):
    period_s = alarm.period / time_scale
    values = _period_values(alarm, series, stack, start, end, period_s)
    compare, words = _COMPARE[alarm.comparison]
    threshold = threshold_value(alarm, stack.function_timeouts_s)
    state, transitions, timeline = INSUFFICIENT_DATA, [], []
    indexes = sorted(values)
    for position, index in enumerate(indexes):
        window = [(i, values[i]) for i in indexes[max(0, position - alarm.evaluation_periods + 1) : position + 1]]
        if alarm.treat_missing_data in ("missing", "ignore"):
            # Missing datapoints are not considered: the window is the last N present ones, looking back further (to
            # twice N periods) as CloudWatch retrieves more datapoints than the evaluation periods for such alarms.
            # A metric published once a period now and then falls a period behind (a monitor's clock is no datapoint
            # of CloudWatch's), which must not read as N-1 breaching out of N.
            earlier = indexes[max(0, position - 2 * alarm.evaluation_periods + 1) : position + 1]
            present = [(i, values[i]) for i in earlier if values[i] is not None][-alarm.evaluation_periods :]
            window = present or window
        new_state, breaching = _window_state(alarm, window, compare, threshold, state)
        evaluated_at = (index + 1) * period_s
        if new_state != state:
            at = datetime.fromtimestamp(evaluated_at, UTC)
            reason = _reason(alarm, window, breaching, new_state, words, threshold, period_s)
            transitions.append(
                Transition(
                    alarm.name,
                    state,
                    new_state,
                    at,
                    reason,
                    _message(alarm, state, new_state, at, reason, threshold, stack),
                )
            )
            state = new_state
        timeline.append((evaluated_at, state))
    return transitions, timeline


def _window_state(alarm, window, compare, threshold, current):
    treat = alarm.treat_missing_data
    present = [(i, v) for i, v in window if v is not None]
    breaching = [(i, v) for i, v in present if compare(v, threshold)]
    missing = len(window) - len(present)
    count = len(breaching) + missing if treat == "breaching" else len(breaching)
    if not present and treat in ("missing", "ignore"):
        return (INSUFFICIENT_DATA if treat == "missing" or current == INSUFFICIENT_DATA else current), breaching
    return (ALARM if count >= alarm.datapoints_to_alarm else OK), breaching


def _reason(alarm, window, breaching, new_state, words, threshold, period_s) -> str:
    shown = ", ".join(
        f"{value:g} ({datetime.fromtimestamp(i * period_s, UTC):%d/%m/%y %H:%M:%S})"
        for i, value in reversed(window)
        if value is not None
    )
    if new_state == INSUFFICIENT_DATA:
        return f"Insufficient Data: {len(window)} datapoints were unknown."
    count = len(breaching)
    if new_state == ALARM:
        needed = alarm.datapoints_to_alarm
        return (
            f"Threshold Crossed: {count} out of the last {len(window)} datapoints [{shown}] were {words} the"
            f" threshold ({threshold:g}) (minimum {needed} datapoint{'s' if needed > 1 else ''}"
            f" for OK -> ALARM transition)."
        )
    return (
        f"Threshold Crossed: {len(window) - count} out of the last {len(window)} datapoints [{shown}] were not"
        f" {words} the threshold ({threshold:g}) (minimum 1 datapoint for ALARM -> OK transition)."
    )


def _alarm_arn(name: str) -> str:
    return f"arn:aws:cloudwatch:{REGION}:{ACCOUNT_ID}:alarm:{name}"


def _timestamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}+0000"


def _message(alarm: AlarmSpec, old: str, new: str, at: datetime, reason: str, threshold: float, stack: Stack) -> dict:
    """The JSON body CloudWatch publishes to the alarm's SNS topic."""
    trigger: dict = {
        "Period": alarm.period,
        "EvaluationPeriods": alarm.evaluation_periods,
        "DatapointsToAlarm": alarm.datapoints_to_alarm,
        "ComparisonOperator": alarm.comparison,
        "Threshold": threshold,
        "TreatMissingData": alarm.treat_missing_data,
        "EvaluateLowSampleCountPercentile": "",
    }
    if alarm.metric is not None:
        standard = not alarm.statistic.startswith("p")
        trigger |= {
            "MetricName": alarm.metric.name,
            "Namespace": stack.namespace_of(alarm.metric),
            "StatisticType": "Statistic" if standard else "ExtendedStatistic",
            "Statistic": alarm.statistic.upper() if standard else None,
            "ExtendedStatistic": None if standard else alarm.statistic,
            "Unit": None,
            "Dimensions": [{"value": value, "name": name} for name, value in stack.dimensions_of(alarm.metric)],
        }
    else:
        trigger["Metrics"] = [
            {"Id": q.id, "Expression": q.expression, "Label": q.label, "ReturnData": True}
            if q.expression
            else {
                "Id": q.id,
                "ReturnData": False,
                "MetricStat": {
                    "Metric": {
                        "Namespace": stack.namespace_of(q.metric),
                        "MetricName": q.metric.name,
                        "Dimensions": [{"value": v, "name": n} for n, v in stack.dimensions_of(q.metric)],
                    },
                    "Period": alarm.period,
                    "Stat": q.statistic,
                },
            }
            for q in alarm.queries
        ]
    return {
        "AlarmName": alarm.name,
        "AlarmDescription": alarm.description.strip(),
        "AWSAccountId": ACCOUNT_ID,
        "AlarmConfigurationUpdatedTimestamp": _timestamp(at),
        "NewStateValue": new,
        "NewStateReason": reason,
        "StateChangeTime": _timestamp(at),
        "Region": REGION_NAME,
        "AlarmArn": _alarm_arn(alarm.name),
        "OldStateValue": old,
        "OKActions": ["notifications"],
        "AlarmActions": ["notifications"],
        "InsufficientDataActions": [],
        "Trigger": trigger,
    }


def _composite_transitions(catalog: AlarmCatalog, timelines: dict[str, list[tuple[float, str]]]) -> list[Transition]:
    """ALARM while any paging child is in ALARM; OK when every replayed paging child is OK."""
    children = [child.name for child in catalog.paging_children if child.name in timelines]
    if not children:
        return []
    moments = sorted({t for name in children for t, _ in timelines[name]})
    state, transitions = INSUFFICIENT_DATA, []
    for moment in moments:
        child_states = {name: _state_at(timelines[name], moment) for name in children}
        alarming = sorted(name for name, child_state in child_states.items() if child_state == ALARM)
        if alarming:
            new_state = ALARM
        elif all(child_state == OK for child_state in child_states.values()):
            new_state = OK
        else:
            new_state = state
        if new_state != state:
            at = datetime.fromtimestamp(moment, UTC)
            rule = " OR ".join(f"ALARM({name})" for name in children)
            reason = (
                f"arn:aws:cloudwatch:{REGION}:{ACCOUNT_ID}:alarm:{alarming[0]} transitioned to ALARM"
                if alarming
                else "All the child alarms are OK"
            )
            message = {
                "AlarmName": catalog.composite.name,
                "AlarmDescription": catalog.composite.description.strip(),
                "AWSAccountId": ACCOUNT_ID,
                "NewStateValue": new_state,
                "NewStateReason": reason,
                "StateChangeTime": _timestamp(at),
                "Region": REGION_NAME,
                "AlarmArn": _alarm_arn(catalog.composite.name),
                "OldStateValue": state,
                "AlarmRule": rule,
                "TriggeringChildren": [{"Arn": _alarm_arn(name), "State": {"Value": ALARM}} for name in alarming],
                "OKActions": ["paging"],
                "AlarmActions": ["paging"],
                "InsufficientDataActions": [],
            }
            transitions.append(Transition(catalog.composite.name, state, new_state, at, reason, message, "paging"))
            state = new_state
    return transitions


def _state_at(timeline: list[tuple[float, str]], moment: float) -> str:
    state = INSUFFICIENT_DATA
    for at, value in timeline:
        if at > moment:
            break
        state = value
    return state


# ---- SNS and the command -------------------------------------------------------------------------------------


def publish(transitions: Iterable[Transition], topic_arns: dict[str, str], sns_client) -> int:
    """Publishes each transition's message to its topic, as CloudWatch does ({"notifications": arn, "paging": arn})."""
    published = 0
    for transition in transitions:
        arn = topic_arns.get(transition.topic)
        if arn is None:
            continue
        subject = f'{transition.new_state}: "{transition.alarm}" in {REGION_NAME}'
        sns_client.publish(TopicArn=arn, Subject=subject[:100], Message=json.dumps(transition.message))
        published += 1
    return published


def sns_round_trip(transitions: Iterable[Transition]) -> list[dict]:
    """Publishes the transitions' messages to a notifications and a paging topic of an SNS played by moto, each with an
    SQS queue subscribed, and returns the messages read back from the queues: what on-call would receive."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        sns, sqs = boto3.client("sns", region_name=REGION), boto3.client("sqs", region_name=REGION)
        topics, queues = {}, []
        for name in ("notifications", "paging"):
            topics[name] = sns.create_topic(Name=name)["TopicArn"]
            queue = sqs.create_queue(QueueName=name)["QueueUrl"]
            arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
            sns.subscribe(TopicArn=topics[name], Protocol="sqs", Endpoint=arn)
            queues.append(queue)
        publish(transitions, topics, sns)
        messages = []
        for queue in queues:
            while batch := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
                messages += [json.loads(json.loads(message["Body"])["Message"]) for message in batch]
                sqs.delete_message_batch(
                    QueueUrl=queue,
                    Entries=[
                        {"Id": str(index), "ReceiptHandle": message["ReceiptHandle"]}
                        for index, message in enumerate(batch)
                    ],
                )
    return messages


def _lines(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8", errors="replace") as handle:
        yield from handle


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("emf_log", type=Path, help="a file holding the app's stdout (EMF lines among others)")
    parser.add_argument("--alarms", type=Path, default=ALARMS_DIR, help="folder of alarm definitions")
    parser.add_argument("--namespace", default=METRICS_NAMESPACE)
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="compress time: 60 makes each one-minute period last one second of the log",
    )
    parser.add_argument("--notifications-topic-arn", help="publish child alarm messages to this SNS topic")
    parser.add_argument("--paging-topic-arn", help="publish composite alarm messages to this SNS topic")
    parser.add_argument("--json", action="store_true", help="print the transitions as JSON lines")
    args = parser.parse_args(argv)
    if not args.emf_log.is_file():
        parser.error(f"{args.emf_log} is not a file")
    result = replay(
        load_alarms(args.alarms), _lines(args.emf_log), namespace=args.namespace, time_scale=args.time_scale
    )
    for transition in result.transitions:
        if args.json:
            print(
                json.dumps(
                    {
                        "alarm": transition.alarm,
                        "old": transition.old_state,
                        "new": transition.new_state,
                        "at": _timestamp(transition.at),
                        "message": transition.message,
                    }
                )
            )
        else:
            print(
                f"{_timestamp(transition.at)}  {transition.alarm}: {transition.old_state} -> {transition.new_state}"
                f"  ({transition.reason})"
            )
    print(
        f"replayed {len(result.replayed)} alarms, skipped {len(result.skipped)} on AWS metrics:"
        f" {', '.join(result.skipped) or 'none'}",
        file=sys.stderr,
    )
    topics = {
        name: arn
        for name, arn in (("notifications", args.notifications_topic_arn), ("paging", args.paging_topic_arn))
        if arn
    }
    if topics:
        import boto3

        count = publish(result.transitions, topics, boto3.client("sns"))
        print(f"published {count} SNS messages", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Alarm definitions (alarms/*.yaml) and the CloudFormation resources made from them.

Routing: every metric alarm notifies the notifications topic (low urgency); alarms marked `pages: true`
are the children of one composite alarm, the only one that notifies the paging topic (on-call).
An alarm with a `condition` (a template condition, e.g. DeployFlaskDoor) exists only where its resources do.
"""

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .dashboards import gap_problems, placeholders

REPO_ROOT = Path(__file__).resolve().parents[1]
ALARMS_DIR = REPO_ROOT / "alarms"
RUNBOOKS_DIR = REPO_ROOT / "docs" / "runbooks"

NOTIFICATIONS_TOPIC = "NotificationsTopic"
PAGING_TOPIC = "PagingTopic"
RUNBOOK_BASE_URL_PARAMETER = "RunbookBaseUrl"
RUNBOOK_BASE_URL_CONDITION = "HasRunbookBaseUrl"
RUNBOOKS_DASHBOARD_URL = "RunbooksDashboardUrl"  # a substitution: the stack's runbooks dashboard

COMPARISONS = {
    "GreaterThanThreshold",
    "GreaterThanOrEqualToThreshold",
    "LessThanThreshold",
    "LessThanOrEqualToThreshold",
}
TREAT_MISSING_DATA = {"breaching", "notBreaching", "ignore", "missing"}
STANDARD_STATISTICS = {"SampleCount", "Average", "Sum", "Minimum", "Maximum"}
_PERCENTILE = re.compile(r"^p\d{1,2}(\.\d{1,2})?$")
_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
MAX_DESCRIPTION_CHARS = 1024

_ALARM_KEYS = {
    "name",
    "description",
    "runbook",
    "pages",
    "metric",
    "statistic",
    "metrics",
    "period",
    "evaluation_periods",
    "datapoints_to_alarm",
    "threshold",
    "comparison",
    "treat_missing_data",
    "condition",
}
_REQUIRED_ALARM_KEYS = _ALARM_KEYS - {"pages", "metric", "statistic", "metrics", "condition"}
_COMPOSITE_KEYS = {"name", "description", "runbook"}


class AlarmDefinitionError(ValueError):
    pass


@dataclass(frozen=True)
class Metric:
    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class MetricQuery:
    """One line of a metric math alarm: a metric with its statistic, or an expression over the others."""

    id: str
    metric: Metric | None
    statistic: str | None
    expression: str | None
    label: str | None
    return_data: bool


@dataclass(frozen=True)
class TimeoutFraction:
    """A threshold relative to a function's timeout, e.g. 80 % of ApiFunction's Timeout, in milliseconds."""

    percent: float
    function: str


@dataclass(frozen=True)
class AlarmSpec:
    name: str
    description: str
    runbook: str
    pages: bool
    metric: Metric | None
    statistic: str | None
    queries: tuple[MetricQuery, ...]
    period: int
    evaluation_periods: int
    datapoints_to_alarm: int
    threshold: float | TimeoutFraction
    comparison: str
    treat_missing_data: str
    condition: str | None = None

    @property
    def logical_id(self) -> str:
        return _camel_case(self.name) + "Alarm"

    def metrics(self) -> list[Metric]:
        return [self.metric] if self.metric else [query.metric for query in self.queries if query.metric]


@dataclass(frozen=True)
class CompositeSpec:
    name: str
    description: str
    runbook: str

    @property
    def logical_id(self) -> str:
        return _camel_case(self.name) + "Alarm"


@dataclass(frozen=True)
class AlarmCatalog:
    alarms: tuple[AlarmSpec, ...]
    composite: CompositeSpec

    @property
    def paging_children(self) -> tuple[AlarmSpec, ...]:
        return tuple(alarm for alarm in self.alarms if alarm.pages)


def load_alarms(directory: Path = ALARMS_DIR) -> AlarmCatalog:
    alarms: list[AlarmSpec] = []
    composites: list[CompositeSpec] = []
    for path in sorted(directory.glob("*.yaml")):
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        unknown = set(document) - {"alarms", "composite"}
        if unknown:
            raise AlarmDefinitionError(f"{path.name}: unknown top-level keys {sorted(unknown)}")
        entries = document.get("alarms", [])
        alarms += [_alarm(entry, f"{path.name}, alarm {index}") for index, entry in enumerate(entries)]
        if "composite" in document:
            composites.append(_composite(document["composite"], path.name))
    names = [alarm.name for alarm in alarms] + [composite.name for composite in composites]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise AlarmDefinitionError(f"alarm names used twice: {duplicates}")
    if len(composites) != 1:
        raise AlarmDefinitionError(f"exactly one composite (paging) alarm is expected, found {len(composites)}")
    catalog = AlarmCatalog(tuple(alarms), composites[0])
    if not catalog.paging_children:
        raise AlarmDefinitionError("no alarm has `pages: true`: the composite alarm would have no children")
    return catalog


def alarm_resources(
    catalog: AlarmCatalog, function_timeouts_s: dict[str, int], substitutions: dict[str, Any]
) -> dict[str, dict[str, Any]]:
    """CloudFormation resources, by logical id: the metric alarms, then the composite alarm."""
    resources = {
        alarm.logical_id: _alarm_resource(alarm, function_timeouts_s, substitutions) for alarm in catalog.alarms
    }
    resources[catalog.composite.logical_id] = {
        "Type": "AWS::CloudWatch::CompositeAlarm",
        "Properties": {
            "AlarmName": {"Fn::Sub": f"${{AWS::StackName}}-{catalog.composite.name}"},
            "AlarmDescription": _description(catalog.composite.description, catalog.composite.runbook, substitutions),
            "AlarmRule": _composite_rule(catalog.paging_children),
            "ActionsEnabled": True,
            "AlarmActions": [{"Ref": PAGING_TOPIC}],
            "OKActions": [{"Ref": PAGING_TOPIC}],
        },
    }
    return resources


def _composite_rule(children: tuple[AlarmSpec, ...]) -> dict[str, Any]:
    """ALARM(child) OR ... over the children that exist: with a conditional child, the rule is chosen by
    that condition (one condition at most among the children, so two variants)."""
    conditions = sorted({child.condition for child in children if child.condition})
    if len(conditions) > 1:
        raise AlarmDefinitionError(f"paging alarms under more than one condition: {conditions}")

    def rule(members: list[AlarmSpec]) -> dict[str, str]:
        return {"Fn::Sub": " OR ".join(f"ALARM(${{{child.logical_id}.Arn}})" for child in members)}

    unconditional = [child for child in children if not child.condition]
    if not conditions:
        return rule(unconditional)
    return {"Fn::If": [conditions[0], rule(list(children)), rule(unconditional)]}


def _alarm_resource(alarm: AlarmSpec, function_timeouts_s: dict[str, int], substitutions: dict[str, Any]) -> dict:
    properties: dict[str, Any] = {
        "AlarmName": {"Fn::Sub": f"${{AWS::StackName}}-{alarm.name}"},
        "AlarmDescription": _description(alarm.description, alarm.runbook, substitutions),
        "ActionsEnabled": True,
        "AlarmActions": [{"Ref": NOTIFICATIONS_TOPIC}],
        "OKActions": [{"Ref": NOTIFICATIONS_TOPIC}],
        "ComparisonOperator": alarm.comparison,
        "Threshold": threshold_value(alarm, function_timeouts_s),
        "EvaluationPeriods": alarm.evaluation_periods,
        "DatapointsToAlarm": alarm.datapoints_to_alarm,
        "TreatMissingData": alarm.treat_missing_data,
    }
    if alarm.metric:
        properties |= _metric_properties(alarm.metric, substitutions)
        properties["Period"] = alarm.period
        statistic_key = "Statistic" if alarm.statistic in STANDARD_STATISTICS else "ExtendedStatistic"
        properties[statistic_key] = alarm.statistic
    else:
        properties["Metrics"] = [_query_property(query, alarm.period, substitutions) for query in alarm.queries]
    resource: dict[str, Any] = {"Type": "AWS::CloudWatch::Alarm", "Properties": properties}
    if alarm.condition:
        resource["Condition"] = alarm.condition
    return resource


def _metric_properties(metric: Metric, substitutions: dict[str, Any]) -> dict[str, Any]:
    return {
        "Namespace": sub_value(metric.namespace, substitutions),
        "MetricName": metric.name,
        "Dimensions": [{"Name": name, "Value": sub_value(value, substitutions)} for name, value in metric.dimensions],
    }


def _query_property(query: MetricQuery, period: int, substitutions: dict[str, Any]) -> dict[str, Any]:
    line: dict[str, Any] = {"Id": query.id, "ReturnData": query.return_data}
    if query.label:
        line["Label"] = query.label
    if query.metric:
        metric = _metric_properties(query.metric, substitutions)
        line["MetricStat"] = {"Metric": metric, "Period": period, "Stat": query.statistic}
    else:
        line["Expression"] = query.expression
    return line


def sub_value(text: str, substitutions: dict[str, Any]) -> Any:
    """A literal, or Fn::Sub when it holds placeholders (with the substitutions it uses)."""
    names = placeholders(text)
    if not names:
        return text
    used = {name: substitutions[name] for name in sorted(names) if name in substitutions}
    return {"Fn::Sub": [text, used] if used else text}


def _description(description: str, runbook: str, substitutions: dict[str, Any]) -> dict[str, Any]:
    """The description, then where its runbook is: under RunbookBaseUrl when given, else the section of the
    stack's runbooks dashboard named after it."""
    text = description.strip()
    dashboard = {RUNBOOKS_DASHBOARD_URL: substitutions[RUNBOOKS_DASHBOARD_URL]}
    return {
        "Fn::If": [
            RUNBOOK_BASE_URL_CONDITION,
            {"Fn::Sub": f"{text} Runbook: ${{{RUNBOOK_BASE_URL_PARAMETER}}}/{runbook}"},
            {
                "Fn::Sub": [
                    f"{text} Runbook: ${{{RUNBOOKS_DASHBOARD_URL}}} (section {runbook.removesuffix('.md')})",
                    dashboard,
                ]
            },
        ]
    }


def threshold_value(alarm: AlarmSpec, function_timeouts_s: dict[str, int]) -> float:
    """The alarm's threshold as CloudWatch gets it: a share of a function's timeout turned into milliseconds."""
    if isinstance(alarm.threshold, TimeoutFraction):
        timeout_s = function_timeouts_s.get(alarm.threshold.function)
        if timeout_s is None:
            raise AlarmDefinitionError(f"{alarm.name}: no function {alarm.threshold.function!r} with a Timeout")
        return timeout_s * 1000 * alarm.threshold.percent / 100
    return alarm.threshold


def _alarm(entry: Any, where: str) -> AlarmSpec:
    if not isinstance(entry, dict):
        raise AlarmDefinitionError(f"{where}: must be a mapping")
    where = f"{where} ({entry.get('name', '?')})"
    _check_keys(entry, _ALARM_KEYS, _REQUIRED_ALARM_KEYS, where)
    if ("metric" in entry) == ("metrics" in entry):
        raise AlarmDefinitionError(f"{where}: give either `metric` (with `statistic`) or `metrics` (metric math)")
    name = _name(entry["name"], where)
    runbook = _runbook(entry["runbook"], where)
    if not isinstance(entry.get("description"), str) or not entry["description"].strip():
        raise AlarmDefinitionError(f"{where}: needs a description")
    if len(entry["description"]) > MAX_DESCRIPTION_CHARS - 200:
        raise AlarmDefinitionError(f"{where}: description too long for AlarmDescription with its runbook link")
    metric = statistic = None
    queries: tuple[MetricQuery, ...] = ()
    if "metric" in entry:
        metric = _metric(entry["metric"], where)
        statistic = _statistic(entry.get("statistic"), where)
    else:
        queries = _queries(entry["metrics"], where)
    period = _positive_int(entry["period"], "period", where)
    if period % 60 and period not in (10, 30):
        raise AlarmDefinitionError(f"{where}: period must be 10, 30 or a multiple of 60 seconds")
    evaluation_periods = _positive_int(entry["evaluation_periods"], "evaluation_periods", where)
    datapoints = _positive_int(entry["datapoints_to_alarm"], "datapoints_to_alarm", where)
    if datapoints > evaluation_periods:
        raise AlarmDefinitionError(
            f"{where}: datapoints_to_alarm ({datapoints}) > evaluation_periods ({evaluation_periods})"
        )
    if entry["comparison"] not in COMPARISONS:
        raise AlarmDefinitionError(f"{where}: comparison must be one of {sorted(COMPARISONS)}")
    if entry["treat_missing_data"] not in TREAT_MISSING_DATA:
        raise AlarmDefinitionError(f"{where}: treat_missing_data must be one of {sorted(TREAT_MISSING_DATA)}")
    pages = entry.get("pages", False)
    if not isinstance(pages, bool):
        raise AlarmDefinitionError(f"{where}: pages must be true or false")
    condition = entry.get("condition")
    if condition is not None and not (isinstance(condition, str) and condition.isidentifier()):
        raise AlarmDefinitionError(f"{where}: condition must name a template condition")
    return AlarmSpec(
        name=name,
        description=entry["description"],
        runbook=runbook,
        pages=pages,
        metric=metric,
        statistic=statistic,
        queries=queries,
        period=period,
        evaluation_periods=evaluation_periods,
        datapoints_to_alarm=datapoints,
        threshold=_threshold_spec(entry["threshold"], where),
        comparison=entry["comparison"],
        treat_missing_data=entry["treat_missing_data"],
        condition=condition,
    )


def _composite(entry: Any, where: str) -> CompositeSpec:
    if not isinstance(entry, dict):
        raise AlarmDefinitionError(f"{where}: composite must be a mapping")
    _check_keys(entry, _COMPOSITE_KEYS, _COMPOSITE_KEYS, where)
    return CompositeSpec(_name(entry["name"], where), entry["description"], _runbook(entry["runbook"], where))


def _check_keys(entry: dict, allowed: set[str], required: set[str], where: str) -> None:
    unknown = set(entry) - allowed
    missing = required - set(entry)
    if unknown:
        raise AlarmDefinitionError(f"{where}: unknown keys {sorted(unknown)}")
    if missing:
        raise AlarmDefinitionError(f"{where}: missing {sorted(missing)}")


def _name(name: Any, where: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise AlarmDefinitionError(f"{where}: name must be lowercase words joined by hyphens")
    return name


def _runbook(runbook: Any, where: str) -> str:
    if not isinstance(runbook, str) or not (RUNBOOKS_DIR / runbook).is_file():
        raise AlarmDefinitionError(f"{where}: runbook {runbook!r} is not a file in docs/runbooks/")
    return runbook


def _metric(entry: Any, where: str) -> Metric:
    keys = set(entry) if isinstance(entry, dict) else set()
    if keys - {"namespace", "name", "dimensions"} or not {"namespace", "name"} <= keys:
        raise AlarmDefinitionError(f"{where}: a metric is {{namespace, name, dimensions}}")
    dimensions = entry.get("dimensions") or {}
    if not all(isinstance(value, str) for value in dimensions.values()):
        raise AlarmDefinitionError(f"{where}: dimension values must be strings")
    return Metric(entry["namespace"], entry["name"], tuple(dimensions.items()))


def _statistic(statistic: Any, where: str) -> str:
    if statistic in STANDARD_STATISTICS or (isinstance(statistic, str) and _PERCENTILE.match(statistic)):
        return statistic
    raise AlarmDefinitionError(f"{where}: statistic {statistic!r} is neither standard nor a percentile like p99")


def _queries(entries: Any, where: str) -> tuple[MetricQuery, ...]:
    if not isinstance(entries, list) or len(entries) < 2:
        raise AlarmDefinitionError(f"{where}: `metrics` lists the metrics and the expression over them")
    queries = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            raise AlarmDefinitionError(f"{where}: each line of `metrics` is a mapping with an id")
        if "expression" in entry:
            queries.append(MetricQuery(entry["id"], None, None, entry["expression"], entry.get("label"), True))
        else:
            queries.append(
                MetricQuery(
                    entry["id"],
                    _metric(entry["metric"], where),
                    _statistic(entry.get("statistic"), where),
                    None,
                    entry.get("label"),
                    False,
                )
            )
    if sum(query.return_data for query in queries) != 1:
        raise AlarmDefinitionError(f"{where}: metric math alarms need exactly one expression (what is compared)")
    for query in queries:
        if query.expression and (gaps := gap_problems(query.expression)):
            raise AlarmDefinitionError(f"{where}: {'; '.join(gaps)}")
    return tuple(queries)


def _threshold_spec(threshold: Any, where: str) -> float | TimeoutFraction:
    if isinstance(threshold, (int, float)) and not isinstance(threshold, bool):
        return float(threshold)
    if isinstance(threshold, dict) and set(threshold) == {"percent_of_timeout", "function"}:
        return TimeoutFraction(float(threshold["percent_of_timeout"]), threshold["function"])
    raise AlarmDefinitionError(f"{where}: threshold is a number or {{percent_of_timeout, function}}")


def _positive_int(value: Any, key: str, where: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise AlarmDefinitionError(f"{where}: {key} must be a whole number, at least 1")
    return value


def _camel_case(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("-"))

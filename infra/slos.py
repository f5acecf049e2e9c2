"""Service-level objectives as data (slos/objectives.yaml): the Application Signals SLOs rendered into the
template, and the burn rates Application Signals would publish for them, computed from the doors' own EMF so
that the alarm replay can evaluate the burn-rate alarms (alarms/slo.yaml) on a laptop.

An objective's indicator is request-based, over the doors' own metrics (observability/catalog.py):
- availability: bad requests are those answered 5xx (`ServerErrors`), out of `Requests`;
- latency: good requests are those answered within the threshold, counted by the trimmed-count statistic
  `TC(:threshold)` over `RequestLatency`'s samples, out of `Requests`.

Burn rate, as AWS defines it (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-properties-applicationsignals-servicelevelobjective-burnrateconfiguration.html):
error rate over the look-back window / (100 % - attainment goal).
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
OBJECTIVES_FILE = REPO_ROOT / "slos" / "objectives.yaml"
BURN_RATE_NAMESPACE = "AWS/ApplicationSignals"
BURN_RATE_METRIC = "BurnRate"
ATTAINMENT_METRIC = "AttainmentRate"
SLO_NAME_PREFIX = "${AWS::StackName}-"
INDICATORS = {"availability", "latency"}
FRONT_DOORS = {"lambda", "flask"}
_NAME = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
# Application Signals looks back at most a week for a burn rate.
MAX_LOOK_BACK_MINUTES = 10080


class ObjectiveDefinitionError(ValueError):
    pass


@dataclass(frozen=True)
class Objective:
    name: str
    description: str
    front_door: str
    indicator: str
    goal: float  # attainment goal, percent
    threshold_ms: float | None = None  # latency objectives only
    condition: str | None = None  # a template condition (e.g. DeployFlaskDoor)

    @property
    def logical_id(self) -> str:
        return "".join(part.capitalize() for part in self.name.split("-")) + "Slo"

    @property
    def slo_name(self) -> str:
        """The SLO's name as Fn::Sub writes it, and as the burn-rate metrics' SloName dimension carries it."""
        return SLO_NAME_PREFIX + self.name

    @property
    def error_budget(self) -> float:
        """The share of requests that may be bad, as a fraction."""
        return (100 - self.goal) / 100


@dataclass(frozen=True)
class Objectives:
    window_days: int
    burn_rate_windows_minutes: tuple[int, ...]
    objectives: tuple[Objective, ...]


def load_objectives(path: Path = OBJECTIVES_FILE) -> Objectives:
    document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    unknown = set(document) - {"window_days", "burn_rate_windows_minutes", "objectives"}
    if unknown:
        raise ObjectiveDefinitionError(f"{path.name}: unknown keys {sorted(unknown)}")
    window_days = document.get("window_days")
    if not isinstance(window_days, int) or not 1 <= window_days <= 365:
        raise ObjectiveDefinitionError(f"{path.name}: window_days must be a whole number of days, 1 to 365")
    windows = document.get("burn_rate_windows_minutes")
    if (
        not isinstance(windows, list)
        or not windows
        or not all(isinstance(w, int) and 1 <= w <= MAX_LOOK_BACK_MINUTES for w in windows)
    ):
        raise ObjectiveDefinitionError(
            f"{path.name}: burn_rate_windows_minutes lists look-back windows of 1 to {MAX_LOOK_BACK_MINUTES} minutes"
        )
    objectives = tuple(
        _objective(entry, f"{path.name}, objective {index}")
        for index, entry in enumerate(document.get("objectives") or [])
    )
    if not objectives:
        raise ObjectiveDefinitionError(f"{path.name}: no objectives")
    names = [objective.name for objective in objectives]
    if len(set(names)) != len(names):
        raise ObjectiveDefinitionError(f"{path.name}: objective names used twice")
    return Objectives(window_days, tuple(windows), objectives)


def slo_resources(objectives: Objectives) -> dict[str, dict[str, Any]]:
    """AWS::ApplicationSignals::ServiceLevelObjective resources, by logical id."""
    resources = {}
    for objective in objectives.objectives:
        total = [_query("total", "Requests", "Sum", objective.front_door)]
        if objective.indicator == "availability":
            monitored = {"BadCountMetric": [_query("bad", "ServerErrors", "Sum", objective.front_door)]}
        else:
            statistic = f"TC(:{objective.threshold_ms:g})"
            monitored = {"GoodCountMetric": [_query("good", "RequestLatency", statistic, objective.front_door)]}
        resource: dict[str, Any] = {
            "Type": "AWS::ApplicationSignals::ServiceLevelObjective",
            "Properties": {
                "Name": {"Fn::Sub": objective.slo_name},
                "Description": objective.description,
                "RequestBasedSli": {
                    "RequestBasedSliMetric": {
                        "TotalRequestCountMetric": total,
                        "MonitoredRequestCountMetric": monitored,
                    }
                },
                "Goal": {
                    "Interval": {"RollingInterval": {"Duration": objectives.window_days, "DurationUnit": "DAY"}},
                    "AttainmentGoal": objective.goal,
                    "WarningThreshold": 50,  # warn when half the error budget is spent
                },
                "BurnRateConfigurations": [
                    {"LookBackWindowMinutes": window} for window in objectives.burn_rate_windows_minutes
                ],
            },
        }
        if objective.condition:
            resource["Condition"] = objective.condition
        resources[objective.logical_id] = resource
    return resources


def burn_rate_series(
    objectives: Objectives,
    series: dict,
    namespace: str,
    *,
    period_s: float,
    start: float,
    end: float,
    time_scale: float = 1.0,
) -> dict:
    """The BurnRate series Application Signals would publish, one value per period for each objective and
    look-back window, keyed as alarm metrics are ((namespace, name, dimensions), [(timestamp, value)]).
    A window without a request has no value; `time_scale` compresses the windows as the replay does periods."""
    derived = {}
    for objective in objectives.objectives:
        counts = _requests_and_bad(objective, series, namespace)
        for window_minutes in objectives.burn_rate_windows_minutes:
            windows = _windows(*counts, window_minutes * 60 / time_scale, period_s, start, end)
            values = [(at, bad / requests / objective.error_budget) for at, requests, bad in windows]
            key = (
                BURN_RATE_NAMESPACE,
                BURN_RATE_METRIC,
                frozenset({("SloName", objective.slo_name), ("BurnRateWindowMinutes", str(window_minutes))}),
            )
            derived[key] = values
    return derived


def attainment_series(
    objectives: Objectives,
    series: dict,
    namespace: str,
    *,
    period_s: float,
    start: float,
    end: float,
    time_scale: float = 1.0,
) -> dict:
    """The AttainmentRate series Application Signals publishes for each SLO (by SloName): the percentage of good
    requests over the SLO's rolling interval (window_days, compressed by `time_scale`), one value per period with a
    request in the interval."""
    derived = {}
    interval_s = objectives.window_days * 86_400 / time_scale
    for objective in objectives.objectives:
        windows = _windows(*_requests_and_bad(objective, series, namespace), interval_s, period_s, start, end)
        values = [(at, 100 * (requests - bad) / requests) for at, requests, bad in windows]
        derived[(BURN_RATE_NAMESPACE, ATTAINMENT_METRIC, frozenset({("SloName", objective.slo_name)}))] = values
    return derived


def _windows(
    totals: list[tuple[float, float]],
    bad: list[tuple[float, float]],
    window_s: float,
    period_s: float,
    start: float,
    end: float,
) -> list[tuple[float, float, float]]:
    """For each period from start's to end's with a request in the window ending with it: the period's middle, and
    the requests and bad ones in that window (what BurnRate and AttainmentRate are computed from)."""
    windows = []
    for index in range(int(start // period_s), int(end // period_s) + 1):
        until = (index + 1) * period_s
        requests = _sum_between(totals, until - window_s, until)
        if requests > 0:
            windows.append((until - period_s / 2, requests, _sum_between(bad, until - window_s, until)))
    return windows


def _requests_and_bad(
    objective: Objective, series: dict, namespace: str
) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """The objective's requests, and its bad ones (answered 5xx; or slower than its threshold), as datapoints."""
    totals = _points(series, namespace, "Requests", objective.front_door)
    if objective.indicator == "availability":
        return totals, _points(series, namespace, "ServerErrors", objective.front_door)
    latencies = _points(series, namespace, "RequestLatency", objective.front_door)
    return totals, [(t, 1.0) for t, value in latencies if value > objective.threshold_ms]


def _query(query_id: str, metric_name: str, statistic: str, front_door: str) -> dict[str, Any]:
    return {
        "Id": query_id,
        "MetricStat": {
            "Metric": {
                "Namespace": {"Ref": "MetricsNamespace"},
                "MetricName": metric_name,
                "Dimensions": [{"Name": "FrontDoor", "Value": front_door}],
            },
            "Period": 60,
            "Stat": statistic,
        },
        "ReturnData": True,
    }


def _points(series: dict, namespace: str, metric_name: str, front_door: str) -> list[tuple[float, float]]:
    return series.get((namespace, metric_name, frozenset({("FrontDoor", front_door)})), [])


def _sum_between(points: Iterable[tuple[float, float]], after: float, until: float) -> float:
    return sum(value for timestamp, value in points if after < timestamp <= until)


def _objective(entry: Any, where: str) -> Objective:
    if not isinstance(entry, dict):
        raise ObjectiveDefinitionError(f"{where}: must be a mapping")
    allowed = {"name", "description", "front_door", "indicator", "goal", "threshold_ms", "condition"}
    unknown, missing = set(entry) - allowed, {"name", "description", "front_door", "indicator", "goal"} - set(entry)
    if unknown or missing:
        raise ObjectiveDefinitionError(f"{where}: unknown keys {sorted(unknown)}, missing {sorted(missing)}")
    name = entry["name"]
    if not isinstance(name, str) or not _NAME.match(name):
        raise ObjectiveDefinitionError(f"{where}: name must be lowercase words joined by hyphens")
    if entry["front_door"] not in FRONT_DOORS or entry["indicator"] not in INDICATORS:
        raise ObjectiveDefinitionError(
            f"{where}: front_door is one of {sorted(FRONT_DOORS)}, indicator one of {sorted(INDICATORS)}"
        )
    goal = entry["goal"]
    if not isinstance(goal, (int, float)) or not 0 < goal < 100:
        raise ObjectiveDefinitionError(f"{where}: goal is a percentage between 0 and 100 (exclusive)")
    threshold = entry.get("threshold_ms")
    if (entry["indicator"] == "latency") != (threshold is not None):
        raise ObjectiveDefinitionError(f"{where}: threshold_ms is required for latency objectives, and only them")
    if threshold is not None and (not isinstance(threshold, (int, float)) or threshold <= 0):
        raise ObjectiveDefinitionError(f"{where}: threshold_ms must be a positive number of milliseconds")
    return Objective(
        name,
        entry["description"],
        entry["front_door"],
        entry["indicator"],
        float(goal),
        float(threshold) if threshold is not None else None,
        entry.get("condition"),
    )

"""CloudWatch dashboard bodies (dashboards/*.json): loading, Fn::Sub-style placeholders, and a validator.

CloudWatch checks a dashboard body only when it is deployed, and cfn-lint sees just a string, so this
validator checks what would be refused or silently misdrawn: widget types and their required properties,
well-formed metric arrays and math expressions, the 24-column grid, overlaps, and CloudWatch's size limits.

House rule beyond CloudWatch's: every widget has an explicit x, y, width and height, so that the grid
and overlaps can be checked (CloudWatch would place a widget without them wherever it finds room).
"""

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import metric_math

REPO_ROOT = Path(__file__).resolve().parents[1]
DASHBOARDS_DIR = REPO_ROOT / "dashboards"

GRID_COLUMNS = 24
MAX_HEIGHT = 1000
MAX_WIDGETS = 500
MAX_METRICS_PER_WIDGET = 500
MAX_ALARMS_PER_ALARM_WIDGET = 100
MAX_DIMENSIONS = 30

TOP_LEVEL_KEYS = {"widgets", "variables", "start", "end", "periodOverride"}
WIDGET_KEYS = {"type", "x", "y", "width", "height", "properties"}
WIDGET_TYPES = {"metric", "text", "log", "alarm"}
METRIC_VIEWS = {"timeSeries", "singleValue", "gauge", "bar", "pie", "table"}
LOG_VIEWS = {"table", "timeSeries", "bar", "pie"}
RENDERING_OPTIONS = {"id", "label", "stat", "period", "visible", "color", "yAxis", "region", "accountId"}
EXPRESSION_KEYS = {"expression", "id", "label", "period", "visible", "color", "yAxis", "region", "accountId"}

_STATISTIC = re.compile(
    r"^(SampleCount|Average|Sum|Minimum|Maximum|IQM)$"
    r"|^(p|tm|wm|tc|ts)\d{1,2}(\.\d+)?$"
    r"|^(TM|WM|TC|TS|PR)\(\d*(\.\d+)?%?:\d*(\.\d+)?%?\)$"
)
_METRIC_ID = re.compile(r"^[a-z][a-zA-Z0-9_]*$")
_ALARM_ARN = re.compile(r"^arn:aws[a-z-]*:cloudwatch:[a-z0-9-]+:\d{12}:alarm:[^:]+$")
_PLACEHOLDER = re.compile(r"\$\{(?!!)([^}]+)\}")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_IDENTIFIER = re.compile(r"\b[a-z][a-zA-Z0-9_]*\b")
_IDENTIFIER_CALL = re.compile(r"\b[A-Za-z_]+\s*\(")

SAMPLE_REGION = "eu-west-1"
SAMPLE_ACCOUNT = "123456789012"


class DashboardError(ValueError):
    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__(f"{source}: " + "; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class MetricReference:
    """One metric line of a metric widget, with the "." shorthand resolved."""

    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]
    stat: str | None
    widget: str


def placeholders(text: str) -> set[str]:
    """The ${Name} and ${Resource.Attribute} names Fn::Sub would replace (${!Literal} is an escape)."""
    return set(_PLACEHOLDER.findall(text))


def substitute(text: str, values: Mapping[str, str]) -> str:
    """Fn::Sub's replacement, for checks before deployment; every placeholder must have a value."""
    missing = placeholders(text) - set(values)
    if missing:
        raise KeyError(f"no value for {sorted(missing)}")
    replaced = _PLACEHOLDER.sub(lambda match: values[match[1]], text)
    return replaced.replace("${!", "${")


def sample_values(names: set[str]) -> dict[str, str]:
    """Plausible deploy-time values for placeholders: alarm ARNs for ${X.Arn}, a region, names otherwise."""
    values = {}
    for name in names:
        if name == "AWS::Region":
            values[name] = SAMPLE_REGION
        elif name == "AWS::AccountId":
            values[name] = SAMPLE_ACCOUNT
        elif name.endswith(".Arn"):
            values[name] = f"arn:aws:cloudwatch:{SAMPLE_REGION}:{SAMPLE_ACCOUNT}:alarm:sample-{name[:-4]}"
        else:
            values[name] = "sample-" + re.sub(r"[^A-Za-z0-9-]", "-", name)
    return values


def with_sample_values(text: str) -> dict[str, Any]:
    return json.loads(substitute(text, sample_values(placeholders(text))))


def load_dashboard(path: Path) -> str:
    """The body's text, as Fn::Sub will receive it, once it validates (with sample placeholder values)."""
    text = path.read_text(encoding="utf-8")
    try:
        body = with_sample_values(text)
    except json.JSONDecodeError as error:
        raise DashboardError(path.name, [f"not JSON: {error}"]) from None
    problems = validate_dashboard(body)
    if problems:
        raise DashboardError(path.name, problems)
    return text


def dashboard_files() -> list[Path]:
    return sorted(DASHBOARDS_DIR.glob("*.json"))


def validate_dashboard(body: Any) -> list[str]:
    """Everything wrong with a dashboard body, as readable sentences; an empty list when it is fine."""
    if not isinstance(body, dict):
        return ["the body must be a JSON object"]
    problems = [f"unknown top-level key {key!r}" for key in sorted(set(body) - TOP_LEVEL_KEYS)]
    widgets = body.get("widgets")
    if not isinstance(widgets, list):
        return [*problems, "'widgets' must be an array"]
    if len(widgets) > MAX_WIDGETS:
        problems.append(f"{len(widgets)} widgets, more than CloudWatch's {MAX_WIDGETS}")
    placed = []
    for index, widget in enumerate(widgets):
        label = _widget_label(index, widget)
        if not isinstance(widget, dict):
            problems.append(f"{label}: must be an object")
            continue
        problems += [f"{label}: {problem}" for problem in _widget_problems(widget)]
        box = _box(widget)
        if box is not None:
            placed.append((label, box))
    problems += _overlaps(placed)
    return problems


def metric_references(body: dict[str, Any]) -> list[MetricReference]:
    """Every metric drawn by the body's metric widgets (math and search expressions excluded)."""
    references = []
    for index, widget in enumerate(body.get("widgets", [])):
        if widget.get("type") != "metric":
            continue
        properties = widget.get("properties", {})
        for line, options in _resolved_metric_lines(properties.get("metrics", [])):
            namespace, name, *dimension_parts = line
            dimensions = tuple(zip(dimension_parts[0::2], dimension_parts[1::2], strict=True))
            references.append(
                MetricReference(
                    namespace,
                    name,
                    dimensions,
                    options.get("stat", properties.get("stat")),
                    _widget_label(index, widget),
                )
            )
    return references


def alarm_arns(body: dict[str, Any]) -> list[str]:
    return [
        arn
        for widget in body.get("widgets", [])
        if widget.get("type") == "alarm"
        for arn in widget.get("properties", {}).get("alarms", [])
    ]


def _widget_label(index: int, widget: Any) -> str:
    title = widget.get("properties", {}).get("title") if isinstance(widget, dict) else None
    return f"widget {index}" + (f" ({title})" if isinstance(title, str) else "")


def _widget_problems(widget: dict[str, Any]) -> list[str]:
    problems = [f"unknown key {key!r}" for key in sorted(set(widget) - WIDGET_KEYS)]
    problems += _layout_problems(widget)
    widget_type = widget.get("type")
    properties = widget.get("properties")
    if widget_type not in WIDGET_TYPES:
        return [*problems, f"type must be one of {sorted(WIDGET_TYPES)}, got {widget_type!r}"]
    if not isinstance(properties, dict):
        return [*problems, "'properties' must be an object"]
    checks = {
        "metric": _metric_widget_problems,
        "text": _text_widget_problems,
        "log": _log_widget_problems,
        "alarm": _alarm_widget_problems,
    }
    return problems + checks[widget_type](properties)


def _layout_problems(widget: dict[str, Any]) -> list[str]:
    problems = []
    for key in ("x", "y", "width", "height"):
        value = widget.get(key)
        if not isinstance(value, int) or isinstance(value, bool):
            problems.append(f"{key} must be a whole number (every widget is placed explicitly)")
    if problems:
        return problems
    x, y, width, height = widget["x"], widget["y"], widget["width"], widget["height"]
    if not 0 <= x < GRID_COLUMNS:
        problems.append(f"x must be 0 to {GRID_COLUMNS - 1}, got {x}")
    if y < 0:
        problems.append(f"y must be 0 or more, got {y}")
    if not 1 <= width <= GRID_COLUMNS:
        problems.append(f"width must be 1 to {GRID_COLUMNS}, got {width}")
    if not 1 <= height <= MAX_HEIGHT:
        problems.append(f"height must be 1 to {MAX_HEIGHT}, got {height}")
    if x + width > GRID_COLUMNS:
        problems.append(f"x + width is {x + width}, past the {GRID_COLUMNS}-column grid")
    return problems


def _box(widget: dict[str, Any]) -> tuple[int, int, int, int] | None:
    if _layout_problems(widget):
        return None
    return widget["x"], widget["y"], widget["width"], widget["height"]


def _overlaps(placed: list[tuple[str, tuple[int, int, int, int]]]) -> list[str]:
    problems = []
    for position, (label, (x, y, width, height)) in enumerate(placed):
        for other_label, (other_x, other_y, other_width, other_height) in placed[position + 1 :]:
            overlap_x = x < other_x + other_width and other_x < x + width
            if overlap_x and y < other_y + other_height and other_y < y + height:
                problems.append(f"{label} overlaps {other_label}")
    return problems


def _metric_widget_problems(properties: dict[str, Any]) -> list[str]:
    problems = []
    if not isinstance(properties.get("region"), str) or not properties.get("region"):
        problems.append("a metric widget needs a region")
    metrics = properties.get("metrics")
    alarm_annotation = (
        properties.get("annotations", {}).get("alarms") if isinstance(properties.get("annotations"), dict) else None
    )
    if metrics is None and not alarm_annotation:
        problems.append("a metric widget needs 'metrics' (or an alarm annotation)")
    if metrics is not None:
        problems += _metrics_array_problems(metrics)
    if "stat" in properties and not _is_statistic(properties["stat"]):
        problems.append(f"stat {properties['stat']!r} is not a CloudWatch statistic")
    if "period" in properties:
        problems += _period_problems(properties["period"])
    view = properties.get("view", "timeSeries")
    if view not in METRIC_VIEWS:
        problems.append(f"view must be one of {sorted(METRIC_VIEWS)}, got {view!r}")
    if view == "gauge":
        left = properties.get("yAxis", {}).get("left", {})
        if "min" not in left or "max" not in left:
            problems.append("a gauge needs yAxis.left.min and yAxis.left.max")
    return problems


def _metrics_array_problems(metrics: Any) -> list[str]:
    if not isinstance(metrics, list) or not metrics:
        return ["'metrics' must be a non-empty array of arrays"]
    if len(metrics) > MAX_METRICS_PER_WIDGET:
        return [f"{len(metrics)} metrics, more than CloudWatch's {MAX_METRICS_PER_WIDGET} per widget"]
    problems = []
    ids: list[str] = []
    expressions: list[tuple[str, str]] = []
    previous: list[str] | None = None
    for number, line in enumerate(metrics, start=1):
        where = f"metric {number}"
        if not isinstance(line, list) or not line:
            problems.append(f"{where}: must be a non-empty array")
            continue
        if len(line) == 1 and isinstance(line[0], dict) and "expression" in line[0]:
            expression = line[0]
            unknown = sorted(set(expression) - EXPRESSION_KEYS)
            problems += [f"{where}: unknown key {key!r} in an expression" for key in unknown]
            if not isinstance(expression["expression"], str) or not expression["expression"].strip():
                problems.append(f"{where}: the expression is empty")
            if not isinstance(expression.get("id"), str) or not _METRIC_ID.match(expression["id"]):
                problems.append(f"{where}: an expression needs an id that starts with a lowercase letter")
            else:
                ids.append(expression["id"])
                expressions.append((expression["id"], str(expression["expression"])))
            continue
        options: dict[str, Any] = {}
        if isinstance(line[-1], dict):
            options, line = line[-1], line[:-1]  # noqa: PLW2901 - the line without its options object
        if any(isinstance(part, dict) for part in line):
            problems.append(f"{where}: the options object must come last")
            continue
        if not all(isinstance(part, str) and part for part in line):
            problems.append(f"{where}: namespace, metric name and dimensions must be non-empty strings")
            continue
        resolved = resolve_shorthand(line, previous)
        if resolved is None:
            problems.append(f"{where}: '.' repeats the previous metric's value, but there is none at that position")
            continue
        previous = resolved
        if len(resolved) < 2:
            problems.append(f"{where}: needs a namespace and a metric name")
            continue
        dimension_parts = resolved[2:]
        if len(dimension_parts) % 2:
            problems.append(f"{where}: dimensions come in name, value pairs; {dimension_parts[-1]!r} has no value")
        names = dimension_parts[0::2]
        if len(names) > MAX_DIMENSIONS:
            problems.append(f"{where}: more than {MAX_DIMENSIONS} dimensions")
        if len(set(names)) != len(names):
            problems.append(f"{where}: a dimension name appears twice")
        problems += [f"{where}: unknown option {key!r}" for key in sorted(set(options) - RENDERING_OPTIONS)]
        if "stat" in options and not _is_statistic(options["stat"]):
            problems.append(f"{where}: stat {options['stat']!r} is not a CloudWatch statistic")
        if "period" in options:
            problems += [f"{where}: {problem}" for problem in _period_problems(options["period"])]
        if "id" in options:
            if not isinstance(options["id"], str) or not _METRIC_ID.match(options["id"]):
                problems.append(f"{where}: id {options['id']!r} must start with a lowercase letter")
            else:
                ids.append(options["id"])
    duplicates = sorted({metric_id for metric_id in ids if ids.count(metric_id) > 1})
    problems += [f"id {metric_id!r} is used twice" for metric_id in duplicates]
    for expression_id, expression in expressions:
        for reference in sorted(set(_IDENTIFIER.findall(_QUOTED.sub("", expression)))):
            if reference == expression_id:
                problems.append(f"expression {expression_id!r} refers to itself")
            elif reference not in ids:
                problems.append(f"expression {expression_id!r} refers to {reference!r}, which no metric defines")
        problems += [f"expression {expression_id!r}: {problem}" for problem in gap_problems(expression)]
    return problems


def gap_problems(expression: str) -> list[str]:
    """An expression over several metrics is empty in every period one of them is missing: each input that
    can be absent must be FILLed (metric_math.unfilled_inputs); SEARCH and other functions are left alone."""
    if _IDENTIFIER_CALL.search(_QUOTED.sub("", expression).replace("FILL(", "")):
        return []
    try:
        unfilled = metric_math.unfilled_inputs(expression)
    except metric_math.MetricMathError:
        return []
    return [
        f"{name!r} can be absent in a period, which leaves the result empty there: use FILL({name}, 0)"
        for name in unfilled
    ]


def resolve_shorthand(line: list[str], previous: list[str] | None) -> list[str] | None:
    resolved = []
    for position, part in enumerate(line):
        if part == ".":
            if previous is None or position >= len(previous):
                return None
            resolved.append(previous[position])
        else:
            resolved.append(part)
    return resolved


def _resolved_metric_lines(metrics: list[Any]) -> Iterator[tuple[list[str], dict[str, Any]]]:
    previous: list[str] | None = None
    for line in metrics:
        if len(line) == 1 and isinstance(line[0], dict):
            continue
        options = line[-1] if isinstance(line[-1], dict) else {}
        parts = line[:-1] if options else line
        previous = resolve_shorthand(parts, previous) or parts
        yield previous, options


def _is_statistic(value: Any) -> bool:
    return isinstance(value, str) and bool(_STATISTIC.match(value))


def _period_problems(period: Any) -> list[str]:
    if not isinstance(period, int) or isinstance(period, bool) or period < 60 or period % 60:
        return [f"period must be a multiple of 60 seconds, got {period!r}"]
    return []


def _text_widget_problems(properties: dict[str, Any]) -> list[str]:
    if not isinstance(properties.get("markdown"), str) or not properties["markdown"]:
        return ["a text widget needs 'markdown'"]
    return []


def _log_widget_problems(properties: dict[str, Any]) -> list[str]:
    problems = []
    if not isinstance(properties.get("region"), str) or not properties.get("region"):
        problems.append("a log widget needs a region")
    query = properties.get("query")
    if not isinstance(query, str) or not query.startswith("SOURCE '"):
        problems.append("a log widget needs a 'query' that starts with SOURCE '<log group>'")
    if properties.get("view", "table") not in LOG_VIEWS:
        problems.append(f"view must be one of {sorted(LOG_VIEWS)}, got {properties['view']!r}")
    return problems


def _alarm_widget_problems(properties: dict[str, Any]) -> list[str]:
    alarms = properties.get("alarms")
    if not isinstance(alarms, list) or not 1 <= len(alarms) <= MAX_ALARMS_PER_ALARM_WIDGET:
        return [f"an alarm widget needs 'alarms', 1 to {MAX_ALARMS_PER_ALARM_WIDGET} alarm ARNs"]
    return [f"{arn!r} is not an alarm ARN" for arn in alarms if not isinstance(arn, str) or not _ALARM_ARN.match(arn)]

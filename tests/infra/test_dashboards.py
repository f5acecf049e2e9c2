"""The dashboard validator refuses what CloudWatch would refuse (or misdraw), the real dashboards pass it,
and they draw every metric of the catalog and nothing outside it."""

import copy
import json
import re
from pathlib import Path

import pytest

from infra import dashboards
from infra.dashboards import MetricReference
from observability.catalog import CATALOG, Dimension
from rest_contract.operations import OPERATIONS

APP_NAMESPACE = "${MetricsNamespace}"  # the app's namespace, as dashboards and alarms spell it
REPO_ROOT = Path(__file__).resolve().parents[2]
LAMBDA_FUNCTIONS = {"${ApiFunction}", "${MigrationsFunction}"}


def data_layer_query_names() -> set[str]:
    """Query names as the data layer spells them (QueryName dimension values)."""
    source = "".join(path.read_text() for path in (REPO_ROOT / "student_records" / "data").glob("*.py"))
    return set(re.findall(r'"([a-z]+\.[a-z_]+)"', source))


DIMENSION_VALUES = {
    Dimension.FRONT_DOOR.value: {"lambda", "flask"},
    Dimension.ROUTE.value: {operation.path for operation in OPERATIONS},
    Dimension.QUERY_NAME.value: data_layer_query_names(),
    Dimension.FUNCTION_NAME.value: LAMBDA_FUNCTIONS,
}


def raw_bodies() -> dict[str, dict]:
    """The bodies with their placeholders unresolved (they sit inside JSON strings)."""
    return {path.name: json.loads(path.read_text()) for path in dashboards.dashboard_files()}


def valid_body() -> dict:
    return {
        "widgets": [
            {"type": "text", "x": 0, "y": 0, "width": 24, "height": 2, "properties": {"markdown": "# Title"}},
            {
                "type": "metric",
                "x": 0,
                "y": 2,
                "width": 12,
                "height": 6,
                "properties": {
                    "region": "eu-west-1",
                    "title": "Requests",
                    "stat": "Sum",
                    "period": 60,
                    "metrics": [
                        ["StudentRecords", "ServerErrors", "FrontDoor", "lambda", {"id": "errors", "visible": False}],
                        [".", "Requests", ".", ".", {"id": "requests", "visible": False}],
                        [{"expression": "100 * FILL(errors, 0) / requests", "id": "rate", "label": "5xx %"}],
                    ],
                },
            },
            {
                "type": "log",
                "x": 12,
                "y": 2,
                "width": 12,
                "height": 6,
                "properties": {"region": "eu-west-1", "query": "SOURCE '/aws/lambda/api' | filter level = 'ERROR'"},
            },
            {
                "type": "alarm",
                "x": 0,
                "y": 8,
                "width": 24,
                "height": 4,
                "properties": {"alarms": ["arn:aws:cloudwatch:eu-west-1:123456789012:alarm:api-5xx-errors"]},
            },
        ]
    }


def with_change(change) -> dict:
    body = copy.deepcopy(valid_body())
    change(body)
    return body


def test_a_well_formed_body_passes():
    assert dashboards.validate_dashboard(valid_body()) == []


def _widget(body, index):
    return body["widgets"][index]


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (lambda b: b.update(widget=[]), "unknown top-level key 'widget'"),
        (lambda b: b.pop("widgets"), "'widgets' must be an array"),
        (lambda b: _widget(b, 0).update(type="chart"), "type must be one of"),
        (lambda b: _widget(b, 0).pop("properties"), "'properties' must be an object"),
        (lambda b: _widget(b, 0)["properties"].pop("markdown"), "a text widget needs 'markdown'"),
        (lambda b: _widget(b, 1)["properties"].pop("region"), "a metric widget needs a region"),
        (lambda b: _widget(b, 1)["properties"].pop("metrics"), "needs 'metrics'"),
        (lambda b: _widget(b, 1)["properties"].update(stat="Median"), "stat 'Median' is not a CloudWatch statistic"),
        (lambda b: _widget(b, 1)["properties"].update(period=90), "period must be a multiple of 60"),
        (lambda b: _widget(b, 1)["properties"].update(view="gauge"), "a gauge needs yAxis.left.min"),
        (
            lambda b: _widget(b, 1)["properties"]["metrics"].append(["StudentRecords", "Requests", "FrontDoor"]),
            "dimensions come in name, value pairs",
        ),
        (
            lambda b: _widget(b, 1)["properties"]["metrics"].append([{"label": "x"}, "StudentRecords", "Requests"]),
            "the options object must come last",
        ),
        (
            lambda b: _widget(b, 1)["properties"]["metrics"].append(["StudentRecords"]),
            "needs a namespace and a metric name",
        ),
        (
            lambda b: _widget(b, 1)["properties"]["metrics"].append(["StudentRecords", "Requests", {"colour": "#fff"}]),
            "unknown option 'colour'",
        ),
        (
            lambda b: _widget(b, 1)["properties"]["metrics"].append([{"expression": "errors * 2"}]),
            "an expression needs an id",
        ),
        (
            lambda b: _widget(b, 1)["properties"]["metrics"].append([{"expression": "errors / total", "id": "share"}]),
            "refers to 'total', which no metric defines",
        ),
        (
            lambda b: _widget(b, 1)["properties"]["metrics"].append([{"expression": "SUM(METRICS())", "id": "rate"}]),
            "id 'rate' is used twice",
        ),
        (
            lambda b: _widget(b, 1)["properties"]["metrics"].append(["StudentRecords", "Requests", {"id": "Upper"}]),
            "must start with a lowercase letter",
        ),
        (
            lambda b: _widget(b, 1)["properties"].update(metrics=[["AWS/EC2", "CPUUtilization"]] * 501),
            "more than CloudWatch's 500 per widget",
        ),
        (
            lambda b: _widget(b, 1)["properties"]["metrics"].append([{"expression": "requests - errors", "id": "ok"}]),
            "'errors' can be absent in a period, which leaves the result empty there: use FILL(errors, 0)",
        ),
        (
            lambda b: _widget(b, 1)["properties"]["metrics"].append(
                [{"expression": "100 * errors / requests", "id": "r"}]
            ),
            "use FILL(errors, 0)",
        ),
        (lambda b: _widget(b, 2)["properties"].update(query="fields @message"), "starts with SOURCE"),
        (lambda b: _widget(b, 3)["properties"].update(alarms=["api-5xx-errors"]), "is not an alarm ARN"),
        (lambda b: _widget(b, 3)["properties"].update(alarms=[]), "1 to 100 alarm ARNs"),
        (lambda b: _widget(b, 2).update(x=14), "x + width is 26, past the 24-column grid"),
        (lambda b: _widget(b, 2).update(width=25), "width must be 1 to 24"),
        (lambda b: _widget(b, 2).pop("y"), "y must be a whole number"),
        (lambda b: _widget(b, 3).update(y=6), "overlaps"),
        (
            lambda b: b.update(widgets=[_widget(b, 0) | {"y": index * 2} for index in range(501)]),
            "501 widgets, more than CloudWatch's 500",
        ),
    ],
)
def test_a_malformed_body_is_refused_with_a_reason(change, problem):
    # Given a valid body with one thing wrong; When validated; Then the problem is named
    problems = dashboards.validate_dashboard(with_change(change))
    assert any(problem in found for found in problems), problems


def test_dot_shorthand_repeats_the_previous_metric():
    # Given a "." line under a full one; When the metrics are read; Then the "." takes the previous value
    references = dashboards.metric_references(valid_body())
    assert references[1] == MetricReference(
        "StudentRecords", "Requests", (("FrontDoor", "lambda"),), "Sum", "widget 1 (Requests)"
    )


def test_a_dot_with_nothing_before_it_is_refused():
    body = with_change(lambda b: _widget(b, 1)["properties"].update(metrics=[[".", "Requests"]]))
    assert any("there is none at that position" in problem for problem in dashboards.validate_dashboard(body))


@pytest.mark.parametrize("path", dashboards.dashboard_files(), ids=lambda path: path.name)
def test_real_dashboards_pass_the_validator_with_sample_values(path):
    # Given a dashboard file with its placeholders replaced as Fn::Sub would
    body = dashboards.with_sample_values(path.read_text())
    # Then it validates
    assert dashboards.validate_dashboard(body) == []


def test_there_are_an_on_call_and_a_business_dashboard():
    assert {"service-overview.json", "business.json"} <= set(raw_bodies())


def _app_metrics_on_dashboards() -> list[MetricReference]:
    return [
        reference
        for body in raw_bodies().values()
        for reference in dashboards.metric_references(body)
        if reference.namespace == APP_NAMESPACE
    ]


def _search_expressions() -> list[str]:
    return [
        line[0]["expression"]
        for body in raw_bodies().values()
        for widget in body["widgets"]
        if widget["type"] == "metric"
        for line in widget["properties"].get("metrics", [])
        if isinstance(line[0], dict) and "SEARCH(" in line[0]["expression"]
    ]


def test_every_catalog_metric_appears_on_a_dashboard():
    drawn = {reference.name for reference in _app_metrics_on_dashboards()}
    assert set(CATALOG) - drawn == set()


def test_app_metrics_on_dashboards_are_catalog_metrics_with_their_dimension_sets_and_values():
    for reference in _app_metrics_on_dashboards():
        # The metric is in the catalog
        assert reference.name in CATALOG, f"{reference.widget}: {reference.name} is not in the catalog"
        # With one of the dimension sets it is published with (CloudWatch matches sets exactly)
        names = tuple(sorted(name for name, _ in reference.dimensions))
        published = {
            tuple(sorted(dimension.value for dimension in dimension_set))
            for dimension_set in CATALOG[reference.name].dimension_sets
        }
        assert names in published, f"{reference.widget}: {reference.name} is not published with {names}"
        # And dimension values it can take
        for name, value in reference.dimensions:
            assert value in DIMENSION_VALUES[name], f"{reference.widget}: {name}={value!r}"


def test_search_expressions_search_catalog_metrics_by_a_published_dimension_set():
    expressions = _search_expressions()
    assert expressions
    for expression in expressions:
        schema = re.search(r"SEARCH\('\{(\$\{\w+\}[^}]*)\}", expression)[1].split(",")
        metric = re.search(r'MetricName=\\?"(\w+)\\?"', expression)[1]
        assert schema[0] == APP_NAMESPACE
        assert metric in CATALOG
        published = {tuple(sorted(d.value for d in dimension_set)) for dimension_set in CATALOG[metric].dimension_sets}
        assert tuple(sorted(schema[1:])) in published, expression


def test_latency_is_drawn_at_p50_p90_p99_per_front_door():
    latency = {
        (dict(reference.dimensions).get("FrontDoor"), reference.stat)
        for reference in _app_metrics_on_dashboards()
        if reference.name == "RequestLatency"
    }
    assert {(door, stat) for door in ("lambda", "flask") for stat in ("p50", "p90", "p99")} <= latency


def test_the_on_call_dashboard_shows_every_alarm():
    from infra.alarms import load_alarms

    catalog = load_alarms()
    expected = {f"{alarm.logical_id}.Arn" for alarm in catalog.alarms} | {f"{catalog.composite.logical_id}.Arn"}
    shown = {
        name
        for arn in dashboards.alarm_arns(raw_bodies()["service-overview.json"])
        for name in dashboards.placeholders(arn)
    }
    assert shown == expected

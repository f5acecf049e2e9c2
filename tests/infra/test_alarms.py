"""Alarms as data: each has a runbook that says what to check and do, both actions, a deliberate
TreatMissingData; app alarms watch catalog metrics, M-of-N; one composite alarm pages."""

import json
import re
from pathlib import Path

import pytest
import yaml

from infra import alarms
from infra.alarms import AlarmDefinitionError
from observability.catalog import CATALOG

APP_NAMESPACE = "${MetricsNamespace}"
CATALOG_ALARMS = alarms.load_alarms()


def alarm_resources(sam_template) -> dict[str, dict]:
    return {
        logical_id: resource
        for logical_id, resource in sam_template["Resources"].items()
        if resource["Type"] in ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm")
    }


def test_there_is_one_alarm_file_per_service():
    assert {path.stem for path in alarms.ALARMS_DIR.glob("*.yaml")} >= {"apigateway", "lambda", "rds", "app"}


@pytest.mark.parametrize(
    "runbook", sorted({alarm.runbook for alarm in CATALOG_ALARMS.alarms} | {CATALOG_ALARMS.composite.runbook})
)
def test_every_runbook_exists_and_says_what_to_check_and_do(runbook):
    text = (alarms.RUNBOOKS_DIR / runbook).read_text()
    assert "## What it means" in text
    assert "## What to check" in text
    assert "## What to do" in text


def test_every_alarm_in_the_template_links_its_runbook_and_notifies_on_alarm_and_ok(sam_template):
    runbooks_dashboard = json.loads(
        sam_template["Resources"]["RunbooksDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    )
    sections = {widget["properties"]["markdown"].split("\n", 1)[0] for widget in runbooks_dashboard["widgets"]}
    for logical_id, resource in alarm_resources(sam_template).items():
        properties = resource["Properties"]
        condition, published, in_the_stack = properties["AlarmDescription"]["Fn::If"]
        assert condition == "HasRunbookBaseUrl"
        # With RunbookBaseUrl, the description ends with the runbook's link, and the file exists
        runbook = re.search(r"Runbook: \$\{RunbookBaseUrl\}/([\w.-]+\.md)$", published["Fn::Sub"])
        assert runbook, f"{logical_id}: {published}"
        assert (alarms.RUNBOOKS_DIR / runbook[1]).is_file()
        # Without it, the description names the stack's runbooks dashboard and a section it has
        text, variables = in_the_stack["Fn::Sub"]
        section = re.search(r"Runbook: \$\{RunbooksDashboardUrl\} \(section ([\w-]+)\)$", text)
        assert section and section[1] == runbook[1].removesuffix(".md"), f"{logical_id}: {text}"
        assert f"# {section[1]}" in {heading.split(" (")[0] for heading in sections}, section[1]
        assert "#dashboards/dashboard/${AWS::StackName}-runbooks" in variables["RunbooksDashboardUrl"]["Fn::Sub"]
        # Both actions, to one of the two topics
        assert properties["AlarmActions"] and properties["AlarmActions"] == properties["OKActions"], logical_id


def test_paging_goes_only_through_the_composite_alarm(sam_template):
    resources = alarm_resources(sam_template)
    [composite] = [resource for resource in resources.values() if resource["Type"] == "AWS::CloudWatch::CompositeAlarm"]
    assert composite["Properties"]["AlarmActions"] == [{"Ref": "PagingTopic"}]
    for resource in resources.values():
        if resource["Type"] == "AWS::CloudWatch::Alarm":
            assert resource["Properties"]["AlarmActions"] == [{"Ref": "NotificationsTopic"}]
    # Its rule is an OR of exactly the alarms marked `pages: true` that exist: with the EC2 door deployed, all of
    # them; without it, all but the load balancer's (whose alarms exist only with it)
    with_door, without_door = composite["Properties"]["AlarmRule"]["Fn::If"][1:]
    paging = {alarm.logical_id: alarm for alarm in CATALOG_ALARMS.paging_children}
    assert composite["Properties"]["AlarmRule"]["Fn::If"][0] == "DeployFlaskDoor"
    assert _children(with_door) == set(paging)
    assert _children(without_door) == {logical_id for logical_id, alarm in paging.items() if not alarm.condition}
    assert _children(with_door) - _children(without_door) == {
        "FlaskLb5xxRateAlarm",
        "FlaskLbNoHealthyTargetsAlarm",
        "SloAvailabilityFlaskFastBurnAlarm",
        "SloLatencyFlaskFastBurnAlarm",
    }
    for logical_id in _children(with_door) - _children(without_door):
        assert resources[logical_id]["Condition"] == "DeployFlaskDoor"


def _children(rule: dict) -> set[str]:
    return set(re.findall(r"ALARM\(\$\{(\w+)\.Arn\}\)", rule["Fn::Sub"]))


def test_the_recommended_alarms_are_there():
    watched = {(metric.namespace, metric.name) for alarm in CATALOG_ALARMS.alarms for metric in alarm.metrics()}
    recommended = {
        ("AWS/ApiGateway", "5XXError"),
        ("AWS/ApiGateway", "4XXError"),
        ("AWS/ApiGateway", "Latency"),
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "Throttles"),
        ("AWS/Lambda", "Duration"),
        ("AWS/RDS", "CPUUtilization"),
        ("AWS/RDS", "FreeStorageSpace"),
        ("AWS/RDS", "FreeableMemory"),
        ("AWS/RDS", "DatabaseConnections"),
        (APP_NAMESPACE, "DbConnectionErrors"),
        (APP_NAMESPACE, "DbQueryLatency"),
        (APP_NAMESPACE, "ReadinessFailures"),
    }
    assert recommended <= watched


def test_api_gateway_5xx_is_awss_recommendation():
    alarm = next(alarm for alarm in CATALOG_ALARMS.alarms if alarm.metric and alarm.metric.name == "5XXError")
    assert (alarm.statistic, alarm.threshold, alarm.period, alarm.evaluation_periods, alarm.datapoints_to_alarm) == (
        "Average",
        0.05,
        60,
        3,
        3,
    )


def test_latency_alarms_use_percentiles(sam_template):
    properties = sam_template["Resources"]["ApiLatencyP99Alarm"]["Properties"]
    assert properties["ExtendedStatistic"] == "p99" and "Statistic" not in properties


def test_lambda_duration_threshold_is_80_percent_of_the_function_timeout(sam_template):
    timeout_s = sam_template["Resources"]["ApiFunction"]["Properties"]["Timeout"]
    threshold = sam_template["Resources"]["ApiFunctionDurationP90Alarm"]["Properties"]["Threshold"]
    assert threshold == timeout_s * 1000 * 0.8


def test_app_alarms_watch_catalog_metrics_with_published_dimension_sets_and_are_m_of_n():
    app_alarms = [
        alarm for alarm in CATALOG_ALARMS.alarms if any(metric.namespace == APP_NAMESPACE for metric in alarm.metrics())
    ]
    assert app_alarms
    for alarm in app_alarms:
        for metric in alarm.metrics():
            assert metric.name in CATALOG, f"{alarm.name}: {metric.name}"
            published = {
                tuple(sorted(d.value for d in dimension_set)) for dimension_set in CATALOG[metric.name].dimension_sets
            }
            assert tuple(sorted(name for name, _ in metric.dimensions)) in published, alarm.name
        # EMF datapoints come per flush, possibly late: never alarm on one lone datapoint
        assert alarm.datapoints_to_alarm < alarm.evaluation_periods, alarm.name


def test_metrics_that_appear_only_on_errors_treat_missing_data_as_not_breaching():
    by_name = {alarm.name: alarm for alarm in CATALOG_ALARMS.alarms}
    for name in ("db-connection-errors", "api-function-throttles", "api-5xx-errors", "migrations-function-errors"):
        assert by_name[name].treat_missing_data == "notBreaching", name
    # ReadinessFailures is emitted on every check (0 when it passes): silence means the probe is broken
    assert by_name["readiness-failures"].treat_missing_data == "breaching"


def _write_alarms(tmp_path: Path, alarm: dict, composite: bool = True) -> Path:
    document = {"alarms": [alarm]}
    if composite:
        document["composite"] = {"name": "page", "description": "Users are affected.", "runbook": "on-call-page.md"}
    (tmp_path / "service.yaml").write_text(yaml.safe_dump(document))
    return tmp_path


GOOD_ALARM = {
    "name": "api-5xx-errors",
    "description": "Too many 5xx.",
    "runbook": "api-5xx-errors.md",
    "pages": True,
    "metric": {"namespace": "AWS/ApiGateway", "name": "5XXError"},
    "statistic": "Average",
    "period": 60,
    "evaluation_periods": 3,
    "datapoints_to_alarm": 3,
    "threshold": 0.05,
    "comparison": "GreaterThanThreshold",
    "treat_missing_data": "notBreaching",
}


def test_a_good_definition_loads(tmp_path):
    catalog = alarms.load_alarms(_write_alarms(tmp_path, GOOD_ALARM))
    assert [alarm.logical_id for alarm in catalog.paging_children] == ["Api5xxErrorsAlarm"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"runbook": "no-such-runbook.md"}, "is not a file in docs/runbooks/"),
        ({"treat_missing_data": None}, "treat_missing_data must be one of"),
        ({"statistic": "p99.999"}, "neither standard nor a percentile"),
        ({"datapoints_to_alarm": 4}, "datapoints_to_alarm (4) > evaluation_periods (3)"),
        ({"comparison": ">"}, "comparison must be one of"),
        ({"period": 45}, "period must be 10, 30 or a multiple of 60"),
        ({"name": "Api5xx"}, "lowercase words joined by hyphens"),
        ({"alarm_actions": ["arn"]}, "unknown keys ['alarm_actions']"),
    ],
)
def test_a_bad_definition_is_refused_with_a_reason(tmp_path, change, message):
    with pytest.raises(AlarmDefinitionError, match=re.escape(message)):
        alarms.load_alarms(_write_alarms(tmp_path, GOOD_ALARM | change))


def test_missing_composite_is_refused(tmp_path):
    with pytest.raises(AlarmDefinitionError, match="exactly one composite"):
        alarms.load_alarms(_write_alarms(tmp_path, GOOD_ALARM, composite=False))

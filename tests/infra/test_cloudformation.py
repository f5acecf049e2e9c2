"""The deployable template passes cfn-lint, `sam validate --lint` and checkov (as written and SAM-transformed),
and its dashboards and alarms are accepted by a (moto) CloudWatch API, aimed at the topics."""

import json
import re
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.cloudwatch.responses import CloudWatchResponse

from infra import dashboards
from tests.infra.stack_view import ACCOUNT, STACK, SampleResolver
from tests.infra.tools import REGION, TEMPLATE, run_tool, tool


def test_cfn_lint_passes_informational_rules_included():
    # Given the committed template; When cfn-lint checks it, informational rules (I3011: explicit deletion
    # and replacement policies on stateful resources) included
    result = run_tool([tool("cfn-lint"), "--include-checks", "I", "--", TEMPLATE])
    # Then it reports nothing
    assert result.returncode == 0, result.stdout + result.stderr


def test_checkov_passes_on_the_template_as_written():
    # Given template.yaml before the SAM transform; When checkov scans it, offline; Then nothing fails
    result = run_tool(
        [tool("checkov"), "--skip-download", "--framework", "cloudformation", "-o", "json", "-f", TEMPLATE]
    )
    report = json.loads(result.stdout)
    results = (report[0] if isinstance(report, list) else report)["results"]
    assert [(check["check_id"], check["resource"]) for check in results["failed_checks"]] == []
    assert results["passed_checks"]


def test_sam_validate_lint_passes():
    result = run_tool([tool("sam"), "validate", "--lint", "--template-file", TEMPLATE])
    assert result.returncode == 0, result.stdout + result.stderr


def test_checkov_passes_on_the_transformed_template_with_every_skip_justified_and_used(
    sam_template, transformed_template, tmp_path
):
    # Given the SAM-transformed template, where the resources SAM generates (the stage, permissions,
    # rules) carry the skips declared on the SAM resource that generated them
    template = with_skips_handed_down(sam_template, transformed_template)
    path = tmp_path / "transformed.json"
    path.write_text(json.dumps(template))
    # When checkov scans it, offline
    result = run_tool([tool("checkov"), "--skip-download", "--framework", "cloudformation", "-o", "json", "-f", path])
    report = json.loads(result.stdout)
    results = (report[0] if isinstance(report, list) else report)["results"]
    # Then nothing fails
    failed = [(check["check_id"], check["resource"]) for check in results["failed_checks"]]
    assert failed == [], failed
    # And every skip in the template says why, and is needed (a stale skip would hide a future finding)
    declared = [
        (skip, logical_id)
        for logical_id, resource in sam_template["Resources"].items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    ]
    assert declared
    used = {(check["check_id"], check["resource"].split(".", 1)[1]) for check in results["skipped_checks"]}
    for skip, logical_id in declared:
        assert len(skip.get("comment", "")) > 20, f"{logical_id} skips {skip['id']} without a reason"
        assert any(check == skip["id"] and resource.startswith(logical_id) for check, resource in used), (
            f"{logical_id} skips {skip['id']}, which no finding needs"
        )


def with_skips_handed_down(sam_template: dict[str, Any], transformed: dict[str, Any]) -> dict[str, Any]:
    """SAM cannot put Metadata on what it generates: a generated resource (named after its SAM resource,
    e.g. ApiStage from Api) takes the checkov skips of the longest-named SAM resource it starts with."""
    sam_resources = [
        logical_id
        for logical_id, resource in sam_template["Resources"].items()
        if resource["Type"].startswith("AWS::Serverless::")
    ]
    template = json.loads(json.dumps(transformed))
    for logical_id, resource in template["Resources"].items():
        if logical_id in sam_template["Resources"]:
            continue
        parents = [parent for parent in sam_resources if logical_id.startswith(parent)]
        if not parents:
            continue
        skips = sam_template["Resources"][max(parents, key=len)].get("Metadata", {}).get("checkov")
        if skips:
            resource.setdefault("Metadata", {})["checkov"] = skips
    return template


@pytest.fixture
def cloudwatch_with_topics(monkeypatch):
    # moto 5.2.5 has no route for PutCompositeAlarm, although its PutMetricAlarm handler reads AlarmRule
    # precisely to serve composite alarms too: route it there.
    monkeypatch.setattr(CloudWatchResponse, "put_composite_alarm", CloudWatchResponse.put_metric_alarm, raising=False)
    with mock_aws():
        sns = boto3.client("sns", region_name=REGION)
        topics = {
            "PagingTopic": sns.create_topic(Name=f"{STACK}-paging")["TopicArn"],
            "NotificationsTopic": sns.create_topic(Name=f"{STACK}-notifications")["TopicArn"],
        }
        yield boto3.client("cloudwatch", region_name=REGION), topics


def test_dashboards_and_alarms_are_accepted_by_cloudwatch_and_alarms_notify_the_topics(
    transformed_template, cloudwatch_with_topics
):
    # Given the transformed template's intrinsics resolved as CloudFormation would, with sample names
    cloudwatch, topics = cloudwatch_with_topics
    resolver = SampleResolver(transformed_template, topics)
    resources = transformed_template["Resources"]
    alarms = {
        logical_id: resolver.resolve(resource["Properties"])
        for logical_id, resource in resources.items()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
    }
    composites = {
        logical_id: resolver.resolve(resource["Properties"])
        for logical_id, resource in resources.items()
        if resource["Type"] == "AWS::CloudWatch::CompositeAlarm"
    }
    boards = {
        logical_id: resolver.resolve(resource["Properties"])
        for logical_id, resource in resources.items()
        if resource["Type"] == "AWS::CloudWatch::Dashboard"
    }
    # When they are put through the CloudWatch API
    for properties in alarms.values():
        cloudwatch.put_metric_alarm(**properties)
    for properties in composites.values():
        cloudwatch.put_composite_alarm(**properties)
    for properties in boards.values():
        cloudwatch.put_dashboard(**properties)
    # Then every metric alarm notifies the notifications topic, on alarm and back to OK
    described = cloudwatch.describe_alarms(AlarmTypes=["MetricAlarm", "CompositeAlarm"])
    assert len(described["MetricAlarms"]) == len(alarms) > 0
    for alarm in described["MetricAlarms"]:
        assert alarm["AlarmActions"] == [topics["NotificationsTopic"]], alarm["AlarmName"]
        assert alarm["OKActions"] == [topics["NotificationsTopic"]], alarm["AlarmName"]
    # And the one composite alarm pages, over children that exist
    [composite] = described["CompositeAlarms"]
    assert composite["AlarmActions"] == [topics["PagingTopic"]]
    assert composite["OKActions"] == [topics["PagingTopic"]]
    alarm_arns = {alarm["AlarmArn"] for alarm in described["MetricAlarms"]}
    children = set(re.findall(r"ALARM\(([^)]+)\)", composite["AlarmRule"]))
    assert children and children <= alarm_arns
    # And the dashboards come back as deployed, and pass our validator with their real (sample) values
    listed = {entry["DashboardName"] for entry in cloudwatch.list_dashboards()["DashboardEntries"]}
    assert listed == {properties["DashboardName"] for properties in boards.values()}
    for properties in boards.values():
        body = json.loads(cloudwatch.get_dashboard(DashboardName=properties["DashboardName"])["DashboardBody"])
        assert dashboards.validate_dashboard(body) == []
        # And the alarm widget shows alarms that exist
        assert set(dashboards.alarm_arns(body)) <= alarm_arns | {composite["AlarmArn"]}


def test_sample_resolver_resolves_alarm_arns_in_sub(transformed_template):
    # Given a Fn::Sub naming an alarm's Arn; When resolved; Then it is the ARN CloudWatch gives the alarm
    resolver = SampleResolver(transformed_template, {})
    alarm = next(
        logical_id
        for logical_id, resource in transformed_template["Resources"].items()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
    )
    arn = resolver.resolve({"Fn::Sub": f"${{{alarm}.Arn}}"})
    assert re.match(rf"^arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{STACK}-[a-z0-9-]+$", arn)

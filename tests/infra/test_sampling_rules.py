"""The X-Ray sampling rules and the faults group in the SAM-transformed template: one rule per door for each rule of
observability/sampling_rules.json (the file the doors apply locally), matching what each door's traces say they are,
with names X-Ray accepts and no two stacks share."""

import re

import pytest

from infra.render import stack_values
from observability.flask_tracing import EC2_ORIGIN
from observability.sampling import load_rules
from tests.infra.conftest import EC2_DOOR
from tests.infra.stack_view import STACK, STACK_ID, SampleResolver, StackView

STACK_ID_PREFIX = STACK_ID.rsplit("/", 1)[1][:8]
# X-Ray's limits (https://docs.aws.amazon.com/xray/latest/api/API_SamplingRule.html, API_CreateGroup.html)
MAX_RULE_NAME, MAX_SERVICE_NAME, MAX_METHOD, MAX_GROUP_NAME = 32, 64, 10, 32


def _resolved(template: dict, of_type: str, overrides: dict | None = None) -> dict[str, dict]:
    resolver = SampleResolver(template, {})
    return {
        logical_id: resolver.resolve(resource["Properties"])
        for logical_id, resource in StackView(template, overrides).of_type(of_type).items()
    }


def _rules_by_service_type(template: dict, overrides: dict | None = None) -> dict[str, list[dict]]:
    rules: dict[str, list[dict]] = {}
    for properties in _resolved(template, "AWS::XRay::SamplingRule", overrides).values():
        rule = properties["SamplingRule"]
        rules.setdefault(rule["ServiceType"], []).append(rule)
    return rules


def test_api_gateway_applies_every_rule_of_the_file_to_the_stage(transformed_template):
    # Given the stack with the defaults (no EC2 door)
    rules = _rules_by_service_type(transformed_template)
    # Then each rule of the file is there for API Gateway's stage, and none for an EC2 door that is not deployed
    assert set(rules) == {"AWS::ApiGateway::Stage"}
    stage = StackView(transformed_template).parameters["ApiStageName"]
    deployed = {rule["RuleName"]: rule for rule in rules["AWS::ApiGateway::Stage"]}
    for rule in load_rules().rules:
        deployed_rule = deployed[f"{STACK_ID_PREFIX}-{rule.name}-api"]
        assert (
            deployed_rule["Priority"],
            deployed_rule["ReservoirSize"],
            deployed_rule["FixedRate"],
            deployed_rule["HTTPMethod"],
            deployed_rule["URLPath"],
        ) == (rule.priority, rule.reservoir_size, rule.fixed_rate, rule.http_method, rule.url_path)
        # named as API Gateway names the stage's segments: {api-name}/{stage-name}
        assert deployed_rule["ServiceName"] == f"{stack_values(STACK)['ApiName']}/{stage}"
        assert re.fullmatch(
            rf"arn:aws:apigateway:[a-z0-9-]+::/restapis/[^/]+/stages/{stage}", deployed_rule["ResourceARN"]
        )
    assert len(deployed) == len(load_rules().rules)


def test_the_ec2_doors_sampler_finds_rules_under_the_name_and_origin_its_segments_carry(transformed_with_ec2_door):
    # Given the stack with the EC2 door
    rules = _rules_by_service_type(transformed_with_ec2_door, EC2_DOOR)[EC2_ORIGIN]
    [launch_template] = _resolved(transformed_with_ec2_door, "AWS::EC2::LaunchTemplate", EC2_DOOR).values()
    user_data = launch_template["LaunchTemplateData"]["UserData"]["Fn::Base64"]
    service_name = re.search(r"^\s*POWERTOOLS_SERVICE_NAME=(\S+)$", user_data, re.MULTILINE)[1]
    # Then every rule of the file matches the door's segments: its service name (the stack's) and its origin
    assert service_name == STACK
    assert sorted(rule["RuleName"] for rule in rules) == sorted(
        f"{STACK_ID_PREFIX}-{rule.name}-ec2" for rule in load_rules().rules
    )
    assert {(rule["ServiceName"], rule["ResourceARN"]) for rule in rules} == {(STACK, "*")}


@pytest.mark.parametrize("with_door", [False, True])
def test_names_fit_x_rays_limits_and_no_two_rules_share_one(transformed_template, transformed_with_ec2_door, with_door):
    template, overrides = (transformed_with_ec2_door, EC2_DOOR) if with_door else (transformed_template, None)
    rules = [rule for rules in _rules_by_service_type(template, overrides).values() for rule in rules]
    names = [rule["RuleName"] for rule in rules]
    assert len(set(names)) == len(names)
    assert max(map(len, names)) <= MAX_RULE_NAME
    assert max(len(rule["ServiceName"]) for rule in rules) <= MAX_SERVICE_NAME
    assert max(len(rule["HTTPMethod"]) for rule in rules) <= MAX_METHOD
    assert {rule["Version"] for rule in rules} == {1}


def test_the_faults_group_holds_the_traces_either_door_or_the_gateway_answered_4xx_or_5xx(transformed_template):
    resolver = SampleResolver(transformed_template, {})
    [group] = _resolved(transformed_template, "AWS::XRay::Group").values()
    stage = StackView(transformed_template).parameters["ApiStageName"]
    api_function = resolver.resolve({"Ref": "ApiFunction"})
    assert len(group["GroupName"]) <= MAX_GROUP_NAME and group["GroupName"].startswith(STACK_ID_PREFIX)
    for service in (f"{stack_values(STACK)['ApiName']}/{stage}", api_function, STACK):
        assert f'service("{service}") {{ fault = true OR error = true }}' in group["FilterExpression"]
    assert group["InsightsConfiguration"]["InsightsEnabled"] is True
    # And the stack says its name, for on-call to open it
    assert resolver.resolve(StackView(transformed_template).outputs["TracesGroupName"]["Value"]) == group["GroupName"]

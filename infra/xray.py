"""The sampling rules (observability/sampling_rules.json) and the faults group, as the template's X-Ray resources.

Each rule is deployed twice, once per door, matching what each door's traces say they are:
- API Gateway's stage, which decides for the Lambda door: ServiceName `{api-name}/{stage-name}`, ServiceType
  `AWS::ApiGateway::Stage`, ResourceARN the stage's
  (https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-configuring-xray-sampling-rules.html);
- the EC2 door, whose SDK sampler asks X-Ray through the CloudWatch agent: ServiceName its segments' name (the stack's
  name, POWERTOOLS_SERVICE_NAME), ServiceType `AWS::EC2::Instance` (its segments' origin), ResourceARN `*` (the SDK
  sends none), only when the stack deploys that door.
X-Ray names are unique in an account and Region and 32 characters at most, so each starts with the first 8
characters of the stack's id (the StackIdPrefix substitution): two stacks in one account never clash. The group holds
the traces in which a door answered with a fault or an error, with X-Ray Insights on.
"""

import copy
from typing import Any

from observability.flask_tracing import EC2_ORIGIN
from observability.sampling import SamplingRule, SamplingRules

from .alarms import sub_value

FLASK_DOOR_CONDITION = "DeployFlaskDoor"
API_SERVICE_NAME = "${ApiName}/${ApiStageName}"  # API Gateway's segments' name
EC2_SERVICE_NAME = "${AWS::StackName}"  # the EC2 door's POWERTOOLS_SERVICE_NAME
TRACES_GROUP = "FaultsAndErrorsGroup"
_DOORS = {
    # logical id suffix, rule name suffix, what the rule matches, condition
    "Api": (
        "api",
        {
            "ServiceName": API_SERVICE_NAME,
            "ServiceType": "AWS::ApiGateway::Stage",
            "ResourceARN": "arn:${AWS::Partition}:apigateway:${AWS::Region}::/restapis/${Api}/stages/${ApiStageName}",
        },
        None,
    ),
    "Ec2": (
        "ec2",
        {"ServiceName": EC2_SERVICE_NAME, "ServiceType": EC2_ORIGIN, "ResourceARN": "*"},
        FLASK_DOOR_CONDITION,
    ),
}


def tracing_resources(rules: SamplingRules, substitutions: dict[str, Any]) -> dict[str, dict[str, Any]]:
    resources: dict[str, dict[str, Any]] = {}
    for rule in rules.rules:
        for door, (suffix, service, condition) in _DOORS.items():
            resource: dict[str, Any] = {
                "Type": "AWS::XRay::SamplingRule",
                "Properties": {"SamplingRule": _sampling_rule(rule, suffix, service, substitutions)},
            }
            if condition:
                resource["Condition"] = condition
            resources[f"{_pascal(rule.name)}{door}SamplingRule"] = resource
    resources[TRACES_GROUP] = {
        "Type": "AWS::XRay::Group",
        "Properties": {
            "GroupName": copy.deepcopy(substitutions["TracesGroupName"]),
            "FilterExpression": sub_value(_faults_filter(), substitutions),
            "InsightsConfiguration": {"InsightsEnabled": True, "NotificationsEnabled": False},
        },
    }
    return resources


def _sampling_rule(
    rule: SamplingRule, suffix: str, service: dict[str, str], substitutions: dict[str, Any]
) -> dict[str, Any]:
    return {
        "RuleName": sub_value(f"${{StackIdPrefix}}-{rule.name}-{suffix}", substitutions),
        "Priority": rule.priority,
        "ReservoirSize": rule.reservoir_size,
        "FixedRate": rule.fixed_rate,
        "HTTPMethod": rule.http_method,
        "URLPath": rule.url_path,
        "Host": "*",
        **{name: sub_value(value, substitutions) for name, value in service.items()},
        "Version": 1,
    }


def _faults_filter() -> str:
    """Traces where either door, or API Gateway in front, answered 4xx or 5xx
    (https://docs.aws.amazon.com/xray/latest/devguide/xray-console-filters.html: service(name) {filter})."""
    services = (API_SERVICE_NAME, "${ApiFunction}", EC2_SERVICE_NAME)
    return " OR ".join(f'service("{name}") {{ fault = true OR error = true }}' for name in services)


def _pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("-"))

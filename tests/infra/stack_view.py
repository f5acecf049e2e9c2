"""The template as CloudFormation would deploy it for given parameter values: conditions evaluated,
resources and outputs whose condition is false left out, and each Fn::If replaced by the branch it takes
(AWS::NoValue removing the property or list item it stands for)."""

import re
from typing import Any

from tests.infra.tools import REGION

ACCOUNT = "123456789012"
STACK = "student-records-test"
STACK_ID = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/{STACK}/51af3dc0-da77-11e4-872e-1234567db123"
NO_VALUE = {"Ref": "AWS::NoValue"}
_REMOVED = object()


def parameter_values(template: dict[str, Any], overrides: dict[str, str] | None = None) -> dict[str, str]:
    values = {name: str(spec.get("Default", "")) for name, spec in template.get("Parameters", {}).items()}
    unknown = set(overrides or {}) - set(values)
    if unknown:
        raise KeyError(f"no such parameters: {sorted(unknown)}")
    return values | (overrides or {})


def evaluate_conditions(template: dict[str, Any], parameters: dict[str, str]) -> dict[str, bool]:
    definitions = template.get("Conditions", {})
    results: dict[str, bool] = {}

    def value(node: Any) -> Any:
        if isinstance(node, dict) and set(node) == {"Ref"}:
            return parameters[node["Ref"]]
        return node

    def evaluate(node: Any) -> bool:
        ((function, arguments),) = node.items()
        if function == "Condition":
            return condition(arguments)
        if function == "Fn::Equals":
            return value(arguments[0]) == value(arguments[1])
        if function == "Fn::Not":
            return not evaluate(arguments[0])
        if function == "Fn::And":
            return all(evaluate(argument) for argument in arguments)
        if function == "Fn::Or":
            return any(evaluate(argument) for argument in arguments)
        raise ValueError(f"unsupported condition function {function}")

    def condition(name: str) -> bool:
        if name not in results:
            results[name] = evaluate(definitions[name])
        return results[name]

    for name in definitions:
        condition(name)
    return results


class StackView:
    def __init__(self, template: dict[str, Any], overrides: dict[str, str] | None = None) -> None:
        self.parameters = parameter_values(template, overrides)
        self.conditions = evaluate_conditions(template, self.parameters)
        self.resources = {
            logical_id: self.resolve_if({key: value for key, value in resource.items() if key != "Condition"})
            for logical_id, resource in template["Resources"].items()
            if self.conditions.get(resource.get("Condition", ""), True)
        }
        self.outputs = {
            name: self.resolve_if(output)
            for name, output in template.get("Outputs", {}).items()
            if self.conditions.get(output.get("Condition", ""), True)
        }

    def resolve_if(self, node: Any) -> Any:
        resolved = self._resolve(node)
        return None if resolved is _REMOVED else resolved

    def _resolve(self, node: Any) -> Any:
        if isinstance(node, dict):
            if set(node) == {"Fn::If"}:
                name, when_true, when_false = node["Fn::If"]
                return self._resolve(when_true if self.conditions[name] else when_false)
            if node == NO_VALUE:
                return _REMOVED
            resolved = {key: self._resolve(value) for key, value in node.items()}
            return {key: value for key, value in resolved.items() if value is not _REMOVED}
        if isinstance(node, list):
            return [item for item in (self._resolve(item) for item in node) if item is not _REMOVED]
        return node

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {
            logical_id: resource for logical_id, resource in self.resources.items() if resource["Type"] == resource_type
        }


class SampleResolver:
    """Resolves Ref, Fn::GetAtt, Fn::Sub, Fn::Select, Fn::Split and Fn::If as CloudFormation would, with
    sample names (a stack named STACK in ACCOUNT and REGION): alarms get the ARNs CloudWatch will give them, topics
    the given ARNs (moto's)."""

    def __init__(self, template: dict[str, Any], topics: dict[str, str]) -> None:
        self.template = template
        self.topics = topics
        self.parameters = parameter_values(template)
        self.conditions = evaluate_conditions(template, self.parameters)

    def resolve(self, node: Any) -> Any:
        if isinstance(node, list):
            return [self.resolve(item) for item in node]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            ((key, value),) = node.items()
            if key == "Ref":
                return self.ref(value)
            if key == "Fn::GetAtt":
                resource, attribute = value if isinstance(value, list) else value.split(".", 1)
                return self.attribute(resource, attribute)
            if key == "Fn::Sub":
                return self.sub(value)
            if key == "Fn::Select":
                return self.resolve(value[1])[int(value[0])]
            if key == "Fn::Split":
                return self.resolve(value[1]).split(value[0])
            if key == "Fn::If":
                return self.resolve(value[1] if self.conditions[value[0]] else value[2])
        return {key: self.resolve(value) for key, value in node.items()}

    def ref(self, name: str) -> str:
        pseudo = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::StackName": STACK,
            "AWS::StackId": STACK_ID,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.topics:
            return self.topics[name]
        if name in self.parameters:
            return self.parameters[name]
        return f"{STACK}-{name}"

    def attribute(self, resource: str, attribute: str) -> str:
        resource_type = self.template["Resources"][resource]["Type"]
        if attribute == "Arn" and resource_type in ("AWS::CloudWatch::Alarm", "AWS::CloudWatch::CompositeAlarm"):
            name = self.resolve(self.template["Resources"][resource]["Properties"]["AlarmName"])
            return f"arn:aws:cloudwatch:{REGION}:{ACCOUNT}:alarm:{name}"
        return f"{STACK}-{resource}-{attribute}"

    def sub(self, value: str | list) -> str:
        text, variables = (value, {}) if isinstance(value, str) else (value[0], value[1])
        resolved = {name: self.resolve(variable) for name, variable in variables.items()}

        def replace(match: re.Match) -> str:
            name = match[1]
            if name in resolved:
                return resolved[name]
            if "." in name:
                return self.attribute(*name.split(".", 1))
            return self.ref(name)

        return re.sub(r"\$\{(?!!)([^}]+)\}", replace, text).replace("${!", "${")

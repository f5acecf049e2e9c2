"""The template as CloudFormation would deploy it for given parameter values: conditions evaluated,
resources and outputs whose condition is false left out, and each Fn::If replaced by the branch it takes
(AWS::NoValue removing the property or list item it stands for)."""

from typing import Any

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
        (function, arguments), = node.items()
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
            name: self.resolve_if(output) for name, output in template.get("Outputs", {}).items()
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
        return {logical_id: resource for logical_id, resource in self.resources.items()
                if resource["Type"] == resource_type}

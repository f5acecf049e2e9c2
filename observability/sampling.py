"""The sampling rules (sampling_rules.json): one file for AWS and for the local stack.

In AWS they are X-Ray sampling rules (infra/render.py renders one AWS::XRay::SamplingRule per rule for API Gateway's
stage and one for the EC2 door); API Gateway applies them to the Lambda door's requests, and the Flask door's SDK
sampler fetches them from X-Ray. Locally (XRAY_SAMPLING=rules) the Flask door and the local gateway apply the same
rules with the X-Ray SDK's local sampler, so a health probe is not traced on a laptop either.
"""

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aws_xray_sdk.core.sampling.local.sampler import LocalSampler

RULES_FILE = Path(__file__).with_name("sampling_rules.json")
# X-Ray rule names are 32 characters at most; the template prefixes ours with 8 characters of the stack's id and
# suffixes the service (`-api`, `-ec2`).
MAX_NAME_CHARS = 32 - len("12345678-") - len("-api")


class SamplingRuleError(ValueError):
    pass


@dataclass(frozen=True)
class SamplingRule:
    name: str
    description: str
    priority: int
    http_method: str
    url_path: str
    reservoir_size: int  # requests per second traced before the rate applies
    fixed_rate: float  # the share of the rest


@dataclass(frozen=True)
class SamplingRules:
    rules: tuple[SamplingRule, ...]  # by priority, lowest first
    default_reservoir_size: int
    default_fixed_rate: float

    def local_document(self) -> dict[str, Any]:
        """The rules in the X-Ray SDK's local format (version 2), evaluated in order as X-Ray evaluates them by
        priority: https://docs.aws.amazon.com/xray/latest/devguide/xray-sdk-python-configuration.html#xray-sdk-python-configuration-sampling"""
        return {
            "version": 2,
            "rules": [
                {
                    "description": rule.name,
                    "host": "*",
                    "http_method": rule.http_method,
                    "url_path": rule.url_path,
                    "fixed_target": rule.reservoir_size,
                    "rate": rule.fixed_rate,
                }
                for rule in self.rules
            ],
            "default": {"fixed_target": self.default_reservoir_size, "rate": self.default_fixed_rate},
        }


def local_sampler(rules: SamplingRules | None = None) -> LocalSampler:
    """The X-Ray SDK's sampler over the rules, as the doors apply them on a laptop: `should_trace({"method": ...,
    "path": ...})` is True for a request to trace (the SDK is in the flask extra, which the local stack runs)."""
    return LocalSampler((rules or load_rules()).local_document())


def load_rules(path: Path = RULES_FILE) -> SamplingRules:
    document = json.loads(path.read_text(encoding="utf-8"))
    rules = []
    for entry in document["rules"]:
        try:
            rule = SamplingRule(**entry)
        except TypeError as error:
            raise SamplingRuleError(f"{path.name}: {entry.get('name', '?')}: {error}") from None
        if len(rule.name) > MAX_NAME_CHARS:
            raise SamplingRuleError(f"{path.name}: {rule.name}: names are {MAX_NAME_CHARS} characters at most")
        if not 0 <= rule.fixed_rate <= 1 or rule.reservoir_size < 0:
            raise SamplingRuleError(f"{path.name}: {rule.name}: a rate from 0 to 1 and a reservoir of 0 or more")
        rules.append(rule)
    priorities = [rule.priority for rule in rules]
    if len(set(priorities)) != len(priorities):
        raise SamplingRuleError(f"{path.name}: two rules share a priority")
    default = document["default"]
    return SamplingRules(
        tuple(sorted(rules, key=lambda rule: rule.priority)), default["reservoir_size"], default["fixed_rate"]
    )

"""Transforms a SAM template into plain CloudFormation, offline, with aws-sam-translator.

Run by the tests with the SAM tools' interpreter (.tools/sam/bin/python), where aws-sam-translator is
installed: `python sam_transform.py template.yaml ['{"Parameter": "value"}'] > transformed.json`.
AWS_DEFAULT_REGION must be set.
"""

import json
import sys
from pathlib import Path
from typing import Any

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class NoManagedPolicies:
    """The template names managed policies by ARN, so the translator never needs IAM's list of them."""

    def load(self) -> dict[str, Any]:
        return {}


def as_packaged(template: dict[str, Any]) -> dict[str, Any]:
    """What `sam package` hands CloudFormation: local CodeUri paths replaced by the uploaded artifacts' S3 URIs
    (the translator accepts nothing else)."""
    for logical_id, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        is_local = not str(properties.get("CodeUri", "")).startswith("s3://")
        if resource["Type"] == "AWS::Serverless::Function" and is_local:
            properties["CodeUri"] = f"s3://sam-artifacts-bucket/{logical_id}.zip"
    return template


def main(template_path: str, parameters: str = "{}") -> None:
    with Path(template_path).open(encoding="utf-8") as template_file:
        template = as_packaged(yaml_parse(template_file.read()))
    transformed = transform(template, json.loads(parameters), NoManagedPolicies())
    json.dump(transformed, sys.stdout, indent=1)


if __name__ == "__main__":
    main(*sys.argv[1:])

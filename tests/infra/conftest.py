"""Shared fixtures of the infrastructure tests: the committed template, and the template as CloudFormation
receives it after the SAM transform (done offline, by aws-sam-translator from the SAM tools' environment)."""

import json
from pathlib import Path
from typing import Any

import pytest

from infra.render import load_template
from tests.infra.tools import SAM_PYTHON, TEMPLATE, run_tool, tool


@pytest.fixture(scope="session")
def sam_template() -> dict[str, Any]:
    return load_template(TEMPLATE)


# The EC2 door is deployed when its artifact's bucket is given.
EC2_DOOR = {"FlaskArtifactBucket": "student-records-artifacts"}


def sam_transform(parameters: dict[str, str] | None = None) -> dict[str, Any]:
    tool("sam")
    result = run_tool(
        [SAM_PYTHON, Path(__file__).with_name("sam_transform.py"), TEMPLATE, json.dumps(parameters or {})]
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.fixture(scope="session")
def transformed_template() -> dict[str, Any]:
    """With the parameters' defaults."""
    return sam_transform()


@pytest.fixture(scope="session")
def transformed_with_ec2_door() -> dict[str, Any]:
    return sam_transform(EC2_DOOR)

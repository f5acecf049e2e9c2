"""moto fixtures for the tests of deployed/: AWS credentials and region for moto only, a user pool, a stack."""

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from tests.deployed.moto_aws import REGION, create_stack, create_user_pool


@pytest.fixture
def aws(monkeypatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # a session of its own, which reads the variables above
    with mock_aws():
        yield


@pytest.fixture
def user_pool(aws) -> dict[str, str]:
    return create_user_pool()


@pytest.fixture
def stack(user_pool) -> dict[str, str]:
    """The outputs of a stack in moto whose user pool is real (in moto) and whose URLs lead nowhere."""
    outputs = {
        **user_pool,
        "ApiUrl": "https://api.example.org/v1",
        "MetricsNamespace": "StudentRecords",
        "ApiFunctionLogGroupName": "/aws/lambda/student-records-e2e-api",
        "FlaskAppLogGroupName": "/student-records-e2e/flask/app",
    }
    create_stack(outputs)
    return outputs

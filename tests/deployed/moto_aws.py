"""AWS played by moto for the tests of deployed/: a user pool shaped like the stack's (a group per role,
custom:student_id, an app client without a secret, MFA optional), a CloudFormation stack whose template holds
only the stack's outputs, moto's Cognito signing key as a JWKS file the doors can trust, EMF ingested as
CloudWatch would, and X-Ray filter expressions moto does not evaluate."""

import gzip
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import boto3
import moto
from moto.core import DEFAULT_ACCOUNT_ID
from moto.xray.models import xray_backends

from deployed.users import ROLES
from infra.alarm_replay import datapoints_from_emf

REGION = "us-east-1"
STACK = "student-records-e2e"
MOTO_JWKS = Path(moto.__file__).parent / "cognitoidp" / "resources" / "jwks-public.json.gz"


def create_user_pool() -> dict[str, str]:
    """The pool's outputs: UserPoolId, UserPoolClientId, UserPoolIssuer, UserPoolJwksUrl."""
    cognito = boto3.client("cognito-idp")
    pool_id = cognito.create_user_pool(
        PoolName="student-records-users",
        MfaConfiguration="OPTIONAL",
        Schema=[{"Name": "student_id", "AttributeDataType": "String", "Mutable": True}],
        Policies={
            "PasswordPolicy": {
                "MinimumLength": 12,
                "RequireUppercase": True,
                "RequireLowercase": True,
                "RequireNumbers": True,
                "RequireSymbols": True,
            }
        },
    )["UserPool"]["Id"]
    client_id = cognito.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName="api",
        GenerateSecret=False,
        ExplicitAuthFlows=["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH", "ALLOW_ADMIN_USER_PASSWORD_AUTH"],
    )["UserPoolClient"]["ClientId"]
    for role in ROLES:
        cognito.create_group(UserPoolId=pool_id, GroupName=role)
    issuer = f"https://cognito-idp.{REGION}.amazonaws.com/{pool_id}"
    return {
        "UserPoolId": pool_id,
        "UserPoolClientId": client_id,
        "UserPoolIssuer": issuer,
        "UserPoolJwksUrl": f"{issuer}/.well-known/jwks.json",
    }


def create_stack(outputs: dict[str, str], name: str = STACK) -> None:
    """A stack in moto's CloudFormation with these outputs and nothing else."""
    template = {"Resources": {}, "Outputs": {key: {"Value": value} for key, value in outputs.items()}}
    boto3.client("cloudformation").create_stack(StackName=name, TemplateBody=json.dumps(template))


def moto_jwks_file(directory: Path) -> Path:
    """The public key moto's Cognito signs tokens with, as the JWKS file the doors read."""
    path = directory / "moto-jwks.json"
    path.write_bytes(gzip.decompress(MOTO_JWKS.read_bytes()))
    return path


def ingest_emf(lines: list[str]) -> None:
    """EMF documents into moto's CloudWatch, one datapoint per value and dimension set, as CloudWatch ingests them."""
    cloudwatch = boto3.client("cloudwatch")
    for (namespace, name, dimensions), points in datapoints_from_emf(lines).items():
        for timestamp, value in points:
            cloudwatch.put_metric_data(
                Namespace=namespace,
                MetricData=[
                    {
                        "MetricName": name,
                        "Value": value,
                        "Timestamp": datetime.fromtimestamp(timestamp, UTC),
                        "Dimensions": [{"Name": key, "Value": dimension} for key, dimension in sorted(dimensions)],
                    }
                ],
            )


_ANNOTATION_EQUALS = re.compile(r'annotation\.(\w+) = "([^"]*)"')


def evaluate_annotation_filters(events) -> list[str]:
    """moto 5.2.5 answers GetTraceSummaries with a FilterExpression by InternalFailure. Registered on a client's or
    a session's events, this takes the expression off the request and keeps, of moto's answer, the traces with a
    document annotated so. Only `annotation.<key> = "<value>"` is understood; returns the expressions asked."""
    asked: list[str] = []

    def take_the_filter(params, **_) -> None:
        asked.append(params.pop("FilterExpression"))

    def keep_matching_traces(parsed, **_) -> None:
        key, value = _ANNOTATION_EQUALS.fullmatch(asked[-1]).groups()
        traces = xray_backends[DEFAULT_ACCOUNT_ID][REGION]._segment_collection._traces
        parsed["TraceSummaries"] = [
            summary
            for summary in parsed["TraceSummaries"]
            if any((document.annotations or {}).get(key) == value for document in traces[summary["Id"]]["segments"])
        ]

    events.register("provide-client-params.xray.GetTraceSummaries", take_the_filter)
    events.register("after-call.xray.GetTraceSummaries", keep_matching_traces)
    return asked

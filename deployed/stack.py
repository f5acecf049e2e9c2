"""The outputs of a deployed stack (CloudFormation DescribeStacks), and AWS failures as one-line errors.

Credentials and region come from where boto3 looks: AWS_PROFILE or AWS_ACCESS_KEY_ID..., AWS_DEFAULT_REGION,
~/.aws/config and ~/.aws/credentials.
"""

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import boto3
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, NoRegionError

USER_POOL_OUTPUTS = ("UserPoolId", "UserPoolClientId")
SIGNAL_OUTPUTS = ("MetricsNamespace", "ApiFunctionLogGroupName", "FlaskAppLogGroupName")


class DeployedError(Exception):
    """A failure the command line reports in one line, without a traceback."""


def error_code(error: ClientError) -> str:
    return error.response.get("Error", {}).get("Code", "")


@contextmanager
def one_line_aws_errors() -> Iterator[None]:
    """AWS SDK failures not handled where they happen, as DeployedError."""
    try:
        yield
    except NoCredentialsError:
        raise DeployedError(
            "no AWS credentials: set AWS_PROFILE (after `aws sso login`) or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
        ) from None
    except NoRegionError:
        raise DeployedError("no AWS region: set AWS_DEFAULT_REGION, or a region in the profile (AWS_PROFILE)") from None
    except ClientError as error:
        raise DeployedError(f"AWS refused: {error_code(error)}: {error.response['Error'].get('Message', '')}") from None
    except BotoCoreError as error:
        raise DeployedError(f"AWS call failed: {error}") from None


def stack_outputs(stack_name: str, required: Iterable[str], cloudformation=None) -> dict[str, str]:
    """The stack's outputs by key; DeployedError when there is no such stack or a required output is missing."""
    with one_line_aws_errors():
        client = cloudformation or boto3.client("cloudformation")
        try:
            stacks = client.describe_stacks(StackName=stack_name)["Stacks"]
        except ClientError as error:
            if error_code(error) == "ValidationError" and "does not exist" in str(error):
                raise DeployedError(f"no stack named {stack_name!r} in {client.meta.region_name}") from None
            raise
    outputs = {output["OutputKey"]: output["OutputValue"] for output in stacks[0].get("Outputs", [])}
    missing = [name for name in required if name not in outputs]
    if missing:
        raise DeployedError(
            f"stack {stack_name!r} has no output {', '.join(missing)}: is it this project's stack,"
            " deployed with its user pool?"
        )
    return outputs

"""CodeDeploy's pre-traffic hook for the API function: before any traffic shifts to a new version, invoke that
version with the readiness probe's request, as API Gateway would send it, and tell CodeDeploy whether to go on.

Readiness answers 200 only when the version reaches the database, finds the schema it expects and holds the
user pool's signing keys: a version that could not serve never gets traffic, whatever the deployment strategy.
CodeDeploy always gets an answer (it waits an hour for none); a version that cannot be judged is failed.

Environment: NEW_VERSION (the version's ARN), SMOKE_EVENT (the REST proxy event to send it).
Standard library and boto3 only (the Lambda runtime provides boto3).
"""

import json
import logging
import os
from typing import Any

import boto3
from botocore.config import Config

# Bounded, so that CodeDeploy is answered within this function's timeout whatever the API function does.
CLIENT_CONFIG = Config(connect_timeout=3, read_timeout=30, retries={"total_max_attempts": 2})

logger = logging.getLogger(__name__)


def smoke_check(event: dict[str, Any], context: object) -> None:
    version = os.environ["NEW_VERSION"]
    try:
        passed, detail = check_version(boto3.client("lambda", config=CLIENT_CONFIG), version, os.environ["SMOKE_EVENT"])
    except Exception as error:  # a version that cannot be judged does not get traffic
        logger.exception("smoke check of %s could not run", version)
        passed, detail = False, f"{type(error).__name__}"
    status = "Succeeded" if passed else "Failed"
    logger.info("smoke check of %s: %s (%s)", version, status, detail)
    boto3.client("codedeploy", config=CLIENT_CONFIG).put_lifecycle_event_hook_execution_status(
        deploymentId=event["DeploymentId"],
        lifecycleEventHookExecutionId=event["LifecycleEventHookExecutionId"],
        status=status,
    )


def check_version(lambda_client: Any, version: str, smoke_event: str) -> tuple[bool, str]:
    """(passed, why) for one invocation of the version with the smoke event."""
    response = lambda_client.invoke(
        FunctionName=version, InvocationType="RequestResponse", Payload=smoke_event.encode()
    )
    payload = response["Payload"].read()
    if response.get("FunctionError"):
        return False, f"the function failed: {response['FunctionError']}"
    try:
        answer = json.loads(payload)
        status = answer["statusCode"]
        body = json.loads(answer.get("body") or "{}")
    except (ValueError, KeyError, TypeError):
        return False, "the function's answer is not an API Gateway proxy response"
    if status != 200:
        failed = ", ".join(name for name, check in (body.get("checks") or {}).items() if check.get("status") != "ok")
        return False, f"readiness answered {status}" + (f", failed checks: {failed}" if failed else "")
    return True, "readiness answered 200"

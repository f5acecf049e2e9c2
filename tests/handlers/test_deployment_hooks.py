"""The pre-traffic smoke check: the new version gets traffic only when readiness answers 200 on it, and CodeDeploy
is always told, whatever the version does."""

import io
import json

import pytest
from botocore.stub import Stubber

from handlers import deployment_hooks
from infra.render import readiness_probe_event

VERSION = "arn:aws:lambda:eu-west-1:123456789012:function:student-records-api:7"
HOOK_EVENT = {"DeploymentId": "d-ABCDEF123", "LifecycleEventHookExecutionId": "hook-execution-1"}


class FakeLambda:
    """Answers one invocation as Lambda would: a proxy response, or a function error."""

    def __init__(self, answer: dict | None = None, function_error: str | None = None) -> None:
        self.answer, self.function_error, self.invoked = answer, function_error, []

    def invoke(self, **arguments):
        self.invoked.append(arguments)
        response = {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(self.answer or {"errorMessage": "x"}).encode())}
        if self.function_error:
            response["FunctionError"] = self.function_error
        return response


def ready(status: int, checks: dict) -> dict:
    return {"statusCode": status, "body": json.dumps({"status": "ok" if status == 200 else "x", "checks": checks})}


def test_readiness_200_on_the_new_version_passes():
    # Given a version whose readiness answers 200
    lambda_client = FakeLambda(ready(200, {"database": {"status": "ok"}}))
    # When checked with the readiness probe's event (as the template renders it)
    event = readiness_probe_event()
    passed, detail = deployment_hooks.check_version(lambda_client, VERSION, event)
    # Then it passes, and the version itself was invoked, synchronously, with that event
    assert passed, detail
    [call] = lambda_client.invoked
    assert call["FunctionName"] == VERSION and call["InvocationType"] == "RequestResponse"
    assert json.loads(call["Payload"])["path"] == "/health/ready"


@pytest.mark.parametrize(
    ("lambda_client", "reason"),
    [
        (FakeLambda(ready(503, {"database": {"status": "ok"}, "auth": {"status": "failed"}})), "failed checks: auth"),
        (FakeLambda(function_error="Unhandled"), "the function failed"),
        (FakeLambda({"unexpected": True}), "not an API Gateway proxy response"),
    ],
)
def test_a_version_that_is_not_ready_fails(lambda_client, reason):
    passed, detail = deployment_hooks.check_version(lambda_client, VERSION, readiness_probe_event())
    assert not passed and reason in detail


@pytest.mark.parametrize(
    ("answer", "status"), [(ready(200, {}), "Succeeded"), (ready(503, {}), "Failed"), (None, "Failed")]
)
def test_codedeploy_is_told_in_every_case(monkeypatch, answer, status):
    # Given the hook's environment, and a version that is ready, not ready, or cannot even be invoked
    monkeypatch.setenv("NEW_VERSION", VERSION)
    monkeypatch.setenv("SMOKE_EVENT", readiness_probe_event())
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    codedeploy = deployment_hooks.boto3.client("codedeploy", region_name="eu-west-1")
    broken = answer is None

    def client(service, **_):
        if service == "codedeploy":
            return codedeploy
        if broken:
            raise ConnectionError("no route to Lambda")
        return FakeLambda(answer)

    monkeypatch.setattr(deployment_hooks.boto3, "client", client)
    with Stubber(codedeploy) as stub:
        stub.add_response(
            "put_lifecycle_event_hook_execution_status",
            {"lifecycleEventHookExecutionId": "hook-execution-1"},
            {"deploymentId": "d-ABCDEF123", "lifecycleEventHookExecutionId": "hook-execution-1", "status": status},
        )
        # When the hook runs; Then CodeDeploy hears the verdict (the stub refuses any other)
        deployment_hooks.smoke_check(HOOK_EVENT, None)
        stub.assert_no_pending_responses()

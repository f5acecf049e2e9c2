"""template.yaml is rendered from its sources: never stale, every operation routed, the readiness probe's
event understood by the Lambda door, and placeholders that name nothing refused."""

import json
from pathlib import Path

import pytest

from handlers.api import lambda_handler
from infra import render
from local_stack.gateway import LambdaContext
from rest_contract.operations import OPERATIONS
from tests.infra.tools import TEMPLATE


def test_committed_template_is_not_stale():
    # Given the sources as they are; When the template is rendered
    rendered = render.render_text()
    # Then it is exactly the committed template.yaml
    assert TEMPLATE.read_text(encoding="utf-8") == rendered, "template.yaml is stale: run `make template`"


def test_every_operation_has_an_explicit_api_event_and_an_openapi_path(sam_template):
    # Given the rendered template
    resources = sam_template["Resources"]
    events = resources["ApiFunction"]["Properties"]["Events"]
    paths = resources["Api"]["Properties"]["DefinitionBody"]["paths"]
    api_routes = {(event["Properties"]["Path"], event["Properties"]["Method"])
                  for event in events.values() if event["Type"] == "Api"}
    # Then each operation of the route table is one Api event (no greedy proxy) and one OpenAPI method
    expected = {(operation.path, operation.method.lower()) for operation in OPERATIONS}
    assert api_routes == expected
    assert {(path, method) for path, methods in paths.items() for method in methods} == expected
    assert not any("{proxy+}" in path for path, _ in api_routes)


def test_routes_other_than_health_require_the_user_pool_when_one_is_given(sam_template):
    paths = sam_template["Resources"]["Api"]["Properties"]["DefinitionBody"]["paths"]
    for path, methods in paths.items():
        for method, spec in methods.items():
            if path.startswith("/health"):
                assert "security" not in spec, f"{method} {path} must stay open"
            else:
                assert spec["security"] == {
                    "Fn::If": ["HasUserPool", [{"CognitoUserPool": []}], {"Ref": "AWS::NoValue"}]
                }, f"{method} {path}"


def test_readiness_probe_event_is_served_by_the_lambda_door(db):
    # Given the schedule's synthetic event, with the stage filled in as Fn::Sub would
    event_text = render.readiness_probe_event().replace("${ApiStageName}", "v1").replace("${AWS::AccountId}", "1" * 12)
    event = json.loads(event_text)
    # When the Lambda door handles it against a migrated database
    result = lambda_handler(event, LambdaContext("student-records-api"))
    # Then readiness answers 200, as it would behind API Gateway
    assert result["statusCode"] == 200, result.get("body")
    assert event["resource"] == event["requestContext"]["resourcePath"] == "/health/ready"


def test_readiness_probe_event_has_the_shape_of_a_real_rest_proxy_event():
    # Given a REST proxy event made by the SAM CLI
    fixture = json.loads((Path(__file__).parents[1] / "fixtures" / "apigw-rest-proxy-get.json").read_text())
    # When the probe's event is compared with it; Then it has every top-level field API Gateway sends
    probe = json.loads(render.readiness_probe_event())
    assert set(fixture) <= set(probe)
    assert {"resourcePath", "httpMethod", "requestId", "identity", "stage", "path"} <= set(probe["requestContext"])


def test_migrations_checksum_follows_the_sql_files(sam_template):
    assert sam_template["Resources"]["Migrations"]["Properties"]["MigrationsChecksum"] == render.migrations_checksum()


def test_a_placeholder_that_names_nothing_is_refused(tmp_path):
    # Given a source template whose dashboard names a resource that does not exist
    source = render.SOURCE.read_text(encoding="utf-8").replace(
        "DashboardName: !Sub ${AWS::StackName}-business", "DashboardName: !Sub ${NoSuchResource}-business"
    )
    broken = tmp_path / "template.src.yaml"
    broken.write_text(source, encoding="utf-8")
    # When it is rendered; Then the render stops and names the placeholder
    with pytest.raises(render.RenderError, match=r"\$\{NoSuchResource\}"):
        render.render(broken)


def test_dashboard_bodies_are_deployed_through_fn_sub(sam_template):
    # Given the dashboard resources; Then each body is its file's JSON under Fn::Sub
    bodies = [resource["Properties"]["DashboardBody"] for resource in sam_template["Resources"].values()
              if resource["Type"] == "AWS::CloudWatch::Dashboard"]
    assert len(bodies) == 2
    for body in bodies:
        text = body["Fn::Sub"] if isinstance(body["Fn::Sub"], str) else body["Fn::Sub"][0]
        assert json.loads(text)["widgets"]

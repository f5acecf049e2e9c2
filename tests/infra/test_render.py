"""template.yaml is rendered from its sources: never stale, every operation routed, the readiness probe's
event understood by the Lambda door, and placeholders that name nothing refused."""

import json
import re
from pathlib import Path

import pytest

from handlers.api import create_handler
from infra import render
from local_stack.gateway import LambdaContext
from rest_contract.operations import OPERATIONS
from tests.infra.tools import TEMPLATE


def test_committed_template_is_not_stale():
    # Given the sources as they are; When the template is rendered
    rendered = render.render_text()
    # Then it is exactly the committed template.yaml
    assert TEMPLATE.read_text(encoding="utf-8") == rendered, "template.yaml is stale: run `make generate`"


def test_every_operation_has_an_explicit_api_event_and_an_openapi_path(sam_template):
    # Given the rendered template
    resources = sam_template["Resources"]
    events = resources["ApiFunction"]["Properties"]["Events"]
    paths = resources["Api"]["Properties"]["DefinitionBody"]["paths"]
    api_routes = {
        (event["Properties"]["Path"], event["Properties"]["Method"])
        for event in events.values()
        if event["Type"] == "Api"
    }
    # Then each operation of the route table is one Api event (no greedy proxy) and one OpenAPI method
    expected = {(operation.path, operation.method.lower()) for operation in OPERATIONS}
    assert api_routes == expected
    assert {(path, method) for path, methods in paths.items() for method in methods} == expected
    assert not any("{proxy+}" in path for path, _ in api_routes)


def test_every_route_but_health_requires_the_user_pool_whatever_the_parameters(sam_template):
    # Given the API's OpenAPI body; Then every method but /health* names the Cognito authorizer, unconditionally
    body = sam_template["Resources"]["Api"]["Properties"]["DefinitionBody"]
    for path, methods in body["paths"].items():
        for method, spec in methods.items():
            if path.startswith("/health"):
                assert "security" not in spec, f"{method} {path} must stay open"
            else:
                assert spec["security"] == [{"CognitoUserPool": []}], f"{method} {path}"
    # And the authorizer's pool is the stack's own, or the one given by parameter
    authorizer = body["components"]["securitySchemes"]["CognitoUserPool"]["x-amazon-apigateway-authorizer"]
    assert authorizer["providerARNs"] == [
        {"Fn::If": ["CreateUserPool", {"Fn::GetAtt": ["UserPool", "Arn"]}, {"Ref": "CognitoUserPoolArn"}]}
    ]


def test_render_values_are_written_out_where_they_are_used(sam_template):
    # Given `!Render UserPoolIssuer` in the source; Then the rendered template holds the value itself
    issuer = sam_template["Resources"]["ApiFunction"]["Properties"]["Environment"]["Variables"]["AUTH_ISSUER"]
    assert issuer["Fn::If"][0] == "CreateUserPool"
    assert "Render" not in json.dumps(sam_template["Resources"])
    assert sam_template["Outputs"]["UserPoolIssuer"]["Value"] == issuer


def test_an_unknown_render_value_is_refused(tmp_path):
    source = render.SOURCE.read_text(encoding="utf-8").replace(
        "AUTH_ISSUER: !Render UserPoolIssuer", "AUTH_ISSUER: !Render NoSuchValue"
    )
    broken = tmp_path / "template.src.yaml"
    broken.write_text(source, encoding="utf-8")
    with pytest.raises(render.RenderError, match="!Render NoSuchValue"):
        render.render(broken)


def test_the_template_has_no_yaml_aliases():
    # CloudFormation's YAML has no anchors or aliases: a value used twice is written twice
    text = render.OUTPUT.read_text(encoding="utf-8")
    assert not re.search(r"[&*]id\d{3}", text)


def test_a_dashboard_showing_conditional_alarms_names_them_only_where_they_exist(sam_template):
    # Given the on-call dashboard, whose alarm widget lists the load balancer's alarms too
    body = sam_template["Resources"]["ServiceOverviewDashboard"]["Properties"]["DashboardBody"]
    condition, with_door, without_door = body["Fn::If"]
    # Then it is rendered twice, chosen by the EC2 door's condition
    assert condition == "DeployFlaskDoor"
    assert "${FlaskLb5xxRateAlarm.Arn}" in with_door["Fn::Sub"][0]
    assert "FlaskLb" not in without_door["Fn::Sub"][0]
    # And inside each variant the load balancer's dimensions are already the branch's value
    assert "Fn::If" not in json.dumps(with_door["Fn::Sub"][1]) + json.dumps(without_door["Fn::Sub"][1])
    assert without_door["Fn::Sub"][1]["LoadBalancerDimension"] == "no-flask-door"


def test_readiness_probe_event_is_served_by_the_lambda_door(application):
    # Given the schedule's synthetic event, with the stage filled in as Fn::Sub would
    event_text = render.readiness_probe_event().replace("${ApiStageName}", "v1").replace("${AWS::AccountId}", "1" * 12)
    event = json.loads(event_text)
    # When the Lambda door handles it against a migrated database
    result = create_handler(application=application)(event, LambdaContext("student-records-api"))
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
    bodies = [
        resource["Properties"]["DashboardBody"]
        for resource in sam_template["Resources"].values()
        if resource["Type"] == "AWS::CloudWatch::Dashboard"
    ]
    assert len(bodies) == 3  # the two of dashboards/, and the runbooks
    variants = [variant for body in bodies for variant in (body["Fn::If"][1:] if "Fn::If" in body else [body])]
    for body in variants:
        text = body["Fn::Sub"] if isinstance(body["Fn::Sub"], str) else body["Fn::Sub"][0]
        assert json.loads(text)["widgets"]


def test_the_runbooks_dashboard_holds_every_runbook_with_the_stacks_name_in_it(sam_template):
    # Given the rendered runbooks dashboard
    text = sam_template["Resources"]["RunbooksDashboard"]["Properties"]["DashboardBody"]["Fn::Sub"]
    widgets = json.loads(text)["widgets"]
    headings = [widget["properties"]["markdown"].split("\n", 1)[0] for widget in widgets]
    # Then every runbook is a section, the folder's README first and the paging runbook second
    runbooks = sorted(
        path.stem for path in Path(render.REPO_ROOT, "docs", "runbooks").glob("*.md") if path.stem != "README"
    )
    assert headings[0] == "# Runbooks" and headings[1].startswith("# on-call-page")
    assert sorted(heading.removeprefix("# ").split(" (")[0] for heading in headings[1:]) == runbooks
    # And `<stack>` is the stack's name, relative links name their section, and nothing else is substituted
    assert "<stack>" not in text and "${AWS::StackName}" in text
    assert ".md)" not in text
    assert set(re.findall(r"\$\{([^!}][^}]*)\}", text)) == {"AWS::StackName"}

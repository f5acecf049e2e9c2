"""The stack a first `sam deploy` creates, read from the SAM-transformed template with its conditions
evaluated as CloudFormation would for given parameters: identity, the authorizer on every route, the EC2
door behind a self-healing load balancer, the web ACL, and nothing that would leave a stack stuck."""

import itertools
import json
import re
from typing import Any

import pytest

from infra.render import PSEUDO_PARAMETERS
from rest_contract.operations import OPERATIONS
from rest_contract.problems import ALL_PROBLEM_TYPES, PROBLEM_JSON
from tests.infra.conftest import EC2_DOOR
from tests.infra.stack_view import StackView

EXISTING_POOL = {
    "CognitoUserPoolArn": "arn:aws:cognito-idp:eu-west-1:123456789012:userpool/eu-west-1_AbCdEf123",
    "CognitoAppClientId": "4example0client0id0000000",
}
CERTIFICATE = {
    "FlaskCertificateArn": "arn:aws:acm:eu-west-1:123456789012:certificate/0e5a9b4e-1111-4f6e-9d4c-3a0c1d2e3f40",
    "FlaskDomainName": "api.example.org",
}
# Every combination of the parameters that change which resources exist.
COMBINATIONS = [
    {**pool, **door, **egress, **proxy}
    for pool, door, egress, proxy in itertools.product(
        [{}, EXISTING_POOL],
        [{}, EC2_DOOR, {**EC2_DOOR, **CERTIFICATE}],
        [{"NetworkEgress": "VpcEndpoints"}, {"NetworkEgress": "NatGateway"}],
        [{"UseRdsProxy": "false"}, {"UseRdsProxy": "true"}],
    )
]


def _id(parameters: dict[str, str]) -> str:
    return ",".join(f"{name}={value[:12]}" for name, value in sorted(parameters.items())) or "defaults"


@pytest.fixture(scope="module")
def default_stack(transformed_template) -> StackView:
    return StackView(transformed_template)


@pytest.fixture(scope="module")
def ec2_stack(transformed_with_ec2_door) -> StackView:
    return StackView(transformed_with_ec2_door, EC2_DOOR)


def test_the_stack_creates_the_user_pool_with_the_role_groups_and_an_app_client(default_stack):
    # Given the defaults (no CognitoUserPoolArn); Then the stack has its own user pool
    [pool] = default_stack.of_type("AWS::Cognito::UserPool").values()
    properties = pool["Properties"]
    assert properties["AdminCreateUserConfig"] == {"AllowAdminCreateUserOnly": True}
    assert properties["MfaConfiguration"] == "OPTIONAL"
    assert properties["Policies"]["PasswordPolicy"]["MinimumLength"] >= 12
    [student_id] = properties["Schema"]
    assert (student_id["Name"], student_id["AttributeDataType"], student_id["Mutable"]) == (
        "student_id",
        "String",
        True,
    )
    # And the four role groups, the strongest role first, as the doors rank them
    groups = {
        group["Properties"]["GroupName"]: group["Properties"]["Precedence"]
        for group in default_stack.of_type("AWS::Cognito::UserPoolGroup").values()
    }
    assert sorted(groups, key=groups.get) == ["admin", "registrar", "teacher", "student"]
    # And an app client without a secret, for SRP sign-in and refresh, and the admin tools' sign-in
    [client] = default_stack.of_type("AWS::Cognito::UserPoolClient").values()
    client = client["Properties"]
    assert client["GenerateSecret"] is False
    assert set(client["ExplicitAuthFlows"]) == {
        "ALLOW_USER_SRP_AUTH",
        "ALLOW_REFRESH_TOKEN_AUTH",
        "ALLOW_ADMIN_USER_PASSWORD_AUTH",
    }
    # And users cannot set their own student id, while tokens carry it
    assert "custom:student_id" in client["ReadAttributes"]
    assert "custom:student_id" not in client["WriteAttributes"]


def test_an_existing_pool_given_by_parameter_replaces_the_stacks_own(transformed_template):
    stack = StackView(transformed_template, EXISTING_POOL)
    assert not stack.of_type("AWS::Cognito::UserPool") and not stack.of_type("AWS::Cognito::UserPoolGroup")
    variables = stack.resources["ApiFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["AUTH_AUDIENCE"] == {"Ref": "CognitoAppClientId"}
    assert stack.outputs["UserPoolId"]["Value"] == {
        "Fn::Select": [1, {"Fn::Split": ["/", {"Ref": "CognitoUserPoolArn"}]}]
    }


@pytest.mark.parametrize("parameters", COMBINATIONS, ids=_id)
def test_every_route_but_health_has_the_cognito_authorizer(transformed_template, parameters):
    # Given the stack for these parameters
    stack = StackView(transformed_template, parameters)
    body = stack.resources["Api"]["Properties"]["Body"]
    methods = {(path, method.upper()): spec for path, specs in body["paths"].items() for method, spec in specs.items()}
    # Then every operation is there, and every one but /health* requires the Cognito authorizer
    assert set(methods) == {(operation.path, operation.method) for operation in OPERATIONS}
    for (path, method), spec in methods.items():
        expected = None if path.startswith("/health") else [{"CognitoUserPool": []}]
        assert spec.get("security") == expected, f"{method} {path}"
    # And the authorizer names a pool that exists in this stack, or the one given
    authorizer = body["securityDefinitions" if "securityDefinitions" in body else "components"]
    authorizer = (authorizer.get("securitySchemes", authorizer))["CognitoUserPool"]["x-amazon-apigateway-authorizer"]
    expected_pool = (
        {"Ref": "CognitoUserPoolArn"} if parameters.get("CognitoUserPoolArn") else {"Fn::GetAtt": ["UserPool", "Arn"]}
    )
    assert authorizer == {"type": "cognito_user_pools", "providerARNs": [expected_pool]}


@pytest.mark.parametrize("parameters", COMBINATIONS, ids=_id)
def test_every_reference_names_a_resource_this_stack_creates(transformed_template, parameters):
    # Given the stack for these parameters; Then no Ref, GetAtt, ${...} or DependsOn names a resource left
    # out by its condition (CloudFormation would refuse the template, or fail mid-deployment)
    stack = StackView(transformed_template, parameters)
    known = set(stack.resources) | set(stack.parameters) | PSEUDO_PARAMETERS
    referenced = _references({"Resources": stack.resources, "Outputs": stack.outputs})
    assert referenced - known == set()


def test_api_gateways_own_answers_are_the_contracts_problem_documents(default_stack):
    # Given what API Gateway answers before the function runs (no token, an undeclared route, throttling)
    responses = default_stack.resources["Api"]["Properties"]["Body"]["x-amazon-apigateway-gateway-responses"]
    assert {"UNAUTHORIZED", "ACCESS_DENIED", "MISSING_AUTHENTICATION_TOKEN", "THROTTLED", "WAF_FILTERED"} <= set(
        responses
    )
    registered = {problem.uri: problem for problem in ALL_PROBLEM_TYPES}
    for response_type, response in responses.items():
        # Then each is a registered problem type, with its status, as problem+json, carrying the request id
        document = json.loads(response["responseTemplates"]["application/json"])
        assert document["type"] in registered, response_type
        assert document["status"] == int(response["statusCode"]) == registered[document["type"]].status
        headers = response["responseParameters"]
        assert headers["gatewayresponse.header.Content-Type"] == f"'{PROBLEM_JSON}'"
        assert headers["gatewayresponse.header.X-Request-Id"] == "context.requestId"
    # And an undeclared route is a 404, as both doors answer it, not API Gateway's 403
    assert responses["MISSING_AUTHENTICATION_TOKEN"]["statusCode"] == "404"
    assert responses["UNAUTHORIZED"]["responseParameters"]["gatewayresponse.header.WWW-Authenticate"] == (
        "'Bearer realm=\"student-records\"'"
    )


@pytest.mark.parametrize("parameters", COMBINATIONS, ids=_id)
def test_the_doors_verify_tokens_with_keys_read_from_s3_in_every_network_mode(transformed_template, parameters):
    stack = StackView(transformed_template, parameters)
    variables = stack.resources["ApiFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["AUTH_JWKS_URL"] == {"Fn::Sub": "s3://${SigningKeysBucket}/cognito/jwks.json"}
    assert {"AUTH_ISSUER", "AUTH_AUDIENCE"} <= set(variables)
    # The keys are copied by a function outside the VPC, at deployment and on a schedule
    publisher = stack.resources["SigningKeysFunction"]["Properties"]
    assert "VpcConfig" not in publisher
    assert stack.resources["SigningKeys"]["Type"] == "Custom::SigningKeys"
    assert any(
        resource["Properties"].get("ScheduleExpression") == "rate(15 minutes)"
        for resource in stack.of_type("AWS::Events::Rule").values()
    )
    # And no Cognito interface endpoint is relied on (it does not serve pools with a domain)
    endpoints = [resource["Properties"]["ServiceName"] for resource in stack.of_type("AWS::EC2::VPCEndpoint").values()]
    assert not any("cognito" in str(endpoint) for endpoint in endpoints)


def test_without_the_ec2_door_there_is_no_load_balancer(default_stack):
    assert not default_stack.of_type("AWS::ElasticLoadBalancingV2::LoadBalancer")
    assert not default_stack.of_type("AWS::AutoScaling::AutoScalingGroup")
    assert "FlaskUrl" not in default_stack.outputs


def test_the_ec2_door_is_behind_an_internet_facing_load_balancer_in_the_public_subnets(ec2_stack):
    [balancer] = ec2_stack.of_type("AWS::ElasticLoadBalancingV2::LoadBalancer").values()
    assert balancer["Properties"]["Scheme"] == "internet-facing"
    assert balancer["Properties"]["Subnets"] == [{"Ref": "PublicSubnetA"}, {"Ref": "PublicSubnetB"}]
    # And the instances accept traffic only from it
    ingress = [
        rule["Properties"]
        for rule in ec2_stack.of_type("AWS::EC2::SecurityGroupIngress").values()
        if rule["Properties"]["GroupId"] == {"Ref": "FlaskSecurityGroup"}
    ]
    assert ingress == [
        {
            "GroupId": {"Ref": "FlaskSecurityGroup"},
            "IpProtocol": "tcp",
            "FromPort": 8000,
            "ToPort": 8000,
            "SourceSecurityGroupId": {"Ref": "LoadBalancerSecurityGroup"},
            "Description": "Requests and health checks from the load balancer",
        }
    ]
    assert "SecurityGroupIngress" not in ec2_stack.resources["FlaskSecurityGroup"]["Properties"]
    assert ec2_stack.outputs["FlaskUrl"]["Value"] == {"Fn::Sub": "http://${FlaskLoadBalancer.DNSName}"}


def test_plain_http_only_without_a_certificate_and_https_with_a_redirect_with_one(transformed_with_ec2_door):
    def listeners(parameters):
        stack = StackView(transformed_with_ec2_door, parameters)
        return sorted(
            (
                listener["Properties"]["Protocol"],
                listener["Properties"]["Port"],
                listener["Properties"]["DefaultActions"][0]["Type"],
            )
            for listener in stack.of_type("AWS::ElasticLoadBalancingV2::Listener").values()
        )

    assert listeners(EC2_DOOR) == [("HTTP", 80, "forward")]
    assert listeners({**EC2_DOOR, **CERTIFICATE}) == [("HTTP", 80, "redirect"), ("HTTPS", 443, "forward")]


def test_the_target_group_checks_readiness_and_the_group_replaces_what_fails_it(ec2_stack):
    [target_group] = ec2_stack.of_type("AWS::ElasticLoadBalancingV2::TargetGroup").values()
    assert target_group["Properties"]["HealthCheckPath"] == "/health/ready"
    assert target_group["Properties"]["Port"] == 8000
    [group] = ec2_stack.of_type("AWS::AutoScaling::AutoScalingGroup").values()
    properties = group["Properties"]
    assert properties["HealthCheckType"] == "ELB" and properties["HealthCheckGracePeriod"] > 0
    assert properties["TargetGroupARNs"] == [{"Ref": "FlaskTargetGroup"}]
    assert properties["VPCZoneIdentifier"] == [{"Ref": "PrivateSubnetA"}, {"Ref": "PrivateSubnetB"}]


def test_instances_signal_ready_before_a_create_or_a_rolling_update_goes_on(ec2_stack):
    group = ec2_stack.resources["FlaskAutoScalingGroup"]
    assert group["CreationPolicy"]["ResourceSignal"]["Count"] == {"Ref": "FlaskMinInstances"}
    rolling = group["UpdatePolicy"]["AutoScalingRollingUpdate"]
    assert rolling["WaitOnResourceSignals"] is True
    assert rolling["MinInstancesInService"] == {"Ref": "FlaskMinInstances"}
    assert int(ec2_stack.parameters["FlaskMinInstances"]) >= 1
    assert int(ec2_stack.parameters["FlaskMaxInstances"]) > int(ec2_stack.parameters["FlaskMinInstances"])
    # And the user data signals the group once readiness answers on the instance
    user_data = ec2_stack.resources["FlaskLaunchTemplate"]["Properties"]["LaunchTemplateData"]["UserData"]
    script = user_data["Fn::Base64"]["Fn::Sub"][0]
    assert "cfn-signal" in script and "--resource FlaskAutoScalingGroup" in script
    assert "http://127.0.0.1:8000/health/ready" in script
    # And the rate limit counts the client the load balancer names, not the load balancer
    assert "TRUSTED_PROXY_HOPS=1" in script
    # And the group is created after what readiness needs: the schema and the signing keys
    assert {"Migrations", "SigningKeys"} <= set(group["DependsOn"])


def test_the_group_scales_on_requests_per_target(ec2_stack):
    [policy] = ec2_stack.of_type("AWS::AutoScaling::ScalingPolicy").values()
    tracking = policy["Properties"]["TargetTrackingConfiguration"]
    assert tracking["PredefinedMetricSpecification"]["PredefinedMetricType"] == "ALBRequestCountPerTarget"


def test_cfn_signal_reaches_cloudformation_without_a_nat_gateway(transformed_with_ec2_door):
    stack = StackView(transformed_with_ec2_door, {**EC2_DOOR, "NetworkEgress": "VpcEndpoints"})
    services = [
        str(endpoint["Properties"]["ServiceName"]) for endpoint in stack.of_type("AWS::EC2::VPCEndpoint").values()
    ]
    assert any(".cloudformation" in service for service in services)


@pytest.mark.parametrize("with_door", [False, True])
def test_one_web_acl_guards_the_api_stage_and_the_load_balancer(default_stack, ec2_stack, with_door):
    stack = ec2_stack if with_door else default_stack
    [acl] = stack.of_type("AWS::WAFv2::WebACL").values()
    rules = {rule["Name"]: rule for rule in acl["Properties"]["Rules"]}
    managed = {
        rule["Statement"]["ManagedRuleGroupStatement"]["Name"]
        for rule in rules.values()
        if "ManagedRuleGroupStatement" in rule["Statement"]
    }
    assert managed == {
        "AWSManagedRulesCommonRuleSet",
        "AWSManagedRulesKnownBadInputsRuleSet",
        "AWSManagedRulesSQLiRuleSet",
    }
    assert rules["rate-limit-per-ip"]["Statement"]["RateBasedStatement"]["AggregateKeyType"] == "IP"
    associated = {
        str(association["Properties"]["ResourceArn"])
        for association in stack.of_type("AWS::WAFv2::WebACLAssociation").values()
    }
    assert any("/restapis/${Api}/stages/${ApiStage}" in arn for arn in associated)
    assert ("{'Ref': 'FlaskLoadBalancer'}" in associated) is with_door
    # And its logs redact tokens and query strings
    [logging] = stack.of_type("AWS::WAFv2::LoggingConfiguration").values()
    assert {"SingleHeader": {"Name": "authorization"}} in logging["Properties"]["RedactedFields"]


def test_the_database_is_snapshotted_on_delete_and_protected_only_when_asked(default_stack, transformed_template):
    database = default_stack.resources["Database"]
    assert database["DeletionPolicy"] == database["UpdateReplacePolicy"] == "Snapshot"
    # A first create that fails must roll back: protection is off unless asked for
    assert database["Properties"]["DeletionProtection"] is False
    protected = StackView(transformed_template, {"DeletionProtection": "true"})
    assert protected.resources["Database"]["Properties"]["DeletionProtection"] is True
    assert protected.resources["UserPool"]["Properties"]["DeletionProtection"] == "ACTIVE"


def test_the_database_logs_without_personal_data_into_log_groups_the_stack_declares(default_stack):
    # Given the database; Then it runs with the parameter group rendered from infra/postgresql.conf
    database = default_stack.resources["Database"]
    assert database["Properties"]["DBParameterGroupName"] == {"Ref": "DatabaseParameterGroup"}
    parameters = default_stack.resources["DatabaseParameterGroup"]["Properties"]["Parameters"]
    assert parameters["log_error_verbosity"] == "terse" and parameters["log_min_error_statement"] == "panic"
    assert parameters["log_statement"] == "none" and parameters["rds.force_ssl"] == "1"
    assert "log_line_prefix" not in parameters  # fixed by RDS
    # And the logs it exports go to log groups declared before it exists, with retention and the stack's key
    exported = database["Properties"]["EnableCloudwatchLogsExports"]
    groups = {
        resource["Properties"]["LogGroupName"]["Fn::Sub"]: resource
        for resource in default_stack.of_type("AWS::Logs::LogGroup").values()
    }
    for log in exported:
        group = groups[f"/aws/rds/instance/${{DbInstanceIdentifier}}/{log}"]
        assert {"RetentionInDays", "KmsKeyId"} <= set(group["Properties"])
    assert database["Properties"]["DBInstanceIdentifier"] == {"Ref": "DbInstanceIdentifier"}
    assert {"DatabaseLogGroup", "DatabaseUpgradeLogGroup"} <= set(database["DependsOn"])
    # And so does API Gateway's execution log
    assert "API-Gateway-Execution-Logs_${Api}/${ApiStageName}" in groups


def test_stateful_resources_say_what_happens_to_them_on_delete(default_stack):
    for logical_id, resource in default_stack.resources.items():
        if resource["Type"] in (
            "AWS::Logs::LogGroup",
            "AWS::KMS::Key",
            "AWS::RDS::DBInstance",
            "AWS::S3::Bucket",
            "AWS::Cognito::UserPool",
        ):
            assert {"DeletionPolicy", "UpdateReplacePolicy"} <= set(resource), logical_id
    # The key outlives the stack: the final snapshot is encrypted with it
    assert default_stack.resources["StackKey"]["DeletionPolicy"] == "Retain"


@pytest.mark.parametrize("egress", ["VpcEndpoints", "NatGateway"])
def test_the_migrations_resource_waits_for_what_it_needs_to_answer(transformed_template, egress):
    stack = StackView(transformed_template, {"NetworkEgress": egress})
    depends_on = set(stack.resources["Migrations"]["DependsOn"])
    assert {
        "S3GatewayEndpoint",
        "PrivateSubnetARouteTable",
        "PrivateSubnetBRouteTable",
        "DatabaseFromLambda",
        "LambdaToDatabase",
        "PrivateEgressReady",
    } <= depends_on
    # And PrivateEgressReady stands for the mode's way out: Secrets Manager's endpoint, or the NAT route
    egress_resource = stack.resources["PrivateEgressReady"]["Metadata"]["SecretsManager"]["Ref"]
    assert egress_resource == {"VpcEndpoints": "SecretsManagerEndpoint", "NatGateway": "PrivateDefaultRoute"}[egress]


def test_a_failed_migration_is_counted_once_and_never_run_again_by_lambda(default_stack):
    # Given the asynchronous-invocation settings the stack gives its functions
    configs = default_stack.of_type("AWS::Lambda::EventInvokeConfig").values()
    # Then the migrations function's failed invocation (answered FAILED, counted in Errors) is not retried
    [config] = [c["Properties"] for c in configs if c["Properties"]["FunctionName"] == {"Ref": "MigrationsFunction"}]
    assert config["MaximumRetryAttempts"] == 0


def test_the_api_gateway_account_setting_waits_for_its_role_to_propagate(default_stack):
    assert default_stack.resources["ApiGatewayAccount"]["DependsOn"] == "Database"


def test_lambda_keeps_its_start_and_report_lines(default_stack):
    functions = default_stack.of_type("AWS::Lambda::Function")
    assert {"ApiFunction", "MigrationsFunction", "SigningKeysFunction"} <= set(functions)
    for logical_id, function in functions.items():
        assert function["Properties"]["LoggingConfig"]["SystemLogLevel"] == "INFO", logical_id


def test_the_outputs_a_first_deployment_needs(default_stack, ec2_stack):
    assert {
        "ApiUrl",
        "UserPoolId",
        "UserPoolClientId",
        "UserPoolIssuer",
        "UserPoolJwksUrl",
        "MetricsNamespace",
        "ApiFunctionLogGroupName",
        "FlaskAppLogGroupName",
    } <= set(default_stack.outputs)
    assert {"FlaskUrl", "FlaskLoadBalancerDnsName"} <= set(ec2_stack.outputs)


def _references(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                found.add(value)
            elif key == "Fn::GetAtt":
                found.add(value[0] if isinstance(value, list) else value.split(".", 1)[0])
            elif key == "Fn::Sub":
                text, variables = (value, {}) if isinstance(value, str) else (value[0], value[1])
                found |= {name.split(".", 1)[0] for name in re.findall(r"\$\{(?!!)([^}]+)\}", text)} - set(variables)
                found |= _references(variables)
            elif key == "DependsOn":
                found |= {value} if isinstance(value, str) else set(value)
            else:
                found |= _references(value)
    elif isinstance(node, list):
        for item in node:
            found |= _references(item)
    return found


def test_api_gateway_and_the_schedule_invoke_the_alias_that_codedeploy_shifts(default_stack):
    # Given the API function's published alias and CodeDeploy's deployment group
    [alias] = [
        logical_id
        for logical_id, resource in default_stack.of_type("AWS::Lambda::Alias").items()
        if resource["Properties"]["Name"] == "live"
    ]
    [group] = default_stack.of_type("AWS::CodeDeploy::DeploymentGroup").values()
    # Then it shifts traffic as the parameter says, rolls back on alarms, and both rollback alarms watch the new
    # version behind the alias
    # (the SAM translator writes the parameter's value in: CloudFormation transforms with the deployment's own)
    strategy = group["Properties"]["DeploymentConfigName"]["Fn::Sub"]
    assert strategy[0] == "CodeDeployDefault.Lambda${ConfigName}"
    assert strategy[1]["ConfigName"] == default_stack.parameters["ApiDeploymentStrategy"] == "Canary10Percent5Minutes"
    assert group["Properties"]["AutoRollbackConfiguration"]["Enabled"] is True
    alarms = {entry["Name"]["Ref"] for entry in group["Properties"]["AlarmConfiguration"]["Alarms"]}
    assert alarms == {"ApiNewVersionErrorsAlarm", "ApiNewVersionDurationP90Alarm"}
    for logical_id in alarms:
        dimensions = {d["Name"]: d["Value"] for d in default_stack.resources[logical_id]["Properties"]["Dimensions"]}
        assert dimensions["Resource"] == {"Fn::Sub": "${ApiFunction}:live"}
        assert dimensions["ExecutedVersion"]["Fn::Sub"].endswith(".Version}")
    # And every route's integration, and the readiness schedule, invoke the alias
    paths = default_stack.resources["Api"]["Properties"]["Body"]["paths"]
    for path, methods in paths.items():
        for method, spec in methods.items():
            assert f"${{{alias}}}" in spec["x-amazon-apigateway-integration"]["uri"]["Fn::Sub"], f"{method} {path}"
    [schedule] = [
        rule
        for rule in default_stack.of_type("AWS::Events::Rule").values()
        if rule["Properties"]["ScheduleExpression"] == "rate(1 minute)"
    ]
    assert schedule["Properties"]["Targets"][0]["Arn"] == {"Ref": alias}


def test_the_smoke_check_runs_before_traffic_shifts_and_sends_the_readiness_probe(default_stack):
    [function] = [
        resource
        for resource in default_stack.of_type("AWS::Lambda::Function").values()
        if resource["Properties"]["Handler"] == "handlers.deployment_hooks.smoke_check"
    ]
    variables = function["Properties"]["Environment"]["Variables"]
    assert json.loads(variables["SMOKE_EVENT"]["Fn::Sub"])["path"] == "/health/ready"
    assert variables["NEW_VERSION"]["Ref"].startswith("ApiFunctionVersion")
    # CodeDeploy's role may invoke only hooks named so
    assert function["Properties"]["FunctionName"]["Fn::Sub"].startswith("CodeDeployHook_")
    [_group] = default_stack.of_type("AWS::CodeDeploy::DeploymentGroup").values()
    hooks = default_stack.resources["ApiFunctionAliaslive"]["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]
    assert hooks["BeforeAllowTrafficHook"] == {"Ref": "DeploymentSmokeCheckFunction"}


def test_cursors_are_signed_with_a_key_generated_per_stack_and_never_written_in_user_data(ec2_stack):
    secret = ec2_stack.resources["CursorSigningKey"]["Properties"]
    assert secret["GenerateSecretString"]["PasswordLength"] >= 32 and secret["KmsKeyId"] == {"Ref": "StackKey"}
    variables = ec2_stack.resources["ApiFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["CURSOR_SIGNING_KEY"] == {"Fn::Sub": "{{resolve:secretsmanager:${CursorSigningKey}:SecretString}}"}
    script = ec2_stack.resources["FlaskLaunchTemplate"]["Properties"]["LaunchTemplateData"]["UserData"]["Fn::Base64"][
        "Fn::Sub"
    ][0]
    assert "install -m 600 /dev/null /etc/student-records/env" in script
    assert "--secret-id ${CursorSigningKey}" in script

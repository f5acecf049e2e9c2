"""CI/CD as code (docs/ci-cd.md). The GitHub Actions workflows pass actionlint, with ShellCheck on their scripts,
and keep the rules that matter: every action pinned to a commit, no stored AWS keys, an OIDC token only for the
jobs that assume the deploy role, production after staging's end-to-end suite and behind its environment. The
bootstrap template (infra/bootstrap.yaml) passes cfn-lint and checkov, trusts only this repository's main and its
two environments, lets the deploy role do what the pipeline does and no more, and gives CloudFormation's execution
role every service template.yaml uses."""

import ast
import copy
import fnmatch
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml
from botocore import xform_name

from infra.render import load_template
from tests.infra.stack_view import StackView
from tests.infra.test_cloudformation import SampleResolver
from tests.infra.tools import REGION, REPO_ROOT, run_tool, tool

WORKFLOWS = sorted((REPO_ROOT / ".github" / "workflows").glob("*.yml"))
ACTIONS = sorted((REPO_ROOT / ".github" / "actions").glob("*/action.yml"))
BOOTSTRAP = REPO_ROOT / "infra" / "bootstrap.yaml"
CONFIGURE_AWS_CREDENTIALS = "aws-actions/configure-aws-credentials"
ENVIRONMENTS = {"staging", "production"}
REPOSITORY = {"GitHubOrg": "octo-org", "GitHubRepo": "octo-repo"}
REPOSITORY_IDS = {"GitHubOrgId": "123456", "GitHubRepoId": "789012"}


def load_yaml(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    if True in document:  # YAML 1.1 reads the key `on` as a boolean
        document["on"] = document.pop(True)
    return document


def workflow(name: str) -> dict[str, Any]:
    return load_yaml(REPO_ROOT / ".github" / "workflows" / name)


def steps_of(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The steps of a workflow's jobs, or of a composite action."""
    if "runs" in document:
        yield from document["runs"]["steps"]
    for job in document.get("jobs", {}).values():
        yield from job.get("steps", [])


# --- the workflows ---------------------------------------------------------------------------------------------


def actionlint(*paths: Path | str) -> subprocess.CompletedProcess:
    # ShellCheck from .tools, named, so that the result does not depend on what PATH holds; pyflakes off: no step
    # runs inline Python (the project's modules run as commands, and are tested as code).
    return run_tool(
        [tool("actionlint"), "-no-color", "-oneline", "-shellcheck", tool("shellcheck"), "-pyflakes=", *paths]
    )


def test_actionlint_passes_on_the_workflows_with_shellcheck_on_their_scripts():
    # Given the workflows (they use the composite action, which actionlint reads for its inputs)
    assert WORKFLOWS and ACTIONS
    # When actionlint checks them
    result = actionlint(*WORKFLOWS)
    # Then it reports nothing
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_actionlint_reports_script_injection_and_shellcheck_findings(tmp_path):
    # Given a workflow that puts a pull request's title into a script and leaves a variable unquoted
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        "on: pull_request\n"
        "jobs:\n"
        "  bad:\n"
        "    runs-on: ubuntu-24.04\n"
        "    steps:\n"
        '      - run: echo "${{ github.event.pull_request.title }}"\n'
        "      - run: cp $SOURCE target\n"
    )
    # When actionlint checks it
    result = actionlint(bad)
    # Then both are reported, so the check of the real workflows is a real one
    assert result.returncode == 1
    assert "potentially untrusted" in result.stdout and "[expression]" in result.stdout
    assert "SC2086" in result.stdout and "[shellcheck]" in result.stdout


def test_every_action_is_pinned_to_a_full_commit_with_its_version_named():
    # Given every `uses:` of the workflows and the composite action, as written
    pinned = re.compile(r"^\s*(- )?uses: [\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40} # v\d+(\.\d+)*$")
    local = re.compile(r"^\s*(- )?uses: \./\.github/(actions/[\w-]+|workflows/[\w-]+\.yml)$")
    lines = [
        (path.name, line)
        for path in WORKFLOWS + ACTIONS
        for line in path.read_text(encoding="utf-8").splitlines()
        if re.match(r"^\s*(- )?uses:", line)
    ]
    # Then each is local, or names a commit by its full SHA with the release it is in a comment
    assert [(name, line) for name, line in lines if not (pinned.match(line) or local.match(line))] == []
    assert any(pinned.match(line) for _, line in lines)
    # And none is written in a form the line check would miss
    parsed = [step["uses"] for path in WORKFLOWS + ACTIONS for step in steps_of(load_yaml(path)) if "uses" in step]
    called = [job["uses"] for path in WORKFLOWS for job in load_yaml(path)["jobs"].values() if "uses" in job]
    assert len(parsed) + len(called) == len(lines)


def test_no_long_lived_aws_keys_and_the_deploy_role_assumed_through_oidc():
    # Given the workflows and actions as text
    texts = {path.name: path.read_text(encoding="utf-8") for path in WORKFLOWS + ACTIONS}
    # Then none names stored keys, or any secret at all (the pipeline needs none)
    for name, text in texts.items():
        for forbidden in (
            "aws-access-key-id",
            "aws-secret-access-key",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "aws-session-token",
            "secrets.",
        ):
            assert forbidden not in text, f"{name} names {forbidden}"
    # And every credentials step assumes the deploy role with the job's OIDC token, and nothing else
    credentials = [
        step
        for path in WORKFLOWS
        for step in steps_of(load_yaml(path))
        if step.get("uses", "").startswith(CONFIGURE_AWS_CREDENTIALS)
    ]
    assert len(credentials) >= 2
    for step in credentials:
        assert step["with"]["role-to-assume"] == "${{ vars.AWS_DEPLOY_ROLE_ARN }}"
        assert set(step["with"]) <= {"role-to-assume", "aws-region", "role-session-name", "role-duration-seconds"}


def _assumes_the_deploy_role(job: dict[str, Any]) -> bool:
    """The job's steps call configure-aws-credentials, or it calls a workflow of this repository that does."""
    if "uses" in job:
        called = load_yaml(REPO_ROOT / job["uses"])
        return any(_assumes_the_deploy_role(called_job) for called_job in called["jobs"].values())
    return any(step.get("uses", "").startswith(CONFIGURE_AWS_CREDENTIALS) for step in job.get("steps", []))


def test_an_oidc_token_only_for_the_jobs_that_assume_the_deploy_role():
    for path in WORKFLOWS:
        document = load_yaml(path)
        # Given each workflow: by default, its jobs may read the repository and nothing more
        assert document["permissions"] in ({}, {"contents": "read"}), path.name
        for name, job in document["jobs"].items():
            permissions = job.get("permissions", document["permissions"])
            # Then no job writes anything through GITHUB_TOKEN
            assert set(permissions.items()) <= {("contents", "read"), ("id-token", "write")}, (path.name, name)
            # And a job may ask for an OIDC token exactly when it assumes the deploy role
            assert (permissions.get("id-token") == "write") == _assumes_the_deploy_role(job), (path.name, name)


def test_pull_requests_run_make_test_and_main_deploys_after_it():
    # Given the test workflow: pull requests to main (never pull_request_target: a fork's code would run with the
    # base repository's token), and callable by the deploy workflow
    test = workflow("test.yml")
    assert test["on"] == {"pull_request": {"branches": ["main"]}, "workflow_call": None}
    [job] = test["jobs"].values()
    assert job["runs-on"] == "ubuntu-24.04"
    assert [step["run"] for step in job["steps"] if "run" in step] == ["${{ matrix.make }}"]
    [setup_step] = [step for step in job["steps"] if step.get("uses") == "./.github/actions/setup"]
    assert setup_step["with"] == {"python-version": "${{ matrix.python }}"}
    # And make test runs on the project's Python with the Lambda runtime's python3.12, and on the newest Python
    # with none named (the README's promise: any Python >= 3.11 on a fresh machine)
    legs = {leg["python"]: leg["make"] for leg in job["strategy"]["matrix"]["include"]}
    assert legs == {"3.11": "make test", "3.13": "make test PYTHON312="}
    assert job["strategy"]["fail-fast"] is False
    # And the setup action sets up the Python it is given (3.11 unless told) last, so that it is python3; 3.12 is
    # there for sam build
    action = load_yaml(REPO_ROOT / ".github" / "actions" / "setup" / "action.yml")
    pythons = [
        step["with"]["python-version"]
        for step in action["runs"]["steps"]
        if step.get("uses", "").startswith("actions/setup-python@")
    ]
    assert pythons == ["3.12", "${{ inputs.python-version }}"]
    assert action["inputs"]["python-version"]["default"] == "3.11"
    # And the deploy workflow: on push to main and by hand, the tests first, then package, staging, production
    deploy = workflow("deploy.yml")
    assert deploy["on"] == {"push": {"branches": ["main"]}, "workflow_dispatch": None}
    jobs = deploy["jobs"]
    assert jobs["test"]["uses"] == "./.github/workflows/test.yml"
    assert jobs["package"]["needs"] == "test"
    assert jobs["staging"]["needs"] == "package"
    assert jobs["production"]["needs"] == "staging"


def test_production_is_deployed_behind_its_environment_after_staging_passed_the_end_to_end_suite():
    # Given the deploy workflow's calls of deploy-stack.yml
    jobs = workflow("deploy.yml")["jobs"]
    calls = {
        job["with"]["environment"]: job
        for job in jobs.values()
        if job.get("uses") == "./.github/workflows/deploy-stack.yml"
    }
    assert set(calls) == ENVIRONMENTS
    assert calls["staging"]["with"]["end-to-end"] is True
    assert calls["production"]["with"]["end-to-end"] is False
    # And the called job: in the environment it is given (required reviewers guard production), deploying the
    # package the package job uploaded, then the end-to-end suite when asked
    [deploy] = workflow("deploy-stack.yml")["jobs"].values()
    assert deploy["environment"]["name"] == "${{ inputs.environment }}"
    steps = deploy["steps"]
    uploaded = next(step for step in jobs["package"]["steps"] if step.get("uses", "").startswith("actions/upload"))
    downloaded = next(step for step in steps if step.get("uses", "").startswith("actions/download-artifact"))
    assert downloaded["with"]["name"] == uploaded["with"]["name"]
    sam_deploy = next(step for step in steps if step.get("id") == "deploy")
    assert "--template-file packaged.yaml" in sam_deploy["run"]
    assert '--role-arn "$EXECUTION_ROLE_ARN"' in sam_deploy["run"]
    assert "--no-confirm-changeset" in sam_deploy["run"]
    e2e = next(step for step in steps if step.get("run") == 'make e2e STACK="$STACK"')
    assert e2e["if"] == "inputs.end-to-end"
    assert steps.index(sam_deploy) < steps.index(e2e)
    # And a failed deployment shows the stack's failed events
    events = next(step for step in steps if "describe-stack-events" in step.get("run", ""))
    assert events["if"] == "failure() && steps.deploy.outcome == 'failure'"


def test_the_stacks_deployed_are_the_two_the_bootstrap_lets_the_deploy_role_change():
    # Given the stack names the deploy workflow passes, and the bootstrap's defaults
    jobs = workflow("deploy.yml")["jobs"]
    deployed = {job["with"]["environment"]: job["with"]["stack-name"] for job in jobs.values() if "with" in job}
    parameters = load_template(BOOTSTRAP)["Parameters"]
    # Then they are the same
    assert deployed == {
        "staging": parameters["StagingStackName"]["Default"],
        "production": parameters["ProductionStackName"]["Default"],
    }


def test_runs_are_bounded_and_a_superseded_pull_request_run_is_cancelled():
    for path in WORKFLOWS:
        for name, job in load_yaml(path)["jobs"].items():
            # Then every job that runs on a runner has a timeout
            assert "runs-on" not in job or 0 < job["timeout-minutes"] <= 120, (path.name, name)
    # And a new push to a pull request cancels its previous run, while a run on main is never cancelled; each Python
    # in a group of its own (one group would have each cancel the other)
    [test] = workflow("test.yml")["jobs"].values()
    assert test["concurrency"] == {
        "group": "test-${{ github.event.pull_request.number || github.sha }}-python${{ matrix.python }}",
        "cancel-in-progress": "${{ github.event_name == 'pull_request' }}",
    }
    # And deployments run one at a time, never cancelled halfway
    assert workflow("deploy.yml")["concurrency"] == {"group": "deploy", "cancel-in-progress": False}


def test_the_caches_are_keyed_on_what_decides_the_environments(tmp_path):
    # Given the composite action's caches
    action = load_yaml(REPO_ROOT / ".github" / "actions" / "setup" / "action.yml")
    caches = {
        step["with"]["path"]: step["with"]["key"]
        for step in action["runs"]["steps"]
        if step.get("uses", "").startswith("actions/cache@")
    }
    assert set(caches) == {".venv", ".tools"}
    # Then each key holds the exact Python, and the files that decide the environment's contents
    for key in caches.values():
        assert "${{ steps.python.outputs.python-version }}" in key
    assert "hashFiles('pyproject.toml', 'requirements.lock')" in caches[".venv"]
    assert "${{ steps.tool-pins.outputs.hash }}" in caches[".tools"]
    # (Spectral, in .tools/ too, is installed at package-lock.json's versions)
    assert "hashFiles('package.json', 'package-lock.json')" in caches[".tools"]
    # And the pins' hash covers every *_TOOLS list the Makefile installs, and nothing else of the Makefile
    pins_step = next(step for step in action["runs"]["steps"] if step.get("id") == "tool-pins")
    makefile = (REPO_ROOT / "Makefile").read_text(encoding="utf-8")
    installed = set(re.findall(r"pip install [^\n]*\$\((\w+_TOOLS)\)", makefile))
    hashed = set(re.findall(r"^([A-Z0-9_]+_TOOLS)\s*:=", makefile, re.MULTILINE))
    assert installed and installed == hashed

    def pins_hash(text: str) -> str:
        (tmp_path / "Makefile").write_text(text, encoding="utf-8")
        output = tmp_path / "output"
        output.write_text("")
        subprocess.run(
            ["bash", "-eo", "pipefail", "-c", pins_step["run"]],
            cwd=tmp_path,
            check=True,
            env={"GITHUB_OUTPUT": str(output), "PATH": "/usr/bin:/bin"},
        )
        return output.read_text()

    before = pins_hash(makefile)
    assert re.fullmatch(r"hash=[0-9a-f]{16}\n", before)
    assert pins_hash(makefile.replace("checkov==", "checkov==0")) != before
    assert pins_hash(makefile + "\n# an unrelated line\n") == before


# --- the bootstrap template -----------------------------------------------------------------------------------


def test_cfn_lint_passes_on_the_bootstrap_informational_rules_included():
    result = run_tool([tool("cfn-lint"), "--include-checks", "I", "--", BOOTSTRAP])
    assert result.returncode == 0, result.stdout + result.stderr


def checkov_failures(path: Path) -> list[tuple[str, str]]:
    result = run_tool([tool("checkov"), "--skip-download", "--framework", "cloudformation", "-o", "json", "-f", path])
    report = json.loads(result.stdout)
    results = (report[0] if isinstance(report, list) else report)["results"]
    assert results["passed_checks"]
    return sorted((check["check_id"], check["resource"].split(".", 1)[1]) for check in results["failed_checks"])


def test_checkov_passes_on_the_bootstrap_and_every_skip_is_needed_and_says_why(tmp_path):
    # Given the skips the bootstrap declares, each with its reason
    template = load_template(BOOTSTRAP)
    declared = sorted(
        (skip["id"], logical_id)
        for logical_id, resource in template["Resources"].items()
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
        if len(skip.get("comment", "")) > 40
    )
    # When checkov scans it as written; Then nothing fails
    assert checkov_failures(BOOTSTRAP) == []
    # And without the skips, exactly the skipped findings fail: none is stale, none without a reason
    bare = copy.deepcopy(template)
    for resource in bare["Resources"].values():
        resource.get("Metadata", {}).pop("checkov", None)
    path = tmp_path / "bootstrap.json"
    path.write_text(json.dumps(bare))
    assert checkov_failures(path) == declared


def bootstrap_view(**parameters: str) -> tuple[StackView, SampleResolver]:
    """The bootstrap as CloudFormation would deploy it for these parameters, with a resolver of its intrinsics."""
    template = load_template(BOOTSTRAP)
    view = StackView(template, REPOSITORY | parameters)
    resolver = SampleResolver(template, {})
    resolver.parameters, resolver.conditions = view.parameters, view.conditions
    return view, resolver


def statements(view: StackView, resolver: SampleResolver, role: str) -> list[dict[str, Any]]:
    return [
        resolver.resolve(statement)
        for policy in view.resources[role]["Properties"]["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
    ]


def trust_statements(view: StackView, resolver: SampleResolver) -> list[dict[str, Any]]:
    document = view.resources["GitHubDeployRole"]["Properties"]["AssumeRolePolicyDocument"]
    return resolver.resolve(document)["Statement"]


def as_list(value: str | list[str]) -> list[str]:
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize(
    ("ids", "prefix"), [({}, "repo:octo-org/octo-repo"), (REPOSITORY_IDS, "repo:octo-org@123456/octo-repo@789012")]
)
def test_the_deploy_role_trusts_only_this_repositorys_main_and_its_two_environments(ids, prefix):
    # Given the bootstrap for octo-org/octo-repo, with the name-only or the immutable subject
    view, resolver = bootstrap_view(**ids)
    [trust] = trust_statements(view, resolver)
    # Then only GitHub's tokens, for STS, may assume it
    assert trust["Effect"] == "Allow" and trust["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert trust["Principal"] == {"Federated": resolver.ref("GitHubOidcProvider")}
    assert set(trust["Condition"]) == {"StringEquals"}
    assert trust["Condition"]["StringEquals"]["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"
    # And only with the subject of this repository's main, or of its staging or production environment, exactly
    subjects = trust["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"]
    assert sorted(subjects) == sorted(
        [f"{prefix}:ref:refs/heads/main", f"{prefix}:environment:staging", f"{prefix}:environment:production"]
    )
    assert not any("*" in subject or "?" in subject for subject in subjects)


def test_the_oidc_provider_is_githubs_for_sts_or_the_accounts_existing_one():
    # Given no provider named; Then the bootstrap creates GitHub's, for STS, without a thumbprint
    view, _ = bootstrap_view()
    assert view.resources["GitHubOidcProvider"]["Properties"] == {
        "Url": "https://token.actions.githubusercontent.com",
        "ClientIdList": ["sts.amazonaws.com"],
    }
    # Given the account's provider; Then it creates none and the role trusts that one
    existing = "arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com"
    view, resolver = bootstrap_view(ExistingOidcProviderArn=existing)
    assert "GitHubOidcProvider" not in view.resources
    [trust] = trust_statements(view, resolver)
    assert trust["Principal"] == {"Federated": existing}


def test_the_deploy_role_changes_the_two_stacks_only_through_cloudformation_and_its_execution_role():
    view, resolver = bootstrap_view()
    allowed = [
        statement for statement in statements(view, resolver, "GitHubDeployRole") if statement["Effect"] == "Allow"
    ]
    actions = [action for statement in allowed for action in as_list(statement["Action"])]
    # Then it names every action (no wildcard) and acts on no service beyond the pipeline's
    assert not any("*" in action for action in actions)
    assert {action.split(":")[0] for action in actions} == {
        "cloudformation",
        "iam",
        "s3",
        "ssm",
        "cognito-idp",
        "cloudwatch",
        "xray",
        "logs",
    }
    # And it never creates, updates or deletes a stack outright: only change sets
    assert not {"cloudformation:CreateStack", "cloudformation:UpdateStack", "cloudformation:DeleteStack"} & set(actions)
    stacks = {
        f"arn:aws:cloudformation:{REGION}:123456789012:stack/{name}/*"
        for name in ("student-records-staging", "student-records")
    }
    transform = f"arn:aws:cloudformation:{REGION}:aws:transform/Serverless-2016-10-31"
    execution_role = resolver.attribute("CloudFormationExecutionRole", "Arn")
    for statement in allowed:
        statement_actions = as_list(statement["Action"])
        resources = set(as_list(statement["Resource"]))
        if any(action.startswith("cloudformation:") for action in statement_actions):
            # And CloudFormation only on the two stacks (and the SAM transform, for change sets)
            assert resources == stacks or (
                statement_actions == ["cloudformation:CreateChangeSet"] and resources == {transform}
            ), statement
        if "cloudformation:CreateChangeSet" in statement_actions and resources == stacks:
            # And a change set only with the execution role
            assert statement["Condition"] == {"StringEquals": {"cloudformation:RoleArn": execution_role}}
        if any(action.startswith("iam:") for action in statement_actions):
            # And it may pass the execution role, to CloudFormation, and no other role anywhere
            assert statement_actions == ["iam:PassRole"] and resources == {execution_role}
            assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": "cloudformation.amazonaws.com"}}
        if any(action.startswith("s3:") for action in statement_actions):
            # And S3 only in the artifacts bucket
            bucket = resolver.attribute("ArtifactsBucket", "Arn")
            assert resources <= {bucket, f"{bucket}/*"}, statement


def aws_calls_of(package: Path) -> set[str]:
    """The IAM actions of the AWS API calls a package's modules make on the boto3 clients they create: each
    client method (or paginator) named after an operation of one of those clients' services."""
    session = boto3.session.Session(region_name=REGION)
    trees = [ast.parse(path.read_text(encoding="utf-8")) for path in sorted(package.glob("*.py"))]
    services: set[str] = set()
    for tree in trees:
        for node in ast.walk(tree):
            creations = [node.elt] if isinstance(node, (ast.GeneratorExp, ast.ListComp)) else [node]
            if any(isinstance(call, ast.Call) and ast.unparse(call.func) == "boto3.client" for call in creations):
                services |= {
                    constant.value
                    for constant in ast.walk(node)
                    if isinstance(constant, ast.Constant) and constant.value in session.get_available_services()
                }
    operations: dict[str, set[str]] = {}
    for service in services:
        for operation in session._session.get_service_model(service).operation_names:
            operations.setdefault(xform_name(operation), set()).add(f"{service}:{operation}")
    calls = set()
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                method = node.func.attr
                if method == "get_paginator" and node.args and isinstance(node.args[0], ast.Constant):
                    method = node.args[0].value
                calls |= operations.get(method, set())
    return calls


def test_the_deploy_role_allows_every_aws_call_of_make_e2e():
    # Given the AWS calls of deployed/ (make e2e STACK=..., and the users it makes)
    calls = aws_calls_of(REPO_ROOT / "deployed")
    assert {"cloudformation:DescribeStacks", "cognito-idp:AdminCreateUser", "logs:StartQuery"} <= calls
    # Then the deploy role allows each
    view, resolver = bootstrap_view()
    allowed = {
        action
        for statement in statements(view, resolver, "GitHubDeployRole")
        if statement["Effect"] == "Allow"
        for action in as_list(statement["Action"])
    }
    assert sorted(calls - allowed) == []


# IAM's service prefix of each service whose resources template.yaml declares (AWS::<Service>::...).
# AWS::CloudFormation's own types (a wait condition handle) need no permission.
SERVICE_PREFIXES = {
    "ApiGateway": "apigateway",
    "ApplicationSignals": "application-signals",
    "AutoScaling": "autoscaling",
    "CloudWatch": "cloudwatch",
    "CodeDeploy": "codedeploy",
    "Cognito": "cognito-idp",
    "EC2": "ec2",
    "ElasticLoadBalancingV2": "elasticloadbalancing",
    "Events": "events",
    "IAM": "iam",
    "KMS": "kms",
    "Lambda": "lambda",
    "Logs": "logs",
    "RDS": "rds",
    "S3": "s3",
    "SecretsManager": "secretsmanager",
    "SNS": "sns",
    "WAFv2": "wafv2",
    "XRay": "xray",
}


@pytest.mark.parametrize("variant", ["transformed_template", "transformed_with_ec2_door"])
def test_the_execution_role_covers_every_service_template_yaml_uses(variant, request):
    # Given the resource types CloudFormation receives after the SAM transform
    transformed = request.getfixturevalue(variant)
    types = {resource["Type"] for resource in transformed["Resources"].values()}
    unknown = (
        {kind.split("::")[1] for kind in types if kind.startswith("AWS::")} - set(SERVICE_PREFIXES) - {"CloudFormation"}
    )
    assert not unknown, f"template.yaml uses {unknown}: give infra/bootstrap.yaml's execution role what they need"
    needed = {SERVICE_PREFIXES[kind.split("::")[1]] for kind in types if kind.split("::")[1] in SERVICE_PREFIXES}
    # Custom resources are Lambda functions CloudFormation invokes with the execution role.
    needed |= {"lambda"} if any(kind.startswith("Custom::") for kind in types) else set()
    # Then the execution role allows actions of each of those services
    view, resolver = bootstrap_view()
    allowed = [
        action
        for statement in statements(view, resolver, "CloudFormationExecutionRole")
        if statement["Effect"] == "Allow"
        for action in as_list(statement["Action"])
    ]
    assert sorted(service for service in needed if not any(action.split(":")[0] == service for action in allowed)) == []
    # And the stacks' buckets get the generated names its S3 statement covers (<stack>-<logical id>-<suffix>,
    # whole within S3's 63 characters for the longer stack name)
    buckets = [
        logical_id for logical_id, resource in transformed["Resources"].items() if resource["Type"] == "AWS::S3::Bucket"
    ]
    for logical_id in buckets:
        assert "BucketName" not in transformed["Resources"][logical_id]["Properties"]
        assert len(f"student-records-staging-{logical_id.lower()}-") + 13 <= 63


def test_the_execution_role_is_cloudformations_alone_and_cannot_touch_the_bootstrap():
    view, resolver = bootstrap_view()
    role = view.resources["CloudFormationExecutionRole"]["Properties"]
    # Then only CloudFormation can assume it
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust == {
        "Effect": "Allow",
        "Principal": {"Service": "cloudformation.amazonaws.com"},
        "Action": "sts:AssumeRole",
    }
    # And whatever template it deploys, it can change neither the bootstrap's roles nor GitHub's provider
    denied = [
        statement
        for statement in statements(view, resolver, "CloudFormationExecutionRole")
        if statement["Effect"] == "Deny"
    ]
    resources = {
        resource
        for statement in denied
        if statement.get("Action") == "iam:*"
        for resource in as_list(statement["Resource"])
    }
    names = {
        resolver.resolve(view.resources[logical_id]["Properties"]["RoleName"])
        for logical_id in ("GitHubDeployRole", "CloudFormationExecutionRole")
    }
    assert {f"arn:aws:iam::123456789012:role/{name}" for name in names} <= resources
    assert any(
        fnmatch.fnmatch("arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com", resource)
        for resource in resources
    )
    # And in the artifacts bucket (whose name may start like a stack's) it may only read
    bucket = resolver.attribute("ArtifactsBucket", "Arn")
    assert any(
        statement.get("NotAction") == ["s3:GetObject", "s3:GetObjectVersion"]
        and set(as_list(statement["Resource"])) == {bucket, f"{bucket}/*"}
        for statement in denied
    )


def test_the_docs_say_how_to_bootstrap_and_name_each_repository_variable():
    # Given docs/ci-cd.md, and the variables the workflows read
    guide = (REPO_ROOT / "docs" / "ci-cd.md").read_text(encoding="utf-8")
    variables = {name for path in WORKFLOWS for name in re.findall(r"vars\.([A-Z0-9_]+)", path.read_text())}
    # Then the guide deploys the bootstrap and sets every variable
    assert "infra/bootstrap.yaml" in guide
    assert variables and sorted(name for name in variables if name not in guide) == []

"""`make aws-user` and `make aws-token` (python -m deployed.users) against moto's Cognito, the stack's outputs
read from moto's CloudFormation."""

import io
import string

import boto3
import jwt
import pytest

from deployed.users import PASSWORD_LENGTH, generate_password, main
from rest_contract.auth import AuthSettings, build_authenticator
from student_records.access import Role
from tests.deployed.moto_aws import STACK, create_stack, moto_jwks_file

EMAIL = "ada.lovelace@example.org"


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _password_printed(out: str) -> str:
    return next(line.removeprefix("password: ") for line in out.splitlines() if line.startswith("password: "))


def test_create_makes_a_confirmed_student_whose_id_token_the_api_accepts(stack, capsys, monkeypatch, tmp_path):
    # Given a stack with its user pool
    cognito = boto3.client("cognito-idp")
    # When a student user is created, then signs in with the password printed once
    status, out, _ = _run(capsys, "create", "--stack", STACK, "--role", "student", "--email", EMAIL, "--student", "42")
    assert status == 0
    password = _password_printed(out)
    assert "make -s aws-token" in out
    monkeypatch.setenv("PASSWORD", password)
    status, out, err = _run(capsys, "token", "--stack", STACK, "--email", EMAIL)
    # Then the user is confirmed, verified, in the student group, and stdout is the ID token alone
    assert status == 0, err
    user = cognito.admin_get_user(UserPoolId=stack["UserPoolId"], Username=EMAIL)
    attributes = {attribute["Name"]: attribute["Value"] for attribute in user["UserAttributes"]}
    assert user["UserStatus"] == "CONFIRMED"
    assert attributes["email_verified"] == "true" and attributes["custom:student_id"] == "42"
    token = out.strip()
    assert out == token + "\n"
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["token_use"] == "id" and claims["cognito:groups"] == ["student"]
    # And the API's own verifier, trusting the pool's key, identifies the student and their record
    settings = AuthSettings.model_validate(
        {
            "AUTH_ISSUER": stack["UserPoolIssuer"],
            "AUTH_AUDIENCE": stack["UserPoolClientId"],
            "AUTH_JWKS_FILE": str(moto_jwks_file(tmp_path)),
        }
    )
    identity = build_authenticator(settings).identify(f"Bearer {token}")
    assert (identity.role, identity.student_id, identity.subject) == (Role.STUDENT, 42, attributes["sub"])


@pytest.mark.parametrize("role", ["admin", "registrar", "teacher"])
def test_staff_roles_need_no_student_and_get_their_group(stack, capsys, role):
    status, _, err = _run(capsys, "create", "--stack", STACK, "--role", role, "--email", EMAIL)
    assert status == 0, err
    groups = boto3.client("cognito-idp").admin_list_groups_for_user(UserPoolId=stack["UserPoolId"], Username=EMAIL)
    assert [group["GroupName"] for group in groups["Groups"]] == [role]


def test_a_password_from_the_environment_is_used_and_never_printed(stack, capsys, monkeypatch):
    monkeypatch.setenv("PASSWORD", "Chosen-Passw0rd!")
    status, out, _ = _run(capsys, "create", "--stack", STACK, "--role", "registrar", "--email", EMAIL)
    assert status == 0
    assert "Chosen-Passw0rd!" not in out and "password:" not in out
    assert _run(capsys, "token", "--stack", STACK, "--email", EMAIL)[0] == 0


def test_without_password_the_token_command_asks_for_it(stack, capsys, monkeypatch):
    monkeypatch.setenv("PASSWORD", "Chosen-Passw0rd!")
    _run(capsys, "create", "--stack", STACK, "--role", "teacher", "--email", EMAIL)
    monkeypatch.delenv("PASSWORD")
    asked = []
    monkeypatch.setattr("getpass.getpass", lambda prompt: asked.append(prompt) or "Chosen-Passw0rd!")
    status, out, _ = _run(capsys, "token", "--stack", STACK, "--email", EMAIL)
    assert status == 0 and asked == [f"Password for {EMAIL}: "]
    assert jwt.decode(out.strip(), options={"verify_signature": False})["cognito:groups"] == ["teacher"]


def test_an_authenticator_app_code_is_asked_for_on_stderr(stack, capsys, monkeypatch):
    # Given a user who set up TOTP MFA (moto accepts any code unless told to check them)
    monkeypatch.setenv("PASSWORD", "Chosen-Passw0rd!")
    _run(capsys, "create", "--stack", STACK, "--role", "admin", "--email", EMAIL)
    cognito = boto3.client("cognito-idp")
    access_token = cognito.admin_initiate_auth(
        UserPoolId=stack["UserPoolId"],
        ClientId=stack["UserPoolClientId"],
        AuthFlow="ADMIN_USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": EMAIL, "PASSWORD": "Chosen-Passw0rd!"},
    )["AuthenticationResult"]["AccessToken"]
    cognito.associate_software_token(AccessToken=access_token)
    cognito.verify_software_token(AccessToken=access_token, UserCode="123456")
    cognito.admin_set_user_mfa_preference(
        UserPoolId=stack["UserPoolId"], Username=EMAIL, SoftwareTokenMfaSettings={"Enabled": True, "PreferredMfa": True}
    )
    # When a token is asked for, with the code typed in
    monkeypatch.setattr("sys.stdin", io.StringIO("123456\n"))
    status, out, err = _run(capsys, "token", "--stack", STACK, "--email", EMAIL)
    # Then the prompt went to stderr and stdout is the token alone
    assert status == 0, err
    assert "MFA code" in err
    assert jwt.decode(out.strip(), options={"verify_signature": False})["cognito:groups"] == ["admin"]


def test_delete_removes_the_user_and_says_when_there_is_none(stack, capsys):
    _run(capsys, "create", "--stack", STACK, "--role", "admin", "--email", EMAIL)
    assert _run(capsys, "delete", "--stack", STACK, "--email", EMAIL)[0] == 0
    status, _, err = _run(capsys, "delete", "--stack", STACK, "--email", EMAIL)
    assert (status, err) == (1, f"error: no user {EMAIL} in the pool\n")


def test_a_password_the_pool_refuses_leaves_no_user_behind(stack, capsys, monkeypatch):
    monkeypatch.setenv("PASSWORD", "short")
    status, _, err = _run(capsys, "create", "--stack", STACK, "--role", "admin", "--email", EMAIL)
    assert status == 1 and err.startswith("error: the pool refused the password")
    assert boto3.client("cognito-idp").list_users(UserPoolId=stack["UserPoolId"])["Users"] == []


def test_without_a_role_the_roles_are_listed(capsys):
    status, out, _ = _run(capsys, "roles")
    assert status == 0
    assert out.splitlines()[0] == "roles: admin, registrar, teacher, student"


def _expect_one_line_error(capsys, argv: list[str], message: str) -> None:
    status, _out, err = _run(capsys, *argv)
    assert status == 1
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("error: ") and message in err, err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["create", "--stack", STACK, "--role", "dean", "--email", EMAIL],
            "unknown role 'dean'; the roles are admin, registrar, teacher, student",
        ),
        (["create", "--stack", STACK, "--role", "student", "--email", EMAIL], "a student user needs STUDENT=<id>"),
        (
            ["create", "--stack", STACK, "--role", "student", "--email", EMAIL, "--student", "0"],
            "STUDENT must be a positive integer, not '0'",
        ),
        (
            ["create", "--stack", STACK, "--role", "student", "--email", EMAIL, "--student", "S42"],
            "STUDENT must be a positive integer, not 'S42'",
        ),
    ],
)
def test_bad_arguments_are_one_line_errors_before_any_aws_call(capsys, argv, message):
    _expect_one_line_error(capsys, argv, message)  # no AWS here: nothing is mocked, no credentials needed


def test_unknown_stack_is_a_one_line_error(aws, capsys):
    _expect_one_line_error(
        capsys,
        ["token", "--stack", "nowhere", "--email", EMAIL],
        f"no stack named 'nowhere' in {boto3.client('cloudformation').meta.region_name}",
    )


def test_a_stack_without_the_pool_outputs_is_a_one_line_error(aws, capsys):
    create_stack({"ApiUrl": "https://api.example.org/v1"}, name="someone-elses")
    _expect_one_line_error(
        capsys,
        ["token", "--stack", "someone-elses", "--email", EMAIL],
        "stack 'someone-elses' has no output UserPoolId, UserPoolClientId",
    )


def test_an_existing_user_is_a_one_line_error(stack, capsys):
    _run(capsys, "create", "--stack", STACK, "--role", "admin", "--email", EMAIL)
    _expect_one_line_error(
        capsys, ["create", "--stack", STACK, "--role", "admin", "--email", EMAIL], f"a user {EMAIL} already exists"
    )


def test_a_wrong_password_is_a_one_line_error(stack, capsys, monkeypatch):
    _run(capsys, "create", "--stack", STACK, "--role", "admin", "--email", EMAIL)
    monkeypatch.setenv("PASSWORD", "Not-the-passw0rd!")
    _expect_one_line_error(capsys, ["token", "--stack", STACK, "--email", EMAIL], f"sign-in refused for {EMAIL}")


def test_missing_credentials_are_a_one_line_error(capsys, monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance role to find here
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)  # one made earlier holds the credentials it found
    _expect_one_line_error(capsys, ["token", "--stack", STACK, "--email", EMAIL], "no AWS credentials")


def test_generated_passwords_have_every_character_class():
    passwords = {generate_password() for _ in range(50)}
    assert len(passwords) == 50
    for password in passwords:
        assert len(password) == PASSWORD_LENGTH
        for characters in (string.ascii_uppercase, string.ascii_lowercase, string.digits):
            assert any(character in characters for character in password)
        assert any(not character.isalnum() for character in password)

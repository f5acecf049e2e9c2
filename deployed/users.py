"""Users of a deployed stack's Cognito user pool, and their ID tokens: the deployed twin of `make token`.

    python -m deployed.users roles
    python -m deployed.users create --stack S --role R --email E [--student ID]   (`make aws-user`)
    python -m deployed.users token --stack S --email E                           (`make aws-token`)
    python -m deployed.users delete --stack S --email E

`create` makes a confirmed user (username = e-mail, e-mail verified, no invitation sent) in the role's group,
with `custom:student_id` when --student is given, and a permanent password: PASSWORD from the environment,
else a generated one, printed once. `token` signs in with ADMIN_USER_PASSWORD_AUTH (PASSWORD, else asked
for), answers an authenticator-app MFA challenge when the user has one, and prints only the ID token on
stdout, the token the API accepts as `Authorization: Bearer <token>`.
"""

import argparse
import getpass
import os
import secrets
import string
import sys
from collections.abc import Callable

import boto3
from botocore.exceptions import ClientError

from rest_contract.identity import STUDENT_ID_CLAIM
from student_records.access import Role

from .stack import USER_POOL_OUTPUTS, DeployedError, error_code, one_line_aws_errors, stack_outputs

ROLES = [role.value for role in Role]
PASSWORD_LENGTH = 24
# Cognito's accepted symbols, without the ones a shell or a terminal copy would trip over.
_PASSWORD_SYMBOLS = "!#%+-=_.,:~@^*"
_PASSWORD_CLASSES = (string.ascii_uppercase, string.ascii_lowercase, string.digits, _PASSWORD_SYMBOLS)


def generate_password() -> str:
    """Random, with every character class a Cognito password policy may require."""
    rng = secrets.SystemRandom()
    alphabet = "".join(_PASSWORD_CLASSES)
    characters = [rng.choice(chars) for chars in _PASSWORD_CLASSES]
    characters += [rng.choice(alphabet) for _ in range(PASSWORD_LENGTH - len(characters))]
    rng.shuffle(characters)
    return "".join(characters)


def check_role(role: str, student_id: int | None) -> None:
    if role not in ROLES:
        raise DeployedError(f"unknown role {role!r}; the roles are {', '.join(ROLES)}")
    if role == Role.STUDENT and student_id is None:
        raise DeployedError("a student user needs STUDENT=<id>, the student record that is theirs")


def create_user(cognito, pool_id: str, email: str, role: str, password: str, student_id: int | None = None) -> str:
    """A confirmed user in the role's group with a permanent password; returns its `sub`. Nothing is left
    behind when a step after the creation fails (a password the pool's policy refuses, say)."""
    check_role(role, student_id)
    attributes = [{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}]
    if student_id is not None:
        attributes.append({"Name": STUDENT_ID_CLAIM, "Value": str(student_id)})
    try:
        user = cognito.admin_create_user(
            UserPoolId=pool_id, Username=email, UserAttributes=attributes, MessageAction="SUPPRESS"
        )["User"]
    except ClientError as error:
        if error_code(error) == "UsernameExistsException":
            raise DeployedError(f"a user {email} already exists in the pool") from None
        raise
    try:
        cognito.admin_add_user_to_group(UserPoolId=pool_id, Username=email, GroupName=role)
        cognito.admin_set_user_password(UserPoolId=pool_id, Username=email, Password=password, Permanent=True)
    except ClientError as error:
        cognito.admin_delete_user(UserPoolId=pool_id, Username=email)
        if error_code(error) == "InvalidPasswordException":
            raise DeployedError(f"the pool refused the password: {error.response['Error']['Message']}") from None
        if error_code(error) == "ResourceNotFoundException":
            raise DeployedError(f"the pool has no group {role!r}: is it this project's user pool?") from None
        raise
    return next(attribute["Value"] for attribute in user["Attributes"] if attribute["Name"] == "sub")


def delete_user(cognito, pool_id: str, email: str) -> bool:
    """Deletes the user; False when there was none."""
    try:
        cognito.admin_delete_user(UserPoolId=pool_id, Username=email)
    except ClientError as error:
        if error_code(error) == "UserNotFoundException":
            return False
        raise
    return True


def id_token(cognito, pool_id: str, client_id: str, email: str, password: str, ask_mfa_code: Callable[[], str]) -> str:
    """Signs in as the user; an authenticator-app (TOTP) challenge is answered with ask_mfa_code()."""
    try:
        answer = cognito.admin_initiate_auth(
            UserPoolId=pool_id,
            ClientId=client_id,
            AuthFlow="ADMIN_USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": email, "PASSWORD": password},
        )
        if answer.get("ChallengeName") == "SOFTWARE_TOKEN_MFA":
            answer = cognito.admin_respond_to_auth_challenge(
                UserPoolId=pool_id,
                ClientId=client_id,
                ChallengeName="SOFTWARE_TOKEN_MFA",
                Session=answer["Session"],
                ChallengeResponses={"USERNAME": email, "SOFTWARE_TOKEN_MFA_CODE": ask_mfa_code()},
            )
    except ClientError as error:
        if error_code(error) in ("NotAuthorizedException", "UserNotFoundException"):
            raise DeployedError(f"sign-in refused for {email}: {error.response['Error']['Message']}") from None
        if error_code(error) == "CodeMismatchException":
            raise DeployedError("wrong MFA code") from None
        raise
    if "AuthenticationResult" not in answer:
        raise DeployedError(
            f"Cognito asks for {answer.get('ChallengeName')}, which this command does not answer"
            " (sign in once through the app to finish setting up the user)"
        )
    return answer["AuthenticationResult"]["IdToken"]


def _prompt(text: str) -> str:
    """Asks on stderr, so that stdout carries only the token."""
    print(text, end="", file=sys.stderr, flush=True)
    return sys.stdin.readline().strip()


def _student_id(text: str | None) -> int | None:
    if text is None:
        return None
    if not text.isdecimal() or int(text) < 1:
        raise DeployedError(f"STUDENT must be a positive integer, not {text!r}")
    return int(text)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m deployed.users", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("roles", help="list the roles a user may have")
    for name, help_text in (
        ("create", "create a user with a role"),
        ("token", "print a user's ID token"),
        ("delete", "delete a user"),
    ):
        command = commands.add_parser(name, help=help_text)
        command.add_argument("--stack", required=True, help="the deployed stack's name")
        command.add_argument("--email", required=True, help="the user's e-mail, which is also their user name")
        if name == "create":
            command.add_argument("--role", required=True, help=f"one of {', '.join(ROLES)}")
            command.add_argument("--student", help="custom:student_id, required for students")
    return parser


def _create(cognito, outputs: dict[str, str], args: argparse.Namespace, student_id: int | None) -> None:
    chosen = os.environ.get("PASSWORD")
    password = chosen or generate_password()
    create_user(cognito, outputs["UserPoolId"], args.email, args.role, password, student_id)
    print(f"created {args.email} ({args.role}{f', student {student_id}' if student_id else ''})")
    if not chosen:
        print(f"password: {password}")
        print(
            f"This password is shown once: keep it. Sign in with: make -s aws-token STACK={args.stack}"
            f" EMAIL={args.email}"
        )


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "roles":
        print(f"roles: {', '.join(ROLES)}")
        print("usage: make aws-user STACK=<stack> ROLE=<role> EMAIL=<e-mail> [STUDENT=<student id>]")
        return 0
    try:
        if args.command == "create":
            student_id = _student_id(args.student)
            check_role(args.role, student_id)  # before any AWS call: a typo needs no credentials
        outputs = stack_outputs(args.stack, USER_POOL_OUTPUTS)
        with one_line_aws_errors():
            cognito = boto3.client("cognito-idp")
            if args.command == "create":
                _create(cognito, outputs, args, student_id)
            elif args.command == "token":
                password = os.environ.get("PASSWORD") or getpass.getpass(f"Password for {args.email}: ")
                print(
                    id_token(
                        cognito,
                        outputs["UserPoolId"],
                        outputs["UserPoolClientId"],
                        args.email,
                        password,
                        lambda: _prompt("MFA code from the authenticator app: "),
                    )
                )
            elif not delete_user(cognito, outputs["UserPoolId"], args.email):
                raise DeployedError(f"no user {args.email} in the pool")
            else:
                print(f"deleted {args.email}")
    except DeployedError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

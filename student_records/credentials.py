"""Where the database password comes from, and how it is renewed.

Locally and in tests: from the environment (or none, with trust authentication). In AWS: the
RDS-managed master secret in Secrets Manager, read once per process and read again when the database
refuses it (the secret was rotated); or an IAM authentication token, made when needed and renewed
before its 15 minutes run out.
"""

import time
from typing import Any, Protocol, cast


class PasswordSource(Protocol):
    def password(self) -> str | None: ...

    def refresh(self) -> None:
        """Called after the database refused the password: the next password() must not be the cached one."""


class StaticPassword:
    def __init__(self, value: str | None) -> None:
        self._value = value

    def password(self) -> str | None:
        return self._value

    def refresh(self) -> None:
        """Nothing to renew: a fixed password stays what it is."""


class SecretsManagerPassword:
    """The password field of a Secrets Manager secret (the RDS-managed one holds username and password)."""

    def __init__(self, secret_arn: str) -> None:
        self._secret_arn = secret_arn
        self._secret: dict[str, Any] | None = None

    def username(self) -> str:
        return cast(str, self._read()["username"])

    def password(self) -> str | None:
        return cast(str | None, self._read()["password"])

    def refresh(self) -> None:
        self._secret = None
        self._read(force_fetch=True)

    def _read(self, force_fetch: bool = False) -> dict[str, Any]:
        if self._secret is None or force_fetch:
            from aws_lambda_powertools.utilities.parameters import get_secret

            # object: Powertools types a JSON transform's result as a dict; a secret holding a JSON list gives a list
            secret: object = get_secret(self._secret_arn, transform="json", force_fetch=force_fetch, max_age=86_400)
            if not isinstance(secret, dict) or not {"username", "password"} <= secret.keys():
                raise ValueError(f"secret {self._secret_arn} has no username and password fields")
            self._secret = secret
        return self._secret


class IamAuthToken:
    """RDS IAM authentication: a signed token instead of a password, valid 15 minutes."""

    RENEW_AFTER_S = 10 * 60

    def __init__(self, host: str, port: int, user: str, region: str) -> None:
        self._request = {"DBHostname": host, "Port": port, "DBUsername": user, "Region": region}
        self._token: str | None = None
        self._made_at = 0.0

    def password(self) -> str | None:
        if self._token is None or time.monotonic() - self._made_at > self.RENEW_AFTER_S:
            import boto3

            self._token = boto3.client("rds", region_name=self._request["Region"]).generate_db_auth_token(
                **self._request
            )
            self._made_at = time.monotonic()
        return self._token

    def refresh(self) -> None:
        self._token = None

"""The database section of the service's settings: where the database is, how to reach it, and the limits every
connection gets. The composition root (application/settings.py) reads it from the environment once; tests build
it directly (`DatabaseSettings(url=...)`)."""

from pathlib import Path
from typing import Any, Literal

from psycopg.conninfo import conninfo_to_dict, make_conninfo
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, model_validator

from .credentials import IamAuthToken, PasswordSource, SecretsManagerPassword, StaticPassword

DEFAULT_MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "sql"


class ConfigurationError(RuntimeError):
    """A setting is missing or wrong; the message names the variable to fix."""


class DatabaseSettings(BaseModel):
    # Built at first use, not at import (a Lambda cold start); each field's docstring is its description, which the
    # README's table is generated from (application/config_table.py).
    model_config = ConfigDict(
        frozen=True, extra="forbid", validate_by_name=True, validate_by_alias=True, defer_build=True
    )

    url: SecretStr | None = Field(None, validation_alias="DATABASE_URL")
    """libpq URI or key=value string of the database; when unset (and no `DB_HOST`) `make run` starts the embedded
    server"""
    host: str | None = Field(None, validation_alias="DB_HOST")
    """the database's host, when no `DATABASE_URL`"""
    port: int = Field(5432, ge=1, le=65535, validation_alias="DB_PORT")
    """with `DB_HOST`"""
    name: str = Field("student_records", validation_alias="DB_NAME")
    """with `DB_HOST`"""
    user: str | None = Field(None, validation_alias="DB_USER")
    """with `DB_HOST`; `postgres` unless `DB_SECRET_ARN` names a secret, whose username is used"""
    password: SecretStr | None = Field(None, validation_alias="DB_PASSWORD")
    """with `DB_HOST`"""
    sslmode: str | None = Field(None, validation_alias="DB_SSLMODE")
    """libpq's sslmode, with `DB_HOST`"""
    iam_auth: bool = Field(False, validation_alias="DB_IAM_AUTH")
    """`true`: RDS IAM authentication tokens instead of a password (TLS required), with `DB_HOST`"""
    secret_arn: str | None = Field(None, validation_alias="DB_SECRET_ARN")
    """with `DB_HOST`: the Secrets Manager secret holding username and password (the RDS-managed one)"""
    region: str | None = Field(None, validation_alias=AliasChoices("AWS_REGION", "AWS_DEFAULT_REGION"))
    """the AWS region of the IAM tokens (`DB_IAM_AUTH`); set by Lambda"""
    connect_timeout_s: int = Field(3, ge=1, validation_alias="DB_CONNECT_TIMEOUT")
    """seconds to establish a connection"""
    application_name: str = Field("student-records", validation_alias="DB_APPLICATION_NAME")
    """what the server's views (pg_stat_activity) call this process"""
    statement_timeout_ms: int = Field(5000, ge=1, validation_alias="DB_STATEMENT_TIMEOUT_MS")
    """server-side limit for any statement"""
    pool_min_size: int = Field(1, ge=1, validation_alias="DB_POOL_MIN_SIZE")
    """connections kept open per process"""
    pool_max_size: int = Field(4, ge=1, validation_alias="DB_POOL_MAX_SIZE")
    """connections per process at most (keep it ≥ gunicorn threads)"""
    pool_timeout_s: float = Field(1.5, gt=0, validation_alias="DB_POOL_TIMEOUT_S")
    """wait for a free connection before answering 503 (none while the database is known to be unreachable)"""
    probe_interval_ms: int = Field(250, ge=50, le=1000, validation_alias="DB_PROBE_INTERVAL_MS")
    """while new connections fail: how often one background probe per process tries to connect; requests are refused
    at once meanwhile, advised to retry after this long, and served again within about this long of the database
    accepting connections"""
    read_audit_commit: Literal["async", "sync"] = Field("async", validation_alias="READ_AUDIT_COMMIT")
    """`sync`: a read waits until its audit row is flushed to disk, as a change does (`docs/security.md`)"""
    migrations_dir: Path = Field(DEFAULT_MIGRATIONS_DIR, validation_alias="STUDENT_RECORDS_SQL_DIR")
    """the migrations (`NNNN_name.sql`) to apply, and whose latest readiness expects"""

    @model_validator(mode="after")
    def _pool_fits(self) -> "DatabaseSettings":
        if self.pool_max_size < self.pool_min_size:
            raise ValueError("DB_POOL_MAX_SIZE must be at least DB_POOL_MIN_SIZE")
        return self

    def connection(self) -> tuple[str, PasswordSource]:
        """The connection string without its password (key=value form, safe for logs and traces), and where the
        password comes from. In AWS the secret is read here, once: its username completes the connection string."""
        source: PasswordSource
        if self.url is not None:
            parts: dict[str, Any] = conninfo_to_dict(self.url.get_secret_value())
            source = StaticPassword(_text(parts.pop("password", None)))
        elif self.host:
            parts = {"host": self.host, "port": str(self.port), "dbname": self.name, "user": self.user or "postgres"}
            if self.sslmode:
                parts["sslmode"] = self.sslmode
            if self.iam_auth:
                source = IamAuthToken(self.host, self.port, parts["user"], self.region or "")
                parts.setdefault("sslmode", "require")  # RDS accepts IAM tokens over TLS only
            elif self.secret_arn:
                # In AWS: the RDS-managed master secret; never in the environment.
                secret = SecretsManagerPassword(self.secret_arn)
                try:
                    parts["user"] = self.user or secret.username()
                except ValueError as error:
                    raise ConfigurationError(str(error)) from None
                source = secret
            else:
                source = StaticPassword(self.password.get_secret_value() if self.password else None)
        else:
            raise ConfigurationError(
                "no database configured: set DATABASE_URL (or DB_HOST, DB_NAME, DB_USER, DB_PASSWORD, DB_PORT),"
                " or use `make run`, which starts an embedded PostgreSQL"
            )
        # A connect timeout is always set: a missing database must fail fast, not hang a request.
        parts.setdefault("connect_timeout", str(self.connect_timeout_s))
        parts.setdefault("application_name", self.application_name)
        return make_conninfo(**parts), source

    def conninfo(self) -> str:
        """With the current password: for one-off connections (migrations, tools)."""
        base, source = self.connection()
        password = source.password()
        return make_conninfo(base, password=password) if password else base


def _text(value: object) -> str | None:
    return None if value is None else str(value)

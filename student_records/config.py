"""Database settings, read once from the environment."""

import os
from dataclasses import dataclass
from functools import cached_property

from psycopg.conninfo import conninfo_to_dict, make_conninfo

from .credentials import IamAuthToken, PasswordSource, SecretsManagerPassword, StaticPassword


class ConfigurationError(RuntimeError):
    pass


@dataclass(frozen=True)
class DatabaseSettings:
    base_conninfo: str  # key=value form, without the password: safe for logs and traces
    password_source: PasswordSource
    statement_timeout_ms: int
    pool_min_size: int
    pool_max_size: int
    pool_timeout_s: float
    # synchronous_commit for the transactions that only write read-audit rows: "off" (READ_AUDIT_COMMIT=async,
    # the default) or None (=sync: the server's setting, as for changes). Why: data/audit.py.
    read_audit_synchronous_commit: str | None = "off"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "DatabaseSettings":
        env = os.environ if environ is None else environ
        source: PasswordSource
        if env.get("DATABASE_URL"):
            parts = conninfo_to_dict(env["DATABASE_URL"])
            source = StaticPassword(parts.pop("password", None))
        elif env.get("DB_HOST"):
            parts = {
                "host": env["DB_HOST"],
                "port": env.get("DB_PORT", "5432"),
                "dbname": env.get("DB_NAME", "student_records"),
                "user": env.get("DB_USER", "postgres"),
            }
            if env.get("DB_SSLMODE"):
                parts["sslmode"] = env["DB_SSLMODE"]
            if env.get("DB_IAM_AUTH", "").lower() == "true":
                region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or ""
                source = IamAuthToken(parts["host"], int(parts["port"]), parts["user"], region)
                parts.setdefault("sslmode", "require")  # RDS accepts IAM tokens over TLS only
            elif env.get("DB_SECRET_ARN"):
                # In AWS: the RDS-managed master secret; never in the environment.
                secret = SecretsManagerPassword(env["DB_SECRET_ARN"])
                try:
                    parts["user"] = env.get("DB_USER") or secret.username()
                except ValueError as error:
                    raise ConfigurationError(str(error)) from None
                source = secret
            else:
                source = StaticPassword(env.get("DB_PASSWORD"))
        else:
            raise ConfigurationError(
                "no database configured: set DATABASE_URL (or DB_HOST, DB_NAME, DB_USER, DB_PASSWORD, DB_PORT),"
                " or use `make run`, which starts an embedded PostgreSQL"
            )
        # A connect timeout is always set: a missing database must fail fast, not hang a request.
        parts.setdefault("connect_timeout", env.get("DB_CONNECT_TIMEOUT", "3"))
        parts.setdefault("application_name", env.get("DB_APPLICATION_NAME", "student-records"))
        return cls(
            base_conninfo=make_conninfo(**parts),
            password_source=source,
            statement_timeout_ms=_positive_int(env, "DB_STATEMENT_TIMEOUT_MS", 5000),
            pool_min_size=_positive_int(env, "DB_POOL_MIN_SIZE", 1),
            pool_max_size=_positive_int(env, "DB_POOL_MAX_SIZE", 4),
            pool_timeout_s=float(env.get("DB_POOL_TIMEOUT_S", "1.5")),
            read_audit_synchronous_commit=_read_audit_commit(env),
        )

    @property
    def conninfo(self) -> str:
        """With the current password: for one-off connections (migrations, tools)."""
        password = self.password_source.password()
        return make_conninfo(self.base_conninfo, password=password) if password else self.base_conninfo

    # Parsed once: every statement's trace subsegment names them (parsing costs ~20 µs each time).
    @cached_property
    def user(self) -> str:
        return str(conninfo_to_dict(self.base_conninfo).get("user", ""))

    @cached_property
    def trace_url(self) -> str:
        """Where the database is, without credentials: what a trace may show."""
        parts = conninfo_to_dict(self.base_conninfo)
        return f"postgresql://{parts.get('host', 'localhost')}:{parts.get('port', 5432)}/{parts.get('dbname', '')}"


def _read_audit_commit(env) -> str | None:
    choice = env.get("READ_AUDIT_COMMIT", "async")
    if choice not in ("async", "sync"):
        raise ConfigurationError(f"READ_AUDIT_COMMIT must be async or sync, got {choice!r}")
    return "off" if choice == "async" else None


def _positive_int(env, name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(f"{name} must be a whole number, got {raw!r}") from None
    if value < 1:
        raise ConfigurationError(f"{name} must be at least 1, got {value}")
    return value

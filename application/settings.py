"""Every setting the service reads from its environment, typed and validated once, in sections: each layer defines
(or receives) its own, and none reads the environment itself.

    database       student_records/settings.py   where the database is, the pool and its limits
    auth           rest_contract/auth.py          the token issuer, audience and signing keys
    http           here                           request limits, and the Flask door's rate limit
    cursors        here                           the key page cursors are signed with
    observability  observability/settings.py      logs, metrics and traces

`Settings.from_environ()` reads them (the doors' entry points call it once per process); a bad value stops the
start with one line naming the variable. The processes around the service read a few variables of their own
(gunicorn, `make run`): they are documented here too, in ProcessSettings. The configuration table of README.md is
generated from the fields' docstrings (config_table.py).

Written with pydantic alone, not pydantic-settings (README.md, "Configuration", says why): read_section below is the
whole of what reading the environment takes.
"""

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar, cast

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from pydantic.fields import FieldInfo

from observability import ObservabilitySettings
from rest_contract.auth import AuthSettings
from rest_contract.parsing import DEFAULT_MAX_BODY_BYTES
from student_records.settings import ConfigurationError, DatabaseSettings

# Cursors signed with this key can be forged by anyone who reads this file: fine on a laptop and in tests, never in
# AWS, where the template sets CURSOR_SIGNING_KEY to a key generated for the stack.
DEVELOPMENT_CURSOR_SIGNING_KEY = "development-only-cursor-signing-key-0123456789abcdef"
# Built at first use, not at import (a Lambda cold start); each field's docstring is its description, which the
# README's table is generated from (config_table.py).
_SECTION = ConfigDict(frozen=True, extra="forbid", validate_by_name=True, validate_by_alias=True, defer_build=True)


class HttpSettings(BaseModel):
    model_config = _SECTION

    max_body_bytes: int = Field(DEFAULT_MAX_BODY_BYTES, ge=1, validation_alias="MAX_BODY_BYTES")
    """larger request bodies get 413"""
    rate_limit: str = Field("50 per second; 1000 per minute", validation_alias="RATE_LIMIT")
    """Flask door: requests per client address, in fixed windows (the `limits` library's notation); the Lambda door is
    throttled by the API Gateway stage"""
    rate_limit_storage_uri: str = Field("memory://", validation_alias="RATE_LIMIT_STORAGE_URI")
    """Flask door: where the rate limit counts: `memory://` per worker process; `redis://` and others share the count"""
    trusted_proxy_hops: int = Field(0, ge=0, validation_alias="TRUSTED_PROXY_HOPS")
    """Flask door: how many `X-Forwarded-For` hops to trust for the client address (1 behind the ALB)"""


class CursorSettings(BaseModel):
    model_config = _SECTION

    signing_key: SecretStr = Field(SecretStr(DEVELOPMENT_CURSOR_SIGNING_KEY), validation_alias="CURSOR_SIGNING_KEY")
    """the HMAC key page cursors are signed with (32 characters at least); a development key when unset, which AWS
    must never run with: the template sets one generated per stack"""

    @field_validator("signing_key")
    @classmethod
    def _long_enough(cls, key: SecretStr) -> SecretStr:
        if len(key.get_secret_value()) < 32:
            raise ValueError("must be 32 characters at least")
        return key


class Settings(BaseModel):
    """The service's settings, a section per layer. Built directly, each section holds its defaults (tests build
    their own); from_environ() reads them from an environment."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    cursors: CursorSettings = Field(default_factory=CursorSettings)
    observability: ObservabilitySettings = Field(default_factory=ObservabilitySettings)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> "Settings":
        """The settings `environ` (the process's environment by default) gives; ConfigurationError naming every
        variable whose value is refused (never the value: it may be a secret)."""
        environ = os.environ if environ is None else environ
        sections: dict[str, Any] = {}  # each a section of its own class, passed to Settings by name
        problems = []
        for name, field in cls.model_fields.items():
            try:
                # Each field of Settings is a section, a BaseModel class (a field's annotation is typed as a TypeForm)
                sections[name] = read_section(cast(type[BaseModel], field.annotation), environ)
            except ConfigurationError as error:
                problems.append(str(error))
        if problems:
            raise ConfigurationError("; ".join(problems))
        return cls(**sections)


_Section = TypeVar("_Section", bound=BaseModel)


def read_section(section: type[_Section], environ: Mapping[str, str]) -> _Section:
    """A section of settings from the variables its fields name (their aliases; an empty variable is unset); one line
    naming each variable refused."""
    try:
        return section.model_validate(_present(section, environ))
    except ValidationError as error:
        raise ConfigurationError(_one_line(error)) from None


def _present(section: type[BaseModel], environ: Mapping[str, str]) -> dict[str, str]:
    """Each field's variable, the first set of its alias choices (AWS_REGION before AWS_DEFAULT_REGION)."""
    present = {}
    for field in section.model_fields.values():
        name = next((name for name in variables_of(field) if environ.get(name)), None)
        if name is not None:
            present[name] = environ[name]
    return present


def variables(section: type[BaseModel]) -> list[str]:
    """The environment variables a section reads, in the order of its fields."""
    return [name for field in section.model_fields.values() for name in variables_of(field)]


def variables_of(field: FieldInfo) -> list[str]:
    """The environment variables a field reads (its validation alias, or each of its alias choices)."""
    alias = field.validation_alias
    if isinstance(alias, str):
        return [alias]
    if isinstance(alias, AliasChoices):
        return [choice for choice in alias.choices if isinstance(choice, str)]
    raise TypeError(f"{field} names no environment variable (validation_alias)")


def _one_line(error: ValidationError) -> str:
    problems = []
    for detail in error.errors(include_url=False, include_input=False, include_context=False):
        message = detail["msg"].removeprefix("Value error, ")
        variable = detail["loc"][-1] if detail["loc"] else ""
        # A field's error is located at its variable; a section's own check names its variables in its message.
        problems.append(f"{variable}: {message}" if str(variable).isupper() else message)
    return "invalid settings: " + "; ".join(problems)


class ProcessSettings(BaseModel):
    """Variables the processes around the service read for themselves (gunicorn.conf.py, `make run` and its tools):
    not settings of the service, documented with them."""

    model_config = _SECTION

    host: str = Field("127.0.0.1", validation_alias="HOST")
    """Flask door under gunicorn: the address bound"""
    port: int = Field(8000, ge=0, le=65535, validation_alias="PORT")
    """Flask door under gunicorn (and in `make run`): the port"""
    gateway_port: int = Field(3000, ge=0, le=65535, validation_alias="GATEWAY_PORT")
    """`make run`: the Lambda door's port (the local API Gateway)"""
    lambda_concurrency: int | None = Field(None, ge=1, validation_alias="LAMBDA_CONCURRENCY")
    """`make run`: the Lambda door's execution environments at most, beyond which invocations are throttled (default:
    the template's ApiReservedConcurrency when it sets one, else 16)"""
    lambda_idle_timeout_s: float = Field(300, gt=0, validation_alias="LAMBDA_IDLE_TIMEOUT_S")
    """`make run`: seconds an idle execution environment of the Lambda door is kept warm"""
    gunicorn_workers: int | None = Field(None, ge=1, validation_alias="GUNICORN_WORKERS")
    """Flask door: worker processes (default: the CPU count)"""
    gunicorn_threads: int = Field(4, ge=1, validation_alias="GUNICORN_THREADS")
    """Flask door: threads per worker (keep `DB_POOL_MAX_SIZE` ≥ it)"""
    gunicorn_timeout: int = Field(30, ge=0, validation_alias="GUNICORN_TIMEOUT")
    """Flask door: seconds a request may take before its worker is restarted"""
    gunicorn_log_level: str = Field("info", validation_alias="GUNICORN_LOG_LEVEL")
    """Flask door: level of gunicorn's own lines"""
    embedded_pg_dir: Path = Field(Path(".data/postgres"), validation_alias="EMBEDDED_PG_DIR")
    """`make run`: the embedded server's data directory"""
    embedded_pg_port: int | None = Field(None, ge=1, le=65535, validation_alias="EMBEDDED_PG_PORT")
    """`make run`: the embedded server's port (default: a free one)"""
    seed_students: int = Field(300, ge=0, validation_alias="SEED_STUDENTS")
    """`make run`: demo students added to an empty database, with 6 courses, 2 terms (one graded) and up to 360
    enrollments (`local_stack/seed.py`)"""
    auth_key_dir: Path = Field(Path(".data/auth"), validation_alias="AUTH_KEY_DIR")
    """`make run` and `make token`: the development signing key and its JWKS"""
    rds_monitor: bool = Field(True, validation_alias="RDS_MONITOR")
    """`make run` and `make drill`: AWS/RDS metrics of the local PostgreSQL as EMF on stdout
    (`local_stack/rds_monitor.py`); `false` turns the monitor off"""
    rds_monitor_period_s: float = Field(60, gt=0, validation_alias="RDS_MONITOR_PERIOD_S")
    """`make run`: seconds per AWS/RDS datapoint (RDS's is a minute; the drill compresses it with the alarm time)"""
    traces_file: Path | None = Field(None, validation_alias="TRACES_FILE")
    """`make run` (the trace viewer): also append every trace document received to this file, one JSON document per
    line"""

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> "ProcessSettings":
        return read_section(cls, os.environ if environ is None else environ)

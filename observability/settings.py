"""The observability section of the service's settings, and the forms of the addresses it names.

The composition root reads the section from the environment with the rest of the settings (application/settings.py)
and installs it (runtime.install); until then the defaults below are in force."""

from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

SERVICE_NAME = "student-records"  # the defaults, e.g. for tools that read what the service writes
METRICS_NAMESPACE = "StudentRecords"
DEFAULT_DAEMON_ADDRESS = "127.0.0.1:2000"


class ObservabilitySettings(BaseModel):
    # Built at first use, not at import (a Lambda cold start); each field's docstring is its description, which the
    # README's table is generated from (application/config_table.py).
    model_config = ConfigDict(
        frozen=True, extra="forbid", validate_by_name=True, validate_by_alias=True, defer_build=True
    )

    enabled: bool = Field(True, validation_alias="OBSERVABILITY")
    """`off`: no metrics, no traces, and logs at WARNING only; for measuring what signals cost"""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = Field("INFO", validation_alias="LOG_LEVEL")
    """level of the JSON logs"""
    service_name: str = Field(SERVICE_NAME, min_length=1, validation_alias="POWERTOOLS_SERVICE_NAME")
    """`service` in every log line, and the Flask door's X-Ray segment name, which its sampling rules match (the
    template sets the stack's name)"""
    metrics_namespace: str = Field(METRICS_NAMESPACE, min_length=1, validation_alias="POWERTOOLS_METRICS_NAMESPACE")
    """CloudWatch namespace of every metric"""
    metrics_flush_interval_s: float = Field(10, ge=0, validation_alias="METRICS_FLUSH_INTERVAL_S")
    """Flask door: EMF aggregated and written every N seconds per worker (0: after every request); Lambda always
    flushes per invocation"""
    signals_flush_interval_ms: float = Field(50, ge=0, validation_alias="SIGNALS_FLUSH_INTERVAL_MS")
    """Flask door: request log lines and X-Ray datagrams batched by a writer thread per worker and written every N ms
    (0: each at once, as Lambda always does)"""
    signals_queue_max: int = Field(10_000, ge=1, validation_alias="SIGNALS_QUEUE_MAX")
    """Flask door: lines or datagrams that may wait for the writer; past it they are dropped and counted in
    `SignalsDropped`"""
    emf_agent_endpoint: str | None = Field(None, validation_alias="EMF_AGENT_ENDPOINT")
    """e.g. `udp://127.0.0.1:25888`: EMF to the CloudWatch agent (EC2) instead of stdout"""
    emf_log_group_name: str | None = Field(None, validation_alias="EMF_LOG_GROUP_NAME")
    """the log group the CloudWatch agent files EMF documents in (set by the template on EC2)"""
    xray_daemon_address: str = Field(DEFAULT_DAEMON_ADDRESS, validation_alias="AWS_XRAY_DAEMON_ADDRESS")
    """where segments are sent (the X-Ray daemon; locally the trace viewer), `host:port` or
    `tcp:host:port udp:host:port`"""
    xray_sampling: Literal["centralized", "rules", "all"] = Field("centralized", validation_alias="XRAY_SAMPLING")
    """`centralized` (AWS): the sampling rules as X-Ray serves them; `rules`: the same rules
    (observability/sampling_rules.json) applied in-process (`make run`); `all`: every request (tests, the bench)"""
    tracing_enabled: bool = Field(True, validation_alias="AWS_XRAY_SDK_ENABLED")
    """`false` turns tracing off"""
    ec2_metadata_disabled: bool = Field(False, validation_alias="AWS_EC2_METADATA_DISABLED")
    """`true`: the Flask door does not ask the instance metadata service which EC2 instance it runs on (off EC2 that
    lookup costs a timeout at boot)"""
    ec2_metadata_endpoint: str | None = Field(None, validation_alias="AWS_EC2_METADATA_SERVICE_ENDPOINT")
    """another instance metadata service than `http://169.254.169.254/` (botocore's variable)"""

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("xray_daemon_address")
    @classmethod
    def _daemon_address(cls, value: str) -> str:
        parse_daemon_address(value)  # ValueError when malformed
        return value

    @field_validator("emf_agent_endpoint")
    @classmethod
    def _agent_endpoint(cls, value: str | None) -> str | None:
        if value is not None:
            agent_address(value)  # ValueError when malformed
        return value

    @property
    def tracing(self) -> bool:
        return self.enabled and self.tracing_enabled


def parse_daemon_address(value: str) -> tuple[str, int]:
    """`host:port`, or `tcp:host:port udp:host:port` (either order) of which the UDP one counts: the forms of
    AWS_XRAY_DAEMON_ADDRESS the SDKs read."""
    forms = value.split()
    if len(forms) == 2:
        by_protocol = dict(form.partition(":")[::2] for form in forms)
        if "udp" not in by_protocol:
            raise ValueError(f"no udp: address in {value!r}")
        forms = [by_protocol["udp"]]
    if len(forms) != 1:
        raise ValueError(f"invalid X-Ray daemon address {value!r}")
    host, colon, port = forms[0].rpartition(":")
    if not colon or not host or not port.isdigit() or int(port) > 65535:
        raise ValueError(f"invalid X-Ray daemon address {value!r}; expected HOST:PORT")
    return host, int(port)


def agent_address(endpoint: str) -> tuple[str, int]:
    """The (host, port) of an agent endpoint such as udp://127.0.0.1:25888; ValueError for anything else."""
    parts = urlsplit(endpoint)
    if parts.scheme != "udp" or not parts.hostname or not parts.port:
        raise ValueError(f"EMF_AGENT_ENDPOINT must look like udp://127.0.0.1:25888, got {endpoint!r}")
    return parts.hostname, parts.port

"""The process-wide metrics recorder, and the helpers every emitter uses."""

import os

from .emf import MetricsRecorder, agent_sink, stdout_sink
from .settings import ENABLED, METRICS_NAMESPACE

# On EC2 the CloudWatch agent receives EMF over UDP; in Lambda (and locally) EMF lines go to stdout.
_endpoint = os.environ.get("EMF_AGENT_ENDPOINT")
recorder = MetricsRecorder(
    METRICS_NAMESPACE,
    agent_sink(_endpoint) if _endpoint else stdout_sink,
    ENABLED,
    log_group=os.environ.get("EMF_LOG_GROUP_NAME"),
)

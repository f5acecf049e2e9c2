"""The process-wide metrics recorder, and the helpers every emitter uses."""

from .emf import MetricsRecorder, stdout_sink
from .settings import current

# Where it writes (stdout, or the CloudWatch agent on EC2) is set by configuration.configure().
recorder = MetricsRecorder(current.metrics_namespace, stdout_sink, current.enabled)

"""How the observability section of the settings reaches this process's logger, metrics recorder and trace sender:
the composition root calls configure() once, before serving (application/__init__.py)."""

from . import settings
from .emf import agent_sink, stdout_sink
from .logs import logger
from .metrics import recorder


def configure(section: settings.ObservabilitySettings) -> None:
    """Puts `section` in force: the logger's service and level (OBSERVABILITY=off leaves warnings and errors), where
    metrics go and under which namespace, where traces go and whether they are made. The Flask door's flush
    intervals and sampling are read from it when the door is instrumented."""
    settings.current = section
    logger.append_keys(service=section.service_name)
    logger.setLevel(section.log_level if section.enabled else "WARNING")
    # On EC2 the CloudWatch agent receives EMF over UDP; in Lambda (and locally) EMF lines go to stdout.
    sink = agent_sink(section.emf_agent_endpoint) if section.emf_agent_endpoint else stdout_sink
    recorder.configure(section.metrics_namespace, sink, section.enabled, section.emf_log_group_name)

"""Names decided once for the whole service."""

import os

SERVICE_NAME = os.environ.get("POWERTOOLS_SERVICE_NAME", "student-records")
METRICS_NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "StudentRecords")
# OBSERVABILITY=off serves requests with no logs, metrics or traces: only to measure what they cost.
ENABLED = os.environ.get("OBSERVABILITY", "on").lower() != "off"

"""Names decided once for the whole service."""

import os

SERVICE_NAME = os.environ.get("POWERTOOLS_SERVICE_NAME", "student-records")
METRICS_NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "StudentRecords")

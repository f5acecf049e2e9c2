"""CloudFormation custom resource that applies the database migrations (sql/) on stack create and update.

Create and Update run the migrations; Delete does nothing, because the schema holds the data and must
outlive the resource. CloudFormation always gets an answer, success or failure, with a reason it can
show, and before this function's own timeout: a custom resource left unanswered blocks the stack for an hour
(the answer itself: handlers/cloudformation.py).

After a FAILED answer the invocation fails too (MigrationsFailed): Lambda counts an invocation as an error in
AWS/Lambda `Errors` only when the function returns one, and that metric is what the migrations-function-errors
alarm watches (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html). CloudFormation invokes
the function asynchronously (https://docs.aws.amazon.com/lambda/latest/dg/services-cloudformation.html), and Lambda
retries a failed asynchronous invocation twice by default; the template sets MaximumRetryAttempts to 0, since
CloudFormation has its answer and a retry would only run the failing migration again.
"""

import logging
import threading
from typing import Any, Protocol

from application.settings import Settings
from handlers.cloudformation import send_answer
from student_records.data.migrations import latest_version, migrate

PHYSICAL_RESOURCE_ID = "student-records-schema"
# Kept back from the function's timeout to send the answer when the migrations are still running.
ANSWER_MARGIN_MS = 10_000

logger = logging.getLogger(__name__)


class MigrationsFailed(RuntimeError):
    """Raised after CloudFormation heard FAILED, so that the invocation counts as a function error."""


class LambdaContext(Protocol):
    log_stream_name: str

    def get_remaining_time_in_millis(self) -> int: ...


class Outcome:
    """What the migration thread leaves for the handler to report."""

    def __init__(self) -> None:
        self.applied: list[str] | None = None
        self.error: str | None = None


def handler(event: dict[str, Any], context: LambdaContext) -> None:
    request_type = event["RequestType"]
    physical_id = event.get("PhysicalResourceId", PHYSICAL_RESOURCE_ID)
    if request_type == "Delete":
        send_answer(event, "SUCCESS", "nothing to do on delete: the schema and its data are kept", physical_id)
        return

    outcome = Outcome()
    worker = threading.Thread(target=_run_migrations, args=(outcome,), name="migrations", daemon=True)
    worker.start()
    worker.join(timeout=max(context.get_remaining_time_in_millis() - ANSWER_MARGIN_MS, 0) / 1000)

    if worker.is_alive():
        reason = (
            f"migrations still running when the function was about to time out (log stream"
            f" {context.log_stream_name}); a migration may be waiting on a lock"
        )
        send_answer(event, "FAILED", reason, physical_id)
        raise MigrationsFailed(reason)
    if outcome.error is not None:
        reason = f"migrations failed: {outcome.error}"
        send_answer(event, "FAILED", reason, physical_id)
        raise MigrationsFailed(reason)
    applied = outcome.applied or []
    reason = f"applied {', '.join(applied)}" if applied else "schema already up to date"
    data = {"SchemaVersion": latest_version() or "", "AppliedNow": ",".join(applied)}
    send_answer(event, "SUCCESS", reason, physical_id, data)


def _run_migrations(outcome: Outcome) -> None:
    try:
        # Read here, not at import: the secret lookup can fail, and that failure must be answered too.
        database = Settings.from_environ().database
        outcome.applied = migrate(database.conninfo(), sql_dir=database.migrations_dir, log=logger.info)
    except Exception as error:  # any failure becomes a FAILED answer with its reason
        logger.exception("migrations failed")
        outcome.error = f"{type(error).__name__}: {error}"

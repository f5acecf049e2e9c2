"""The template's other functions, run as Lambda runs them (local_stack/lambda_runtime.py: execution environments
under AWS's runtime interface client, Lambda's platform lines and AWS/Lambda metrics), with what calls them in AWS
played locally, and the faults they meet: the migrations function invoked by CloudFormation for each deployment, and
the signing-keys function invoked on its schedule. For `make alarms-proof` (local_stack/alarms_proof.py).

- MigrationsFunction: CloudFormation invokes it with a custom-resource event for each deployment and reads its answer
  from the presigned URL the event names; here a loopback server records that answer. Each deployment is a new
  configuration, so each runs in new environments, as in Lambda after an update.
- SigningKeysFunction: EventBridge invokes it every 15 minutes (compressed with the alarm time); it reads the user
  pool's JWKS from the issuer (here the development key's JWKS, served on loopback) and writes it to S3 (here moto's
  S3, in server mode on loopback, reached through AWS_ENDPOINT_URL).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from infra.render import function_spec
from student_records.data.migrations import SQL_DIR

from .cloudwatch import LineStream
from .faults import Fault
from .gateway import Invocation, new_trace_header
from .lambda_runtime import LocalLambda
from .scratch_stack import ScratchStack

MIGRATIONS_FUNCTION, SIGNING_KEYS_FUNCTION = "MigrationsFunction", "SigningKeysFunction"
SCHEDULE_S = 15 * 60  # the SigningKeysFunction's schedule (infra/template.src.yaml): every 15 minutes
# A migration that fails on a table with rows, as one adding a required column without a default does.
FAILING_MIGRATION = "ALTER TABLE students ADD COLUMN graduation_term text NOT NULL;\n"
SIGNING_KEYS_BUCKET, SIGNING_KEYS_OBJECT = "student-records-signing-keys", "cognito/jwks.json"


@contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    """The variables an invocation's new environments start with (the function's configuration): an environment
    process takes this process's environment when it starts, which happens within the invocation."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class LocalFunction:
    """One of the template's functions in the local Lambda runtime, configured with `env`, its output (platform lines,
    its own lines, AWS/Lambda's EMF) in a file of the stack's, read with the doors'."""

    def __init__(self, stack: ScratchStack, logical_id: str, env: dict[str, str]) -> None:
        self.spec = function_spec(logical_id)
        self.env = env
        output = stack.scratch / f"{self.spec.name}.log"
        stack.stdout_files[self.spec.name] = output
        self._output = output.open("a")
        self._stream = LineStream(self._output)
        self._lambda = LocalLambda(self.spec, concurrency=1, stream=self._stream)
        self._lock = threading.Lock()

    def invoke(self, event: dict[str, Any]) -> Invocation:
        with self._lock, _environ(self.env):
            invocation = self._lambda.invoke(event, new_trace_header(None))
        assert invocation is not None  # no wait limit was given
        return invocation

    def deploy(self, env: dict[str, str]) -> None:
        """A new configuration: the warm environments go, the next invocation starts one with `env`."""
        with self._lock:
            self._lambda.close()
            self.env = env
            self._lambda = LocalLambda(self.spec, concurrency=1, stream=self._stream)

    def close(self) -> None:
        self._lambda.close()
        self._output.close()


class _Recorder(ThreadingHTTPServer):
    """A loopback HTTP server recording the bodies PUT to it (CloudFormation's presigned response URL), or serving
    one document (an issuer's JWKS)."""

    daemon_threads = True

    def __init__(self, document: bytes = b"", port: int = 0) -> None:
        self.document = document
        self.received: list[dict] = []
        super().__init__(("127.0.0.1", port), _RecorderHandler)
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def close(self) -> None:
        self.shutdown()
        self.server_close()


class _RecorderHandler(BaseHTTPRequestHandler):
    server: _Recorder

    def do_PUT(self) -> None:
        self.server.received.append(json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0))))
        self._reply(200, b"")

    def do_GET(self) -> None:
        self._reply(200, self.server.document)

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent."""


def custom_resource_event(request_type: str, response_url: str) -> dict[str, Any]:
    """What CloudFormation sends a custom resource's function
    (https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/crpg-ref-requests.html)."""
    return {
        "RequestType": request_type,
        "ResponseURL": response_url,
        "ServiceToken": "local",
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/student-records/local",
        "RequestId": f"local-{request_type.lower()}",
        "LogicalResourceId": "Migrations",
        "PhysicalResourceId": "student-records-schema",
        "ResourceType": "Custom::DatabaseMigrations",
        "ResourceProperties": {"ServiceToken": "local"},
    }


class FailingMigration(Fault):
    """A release whose new migration fails, deployed: CloudFormation invokes the migrations function for it. The stack
    was deployed before with the project's own migrations (the function's first, successful run); healing deploys
    the release without the failing file (the fix), which runs again and succeeds."""

    name = "failing-migration"

    def __init__(self, stack: ScratchStack) -> None:
        super().__init__()
        self.release = stack.scratch / "release-sql"
        shutil.copytree(SQL_DIR, self.release)
        self.responses = _Recorder()
        self.function = LocalFunction(stack, MIGRATIONS_FUNCTION, self._configuration(stack))
        self.deploy()  # the stack as it was: its migrations all applied

    @staticmethod
    def _configuration(stack: ScratchStack) -> dict[str, str]:
        return {"DATABASE_URL": stack.database_url, "POWERTOOLS_SERVICE_NAME": "student-records-migrations"}

    def deploy(self) -> Invocation:
        """A deployment: the function in new environments, with the release's migrations, invoked for the update."""
        self.function.deploy({**self.function.env, "STUDENT_RECORDS_SQL_DIR": str(self.release)})
        return self.function.invoke(custom_resource_event("Update", self.responses.url))

    @property
    def failing_file(self) -> Path:
        latest = max(path.name for path in self.release.glob("[0-9]*.sql"))
        return self.release / f"{int(latest[:4]) + 1:04d}_students_graduation_term.sql"

    def _inject(self) -> None:
        self.failing_file.write_text(FAILING_MIGRATION)
        self.deploy()

    def _heal(self) -> None:
        max(self.release.glob("[0-9]*.sql")).unlink()
        self.deploy()

    def close(self) -> None:
        self.function.close()
        self.responses.close()


class SigningKeysOutage(Fault):
    """The signing-keys function on its schedule, from the stack's start; the fault: the user pool's issuer does not
    answer (its JWKS cannot be fetched), so each scheduled run fails, until it answers again."""

    name = "signing-keys-outage"

    def __init__(self, stack: ScratchStack) -> None:
        from moto.server import ThreadedMotoServer

        super().__init__()
        self._stack = stack
        self.issuer = _Recorder(Path(_jwks_file(stack)).read_bytes())
        self._issuer_port = self.issuer.server_address[1]
        logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's server: no line per request
        self.s3 = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.s3.start()
        host, port = self.s3.get_host_and_port()
        aws = {
            "AWS_ENDPOINT_URL": f"http://{host}:{port}",
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
        }
        import boto3

        boto3.client(
            "s3",
            endpoint_url=aws["AWS_ENDPOINT_URL"],
            region_name="us-east-1",
            aws_access_key_id="local",
            aws_secret_access_key="local",
        ).create_bucket(Bucket=SIGNING_KEYS_BUCKET)
        self.function = LocalFunction(
            stack,
            SIGNING_KEYS_FUNCTION,
            {
                **aws,
                "SIGNING_KEYS_ISSUER": f"{self.issuer.url}/pool",
                "SIGNING_KEYS_BUCKET": SIGNING_KEYS_BUCKET,
                "SIGNING_KEYS_OBJECT_KEY": SIGNING_KEYS_OBJECT,
            },
        )
        self.runs: list[Invocation] = []
        self._stop = threading.Event()
        self._schedule = threading.Thread(
            target=self._run_on_schedule,
            args=(SCHEDULE_S / stack.time_scale,),
            name="signing-keys-schedule",
            daemon=True,
        )
        self._schedule.start()

    def _run_on_schedule(self, every_s: float) -> None:
        event = {"version": "0", "source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
        while True:
            self.runs.append(self.function.invoke(event))
            if self._stop.wait(every_s):
                return

    def _inject(self) -> None:
        self.issuer.close()  # nothing listens on its port now: connections are refused

    def _heal(self) -> None:
        self.issuer = _Recorder(Path(_jwks_file(self._stack)).read_bytes(), port=self._issuer_port)

    def close(self) -> None:
        self._stop.set()
        self._schedule.join(timeout=60)
        self.function.close()
        self.issuer.close()
        self.s3.stop()


def _jwks_file(stack: ScratchStack) -> str:
    from .dev_auth import auth_environment

    return auth_environment(stack.key_dir)["AUTH_JWKS_FILE"]

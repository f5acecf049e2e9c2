"""A local Lambda service for one function: execution environments that each run the handler under AWS's own
Runtime Interface Client (awslambdaric, what AWS's Python base images run) against a local implementation of the
Lambda Runtime API, so that the bootstrap, the context object, the trace header and the error reports are AWS's code.

- An environment is a process started on demand: a cold start runs the runtime's bootstrap and imports the handler's
  module (its Init Duration lasts until the runtime asks for its first event), then it serves one invocation at a
  time and is reused while warm. Lambda keeps an idle environment "for some time" without saying how long
  (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html); here it is stopped after
  `idle_timeout_s` without an invocation, 5 minutes unless LAMBDA_IDLE_TIMEOUT_S says otherwise.
- At most `concurrency` environments exist, the busy and the initializing ones counted, as Lambda counts
  concurrency; an invocation that finds none free is throttled, never queued: Lambda's 429 TooManyRequestsException
  (https://docs.aws.amazon.com/lambda/latest/dg/lambda-concurrency.html).
- An invocation that runs past the function's timeout has its environment killed, the next invocation starting a
  new one, and fails with Lambda's Sandbox.Timedout error; one whose process dies fails with Runtime.ExitError. An
  Init phase longer than Lambda's 10 s goes on within the first invocation, under the function's timeout, as Lambda
  retries it there.
- Lambda's platform lines (platform.initStart, platform.start, platform.report, in the JSON log format the template
  configures) and the AWS/Lambda metrics (Invocations, Errors, Throttles, Duration, ConcurrentExecutions, by
  FunctionName) go to one line stream, beside each environment's own output.
- Versions and an alias, as the template's AutoPublishAlias `live` makes them: a published version is the function
  with settings of its own (its environment variables over the function's), and an alias routes invocations to one
  version, or a weighted share of them to a second one (AdditionalVersionWeights: what CodeDeploy moves during a
  canary, https://docs.aws.amazon.com/lambda/latest/dg/configuring-alias-routing.html). Each version has execution
  environments of its own, which never serve another's invocations; the concurrency limit is the function's, all
  versions together. An invocation through an alias publishes its Invocations, Errors and Duration by FunctionName,
  by FunctionName and Resource (`<function>:<alias>`) and by those and ExecutedVersion (the version that ran), the
  dimension sets Lambda publishes for alias invocations
  (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html: "ExecutedVersion ... applies only to
  alias invocations"); its Throttles by FunctionName and Resource, no version having run.

The Runtime API: https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html. Each environment has its own, on a
loopback port (AWS_LAMBDA_RUNTIME_API), as each Lambda sandbox has its own.
"""

from __future__ import annotations

import json
import math
import os
import random
import secrets
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from infra.render import FunctionSpec

from .cloudwatch import COUNT, MILLISECONDS, AwsMetrics, LineStream
from .gateway import ACCOUNT_ID, REPO_ROOT, Invocation, Outcome, lambda_runtime_environment

RUNTIME_API = "/2018-06-01/runtime"
INIT_TIMEOUT_S = 10.0  # Lambda's limit on the Init phase (lambda-runtime-environment.html)
DEFAULT_IDLE_TIMEOUT_S = 300.0
LAMBDA_NAMESPACE = "AWS/Lambda"
# Platform lines kept at each SystemLogLevel: INFO keeps these three
# (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-cloudwatchlogs-log-level.html).
_PLATFORM_LOG_LEVELS = {"DEBUG", "INFO"}
_REAP_INTERVAL_S = 1.0
_DRAIN_MARKER = b"\x00local-lambda-runtime-drain\x00"  # no line a runtime prints ends so
LATEST = "$LATEST"


@dataclass(frozen=True)
class FunctionVersion:
    """A version of the function: its number ("$LATEST" for the unpublished function) and the environment variables
    it was published with, over those the function's environments inherit (a deploy of other settings)."""

    number: str = LATEST
    environment: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Alias:
    """An alias and its routing: `version`, and `weight` of the invocations (0 to 1) to `additional` when set."""

    name: str
    version: FunctionVersion
    additional: FunctionVersion | None = None
    weight: float = 0.0

    def route(self, draw: float) -> FunctionVersion:
        """The version an invocation runs, given a draw uniform in [0, 1)."""
        return self.additional if self.additional is not None and draw < self.weight else self.version


@dataclass(eq=False)
class _Request:
    """One invocation handed to an environment, and how it ended."""

    request_id: str
    event: bytes
    trace_header: str
    timeout_s: float
    invoked_arn: str  # the function's ARN, with the alias when invoked through one
    done: threading.Event = field(default_factory=threading.Event)
    outcome: Outcome | None = None
    payload: bytes = b""
    error_type: str | None = None
    remaining_s: float = 0.0  # of the timeout, once the environment is ready (a long Init phase takes its share)
    dispatched: float = 0.0  # time.time() when the runtime received it
    deadline_ms: int = 0

    def finish(self, outcome: Outcome, payload: bytes, error_type: str | None = None) -> bool:
        """The first ending counts (the runtime's answer, the process's death or the timeout); False for a later one."""
        if self.done.is_set():
            return False
        self.outcome, self.payload, self.error_type = outcome, payload, error_type
        self.done.set()
        return True


def _error_document(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


class ExecutionEnvironment:
    """One sandbox: a process running awslambdaric with the function's handler, and the Runtime API it calls."""

    def __init__(self, spec: FunctionSpec, stream: LineStream, platform: PlatformLog, version: FunctionVersion) -> None:
        self.spec = spec
        self.version = version
        today, instance = f"{datetime.now(UTC):%Y/%m/%d}", uuid.uuid4().hex
        self.log_stream_name = f"{today}/[{version.number}]{instance}"
        self.instance_id = f"{today}/{spec.name}[{version.number}]{instance}"
        self._stream = stream
        self._platform = platform
        self._lock = threading.Condition()
        self._pending: _Request | None = None
        self._current: _Request | None = None
        self._ready = threading.Event()  # set when the runtime first asks for an event, or gives up
        self._init_error: bytes | None = None
        self._init_error_type = ""
        self._stopping = False
        self.cold = True  # until its first invocation
        self.last_used = time.monotonic()
        self._api = _RuntimeApiServer(self)
        self._api_thread = threading.Thread(
            target=self._api.serve_forever, kwargs={"poll_interval": 0.05}, name="lambda-runtime-api", daemon=True
        )
        self._api_thread.start()
        self._init_started = time.monotonic()
        self.init_duration_ms: float | None = None
        platform.init_start(self)
        # What the runtime prints goes to the function's log group, a line per event. This end of its pipe is kept
        # open here too, to mark in it how far the output of an invocation goes (drain_output).
        output, self._output_end = os.pipe()
        self._output_lock = threading.Condition()
        self._markers_sent = self._markers_seen = 0
        self._output_closed = False
        self.process = subprocess.Popen(
            [sys.executable, "-m", "awslambdaric", spec.handler],
            cwd=REPO_ROOT,
            env=self._environment(),
            stdin=subprocess.DEVNULL,
            stdout=self._output_end,
            stderr=self._output_end,
        )
        threading.Thread(
            target=self._forward_output, args=(output,), name="lambda-environment-output", daemon=True
        ).start()
        threading.Thread(target=self._watch_exit, name="lambda-environment-exit", daemon=True).start()

    def _environment(self) -> dict[str, str]:
        """The process's environment as Lambda sets it
        (https://docs.aws.amazon.com/lambda/latest/dg/configuration-envvars.html#configuration-envvars-runtime); the
        trace header is the runtime's to set, per invocation."""
        environment = {name: value for name, value in os.environ.items() if name != "_X_AMZN_TRACE_ID"}
        return {
            **environment,
            **self.version.environment,
            **lambda_runtime_environment(self.spec.name, memory_mb=self.spec.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": self.version.number,
            "AWS_LAMBDA_LOG_STREAM_NAME": self.log_stream_name,
            "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{self._api.server_address[1]}",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_LOG_FORMAT": self.spec.log_format,
            "AWS_LAMBDA_LOG_LEVEL": self.spec.application_log_level,
            "_HANDLER": self.spec.handler,
            "TZ": ":UTC",
        }

    @property
    def alive(self) -> bool:
        return self.process.poll() is None and not self._stopping

    def max_memory_used_mb(self) -> int:
        """The process's peak resident memory (VmHWM): Lambda reports the most memory the environment has used."""
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return 0
        kilobytes = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0)
        return math.ceil(kilobytes / 1024)

    # ---- the function's side: what the Runtime API's handlers call ----

    def next_request(self) -> _Request | None:
        """GET /invocation/next: blocks until an invocation is handed over; None when the environment stops."""
        with self._lock:
            if not self._ready.is_set():
                self.init_duration_ms = (time.monotonic() - self._init_started) * 1000
                self._ready.set()
            while self._pending is None and not self._stopping:
                self._lock.wait()
            request, self._pending = self._pending, None
            if request is not None:
                request.dispatched = time.time()
                request.deadline_ms = int((request.dispatched + request.remaining_s) * 1000)
                self._current = request
            return request

    def finish(self, request_id: str, outcome: Outcome, payload: bytes, error_type: str | None) -> bool:
        """POST /invocation/{id}/response or /error; False for an id that is not the current invocation's."""
        with self._lock:
            request = self._current
        return request is not None and request.request_id == request_id and request.finish(outcome, payload, error_type)

    def init_failed(self, payload: bytes, error_type: str) -> None:
        """POST /init/error: the runtime could not load the handler, and will exit."""
        self._init_error_type = error_type
        self._init_error = payload or _error_document(error_type, "")
        self._ready.set()

    # ---- Lambda's side ----

    def invoke(self, request: _Request) -> tuple[Outcome, bytes, str | None]:
        """Runs one invocation to its end: the function's answer, its error, its timeout (the process killed) or
        its death. Waits first for the Init phase of a cold environment: 10 s, then, as Lambda retries an Init phase
        that took longer within the invocation, the rest under the function's timeout."""
        request.remaining_s = request.timeout_s
        if not self._ready.wait(INIT_TIMEOUT_S):
            waited_from = time.monotonic()
            self._ready.wait(request.timeout_s)
            request.remaining_s -= time.monotonic() - waited_from
        if self._init_error is not None or not self.alive:
            self._drain_output()
            self.stop()
            return (
                Outcome.ERROR,
                self._init_error
                or _error_document(
                    "Runtime.ExitError",
                    f"RequestId: {request.request_id} Error: Runtime exited without providing a reason",
                ),
                self._init_error_type or "Runtime.ExitError",
            )
        if self._ready.is_set():
            with self._lock:
                self._pending = request
                self._lock.notify_all()
        if not request.done.wait(max(request.remaining_s, 0)):
            request.finish(
                Outcome.TIMEOUT,
                _error_document(
                    "Sandbox.Timedout",
                    f"RequestId: {request.request_id} Error: Task timed out after {request.timeout_s:.2f} seconds",
                ),
                "Sandbox.Timedout",
            )
            self.stop()
        self._drain_output()
        with self._lock:
            self._current = None
        self.cold = False
        self.last_used = time.monotonic()
        return request.outcome, request.payload, request.error_type

    def stop(self) -> None:
        """Kills the process (Lambda's shutdown of a runtime without extensions), then closes its Runtime API."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        with self._lock:
            self._stopping = True
            self._lock.notify_all()
        self._api.shutdown()
        self._api.server_close()
        self._ready.set()
        with self._output_lock:
            if not self._output_closed:
                self._output_closed = True
                os.close(self._output_end)  # the forwarder then reads what is left, and the end of the output

    def _drain_output(self) -> None:
        """Returns once what the process printed so far has been forwarded: in Lambda's log, an invocation's lines
        come before its platform.report. A marker written after them comes out of the pipe after them."""
        with self._output_lock:
            if self._output_closed:
                return
            self._markers_sent += 1
            marker = self._markers_sent
            os.write(self._output_end, _DRAIN_MARKER + b"\n")
            while self._markers_seen < marker and not self._output_closed:
                self._output_lock.wait(1.0)

    def _forward_output(self, output: int) -> None:
        partial = b""
        while chunk := os.read(output, 1 << 16):
            *lines, partial = (partial + chunk).split(b"\n")
            for marked_line in lines:
                marked = marked_line.endswith(_DRAIN_MARKER)
                line = marked_line.removesuffix(_DRAIN_MARKER)
                if line:
                    self._stream.write_line(line.decode("utf-8", "replace"))
                if marked:
                    with self._output_lock:
                        self._markers_seen += 1
                        self._output_lock.notify_all()
        if partial:
            self._stream.write_line(partial.decode("utf-8", "replace"))
        os.close(output)

    def _watch_exit(self) -> None:
        """A process that dies ends its invocation: Lambda's Runtime.ExitError."""
        code = self.process.wait()
        with self._lock:
            request = self._current
        if request is not None:
            request.finish(
                Outcome.ERROR,
                _error_document(
                    "Runtime.ExitError",
                    f"RequestId: {request.request_id} Error: Runtime exited with error: exit status {code}",
                ),
                "Runtime.ExitError",
            )
        self._ready.set()


class _RuntimeApiServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, environment: ExecutionEnvironment) -> None:
        self.environment = environment
        super().__init__(("127.0.0.1", 0), _RuntimeApiHandler)


class _RuntimeApiHandler(BaseHTTPRequestHandler):
    """The Runtime API's four calls, with the documented headers and status codes."""

    protocol_version = "HTTP/1.1"  # the runtime keeps its connection
    # One segment per answer, sent at once: headers and body written apart would wait on the client's delayed ACK.
    wbufsize = 1 << 16
    disable_nagle_algorithm = True
    server: _RuntimeApiServer

    def do_GET(self) -> None:
        if self.path != f"{RUNTIME_API}/invocation/next":
            self._reply(404, {"errorType": "NotFound", "errorMessage": self.path})
            return
        request = self.server.environment.next_request()
        if request is None:
            self.close_connection = True
            return
        self._reply(
            200,
            request.event,
            {
                "Lambda-Runtime-Aws-Request-Id": request.request_id,
                "Lambda-Runtime-Deadline-Ms": str(request.deadline_ms),
                "Lambda-Runtime-Invoked-Function-Arn": request.invoked_arn,
                "Lambda-Runtime-Trace-Id": request.trace_header,
            },
        )

    def do_POST(self) -> None:
        payload = self._body()
        error_type = self.headers.get("Lambda-Runtime-Function-Error-Type")
        environment = self.server.environment
        if self.path == f"{RUNTIME_API}/init/error":
            environment.init_failed(payload, _error_type(payload, error_type))
            self._reply(202, {"status": "OK"})
            return
        prefix, _, request_id_and_kind = self.path.partition(f"{RUNTIME_API}/invocation/")
        request_id, _, kind = request_id_and_kind.partition("/")
        if prefix or kind not in ("response", "error"):
            self._reply(404, {"errorType": "NotFound", "errorMessage": self.path})
        elif environment.finish(
            request_id,
            Outcome.SUCCESS if kind == "response" else Outcome.ERROR,
            payload,
            _error_type(payload, error_type) if kind == "error" else None,
        ):
            self._reply(202, {"status": "OK"})
        else:
            self._reply(400, {"errorType": "InvalidRequestID", "errorMessage": "Invalid request ID"})

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while size := int(self.rfile.readline().split(b";")[0], 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            self.rfile.readline()
            return b"".join(chunks)
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _reply(self, status: int, body: dict | bytes, headers: dict[str, str] | None = None) -> None:
        encoded = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(encoded)))
        self.end_headers()
        self.wfile.write(encoded)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the runtime's calls are not the function's output."""


def _error_type(payload: bytes, header: str | None) -> str:
    """The error's type: Lambda-Runtime-Function-Error-Type when sent, else the error document's errorType (which is
    all awslambdaric sends)."""
    if header:
        return header
    try:
        return str(json.loads(payload)["errorType"])
    except (ValueError, KeyError, TypeError):
        return "Runtime.Unknown"


class PlatformLog:
    """Lambda's own lines about an environment's life, in the JSON log format: one JSON object per line with its
    time, type and record (https://docs.aws.amazon.com/lambda/latest/dg/telemetry-schema-reference.html)."""

    def __init__(self, spec: FunctionSpec, stream: LineStream) -> None:
        self._spec = spec
        self._stream = stream
        self._enabled = spec.log_format == "JSON" and spec.system_log_level in _PLATFORM_LOG_LEVELS

    def init_start(self, environment: ExecutionEnvironment) -> None:
        self._write(
            "platform.initStart",
            {
                "initializationType": "on-demand",
                "phase": "init",
                "runtimeVersion": f"python:{sys.version_info.major}.{sys.version_info.minor}",
                "functionName": self._spec.name,
                "functionVersion": environment.version.number,
                "instanceId": environment.instance_id,
                "instanceMaxMemory": self._spec.memory_mb * 1024 * 1024,
            },
        )

    def start(self, request: _Request, version: FunctionVersion) -> None:
        self._write(
            "platform.start",
            {"requestId": request.request_id, "version": version.number, "tracing": _tracing(request.trace_header)},
        )

    def report(
        self,
        request: _Request,
        outcome: Outcome,
        error_type: str | None,
        duration_ms: float,
        environment: ExecutionEnvironment,
        cold: bool,
    ) -> None:
        metrics: dict[str, Any] = {
            "durationMs": round(duration_ms, 3),
            "billedDurationMs": math.ceil(duration_ms),
            "memorySizeMB": self._spec.memory_mb,
            "maxMemoryUsedMB": environment.max_memory_used_mb(),
        }
        if cold and environment.init_duration_ms is not None:
            metrics["initDurationMs"] = round(environment.init_duration_ms, 3)
        record: dict[str, Any] = {
            "requestId": request.request_id,
            "metrics": metrics,
            "tracing": _tracing(request.trace_header),
            "status": outcome.value,
        }
        if error_type:
            record["errorType"] = error_type
        self._write("platform.report", record)

    def _write(self, event_type: str, record: dict) -> None:
        if self._enabled:
            now = datetime.now(UTC)
            self._stream.write_line(
                json.dumps(
                    {
                        "time": f"{now:%Y-%m-%dT%H:%M:%S}.{now.microsecond // 1000:03d}Z",
                        "type": event_type,
                        "record": record,
                    }
                )
            )


def _tracing(trace_header: str) -> dict[str, str]:
    parent = next((part.partition("=")[2] for part in trace_header.split(";") if part.startswith("Parent=")), None)
    return {"spanId": parent or secrets.token_hex(8), "type": "X-Amzn-Trace-Id", "value": trace_header}


class LambdaMetrics:
    """AWS/Lambda's datapoints for one function, as Lambda defines them
    (https://docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html): Invocations and Errors (0 or 1)
    and Duration (ms, the event's dispatch to the function's answer, init excluded) per invocation, whatever its
    outcome; Throttles per refused invocation, which is neither an invocation nor an error; ConcurrentExecutions,
    the environments busy (all versions), at each invocation's start (read its Maximum). With `alias`, invocations
    come through it: each datapoint by FunctionName and by Resource too, those of an invocation that ran by its
    ExecutedVersion as well."""

    def __init__(self, metrics: AwsMetrics, function_name: str, alias: str | None = None) -> None:
        self._metrics = metrics
        self._function = function_name
        self._resource = f"{function_name}:{alias}" if alias else None

    def throttled(self) -> None:
        self._put({"Throttles": (1, COUNT)}, by_resource=True)

    def started(self, concurrent: int) -> None:
        self._put({"ConcurrentExecutions": (concurrent, COUNT)})

    def finished(self, failed: bool, duration_ms: float, executed_version: str = LATEST) -> None:
        self._put(
            {"Invocations": (1, COUNT), "Errors": (int(failed), COUNT), "Duration": (duration_ms, MILLISECONDS)},
            by_resource=True,
            executed_version=executed_version,
        )

    def _put(
        self, values: dict[str, tuple[float, str]], *, by_resource: bool = False, executed_version: str | None = None
    ) -> None:
        dimension_sets: list[tuple[str, ...]] = [("FunctionName",)]
        dimensions = {"FunctionName": self._function}
        if by_resource and self._resource is not None:
            dimension_sets.append(("FunctionName", "Resource"))
            dimensions["Resource"] = self._resource
            if executed_version is not None:
                dimension_sets.append(("FunctionName", "Resource", "ExecutedVersion"))
                dimensions["ExecutedVersion"] = executed_version
        self._metrics.put(LAMBDA_NAMESPACE, dimension_sets, dimensions, values)


class LocalLambda:
    """The Lambda service, for one function: invokes it in its execution environments (LambdaFunction), unqualified
    ($LATEST) or, with `alias`, through that alias, which routes each invocation to one of its versions."""

    def __init__(
        self,
        spec: FunctionSpec,
        *,
        concurrency: int,
        idle_timeout_s: float = DEFAULT_IDLE_TIMEOUT_S,
        stream: LineStream | None = None,
        timeout_s: float | None = None,
        alias: Alias | None = None,
        draw: random.Random | None = None,
    ) -> None:
        self.spec = spec
        self.name = spec.name
        self.concurrency = concurrency
        self.idle_timeout_s = idle_timeout_s
        self.timeout_s = float(spec.timeout_s if timeout_s is None else timeout_s)
        self.alias = alias
        self._draw = draw or random.Random()  # a traffic split, not a secret
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        function_arn = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{spec.name}"
        self._invoked_arn = f"{function_arn}:{alias.name}" if alias else function_arn
        self._stream = stream or LineStream()
        self._platform = PlatformLog(spec, self._stream)
        self._metrics = LambdaMetrics(AwsMetrics(self._stream), spec.name, alias.name if alias else None)
        self._lock = threading.Lock()
        self._environments: list[ExecutionEnvironment] = []
        self._idle: list[ExecutionEnvironment] = []  # the most recently used last
        self._closed = threading.Event()
        self._reaper = threading.Thread(target=self._reap, name="lambda-reaper", daemon=True)
        self._reaper.start()

    @property
    def environments(self) -> int:
        with self._lock:
            return len(self._environments)

    def shift(self, weight: float) -> None:
        """Routes `weight` of the alias's invocations to its additional version from now on: what CodeDeploy does
        at each step of a deployment, 1 once it is done, 0 when it rolls back."""
        with self._lock:
            if self.alias is None or self.alias.additional is None:
                raise ValueError("no alias with a second version to shift traffic to")
            self.alias = replace(self.alias, weight=weight)

    def invoke(self, event: dict, trace_header: str, *, wait_s: float | None = None) -> Invocation | None:
        version = self._version()
        environment, concurrent = self._acquire(version)
        if environment is None:
            self._metrics.throttled()
            reason = (
                "ReservedFunctionConcurrentInvocationLimitExceeded"
                if self.spec.reserved_concurrency
                else "ConcurrentInvocationLimitExceeded"
            )
            return Invocation(Outcome.THROTTLED, {"Reason": reason, "Type": "User", "message": "Rate Exceeded."})
        self._metrics.started(concurrent)
        request = _Request(
            str(uuid.uuid4()), json.dumps(event).encode(), trace_header, self.timeout_s, self._invoked_arn
        )
        if wait_s is None or wait_s >= INIT_TIMEOUT_S + self.timeout_s:
            return self._run(environment, request)
        # The caller may stop waiting before the function ends: the invocation then runs on without it, holding
        # its environment (and its unit of concurrency) until it ends, as in Lambda.
        finished: list[Invocation] = []
        runner = threading.Thread(
            target=lambda: finished.append(self._run(environment, request)), name="lambda-invocation", daemon=True
        )
        runner.start()
        runner.join(wait_s)
        return finished[0] if finished else None

    def close(self) -> None:
        self._closed.set()
        self._reaper.join()
        with self._lock:
            environments, self._environments, self._idle = self._environments, [], []
        for environment in environments:
            environment.stop()

    def _version(self) -> FunctionVersion:
        with self._lock:
            return self.alias.route(self._draw.random()) if self.alias else FunctionVersion()

    def _acquire(self, version: FunctionVersion) -> tuple[ExecutionEnvironment | None, int]:
        """A warm environment of the version if one is idle, else a new one while under the concurrency limit (an
        idle environment of another version stopped to make room: only busy ones hold concurrency); and how many
        environments are then busy."""
        stopped: list[ExecutionEnvironment] = []
        try:
            with self._lock:
                while warm := [idle for idle in self._idle if idle.version.number == version.number]:
                    environment = warm[-1]
                    self._idle.remove(environment)
                    if environment.alive:
                        return environment, len(self._environments) - len(self._idle)
                    self._environments.remove(environment)  # its process died while idle
                    stopped.append(environment)
                if len(self._environments) >= self.concurrency and self._idle:
                    evicted = self._idle.pop(0)  # the least recently used, of another version
                    self._environments.remove(evicted)
                    stopped.append(evicted)
                if len(self._environments) >= self.concurrency:
                    return None, len(self._environments)
                environment = ExecutionEnvironment(self.spec, self._stream, self._platform, version)
                self._environments.append(environment)
                return environment, len(self._environments) - len(self._idle)
        finally:
            for environment in stopped:
                environment.stop()

    def _run(self, environment: ExecutionEnvironment, request: _Request) -> Invocation:
        cold = environment.cold
        try:
            self._platform.start(request, environment.version)
            outcome, payload, error_type = environment.invoke(request)
            duration_ms = (time.time() - request.dispatched) * 1000 if request.dispatched else 0.0
            self._platform.report(request, outcome, error_type, duration_ms, environment, cold)
        finally:
            self._release(environment)
        self._metrics.finished(outcome is not Outcome.SUCCESS, duration_ms, environment.version.number)
        document = json.loads(payload) if payload else None
        return Invocation(outcome, document)

    def _release(self, environment: ExecutionEnvironment) -> None:
        with self._lock:
            if environment not in self._environments:
                return  # closed meanwhile
            if environment.alive:
                self._idle.append(environment)
                return
            self._environments.remove(environment)
        environment.stop()  # its process is gone (timed out, crashed): its Runtime API goes too

    def _reap(self) -> None:
        while not self._closed.wait(_REAP_INTERVAL_S):
            now = time.monotonic()
            with self._lock:
                expired = [
                    environment
                    for environment in self._idle
                    if now - environment.last_used > self.idle_timeout_s or not environment.alive
                ]
                for environment in expired:
                    self._idle.remove(environment)
                    self._environments.remove(environment)
            for environment in expired:
                environment.stop()

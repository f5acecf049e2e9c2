"""The Lambda door on loopback: the local API Gateway in front of the local Lambda service, which runs the template's
ApiFunction (handlers.api.lambda_handler) in execution environments of its own, each under AWS's Runtime Interface
Client (local_stack/lambda_runtime.py). The function's name, timeout, memory, logging configuration and reserved
concurrency come from infra/template.src.yaml, for a stack named student-records deployed with the parameters'
defaults; LAMBDA_CONCURRENCY and LAMBDA_IDLE_TIMEOUT_S change the last two. Its stdout carries the environments'
lines, Lambda's platform lines and the AWS/ApiGateway and AWS/Lambda metrics as EMF. Requests are traced by the
project's sampling rules (observability/sampling_rules.json), as API Gateway applies them; XRAY_SAMPLING=all traces
every one.

    python -m local_stack.lambda_door [--port 3000]
"""

import argparse
import os
import signal
import sys
import threading
from collections.abc import Callable

from application.settings import ProcessSettings, read_section
from infra.render import API_FUNCTION, function_spec, stack_values
from observability import ObservabilitySettings
from observability.sampling import local_sampler
from rest_contract.operations import OPERATIONS
from student_records.settings import ConfigurationError

from .cloudwatch import AwsMetrics, LineStream
from .gateway import ApiGatewayMetrics, LocalGateway
from .lambda_runtime import LocalLambda
from .ports import PortInUse

DEFAULT_CONCURRENCY = 16


def log(message: str) -> None:
    print(f"[lambda-door] {message}", file=sys.stderr, flush=True)


def _rules_decision() -> Callable[[str, str], bool]:
    """The sampling rules API Gateway applies in AWS (observability/sampling_rules.json), applied here."""
    sampler = local_sampler()
    return lambda method, path: bool(sampler.should_trace({"method": method, "path": path}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, help="default: GATEWAY_PORT, else 3000")
    args = parser.parse_args(argv)
    try:
        settings = ProcessSettings.from_environ()
        sampling = read_section(ObservabilitySettings, os.environ).xray_sampling
    except ConfigurationError as error:
        log(str(error))
        return 1
    spec = function_spec(API_FUNCTION)
    names = stack_values()
    stream = LineStream()
    function = LocalLambda(
        spec,
        concurrency=settings.lambda_concurrency or spec.reserved_concurrency or DEFAULT_CONCURRENCY,
        idle_timeout_s=settings.lambda_idle_timeout_s,
        stream=stream,
    )
    try:
        gateway = LocalGateway(
            function,
            route_templates=[operation.path for operation in OPERATIONS],
            port=settings.gateway_port if args.port is None else args.port,
            stage=names["ApiStageName"],
            metrics=ApiGatewayMetrics(AwsMetrics(stream), names["ApiName"], names["ApiStageName"]),
            trace_decision=None if sampling == "all" else _rules_decision(),
        )
    except PortInUse as error:
        function.close()
        log(str(error))
        return 1
    stop = threading.Event()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signal_number, lambda *_: stop.set())
    gateway.start_in_thread()
    log(
        f"{spec.name} ({spec.handler}, {function.concurrency} environments at most, timeout {spec.timeout_s} s)"
        f" behind the local API Gateway on http://127.0.0.1:{gateway.port} (stage {gateway.stage})"
    )
    stop.wait()
    gateway.shutdown()
    function.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())

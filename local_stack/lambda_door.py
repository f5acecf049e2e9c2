"""The Lambda door on loopback: the local API Gateway in front of the local Lambda service, which runs the template's
ApiFunction (handlers.api.lambda_handler) in execution environments of its own, each under AWS's Runtime Interface
Client (local_stack/lambda_runtime.py). The function's name, timeout, memory, logging configuration and reserved
concurrency come from infra/template.src.yaml, for a stack named student-records deployed with the parameters'
defaults; LAMBDA_CONCURRENCY and LAMBDA_IDLE_TIMEOUT_S change the last two. Its stdout carries the environments'
lines, Lambda's platform lines and the AWS/ApiGateway and AWS/Lambda metrics as EMF. Requests are traced by the
project's sampling rules (observability/sampling_rules.json), as API Gateway applies them; XRAY_SAMPLING=all traces
every one.

The gateway invokes the function through its alias `live` (the template's AutoPublishAlias: SAM points the API's
integration at the alias, https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-resource-function.html#sam-function-autopublishalias),
which runs version 1, the function as deployed. `--canary NAME=VALUE` (repeated) stands for a deployment under way:
version 2 published with those settings over the function's, and the alias routing `--canary-weight` of the
invocations to it (by default the first step of the template's ApiDeploymentStrategy: 10 % for
Canary10Percent5Minutes, https://docs.aws.amazon.com/codedeploy/latest/userguide/deployment-configurations.html).
CodeDeploy's end of it comes by signal, as it would by an UpdateAlias call: SIGUSR1 rolls back (all invocations to
version 1), SIGUSR2 completes the deployment (all to version 2).

    python -m local_stack.lambda_door [--port 3000] [--canary NAME=VALUE ... [--canary-weight 0.1]]
"""

import argparse
import os
import re
import signal
import sys
import threading
from collections.abc import Callable

from application.settings import ProcessSettings, read_section
from infra.render import API_FUNCTION, SOURCE, function_spec, load_template, stack_values
from observability import ObservabilitySettings
from observability.sampling import local_sampler
from rest_contract.operations import OPERATIONS
from student_records.settings import ConfigurationError

from .cloudwatch import AwsMetrics, LineStream
from .gateway import ApiGatewayMetrics, LocalGateway
from .lambda_runtime import Alias, FunctionVersion, LocalLambda
from .ports import PortInUse

DEFAULT_CONCURRENCY = 16
DEPLOYED_VERSION = "1"  # the version the alias runs: the function as deployed
NEW_VERSION = "2"  # the version a deployment publishes (${ApiFunction.Version.Version} in the alarms)


def log(message: str) -> None:
    print(f"[lambda-door] {message}", file=sys.stderr, flush=True)


def _rules_decision() -> Callable[[str, str], bool]:
    """The sampling rules API Gateway applies in AWS (observability/sampling_rules.json), applied here."""
    sampler = local_sampler()
    return lambda method, path: bool(sampler.should_trace({"method": method, "path": path}))


def canary_weight(strategy: str) -> float:
    """The share of invocations the first step of a CodeDeploy deployment configuration (ApiDeploymentStrategy's
    values) shifts to the new version: 10 % for Canary10Percent5Minutes and Linear10PercentEvery1Minute, all of
    them for AllAtOnce."""
    step = re.fullmatch(r"(?:Canary|Linear)(\d+)Percent\w*", strategy)
    return int(step.group(1)) / 100 if step else 1.0


def _setting(text: str) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    if not equals or not name:
        raise argparse.ArgumentTypeError(f"{text!r} is not NAME=VALUE")
    return name, value


def _alias(canary: list[tuple[str, str]], weight: float) -> Alias:
    """The template's alias on the deployed version, and on the new one too while a canary runs."""
    name = load_template(SOURCE)["Resources"][API_FUNCTION]["Properties"]["AutoPublishAlias"]
    deployed = FunctionVersion(DEPLOYED_VERSION)
    if not canary:
        return Alias(name, deployed)
    return Alias(name, deployed, FunctionVersion(NEW_VERSION, dict(canary)), weight)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, help="default: GATEWAY_PORT, else 3000")
    parser.add_argument(
        "--canary",
        type=_setting,
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a deployment under way: version 2 published with this setting over the function's (repeat for more)",
    )
    parser.add_argument(
        "--canary-weight",
        type=float,
        help="the share of invocations the alias routes to version 2 (default: ApiDeploymentStrategy's first step)",
    )
    args = parser.parse_args(argv)
    if args.canary_weight is not None and not (args.canary and 0 <= args.canary_weight <= 1):
        parser.error("--canary-weight is a share between 0 and 1 of a --canary's invocations")
    try:
        settings = ProcessSettings.from_environ()
        sampling = read_section(ObservabilitySettings, os.environ).xray_sampling
    except ConfigurationError as error:
        log(str(error))
        return 1
    spec = function_spec(API_FUNCTION)
    names = stack_values()
    stream = LineStream()
    weight = canary_weight(names["ApiDeploymentStrategy"]) if args.canary_weight is None else args.canary_weight
    alias = _alias(args.canary, weight)
    function = LocalLambda(
        spec,
        concurrency=settings.lambda_concurrency or spec.reserved_concurrency or DEFAULT_CONCURRENCY,
        idle_timeout_s=settings.lambda_idle_timeout_s,
        stream=stream,
        alias=alias,
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
    if args.canary:
        signal.signal(signal.SIGUSR1, lambda *_: _shift(function, 0.0, "rolled back"))
        signal.signal(signal.SIGUSR2, lambda *_: _shift(function, 1.0, "complete"))
    gateway.start_in_thread()
    routing = (
        f"version {NEW_VERSION} ({', '.join(name for name, _ in args.canary)} changed) taking {weight:.0%}"
        if args.canary
        else f"version {DEPLOYED_VERSION}"
    )
    log(
        f"{spec.name}:{alias.name} ({spec.handler}, {routing}; {function.concurrency} environments at most, timeout"
        f" {spec.timeout_s} s) behind the local API Gateway on http://127.0.0.1:{gateway.port} (stage {gateway.stage})"
    )
    stop.wait()
    gateway.shutdown()
    function.close()
    return 0


def _shift(function: LocalLambda, weight: float, outcome: str) -> None:
    function.shift(weight)
    log(f"deployment {outcome}: version {NEW_VERSION if weight else DEPLOYED_VERSION} takes every invocation")


if __name__ == "__main__":
    sys.exit(main())

"""Instrumentation of the Lambda door: the `## lambda_handler` trace, Powertools Logger's Lambda context,
the request observation, and the metrics flushed at the end of each invocation (the door's one flush point)."""

import functools
import os
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from .catalog import COLD_STARTS, Dimension
from .logs import logger
from .requests import LAMBDA, REQUEST_ID_HEADER, RequestObservation
from .runtime import Observability, installed
from .tracing import TRACE_HEADER, Trace, TraceHeader, begin_trace

# Set by the Lambda runtime per invocation: the function's segment (Root, Parent) and the sampling decision.
LAMBDA_TRACE_VARIABLE = "_X_AMZN_TRACE_ID"

ProxyHandler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


def instrument_api_handler(resolve: ProxyHandler) -> ProxyHandler:
    """With the Observability in force (runtime.installed); when it is switched off, `resolve` itself."""
    if not installed().settings.enabled:
        return resolve
    cold_start = True

    # Not clear_state: it would also drop the `name` key that psycopg's lines share with ours; nothing is
    # appended per invocation (the correlation id is a logging filter's), and the context keys are replaced.
    @logger.inject_lambda_context
    @functools.wraps(resolve)  # the trace shows "## lambda_handler", the entry point's name
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        nonlocal cold_start
        observability = installed()
        trace = _begin_handler_trace(observability, f"## {resolve.__name__}", cold_start)
        if cold_start:
            observability.recorder.put(COLD_STARTS, 1, {Dimension.FUNCTION_NAME: context.function_name})
            cold_start = False
        request_context = event.get("requestContext") or {}
        observation = RequestObservation(LAMBDA, event.get("httpMethod", ""), request_context.get("requestId", ""))
        status = 500
        try:
            result = resolve(event, context)
            status = result.get("statusCode", 500)
            _add_header(result, REQUEST_ID_HEADER, observation.correlation_id)
            if trace is not None:
                _add_header(result, TRACE_HEADER, f"Root={trace.trace_id};Sampled={int(trace.sampled)}")
            return result
        except BaseException as error:  # the resolver answers every error it can: this one escaped it
            if trace is not None:
                trace.record_exception(error)
            raise
        finally:
            observation.finish(status)
            if trace is not None:
                trace.end()
            observability.flush()

    return handler


def _begin_handler_trace(observability: Observability, name: str, cold_start: bool) -> Trace | None:
    """The handler's subsegment of the function's segment, which Lambda records and sends itself; annotated as
    Powertools Tracer annotates it. None when the invocation carries no trace header (not run by Lambda)."""
    header = TraceHeader.parse(os.environ.get(LAMBDA_TRACE_VARIABLE))
    if header.root is None:
        return None
    return begin_trace(
        header,
        name,
        header.sampled == "1",
        observability.daemon,
        type="subsegment",
        annotations={"ColdStart": cold_start, "Service": observability.settings.service_name},
    )


def _add_header(result: dict[str, Any], name: str, value: str) -> None:
    if "multiValueHeaders" in result:
        result["multiValueHeaders"][name] = [value]
    else:
        result.setdefault("headers", {})[name] = value

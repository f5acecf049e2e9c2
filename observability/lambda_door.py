"""Instrumentation of the Lambda door: Powertools Tracer and Logger, the request observation, and
one EMF flush per invocation."""

import functools
import os
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext

from .logs import logger
from .metrics import recorder
from .requests import LAMBDA, REQUEST_ID_HEADER, RequestObservation, record_cold_start
from .settings import ENABLED, SERVICE_NAME
from .tracing import configure_lambda_recorder

# Nothing patched: database statements are traced by the data layer itself (see tracing.py), and
# patching botocore and friends costs cold-start time for calls this function does not make.
tracer = Tracer(service=SERVICE_NAME, auto_patch=False)
configure_lambda_recorder()
TRACE_HEADER = "X-Amzn-Trace-Id"

ProxyHandler = Callable[[dict, LambdaContext], dict]


def instrument_api_handler(resolve: ProxyHandler) -> ProxyHandler:
    if not ENABLED:
        return resolve
    cold_start = True

    @tracer.capture_lambda_handler(capture_response=False, capture_error=False)  # responses hold personal data
    # Not clear_state: it would also drop the `name` key that psycopg's lines share with ours; nothing is
    # appended per invocation (the correlation id is a logging filter's), and the context keys are replaced.
    @logger.inject_lambda_context
    @functools.wraps(resolve)  # the trace shows "## lambda_handler", the entry point's name
    def handler(event: dict, context: LambdaContext) -> dict:
        nonlocal cold_start
        if cold_start:
            record_cold_start(context.function_name)
            cold_start = False
        request_context = event.get("requestContext") or {}
        observation = RequestObservation(LAMBDA, event.get("httpMethod", ""), request_context.get("requestId", ""))
        status = 500
        try:
            result = resolve(event, context)
            status = result.get("statusCode", 500)
            _add_header(result, REQUEST_ID_HEADER, observation.correlation_id)
            trace_header = _response_trace_header()
            if trace_header:
                _add_header(result, TRACE_HEADER, trace_header)
            return result
        finally:
            observation.finish(status)
            recorder.flush()

    return handler


def _response_trace_header() -> str | None:
    """Root and sampling decision of this invocation's trace, as X-Ray's own middlewares answer them."""
    fields = dict(part.split("=", 1) for part in os.environ.get("_X_AMZN_TRACE_ID", "").split(";") if "=" in part)
    if "Root" not in fields:
        return None
    return f"Root={fields['Root']};Sampled={fields.get('Sampled', '0')}"


def _add_header(result: dict[str, Any], name: str, value: str) -> None:
    if "multiValueHeaders" in result:
        result["multiValueHeaders"][name] = [value]
    else:
        result.setdefault("headers", {})[name] = value

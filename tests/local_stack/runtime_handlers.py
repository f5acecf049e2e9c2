"""Handlers the local Lambda runtime's tests run in execution environments (imported there by awslambdaric)."""

import json
import os
import time

INITIALIZED_AT = time.time()  # once per environment: its cold start
_invocations = 0


def report(event: dict, context) -> dict:
    """What the invocation saw: its environment, context and trace header, and how many invocations it served."""
    global _invocations  # noqa: PLW0603 - the count of one execution environment, which the report returns
    _invocations += 1
    time.sleep(float((event.get("queryStringParameters") or {}).get("sleep", 0)))
    seen = {
        "pid": os.getpid(),
        "invocations": _invocations,
        "initialized_at": INITIALIZED_AT,
        "request_id": context.aws_request_id,
        "function_name": context.function_name,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "invoked_function_arn": context.invoked_function_arn,
        "log_stream_name": context.log_stream_name,
        "trace_variable": os.environ.get("_X_AMZN_TRACE_ID"),
        "trace_header": event["headers"].get("X-Amzn-Trace-Id"),
        "variables": {
            name: os.environ.get(name)
            for name in (
                "AWS_LAMBDA_FUNCTION_NAME",
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                "AWS_LAMBDA_FUNCTION_VERSION",
                "AWS_LAMBDA_LOG_GROUP_NAME",
                "AWS_LAMBDA_LOG_STREAM_NAME",
                "AWS_LAMBDA_RUNTIME_API",
                "AWS_REGION",
                "AWS_EXECUTION_ENV",
                "LAMBDA_TASK_ROOT",
                "_HANDLER",
                "AWS_LAMBDA_LOG_FORMAT",
                "VERSION_SETTING",  # one a version may be published with
            )
        },
    }
    print(json.dumps({"message": "handled", "request_id": context.aws_request_id}))
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(seen)}


def fail(event: dict, context) -> dict:
    raise RuntimeError("the function failed")


def crash(event: dict, context) -> dict:
    os._exit(3)

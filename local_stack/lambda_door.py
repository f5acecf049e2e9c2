"""The Lambda door on loopback: the local API Gateway in front of handlers.api.lambda_handler, in a
process of its own that carries the Lambda runtime's environment from the start, as a real execution
environment does: Powertools reads it as it is imported, and the handler reads its settings from it at the
first invocation.

    python -m local_stack.lambda_door [--port 3000]
"""

import argparse
import os
import signal
import sys
import threading

from .gateway import LocalGateway, lambda_runtime_environment
from .ports import PortInUse

FUNCTION_NAME = "student-records-api"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=int(os.environ.get("GATEWAY_PORT", "3000")))
    parser.add_argument("--function-name", default=FUNCTION_NAME)
    args = parser.parse_args(argv)

    os.environ.update(lambda_runtime_environment(args.function_name))
    from handlers.api import lambda_handler  # only now: Powertools reads the Lambda environment at import
    from rest_contract.operations import OPERATIONS

    try:
        gateway = LocalGateway(
            lambda_handler,
            function_name=args.function_name,
            route_templates=[operation.path for operation in OPERATIONS],
            port=args.port,
        )
    except PortInUse as error:
        print(f"[lambda-door] {error}", file=sys.stderr, flush=True)
        return 1
    stop = threading.Event()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signal_number, lambda *_: stop.set())
    gateway.start_in_thread()
    print(f"[lambda-door] {args.function_name} behind the local API Gateway on http://127.0.0.1:{gateway.port}",
          file=sys.stderr, flush=True)
    stop.wait()
    gateway.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())

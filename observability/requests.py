"""One request's observation, the same for both doors: the request log line, the request metrics,
and the route and correlation id on the trace."""

import re
import time
import uuid

from . import tracing
from .catalog import CLIENT_ERRORS, REQUEST_LATENCY, REQUESTS, SERVER_ERRORS, Dimension
from .context import current_request
from .request_log import write_request_line
from .runtime import installed

LAMBDA = "lambda"
FLASK = "flask"
NO_ROUTE = "NO_ROUTE"  # what a request that matched no operation is counted under
REQUEST_ID_HEADER = "X-Request-Id"
_ACCEPTABLE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def correlation_id_from(header_value: str | None) -> str:
    """The caller's X-Request-Id when it is a plain token; a fresh one otherwise (it lands in every log line)."""
    if header_value and _ACCEPTABLE_REQUEST_ID.fullmatch(header_value):
        return header_value
    return str(uuid.uuid4())


def set_route(route_template: str) -> None:
    """Called once the operation is known (Api.dispatch): logs and metrics name the template, not the path."""
    observation = current_request.get()
    if observation is not None:
        observation.route = route_template


def current_correlation_id() -> str:
    """The correlation id of the request being served (a fresh one outside any request)."""
    observation = current_request.get()
    return observation.correlation_id if observation is not None else str(uuid.uuid4())


class RequestObservation:
    """Begun by a door's instrumentation when a request arrives, finished when its answer is ready; the request's
    code sees it (context.current_request) in between."""

    def __init__(self, front_door: str, method: str, correlation_id: str) -> None:
        self.front_door = front_door
        self.method = method
        self.correlation_id = correlation_id
        self.route = NO_ROUTE
        self._started = time.perf_counter()
        self._token = current_request.set(self)

    def finish(self, status: int) -> None:
        duration_ms = round((time.perf_counter() - self._started) * 1000, 3)
        installed().recorder.put_many(
            {
                REQUESTS: 1,
                REQUEST_LATENCY: duration_ms,
                CLIENT_ERRORS: 1 if 400 <= status < 500 else 0,
                SERVER_ERRORS: 1 if status >= 500 else 0,
            },
            {Dimension.FRONT_DOOR: self.front_door, Dimension.ROUTE: self.route},
        )
        tracing.annotate(route=self.route, correlation_id=self.correlation_id, front_door=self.front_door)
        write_request_line(
            self.correlation_id,
            {
                "method": self.method,
                "route": self.route,
                "status": status,
                "duration_ms": duration_ms,
                "front_door": self.front_door,
            },
        )
        current_request.reset(self._token)

"""EMF lines as the local stack's stand-ins for AWS write them (local_stack/gateway.py's ApiGatewayMetrics,
local_stack/lambda_runtime.py's LambdaMetrics, local_stack/load_balancer.py's LoadBalancerMetrics and WebAclMetrics,
local_stack/rds_monitor.py's AWS/RDS document), under the names a stack called student-records has, each moved to a
chosen minute of a timeline as the alarm replay and the dashboard preview read them."""

import io
import json

from infra.render import stack_values
from local_stack.cloudwatch import AwsMetrics, LineStream
from local_stack.gateway import ApiGatewayMetrics
from local_stack.lambda_runtime import LambdaMetrics
from local_stack.load_balancer import LoadBalancerMetrics, WebAclMetrics
from local_stack.rds_monitor import DIMENSION, NAMESPACE

NAMES = stack_values()


class AwsTimeline:
    def __init__(self, t0: int) -> None:
        self.t0 = t0
        self.lines: list[str] = []
        self._written = io.StringIO()
        metrics = AwsMetrics(LineStream(self._written))
        self.api = ApiGatewayMetrics(metrics, NAMES["ApiName"], NAMES["ApiStageName"])
        self.function = LambdaMetrics(metrics, NAMES["ApiFunction"])
        self.alias = LambdaMetrics(metrics, NAMES["ApiFunction"], "live")  # as the Lambda door invokes it
        self.load_balancer = LoadBalancerMetrics(metrics)
        self.web_acl = WebAclMetrics(metrics, NAMES["WebAclName"])
        self._metrics = metrics

    def requests(self, minute: int, count: int, status: int = 200, latency_ms: float = 20.0) -> None:
        """`count` requests through the gateway to the function, answered with `status`."""
        for _ in range(count):
            self.api.request("/students", "GET", status, latency_ms, latency_ms - 5)
        self._move(minute)

    def invocations(
        self, minute: int, count: int, *, failed: int = 0, duration_ms: float = 15.0, version: str | None = None
    ) -> None:
        """`count` invocations of the API function, `failed` of them with an error, one environment busy each; with
        `version`, through the alias live, which ran that version."""
        for number in range(count):
            if version is None:
                self.function.started(1)
                self.function.finished(number < failed, duration_ms)
            else:
                self.alias.started(1)
                self.alias.finished(number < failed, duration_ms, version)
        self._move(minute)

    def throttles(self, minute: int, count: int) -> None:
        for _ in range(count):
            self.function.throttled()
        self._move(minute)

    def balanced_requests(self, minute: int, count: int, status: int = 200, response_s: float = 0.02) -> None:
        """`count` requests through the load balancer, each answered by the target with `status`, allowed by the web
        ACL."""
        for _ in range(count):
            self.web_acl.allowed()
            self.load_balancer.request(status, answered_by_target=True, target_response_s=response_s)
        self._move(minute)

    def hosts(self, minute: int, healthy: int, unhealthy: int = 0) -> None:
        self.load_balancer.hosts(healthy, unhealthy)
        self._move(minute)

    def blocked(self, minute: int, count: int, rule: str = "rate-limit-per-ip") -> None:
        for _ in range(count):
            self.web_acl.blocked(rule)
        self._move(minute)

    def database(self, minute: int, **values: float) -> None:
        """One AWS/RDS datapoint of each metric given (CPUUtilization=..., DatabaseConnections=..., ...)."""
        self._metrics.put(
            NAMESPACE,
            [[DIMENSION]],
            {DIMENSION: NAMES["DbInstanceIdentifier"]},
            {name: (value, "None") for name, value in values.items()},
        )
        self._move(minute)

    def _move(self, minute: int) -> None:
        for line in self._written.getvalue().splitlines():
            document = json.loads(line)
            document["_aws"]["Timestamp"] = (self.t0 + minute * 60 + 10) * 1000
            self.lines.append(json.dumps(document))
        self._written.seek(0)
        self._written.truncate()

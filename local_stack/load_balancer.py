"""A stand-in for the EC2 door's Application Load Balancer and the web ACL in front of it, on loopback: it forwards
each request to the Flask door (gunicorn) as the template's target group does, health-checks it, answers itself
where a balancer does, and publishes what AWS/ApplicationELB and AWS/WAFV2 publish, as EMF lines on stdout.

    python -m local_stack.load_balancer --port 8080 --target 127.0.0.1:8000 [--time-scale 60]

The local stack's only (the drill, the dashboard preview's capture, `make alarms-proof`): in AWS the balancer and the
web ACL publish these themselves, and nothing here ships. What it does, from the template's FlaskTargetGroup and
WebAcl and AWS's documentation:

- **Health checks** (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/target-group-health-checks.html):
  `GET /health/ready` every HealthCheckIntervalSeconds (30 s), a target healthy after HealthyThresholdCount (2)
  answers of 200 in a row and unhealthy after UnhealthyThresholdCount (4) failures in a row (another status, no
  answer within HealthCheckTimeoutSeconds, 5 s). Requests go to the healthy targets; when none is healthy the
  balancer fails open and sends them to every target.
- **Its own answers**: 502 when the target refuses the connection or closes it without an answer, 504 when it does
  not answer within the idle timeout (60 s), 503 when there is no target at all
  (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-troubleshooting.html).
- **AWS/ApplicationELB** (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-cloudwatch-metrics.html):
  per request `RequestCount`, `HTTPCode_ELB_4XX_Count`/`HTTPCode_ELB_5XX_Count` for its own answers,
  `HTTPCode_Target_2XX_Count`..`5XX` for the target's, and `TargetResponseTime` (seconds, request sent to the target
  to its answer's headers), by LoadBalancer and by TargetGroup and LoadBalancer; every minute `HealthyHostCount` and
  `UnHealthyHostCount` by TargetGroup and LoadBalancer. Counts are published when they happen, as AWS publishes them.
- **The web ACL's rate-based rule** `rate-limit-per-ip`
  (https://docs.aws.amazon.com/waf/latest/developerguide/waf-rule-statement-type-rate-based-high-level-settings.html):
  requests per client address over the evaluation window (300 s), checked about every 10 s
  (https://docs.aws.amazon.com/sdk-for-kotlin/api/latest/wafv2/aws.sdk.kotlin.services.wafv2.model/-rate-based-statement/evaluation-window-sec.html);
  an address over WafRateLimitPerIp (1500) is blocked until a check finds it under, with the template's custom
  response (429, the too-many-requests problem, Retry-After: 60). AWS/WAFV2 `AllowedRequests` and `BlockedRequests`
  by WebACL, Region and Rule (`ALL`, and the rule's name for the blocks). AWS's managed rule groups (aws-common,
  aws-known-bad-inputs, aws-sql-injection) are AWS's own, unpublished rules: nothing here stands in for them. In AWS the
  same ACL guards the API Gateway stage too; locally it guards this balancer only.

`--time-scale` compresses the intervals (health checks, the host counts' minute, the rate window and its checks) as
the alarm replay compresses alarm periods; timeouts stay in real seconds, as the doors' own do.
"""

from __future__ import annotations

import argparse
import http.client
import ipaddress
import signal
import socket
import sys
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from infra.render import WAF_RATE_LIMITED_DETAIL, stack_values
from rest_contract import problems

from .cloudwatch import COUNT, AwsMetrics, LineStream
from .gateway import DEFAULT_REGION
from .ports import Port, PortInUse, is_address_in_use

ELB_NAMESPACE = "AWS/ApplicationELB"
WAF_NAMESPACE = "AWS/WAFV2"
SECONDS = "Seconds"
# The balancer's and target group's full names (what their LoadBalancerFullName and TargetGroupFullName attributes
# give, and the alarms' dimensions carry), for the local stack's: AWS adds a generated id to each.
LOAD_BALANCER = "app/student-records-flask/10ca110ad0ba1a00"
TARGET_GROUP = "targetgroup/student-records-flask/10ca17a26e700000"
RATE_RULE = "rate-limit-per-ip"
# FlaskTargetGroup's and FlaskLoadBalancer's settings (infra/template.src.yaml).
HEALTH_CHECK_PATH = "/health/ready"
HEALTH_CHECK_INTERVAL_S = 30.0
HEALTH_CHECK_TIMEOUT_S = 5.0
HEALTHY_THRESHOLD = 2
UNHEALTHY_THRESHOLD = 4
IDLE_TIMEOUT_S = 60.0
# The web ACL's rate-based rule: its window, and how often WAF checks the rate.
RATE_WINDOW_S = 300.0
RATE_CHECK_INTERVAL_S = 10.0
HOST_COUNT_PERIOD_S = 60.0
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "content-length",
    }
)


def load_balancer_listener(port: int) -> Port:
    return Port("the load balancer stand-in", "--port", "127.0.0.1", port)


class LoadBalancerMetrics:
    """AWS/ApplicationELB's datapoints for one balancer and its one target group."""

    def __init__(self, metrics: AwsMetrics, load_balancer: str = LOAD_BALANCER, target_group: str = TARGET_GROUP):
        self._metrics = metrics
        self._dimensions = {"LoadBalancer": load_balancer, "TargetGroup": target_group}

    def request(self, status: int, answered_by_target: bool, target_response_s: float | None) -> None:
        values: dict[str, tuple[float, str]] = {"RequestCount": (1, COUNT)}
        source = "Target" if answered_by_target else "ELB"
        if status >= 200:
            values[f"HTTPCode_{source}_{status // 100}XX_Count"] = (1, COUNT)
        if target_response_s is not None:
            values["TargetResponseTime"] = (target_response_s, SECONDS)
        self._metrics.put(ELB_NAMESPACE, (("LoadBalancer",), ("TargetGroup", "LoadBalancer")), self._dimensions, values)

    def hosts(self, healthy: int, unhealthy: int) -> None:
        self._metrics.put(
            ELB_NAMESPACE,
            (("TargetGroup", "LoadBalancer"),),
            self._dimensions,
            {"HealthyHostCount": (healthy, COUNT), "UnHealthyHostCount": (unhealthy, COUNT)},
        )


class WebAclMetrics:
    def __init__(self, metrics: AwsMetrics, web_acl: str, region: str = DEFAULT_REGION) -> None:
        self._metrics = metrics
        self._web_acl, self._region = web_acl, region

    def allowed(self) -> None:
        self._put("ALL", {"AllowedRequests": (1, COUNT)})

    def blocked(self, rule: str) -> None:
        self._put("ALL", {"BlockedRequests": (1, COUNT)})
        self._put(rule, {"BlockedRequests": (1, COUNT)})

    def _put(self, rule: str, values: dict[str, tuple[float, str]]) -> None:
        self._metrics.put(
            WAF_NAMESPACE,
            (("WebACL", "Region", "Rule"),),
            {"WebACL": self._web_acl, "Region": self._region, "Rule": rule},
            values,
        )


class RateLimit:
    """The rate-based rule: requests per address over a sliding window, checked every `check_interval_s`; an address
    found over the limit is blocked until a check finds it under again (every request counts, blocked or not)."""

    def __init__(
        self, limit: int, window_s: float, check_interval_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit, self.window_s, self.check_interval_s = limit, window_s, check_interval_s
        self._clock = clock
        self._seen: dict[str, deque[float]] = defaultdict(deque)
        self._blocked: set[str] = set()
        self._checked = clock()
        self._lock = threading.Lock()

    def admits(self, address: str) -> bool:
        with self._lock:
            now = self._clock()
            self._seen[address].append(now)
            if now - self._checked >= self.check_interval_s:
                self._check(now)
            return address not in self._blocked

    def _check(self, now: float) -> None:
        self._checked = now
        for address in list(self._seen):
            times = self._seen[address]
            while times and times[0] <= now - self.window_s:
                times.popleft()
            if not times:
                del self._seen[address]
        self._blocked = {address for address, times in self._seen.items() if len(times) > self.limit}


@dataclass
class Target:
    host: str
    port: int
    state: str = "initial"  # initial, healthy or unhealthy
    successes: int = 0
    failures: int = 0

    def checked(self, passed: bool) -> None:
        if passed:
            self.successes, self.failures = self.successes + 1, 0
            if self.successes >= HEALTHY_THRESHOLD:
                self.state = "healthy"
        else:
            self.successes, self.failures = 0, self.failures + 1
            if self.failures >= UNHEALTHY_THRESHOLD or self.state == "initial":
                self.state = "unhealthy"


class LocalLoadBalancer:
    def __init__(
        self,
        targets: list[tuple[str, int]],
        *,
        port: int = 0,
        time_scale: float = 1.0,
        stream: LineStream | None = None,
        rate_limit_per_ip: int | None = None,
    ) -> None:
        metrics = AwsMetrics(stream or LineStream())
        names = stack_values()
        self.targets = [Target(host, port_) for host, port_ in targets]
        self.time_scale = time_scale
        self.metrics = LoadBalancerMetrics(metrics)
        self.web_acl_metrics = WebAclMetrics(metrics, names["WebAclName"])
        self.rate_limit = RateLimit(
            rate_limit_per_ip or int(names["WafRateLimitPerIp"]),
            RATE_WINDOW_S / time_scale,
            RATE_CHECK_INTERVAL_S / time_scale,
        )
        # The template's custom response of the rate rule (WebAcl's too-many-requests body, by infra/render.py).
        self.blocked_answer = problems.problem_response(problems.TOO_MANY_REQUESTS, WAF_RATE_LIMITED_DETAIL)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        try:
            self._server = _BalancerServer(("127.0.0.1", port), self)
        except OSError as error:
            if is_address_in_use(error):
                raise PortInUse(load_balancer_listener(port)) from None
            raise
        self._threads: list[threading.Thread] = []

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    def start(self) -> None:
        self._threads = [
            threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="load-balancer", daemon=True
            ),
            threading.Thread(target=self._health_checks, name="load-balancer-health", daemon=True),
            threading.Thread(target=self._host_counts, name="load-balancer-hosts", daemon=True),
        ]
        for thread in self._threads:
            thread.start()

    def shutdown(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        for thread in self._threads:
            thread.join(timeout=10)

    def routable(self) -> list[Target]:
        """The healthy targets; every target when none is (fail open)."""
        with self._lock:
            healthy = [target for target in self.targets if target.state == "healthy"]
            return healthy or list(self.targets)

    def _health_checks(self) -> None:
        interval = HEALTH_CHECK_INTERVAL_S / self.time_scale
        while not self._stop.is_set():
            started = time.monotonic()
            for target in self.targets:
                passed = _health_check(target, min(HEALTH_CHECK_TIMEOUT_S, interval))
                with self._lock:
                    target.checked(passed)
            self._stop.wait(max(interval - (time.monotonic() - started), 0))

    def _host_counts(self) -> None:
        while not self._stop.wait(HOST_COUNT_PERIOD_S / self.time_scale):
            with self._lock:
                states = [target.state for target in self.targets]
            self.metrics.hosts(states.count("healthy"), states.count("unhealthy"))


def _health_check(target: Target, timeout_s: float) -> bool:
    connection = http.client.HTTPConnection(target.host, target.port, timeout=timeout_s)
    try:
        connection.request("GET", HEALTH_CHECK_PATH, headers={"User-Agent": "ELB-HealthChecker/2.0"})
        response = connection.getresponse()
        response.read()
        return response.status == 200
    except OSError:
        return False
    finally:
        connection.close()


class _BalancerServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], balancer: LocalLoadBalancer) -> None:
        self.balancer = balancer
        super().__init__(address, _ForwardingHandler)


class _ForwardingHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = 1 << 16
    disable_nagle_algorithm = True
    timeout = IDLE_TIMEOUT_S
    server: _BalancerServer

    def _forward(self) -> None:
        balancer = self.server.balancer
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if not balancer.rate_limit.admits(self.client_address[0]):
            balancer.web_acl_metrics.blocked(RATE_RULE)
            answer = balancer.blocked_answer
            self._send(answer.status, [("Content-Type", problems.PROBLEM_JSON), ("Retry-After", "60")], answer.body)
            return
        balancer.web_acl_metrics.allowed()
        targets = balancer.routable()
        if not targets:
            self._answer_itself(503, "Service Temporarily Unavailable")
            return
        target = targets[threading.get_ident() % len(targets)]
        headers = {name: value for name, value in self.headers.items() if name.lower() not in _HOP_BY_HOP}
        forwarded_for = ", ".join(filter(None, [self.headers.get("X-Forwarded-For"), self.client_address[0]]))
        headers |= {
            "X-Forwarded-For": forwarded_for,
            "X-Forwarded-Proto": "http",
            "X-Forwarded-Port": str(balancer.port),
        }
        connection = http.client.HTTPConnection(target.host, target.port, timeout=IDLE_TIMEOUT_S)
        sent = time.monotonic()
        try:
            connection.request(self.command, self.path, body=body or None, headers=headers)
            response = connection.getresponse()
            answered_s = time.monotonic() - sent
            payload = response.read()
        except TimeoutError:
            self._answer_itself(504, "Gateway Time-out")
            return
        except (OSError, http.client.HTTPException):
            self._answer_itself(502, "Bad Gateway")
            return
        finally:
            connection.close()
        reply_headers = [(name, value) for name, value in response.getheaders() if name.lower() not in _HOP_BY_HOP]
        self._send(response.status, reply_headers, payload)
        balancer.metrics.request(response.status, answered_by_target=True, target_response_s=answered_s)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _forward  # noqa: N815 - http.server's names

    def _answer_itself(self, status: int, reason: str) -> None:
        body = f"<html><body><center><h1>{status} {reason}</h1></center></body></html>".encode()
        self._send(status, [("Content-Type", "text/html")], body)
        self.server.balancer.metrics.request(status, answered_by_target=False, target_response_s=None)

    def _send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the doors log each request themselves."""


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not ipaddress.ip_address(socket.gethostbyname(host or "127.0.0.1")).is_loopback:
        raise argparse.ArgumentTypeError(f"{text}: the local balancer forwards to loopback targets only")
    return host or "127.0.0.1", int(port)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_stack.load_balancer", description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0, help="where the balancer listens on 127.0.0.1")
    parser.add_argument("--target", type=_address, action="append", required=True, help="host:port of a target")
    parser.add_argument("--time-scale", type=float, default=1.0, help="compress the balancer's and ACL's intervals")
    args = parser.parse_args(argv)
    try:
        balancer = LocalLoadBalancer(args.target, port=args.port, time_scale=args.time_scale)
    except PortInUse as error:
        print(f"[load-balancer] {error}", file=sys.stderr, flush=True)
        return 1
    stop = threading.Event()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signal_number, lambda *_: stop.set())
    balancer.start()
    print(
        f"[load-balancer] http://127.0.0.1:{balancer.port} -> {', '.join(f'{h}:{p}' for h, p in args.target)}",
        file=sys.stderr,
        flush=True,
    )
    stop.wait()
    balancer.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())

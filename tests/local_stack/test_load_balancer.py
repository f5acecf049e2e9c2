"""The load balancer and web ACL stand-in: forwards to its target as the template's target group does, health-checks
it, fails open, answers itself when the target does not, blocks a client over the rate limit, and publishes
AWS/ApplicationELB and AWS/WAFV2 as AWS names and defines them."""

import http.client
import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from infra.render import stack_values
from local_stack.cloudwatch import LineStream
from local_stack.load_balancer import (
    HEALTHY_THRESHOLD,
    LOAD_BALANCER,
    RATE_RULE,
    TARGET_GROUP,
    UNHEALTHY_THRESHOLD,
    LocalLoadBalancer,
    RateLimit,
)
from local_stack.ports import free_port

TIME_SCALE = 300  # a 30 s health-check interval every 0.1 s, a host-count minute every 0.2 s


class Target(ThreadingHTTPServer):
    """A door: answers its readiness with `ready_status`, anything else 200 with what it was sent."""

    daemon_threads = True

    def __init__(self) -> None:
        self.ready_status = 200
        super().__init__(("127.0.0.1", 0), _TargetHandler)
        threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.shutdown()
        self.server_close()


class _TargetHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Target

    def do_GET(self) -> None:
        status = self.server.ready_status if self.path == "/health/ready" else 200
        body = json.dumps({"path": self.path, "forwarded_for": self.headers.get("X-Forwarded-For")}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def target() -> Iterator[Target]:
    server = Target()
    yield server
    server.close()


@pytest.fixture
def balance(request: pytest.FixtureRequest):
    def start(port: int, **options) -> tuple[LocalLoadBalancer, io.StringIO]:
        written = io.StringIO()
        balancer = LocalLoadBalancer(
            [("127.0.0.1", port)], time_scale=TIME_SCALE, stream=LineStream(written), **options
        )
        balancer.start()
        request.addfinalizer(balancer.shutdown)
        return balancer, written

    return start


def _get(balancer: LocalLoadBalancer, path: str, source: str = "127.0.0.1") -> tuple[int, dict, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", balancer.port, timeout=10, source_address=(source, 0))
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def _documents(written: io.StringIO, namespace: str) -> list[dict]:
    documents = [json.loads(line) for line in written.getvalue().splitlines()]
    return [d for d in documents if d["_aws"]["CloudWatchMetrics"][0]["Namespace"] == namespace]


def _wait_for_state(balancer: LocalLoadBalancer, state: str) -> None:
    event = threading.Event()
    for _ in range(200):  # health checks every 0.1 s: the state changes within a few of them
        if balancer.targets[0].state == state:
            return
        event.wait(0.05)
    raise AssertionError(f"the target never became {state}")


def test_it_forwards_to_a_healthy_target_and_publishes_the_request(target, balance):
    # Given a balancer in front of a ready target, once its health checks passed
    balancer, written = balance(target.server_address[1])
    _wait_for_state(balancer, "healthy")
    # When a client asks through it
    status, _, body = _get(balancer, "/students?limit=2")
    # Then the target answered, and saw the client's address in X-Forwarded-For
    assert status == 200 and json.loads(body) == {"path": "/students?limit=2", "forwarded_for": "127.0.0.1"}
    # And the request is counted by balancer and by target group, with the target's response time in seconds
    [request] = [d for d in _documents(written, "AWS/ApplicationELB") if "RequestCount" in d]
    assert (request["RequestCount"], request["HTTPCode_Target_2XX_Count"]) == (1, 1)
    assert 0 < request["TargetResponseTime"] < 5
    assert request["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["LoadBalancer"], ["TargetGroup", "LoadBalancer"]]
    assert (request["LoadBalancer"], request["TargetGroup"]) == (LOAD_BALANCER, TARGET_GROUP)
    units = {m["Name"]: m["Unit"] for m in request["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert units["TargetResponseTime"] == "Seconds"


def test_a_target_failing_readiness_turns_unhealthy_and_the_balancer_fails_open(target, balance):
    # Given a healthy target
    balancer, written = balance(target.server_address[1])
    _wait_for_state(balancer, "healthy")
    # When its readiness fails (the database is down)
    target.ready_status = 503
    _wait_for_state(balancer, "unhealthy")
    # Then it took the template's threshold of failed checks, and requests still reach it (no healthy target: open)
    assert balancer.targets[0].failures >= UNHEALTHY_THRESHOLD
    assert _get(balancer, "/students")[0] == 200
    # And the host counts say so, every (compressed) minute, by target group and balancer
    hosts = [d for d in _documents(written, "AWS/ApplicationELB") if "HealthyHostCount" in d]
    assert (hosts[-1]["HealthyHostCount"], hosts[-1]["UnHealthyHostCount"]) in ((0, 1), (1, 0))
    _wait_for_state(balancer, "unhealthy")
    # When readiness passes again, the target is healthy after the healthy threshold
    target.ready_status = 200
    _wait_for_state(balancer, "healthy")
    assert balancer.targets[0].successes >= HEALTHY_THRESHOLD


def test_a_target_that_does_not_answer_gets_the_balancers_502(balance):
    # Given a balancer whose target's port has nothing listening (the door's processes died)
    balancer, written = balance(free_port())
    # When a client asks
    status, headers, _ = _get(balancer, "/students")
    # Then the balancer answers 502 itself, counted as its own 5xx, with no target response time
    assert status == 502 and headers["Content-Type"] == "text/html"
    [request] = [d for d in _documents(written, "AWS/ApplicationELB") if "RequestCount" in d]
    assert request["HTTPCode_ELB_5XX_Count"] == 1 and "TargetResponseTime" not in request


def test_the_web_acl_blocks_a_client_over_the_rate_limit_and_no_one_else(target, balance):
    # Given a web ACL allowing 20 requests per client in its (compressed) window
    balancer, written = balance(target.server_address[1], rate_limit_per_ip=20)
    # When one client address sends 60 requests, and another one request after it
    flood = [_get(balancer, "/health", source="127.0.0.66") for _ in range(60)]
    other = _get(balancer, "/health", source="127.0.0.1")
    # Then the flood is blocked past the limit with the template's custom response, and the other client is not
    blocked = [reply for reply in flood if reply[0] == 429]
    assert blocked and all(reply[1]["Retry-After"] == "60" for reply in blocked)
    assert json.loads(blocked[0][2])["type"].endswith("too-many-requests")
    assert other[0] == 200
    # And AWS/WAFV2 counts both, by web ACL, region and rule: ALL, and the rate rule for the blocks
    documents = _documents(written, "AWS/WAFV2")
    names = stack_values()
    assert {d["WebACL"] for d in documents} == {names["WebAclName"]}
    blocked_rules = {d["Rule"] for d in documents if "BlockedRequests" in d}
    assert blocked_rules == {"ALL", RATE_RULE}
    assert sum(d.get("AllowedRequests", 0) for d in documents) == 61 - len(blocked)


def test_the_rate_limit_counts_a_window_and_checks_it_every_interval():
    # Given a limit of 3 per 10 s, checked every second, on a clock the test moves
    now = [0.0]
    limit = RateLimit(3, window_s=10, check_interval_s=1, clock=lambda: now[0])
    # When one address sends 5 requests within the first second
    assert all(limit.admits("a") for _ in range(5))  # not checked yet: WAF lets a burst through until it checks
    # Then the next check blocks it
    now[0] = 1.0
    assert not limit.admits("a")
    assert limit.admits("b")
    # And once the window no longer holds more than the limit, a check lets it through again
    now[0] = 12.0
    assert limit.admits("a")

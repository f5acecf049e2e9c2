"""`python -m deployed.e2e --stack` end to end, with AWS played by moto: the stack's outputs come from moto's
CloudFormation (its URLs are both doors of a scratch stack on loopback), one user per role is made in moto's
user pool for the run and deleted after it, and the doors verify those users' ID tokens against moto's
signing key. The doors' own signals are carried into moto while the run waits for them, as AWS carries them:
request lines into the door's log group, EMF into CloudWatch metrics, X-Ray datagrams into X-Ray.

Not proven here: Logs Insights' `filter` and X-Ray's filter expression are evaluated by stand-ins (moto
ignores the first and refuses the second; see test_signal_checks.py), and API Gateway, its Cognito
authorizer and the load balancer are not in the path."""

import json
import socket
import threading
import time
from pathlib import Path

import boto3
import pytest

from deployed import e2e, signals
from deployed.users import ROLES
from local_stack.scratch_stack import scratch_stack
from observability.settings import METRICS_NAMESPACE
from tests.deployed.moto_aws import STACK, create_stack, evaluate_annotation_filters, ingest_emf, moto_jwks_file

LOG_GROUPS = {"lambda": "/aws/lambda/student-records-e2e-api", "flask": "/student-records-e2e/flask/app"}
CARRY_INTERVAL_S = 0.2


class SignalCarrier(threading.Thread):
    """Carries what the doors write (stdout files) and send (X-Ray datagrams) into moto, until stopped."""

    def __init__(self, stdout_files: dict[str, Path], xray_socket: socket.socket) -> None:
        super().__init__(daemon=True)
        self._files = {door: path.open() for door, path in stdout_files.items()}
        self._unfinished = dict.fromkeys(stdout_files, "")  # a line being written when last read
        self._xray_socket = xray_socket
        self._logs, self._xray = boto3.client("logs"), boto3.client("xray")
        self._stopping = threading.Event()
        for group in LOG_GROUPS.values():
            self._logs.create_log_group(logGroupName=group)
            self._logs.create_log_stream(logGroupName=group, logStreamName="door")

    def run(self) -> None:
        while not self._stopping.wait(CARRY_INTERVAL_S):
            self._carry()

    def _carry(self) -> None:
        for door, stdout in self._files.items():
            *lines, self._unfinished[door] = (self._unfinished[door] + stdout.read()).split("\n")
            if lines:
                self._put_request_lines(door, lines)
                ingest_emf(lines)
        documents = []
        while True:
            try:
                datagram = self._xray_socket.recv(65536)
            except BlockingIOError:
                break
            documents.append(datagram.split(b"\n", 1)[1].decode())  # after the daemon protocol's header line
        if documents:
            self._xray.put_trace_segments(TraceSegmentDocuments=documents)

    def _put_request_lines(self, door: str, lines: list[str]) -> None:
        events = [
            {"timestamp": int(time.time() * 1000), "message": line}
            for line in lines
            if line.startswith("{") and json.loads(line).get("message") == "request"
        ]
        if events:
            self._logs.put_log_events(logGroupName=LOG_GROUPS[door], logStreamName="door", logEvents=events)

    def stop(self) -> None:
        self._stopping.set()
        self.join()
        for stdout in self._files.values():
            stdout.close()


@pytest.fixture
def xray_socket():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", 0))
        udp.setblocking(False)
        yield udp


def test_a_run_against_a_stack_passes_and_leaves_no_user_behind(user_pool, xray_socket, tmp_path, capsys, monkeypatch):
    # Given a stack: both doors trusting the user pool's tokens, and signals carried into AWS
    door_env = {
        "AUTH_ISSUER": user_pool["UserPoolIssuer"],
        "AUTH_AUDIENCE": user_pool["UserPoolClientId"],
        "AUTH_JWKS_FILE": str(moto_jwks_file(tmp_path)),
        "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{xray_socket.getsockname()[1]}",
    }
    with scratch_stack(door_env, log=lambda _: None, prefix="e2e-stack-") as doors:
        create_stack(
            {
                **user_pool,
                "ApiUrl": doors.door_urls["lambda"],
                "FlaskUrl": doors.door_urls["flask"],
                "MetricsNamespace": METRICS_NAMESPACE,
                "ApiFunctionLogGroupName": LOG_GROUPS["lambda"],
                "FlaskAppLogGroupName": LOG_GROUPS["flask"],
            }
        )
        boto3.setup_default_session()  # the suite's clients come from it, with the filter expressions' stand-in
        evaluate_annotation_filters(boto3.DEFAULT_SESSION.events)
        monkeypatch.setattr(signals, "POLL_INTERVAL_S", 0.5)
        carrier = SignalCarrier(doors.stdout_files, xray_socket)
        carrier.start()
        try:
            # When the suite runs against the stack by its name alone
            status = e2e.main(["--stack", STACK, "--signals-timeout", "60"])
        finally:
            carrier.stop()
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    # Then every scenario passed on both doors, the doors agreed, and the signals of both arrived
    assert [line for line in lines if not line.startswith("PASS ")] == [lines[-1]], "\n".join(lines)
    assert status == 0
    assert any(line.startswith("PASS doors agree:") for line in lines)
    for door in ("lambda", "flask"):
        assert sum(line.startswith("PASS signals:") and line.endswith(f"{door} door") for line in lines) == 3
    # And the run's users were made in the pool, one per role, and are gone
    assert "PASS cleanup: the run's users deleted from the user pool" in lines
    assert f"deleted {len(ROLES)} users: " in captured.err
    assert boto3.client("cognito-idp").list_users(UserPoolId=user_pool["UserPoolId"])["Users"] == []

"""The end-to-end suite: the contract's scenarios over HTTP(S) against running front doors.

    python -m deployed.e2e --api-url URL [--flask-url URL]         against `make run` (what `make e2e` runs)
    python -m deployed.e2e --stack NAME [--api-url URL] [--flask-url URL] [--signals-timeout 600]

Every operation of rest_contract/operations.py is called at least once per door, by each role where the role
matters, with success and error cases (401, 403, 404, 409, 412, 415, 400, 422), and every reply is checked
against the committed openapi.json; with both doors, the same reads and errors must get the same status,
problem type and body from each. Every request carries `X-Request-Id: e2e-<run id>-<n>`, and every reply
the app gave carries the correlation id it logged, traced and audited the request under (the same at the
Flask door; API Gateway's request id at the Lambda door), by which the run's signals are found.

Tokens: without --stack, signed with `make run`'s development key (local_stack.dev_auth, under AUTH_KEY_DIR,
as `make token`); with --stack, the ID tokens of one user per role made in the stack's Cognito user pool for
the run, and always deleted at its end. With --stack, once the scenarios are done, the run's signals are
awaited (deployed/signals.py, --signals-timeout): the Requests metric of each door, X-Ray traces of sampled
correlation ids, and each request's log line through Logs Insights.

What the run leaves behind: the API deletes students and courses never offered, and the run deletes those it
made (a student's enrollments go with them). Terms, offerings and the courses they offer cannot be deleted
through the API and stay, named e2e-<run id>-…, as do the audit rows of every access.

Output: one line per scenario (`PASS name` or `FAIL name: reason`), progress on stderr, and last
`e2e: N passed, M failed`; the exit status is 0 only when nothing failed and something passed.
"""

import argparse
import os
import re
import secrets
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import boto3

from local_stack.dev_auth import DEFAULT_KEY_DIR, issue_token
from observability.requests import FLASK, LAMBDA
from student_records.access import Role

from . import signals
from .door import Door, Identity, RequestLog, ScenarioFailed
from .scenarios import (
    SCENARIOS,
    DoorRun,
    Leftovers,
    RunRecords,
    Scenario,
    clean_up,
    compare_doors,
    make_run_records,
    same_on_both_doors,
)
from .stack import SIGNAL_OUTPUTS, USER_POOL_OUTPUTS, DeployedError, one_line_aws_errors, stack_outputs
from .users import ROLES, create_user, delete_user, generate_password, id_token

RUN_ID = re.compile(r"[a-z0-9]{1,12}")
LOG_GROUP_OUTPUTS = {LAMBDA: "ApiFunctionLogGroupName", FLASK: "FlaskAppLogGroupName"}


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class DevelopmentUsers:
    """Tokens signed with the development key `make run` trusts, as `make token` issues them."""

    def __init__(self, run_id: str, key_dir: Path) -> None:
        self._run_id = run_id
        self._key_dir = key_dir

    def user(self, role: str, student_id: int | None = None) -> Identity:
        subject = f"e2e-{self._run_id}-{role}"
        return Identity(role, issue_token(role, student_id=student_id, subject=subject, key_dir=self._key_dir), subject)


class PoolUsers:
    """One user per role in the stack's user pool, with a generated password and an ID token; close() deletes
    them all."""

    def __init__(self, cognito, outputs: dict[str, str], run_id: str) -> None:
        self._cognito = cognito
        self._pool_id = outputs["UserPoolId"]
        self._client_id = outputs["UserPoolClientId"]
        self._run_id = run_id
        self.emails: list[str] = []

    def user(self, role: str, student_id: int | None = None) -> Identity:
        email, password = f"e2e-{self._run_id}-{role}@example.org", generate_password()
        subject = create_user(self._cognito, self._pool_id, email, role, password, student_id)
        self.emails.append(email)
        token = id_token(self._cognito, self._pool_id, self._client_id, email, password, ask_mfa_code=_no_mfa)
        return Identity(role, token, subject)

    def close(self) -> str:
        deleted = [email for email in self.emails if delete_user(self._cognito, self._pool_id, email)]
        return f"deleted {len(deleted)} users: {', '.join(deleted)}"


def _no_mfa() -> str:
    raise DeployedError("a user made a moment ago was asked for MFA: the pool must leave MFA optional")


@dataclass
class Report:
    passed: int = 0
    failed: int = 0
    started: float = field(default_factory=time.monotonic)

    def run(self, name: str, step: Callable[[], str | None]) -> bool:
        """Runs one scenario and prints its line; a detail the step returns goes to stderr."""
        try:
            with one_line_aws_errors():
                detail = step()
        except (ScenarioFailed, DeployedError) as failure:
            return self._fail(name, str(failure))
        except Exception as error:  # noqa: BLE001 - a reply of an unexpected shape, or a bug here: the run goes on
            traceback.print_exc(file=sys.stderr)
            return self._fail(name, f"{type(error).__name__}: {error}")
        self.passed += 1
        print(f"PASS {name}", flush=True)
        if detail:
            progress(f"  {detail}")
        return True

    def _fail(self, name: str, reason: str) -> bool:
        self.failed += 1
        print(f"FAIL {name}: {reason}", flush=True)
        return False

    def summary(self) -> int:
        progress(f"e2e: finished in {time.monotonic() - self.started:.1f} s")
        print(f"e2e: {self.passed} passed, {self.failed} failed", flush=True)
        return 0 if self.failed == 0 and self.passed > 0 else 1


def _scenario_step(scenario: Scenario, run: DoorRun) -> Callable[[], None]:
    def step() -> None:
        run.door.operations_called.clear()
        scenario.run(run)
        uncalled = scenario.operations - run.door.operations_called
        if uncalled:
            raise ScenarioFailed(f"names {', '.join(sorted(uncalled))} but did not call them")

    return step


@dataclass
class Stack:
    """A deployed stack's outputs, and clients of the services the run uses."""

    outputs: dict[str, str]
    cognito: object
    cloudwatch: object
    xray: object
    logs: object


def read_stack(name: str, api_url_given: bool) -> Stack:
    required = [*USER_POOL_OUTPUTS, *SIGNAL_OUTPUTS, *([] if api_url_given else ["ApiUrl"])]
    outputs = stack_outputs(name, required)
    return Stack(outputs, *(boto3.client(service) for service in ("cognito-idp", "cloudwatch", "xray", "logs")))


def run_suite(args: argparse.Namespace) -> int:
    report = Report()
    run_id = args.run_id or secrets.token_hex(4)
    progress(f"e2e: run {run_id}; requests carry X-Request-Id e2e-{run_id}-<n>")
    stack: Stack | None = None

    def read() -> None:
        nonlocal stack
        stack = read_stack(args.stack, bool(args.api_url))

    if args.stack and not report.run(f"stack {args.stack}: outputs read", read):
        return report.summary()
    outputs = stack.outputs if stack else {}
    log = RequestLog(run_id)
    doors = [Door(LAMBDA, args.api_url or outputs["ApiUrl"], log, progress)]
    if args.flask_url or outputs.get("FlaskUrl"):
        doors.append(Door(FLASK, args.flask_url or outputs["FlaskUrl"], log, progress))
    pool_users = PoolUsers(stack.cognito, outputs, run_id) if stack else None
    users_for_the_run = pool_users or DevelopmentUsers(run_id, Path(os.environ.get("AUTH_KEY_DIR", DEFAULT_KEY_DIR)))
    started = datetime.now(UTC)
    try:
        _run_scenarios(report, run_id, doors, users_for_the_run)
    finally:
        if pool_users is not None:
            report.run("cleanup: the run's users deleted from the user pool", pool_users.close)
        for door in doors:
            door.close()
    if stack:
        _check_signals(report, stack, log, [door.name for door in doors], started, args.signals_timeout)
    return report.summary()


def _run_scenarios(
    report: Report, run_id: str, doors: list[Door], users_for_the_run: DevelopmentUsers | PoolUsers
) -> None:
    users: dict[str, Identity] = {}
    leftovers = Leftovers()
    first_door = DoorRun(doors[0], run_id, users, leftovers, tag="setup")
    records: RunRecords | None = None

    def setup() -> None:
        nonlocal records
        for role in ROLES:
            if role != Role.STUDENT:  # the student user is made once the student record it reads exists
                users[role] = users_for_the_run.user(role)
        records = make_run_records(first_door, partial(users_for_the_run.user, Role.STUDENT.value))

    if report.run("setup: a user per role, and the run's shared records", setup):
        runs = [DoorRun(door, run_id, users, leftovers, records) for door in doors]
        for run in runs:
            for scenario in SCENARIOS:
                report.run(f"{run.door.name}: {scenario.name}", _scenario_step(scenario, run))
        if len(runs) == 2:
            for request in same_on_both_doors(records):
                report.run(f"doors agree: {request.name}", partial(compare_doors, request, runs))
    report.run("cleanup: the run's students and the courses never offered deleted", partial(clean_up, first_door))


def _check_signals(
    report: Report, stack: Stack, log: RequestLog, door_names: list[str], started: datetime, timeout_s: float
) -> None:
    waiter = signals.Waiter(time.monotonic() + timeout_s, progress, signals.POLL_INTERVAL_S)
    namespace = stack.outputs["MetricsNamespace"]
    checks: list[tuple[str, Callable[[str, list[str]], str]]] = [
        (
            f"{namespace}/Requests counts the run's requests",
            lambda door, ids: signals.requests_metric(stack.cloudwatch, namespace, door, len(ids), started, waiter),
        ),
        (
            "X-Ray finds traces by correlation_id",
            lambda door, ids: signals.traces(stack.xray, door, ids, started, waiter),
        ),
        (
            "Logs Insights finds every request line",
            lambda door, ids: signals.request_log_lines(
                stack.logs, stack.outputs[LOG_GROUP_OUTPUTS[door]], door, ids, started, waiter
            ),
        ),
    ]
    for name, check in checks:
        for door in door_names:
            report.run(f"signals: {name}, {door} door", partial(_with_requests, check, door, log.correlation_ids(door)))


def _with_requests(check: Callable[[str, list[str]], str], door: str, correlation_ids: list[str]) -> str:
    if not correlation_ids:
        raise ScenarioFailed("no reply carried an X-Request-Id, so no request is known to have reached the app")
    return check(door, correlation_ids)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m deployed.e2e", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--api-url",
        help="the Lambda door: the API's stage URL, or http://127.0.0.1:3000 for"
        " `make run` (default with --stack: its ApiUrl)",
    )
    parser.add_argument(
        "--flask-url",
        help="the Flask door: the load balancer's URL, or http://127.0.0.1:8000 for"
        " `make run` (default with --stack: its FlaskUrl, when it has one)",
    )
    parser.add_argument("--stack", help="a deployed stack: users in its user pool, and its signals checked")
    parser.add_argument(
        "--signals-timeout",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="how long to wait for the signals with --stack (default 600)",
    )
    parser.add_argument("--run-id", help="lower-case letters and digits, up to 12 (default: random)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not (args.api_url or args.stack):
        parser.error("give --api-url (and --flask-url for the Flask door), or --stack")
    if args.run_id and not RUN_ID.fullmatch(args.run_id):
        parser.error("--run-id: lower-case letters and digits, up to 12")
    for url in (args.api_url, args.flask_url):
        if url and not re.match(r"https?://[^/]", url):
            parser.error(f"not an http(s) URL: {url}")
    return run_suite(args)


if __name__ == "__main__":
    sys.exit(main())

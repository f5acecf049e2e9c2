"""Outage drill (`make drill`): both doors under bounded mixed load on loopback while PostgreSQL stops
for a while and comes back; then the checks that matter to users and to on-call.

    python -m local_stack.drill [--before 10] [--outage 10] [--after 20] [--workers 4]

It starts its own stack (an embedded PostgreSQL in a scratch folder and its RDS monitor, the Flask door under
gunicorn, the Lambda door behind the local gateway), records every acknowledged create, and prints:
  - 5xx answers other than 503 (must be 0),
  - acknowledged creates missing from the database (must be 0),
  - time from the database restart to the first success, per door,
  - the DB connection alarm, replayed from the doors' own EMF output (alarm time compressed by
    --time-scale, 60 by default: a one-minute period per second), going to ALARM and back to OK, with the
    SNS message CloudWatch would send each way, published to an SNS topic (moto) and read back.
Exits non-zero when any check fails.
"""

import argparse
import io
import json
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field

import psycopg

from application.settings import ProcessSettings

from .cloudwatch import LineStream
from .rds_monitor import monitor_local_server
from .scratch_stack import scratch_stack

ALARM_NAME = "db-connection-errors"


def log(message: str) -> None:
    print(f"[drill] {message}", file=sys.stderr, flush=True)


@dataclass
class DoorLoad:
    name: str
    base_url: str
    created_ids: list[int] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    unexpected_5xx: int = 0
    transport_errors: int = 0
    first_success_after_restart: float | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, status: int, body: bytes, created: bool, now: float, restarted_at: float | None) -> None:
        with self.lock:
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if status >= 500 and status != 503:
                self.unexpected_5xx += 1
            if created and status == 201:
                self.created_ids.append(json.loads(body)["id"])
            if restarted_at and status < 500 and self.first_success_after_restart is None and now >= restarted_at:
                self.first_success_after_restart = now - restarted_at


def _request(url: str, token: str, body: dict | None = None) -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method="POST" if data else "GET",
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def _worker(door: DoorLoad, token: str, stop: threading.Event, clock: dict, worker_id: int) -> None:
    """Mixed load: a create, then reads of what it created and a page; bounded by `stop`."""
    sequence = 0
    while not stop.is_set():
        sequence += 1
        email = f"drill-{door.name}-{worker_id}-{sequence}-{uuid.uuid4().hex[:6]}@example.org"
        calls = [
            (f"{door.base_url}/students", {"first_name": "Drill", "last_name": f"W{worker_id}", "email": email}),
            (f"{door.base_url}/students?limit=20", None),
            (f"{door.base_url}/students/count", None),
        ]
        for url, body in calls:
            try:
                status, reply = _request(url, token, body)
            except OSError:
                with door.lock:
                    door.transport_errors += 1
                continue
            door.record(status, reply, body is not None, time.monotonic(), clock.get("restarted_at"))


def _replay_alarm(lines: list[str], time_scale: float) -> tuple[list, list[dict]]:
    """The alarm's transitions from the doors' EMF, and the SNS messages read back from a topic (moto)."""
    import boto3
    from moto import mock_aws

    from infra.alarm_replay import publish, replay
    from infra.alarms import load_alarms

    result = replay(load_alarms(), lines, time_scale=time_scale)
    transitions = [t for t in result.transitions if t.alarm == ALARM_NAME]
    with mock_aws():
        sns, sqs = boto3.client("sns", region_name="us-east-1"), boto3.client("sqs", region_name="us-east-1")
        topic = sns.create_topic(Name="drill-notifications")["TopicArn"]
        queue = sqs.create_queue(QueueName="drill-on-call")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)
        publish(transitions, {"notifications": topic}, sns)
        messages = []
        while batch := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
            messages += [json.loads(json.loads(m["Body"])["Message"]) for m in batch]
            sqs.delete_message_batch(QueueUrl=queue, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)])
    return transitions, messages


def run_drill(before_s: float, outage_s: float, after_s: float, workers: int, time_scale: float) -> bool:
    env = {
        "METRICS_FLUSH_INTERVAL_S": str(max(60 / time_scale / 2, 0.25)),
        "XRAY_SAMPLING": "all",
        "GUNICORN_THREADS": str(workers * 2),
        "DB_POOL_MAX_SIZE": str(workers * 2),
    }
    with scratch_stack(env, log, prefix="drill-") as stack:
        # The database's AWS/RDS metrics, with alarm time compressed as the doors' flushes are.
        rds_metrics = io.StringIO()
        monitor = (monitor_local_server(stack.database_url, 60 / time_scale, LineStream(rds_metrics), log)
                   if ProcessSettings.from_environ().rds_monitor else None)
        token = stack.token("registrar")
        doors = [DoorLoad(name, url) for name, url in stack.door_urls.items()]
        log(f"both doors serving; load with {workers} workers per door for {before_s:g} s")
        stop, clock = threading.Event(), {}
        threads = [threading.Thread(target=_worker, args=(door, token, stop, clock, i), daemon=True)
                   for door in doors for i in range(workers)]
        for thread in threads:
            thread.start()
        time.sleep(before_s)  # the drill's own schedule: load before the outage
        log(f"stopping PostgreSQL for {outage_s:g} s")
        clock["restarted_at"] = stack.take_database_down(outage_s)
        log(f"PostgreSQL restarted; load goes on for {after_s:g} s")
        time.sleep(after_s)
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        lines = stack.stop_doors()
        if monitor is not None:
            monitor.stop()
            lines += rds_metrics.getvalue().splitlines()

        ids = [i for door in doors for i in door.created_ids]
        with psycopg.connect(stack.database_url) as connection:
            found = {row[0] for row in connection.execute("SELECT id FROM students WHERE id = ANY(%s)", (ids,))}
        missing = len(set(ids) - found)
        transitions, messages = _replay_alarm(lines, time_scale)
        return _report(doors, len(ids), missing, transitions, messages)


def _report(doors: list[DoorLoad], acknowledged: int, missing: int, transitions, messages) -> bool:
    checks = []
    print("\nOutage drill")
    for door in doors:
        recovery = (f"{door.first_success_after_restart:.2f} s" if door.first_success_after_restart is not None
                    else "never")
        print(f"  {door.name:6} statuses {dict(sorted(door.statuses.items()))}  unexpected 5xx {door.unexpected_5xx}"
              f"  transport errors {door.transport_errors}  first success after restart {recovery}")
        checks += [(f"{door.name}: no 5xx other than 503", door.unexpected_5xx == 0),
                   (f"{door.name}: no transport errors", door.transport_errors == 0),
                   (f"{door.name}: recovered after the restart", door.first_success_after_restart is not None)]
    print(f"  acknowledged creates {acknowledged}, missing from the database {missing}")
    checks += [("acknowledged creates were made", acknowledged > 0), ("no acknowledged create is missing", missing == 0)]
    for transition in transitions:
        print(f"  alarm {transition.alarm}: {transition.old_state} -> {transition.new_state} at "
              f"{transition.at:%H:%M:%S} ({transition.reason})")
    states = [t.new_state for t in transitions]
    alarm_then_ok = "ALARM" in states and "OK" in states[states.index("ALARM"):]
    checks.append((f"{ALARM_NAME} went to ALARM and back to OK", alarm_then_ok))
    sns_states = [(m["AlarmName"], m["OldStateValue"], m["NewStateValue"]) for m in messages]
    print(f"  SNS messages read back: {sns_states}")
    checks.append(("an SNS message each way", (ALARM_NAME, "OK", "ALARM") in sns_states
                   and (ALARM_NAME, "ALARM", "OK") in sns_states))
    print()
    for name, passed in checks:
        print(f"  {'PASS' if passed else 'FAIL'}  {name}")
    return all(passed for _, passed in checks)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", type=float, default=10, help="seconds of load before the outage")
    parser.add_argument("--outage", type=float, default=10, help="seconds PostgreSQL stays down")
    parser.add_argument("--after", type=float, default=20, help="seconds of load after the restart")
    parser.add_argument("--workers", type=int, default=4, help="concurrent clients per door")
    parser.add_argument("--time-scale", type=float, default=60, help="alarm time compression for the replay")
    args = parser.parse_args(argv)
    passed = run_drill(args.before, args.outage, args.after, args.workers, args.time_scale)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())

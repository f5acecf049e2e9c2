"""Outage drill (`make drill`): both doors under bounded mixed load on loopback while PostgreSQL crashes for a while and
comes back; then the checks that matter to users and to on-call.

    python -m local_stack.drill [--before 10] [--outage 10] [--after 20] [--workers 4]

It starts its own stack (local_stack/scratch_stack.py: an embedded PostgreSQL in a scratch folder, the Flask door
behind the load balancer stand-in, the Lambda door behind the local API Gateway, the RDS monitor), puts `workers`
clients per door on it (create, page, count, read), probes `/health` and `/health/ready` on both doors every 0.25 s,
and crashes the database (local_stack/faults.py's DatabaseDown: `pg_ctl stop -m immediate`). It checks:
  - no 5xx other than 503;
  - every response during the outage within 2 s;
  - `/health` 200 on both doors throughout;
  - the first success on each door within 2 s of the database accepting connections;
  - no acknowledged create missing from the database;
  - the DB connection alarm, replayed from the doors' own EMF output (alarm time compressed by --time-scale, 60 by
    default: a one-minute period per second), going to ALARM and back to OK, with the SNS message CloudWatch would
    send each way, published to an SNS topic (moto) and read back.
It prints the figures, and exits non-zero when a check fails.
"""

import argparse
import sys
import time
from dataclasses import dataclass

from infra.alarm_replay import replay, sns_round_trip
from infra.alarms import load_alarms

from .faults import DatabaseDown, Load, Mix, Probe, Reply, created_ids_missing
from .scratch_stack import scratch_stack

ALARM_NAME = "db-connection-errors"
ANSWER_LIMIT_S = 2.0  # every response during the outage
RECOVERY_LIMIT_S = 2.0  # from the database accepting connections to each door's first success
PROBE_EVERY_S = 0.25


def log(message: str) -> None:
    print(f"[drill] {message}", file=sys.stderr, flush=True)


@dataclass
class Outage:
    down_at: float  # time.monotonic()
    accepting_at: float


def run_drill(before_s: float, outage_s: float, after_s: float, workers: int, time_scale: float) -> bool:
    env = {
        "METRICS_FLUSH_INTERVAL_S": str(max(60 / time_scale / 2, 0.25)),
        "XRAY_SAMPLING": "all",
        "GUNICORN_THREADS": str(workers * 2 + 2),
        "DB_POOL_MAX_SIZE": str(workers * 2 + 2),
    }
    with scratch_stack(env, log, prefix="drill-", time_scale=time_scale) as stack:
        tokens = {role: stack.token(role) for role in ("registrar", "admin")}
        load = Load(stack.door_urls, Mix(tokens, busy=False), workers=workers)
        liveness = Probe(stack.door_urls, "/health", PROBE_EVERY_S)
        readiness = Probe(stack.door_urls, "/health/ready", PROBE_EVERY_S)
        fault = DatabaseDown(stack)
        log(f"both doors serving; load with {workers} workers per door for {before_s:g} s")
        with load, liveness, readiness:
            time.sleep(before_s)  # the drill's own schedule: load before the outage
            log(f"PostgreSQL crashes for {outage_s:g} s")
            down_at = time.monotonic()
            fault.inject()
            time.sleep(outage_s)  # the outage itself
            fault.heal()
            log(f"PostgreSQL accepts connections again; load goes on for {after_s:g} s")
            time.sleep(after_s)
        lines = stack.stop()
        missing = created_ids_missing(stack, [i for ids in load.acknowledged.values() for i in ids])
    result = replay(load_alarms(), lines, time_scale=time_scale)
    transitions = [t for t in result.transitions if t.alarm == ALARM_NAME]
    messages = sns_round_trip(transitions)
    assert fault.accepting_at is not None
    return _report(
        Outage(down_at, fault.accepting_at),
        load,
        liveness.replies + readiness.replies,
        sum(map(len, load.acknowledged.values())),
        missing,
        transitions,
        messages,
    )


def _report(
    outage: Outage, load: Load, probes: list[Reply], acknowledged: int, missing: int, transitions, messages
) -> bool:
    checks = []
    print("\nOutage drill")
    print(f"  database down {outage.accepting_at - outage.down_at:.1f} s")
    for door in load.urls:
        replies = [reply for reply in load.replies if reply.door == door]
        during = [
            reply
            for reply in replies + probes
            if reply.door == door and outage.down_at <= reply.sent <= outage.accepting_at
        ]
        unexpected = [reply for reply in replies + probes if reply.status >= 500 and reply.status != 503]
        unexpected = [reply for reply in unexpected if reply.door == door]
        unanswered = [reply for reply in replies if reply.status == 0]
        health = [reply for reply in probes if reply.door == door and reply.path == "/health"]
        first_success = min(
            (
                reply.sent + reply.elapsed
                for reply in replies
                if 200 <= reply.status < 300 and reply.sent + reply.elapsed >= outage.accepting_at
            ),
            default=None,
        )
        recovery = first_success - outage.accepting_at if first_success is not None else None
        slowest = max((reply.elapsed for reply in during), default=0.0)
        statuses: dict[int, int] = {}
        for reply in replies:
            statuses[reply.status] = statuses.get(reply.status, 0) + 1
        print(
            f"  {door:6} {len(replies)} requests {dict(sorted(statuses.items()))}; during the outage"
            f" {len(during)}, slowest {slowest:.2f} s; /health {sum(r.status == 200 for r in health)}/{len(health)}"
            f" 200; first success {f'{recovery:.2f} s' if recovery is not None else 'never'} after the database"
            " accepted connections"
        )
        checks += [
            (f"{door}: no 5xx other than 503", not unexpected),
            (f"{door}: every request answered", not unanswered),
            (
                f"{door}: every response during the outage within {ANSWER_LIMIT_S:g} s",
                bool(during) and slowest < ANSWER_LIMIT_S,
            ),
            (f"{door}: /health 200 throughout", bool(health) and all(r.status == 200 for r in health)),
            (
                f"{door}: first success within {RECOVERY_LIMIT_S:g} s of the database accepting connections",
                recovery is not None and recovery < RECOVERY_LIMIT_S,
            ),
        ]
    print(f"  acknowledged creates {acknowledged}, missing from the database {missing}")
    checks += [
        ("acknowledged creates were made", acknowledged > 0),
        ("no acknowledged create is missing", missing == 0),
    ]
    for transition in transitions:
        print(
            f"  alarm {transition.alarm}: {transition.old_state} -> {transition.new_state} at "
            f"{transition.at:%H:%M:%S} ({transition.reason})"
        )
    states = [t.new_state for t in transitions]
    checks.append(
        (f"{ALARM_NAME} went to ALARM and back to OK", "ALARM" in states and "OK" in states[states.index("ALARM") :])
    )
    sns_states = [(m["AlarmName"], m["OldStateValue"], m["NewStateValue"]) for m in messages]
    print(f"  SNS messages read back: {sns_states}")
    checks.append(
        (
            "an SNS message each way",
            (ALARM_NAME, "OK", "ALARM") in sns_states and (ALARM_NAME, "ALARM", "OK") in sns_states,
        )
    )
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

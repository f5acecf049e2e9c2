"""Every alarm seen to fire (`make alarms-proof`): the local stack run through one real fault per alarm, each alarm
replayed from what the stack printed (infra/alarm_replay.py: CloudWatch's evaluation, time compressed), and proven
when it went to ALARM under its fault and back to OK after it, with CloudWatch's SNS message each way published to a
topic (moto) and read back from a queue subscribed to it.

    python -m local_stack.alarms_proof [--only ALARM ...] [--list]

Each scenario starts a stack of its own (local_stack/scratch_stack.py: an embedded PostgreSQL, both doors, the load
balancer and web ACL stand-in, the RDS monitor), puts users on both doors (clients with a random think time between
requests, as people have) and the template's readiness schedule, waits until each of its alarms is OK, injects its
fault (local_stack/faults.py), waits until each went to ALARM, heals the fault and waits until each is OK again;
then the whole capture is replayed. Time is compressed by the scenario's time scale, as the alarm replay does (60:
a one-minute period lasts a second). A scenario whose fault lasts real seconds that an alarm must see within one
period (a 5 s lock wait against a p99, a 10 s function timeout against a p90) uses a smaller scale, so that its
periods are longer than the fault's waits; one on counts (the web ACL's 300 blocked requests in 5 minutes) a smaller
one too, so that a client on loopback can send what a flood sends.

It prints a table (alarm, scenario, time to ALARM, time to OK: alarm time, as CloudWatch's clock would show it, and
the seconds it took here), and last `alarms proven: N/M`, M being the alarms it set out to prove; it exits 1 unless all
were.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from infra.alarm_replay import ALARM, OK, Transition, replay, sns_round_trip
from infra.alarms import AlarmCatalog, load_alarms

from .faults import (
    Canary,
    ConnectionLeak,
    CpuHog,
    DatabaseDown,
    Deploy,
    ExpiredTokens,
    Fault,
    FlaskDoorDown,
    Flood,
    HeldLock,
    LambdaCrashes,
    Load,
    MemoryHog,
    Mix,
    StorageFill,
    Surge,
    Together,
    readiness_schedule,
)
from .functions import FailingMigration, SigningKeysOutage
from .scratch_stack import ScratchStack, scratch_stack

GIB = 1024**3
CHECK_EVERY_S = 1.0  # how often the capture is replayed while a scenario waits for its alarms
USERS_PER_DOOR = 8
THINK_TIME_S = 1.0  # mean pause between a user's requests


@dataclass(frozen=True)
class Scenario:
    name: str
    what: str  # the fault, in a line: the table's and the runbooks'
    proves: tuple[str, ...]  # the alarms it drives (one scenario per alarm)
    fault: Callable[[ScratchStack], Fault]
    time_scale: float = 60.0
    env: dict[str, str] = field(default_factory=dict)  # the doors' settings for this scenario's stack
    allocated_storage_gib: float | None = None  # the RDS monitor's instance, when not the template's
    users_per_door: int = USERS_PER_DOOR
    fault_s: float = 60.0  # at most, real seconds, before its alarms must all be in ALARM
    recovery_s: float = 60.0  # at most, real seconds, after the fault, before they must all be OK again


SCENARIOS = (
    Scenario(
        "database-down",
        "PostgreSQL crashes (pg_ctl stop -m immediate) and is started again",
        (
            "db-connection-errors",
            "readiness-failures",
            "flask-5xx-rate",
            "api-5xx-errors",
            "flask-lb-unhealthy-targets",
            "flask-lb-no-healthy-targets",
            "slo-availability-lambda-fast-burn",
            "slo-availability-lambda-slow-burn",
            "slo-availability-flask-fast-burn",
            "slo-availability-flask-slow-burn",
            "on-call-page",
        ),
        DatabaseDown,
        fault_s=25,
        recovery_s=60,
    ),
    Scenario(
        "held-lock",
        "a session holds an ACCESS EXCLUSIVE lock on students: statements wait 5 s (the statement timeout)",
        (
            "db-query-latency-p99",
            "api-latency-p99",
            "flask-lb-latency-p99",
            "slo-latency-lambda-fast-burn",
            "slo-latency-lambda-slow-burn",
            "slo-latency-flask-fast-burn",
            "slo-latency-flask-slow-burn",
        ),
        HeldLock,
        time_scale=12,
        fault_s=90,
        recovery_s=240,
    ),
    Scenario(
        "lambda-timeouts",
        "a deploy lifts the statement timeout to 30 s while a lock is held: invocations run into the"
        " function's 10 s timeout",
        ("api-function-duration-p90",),
        lambda stack: Together(Deploy(stack, "lambda", {"DB_STATEMENT_TIMEOUT_MS": "30000"}), HeldLock(stack)),
        time_scale=6,
        fault_s=150,
        recovery_s=60,
    ),
    Scenario(
        "canary-failing",
        "a deploy whose new version fails every invocation on a bad setting (DB_POOL_MAX_SIZE=0) takes 10 % of"
        " the Lambda door's invocations, then is rolled back",
        ("api-new-version-errors",),
        lambda stack: Canary(stack, {"DB_POOL_MAX_SIZE": "0"}),
        time_scale=20,
        fault_s=30,
        recovery_s=30,
    ),
    Scenario(
        "canary-slow",
        "a deploy whose new version lifts the statement timeout to 30 s takes 10 % of the Lambda door's"
        " invocations while a lock is held: they run into the function's 10 s timeout; then it is rolled back",
        ("api-new-version-duration-p90",),
        lambda stack: Together(Canary(stack, {"DB_STATEMENT_TIMEOUT_MS": "30000"}), HeldLock(stack)),
        time_scale=3,
        fault_s=240,
        recovery_s=90,
    ),
    Scenario(
        "lambda-crashes",
        "the Lambda door's execution environments are killed while they serve (as the OOM killer does)",
        ("api-function-errors",),
        lambda stack: LambdaCrashes(stack, every_s=0.2),
        fault_s=20,
        recovery_s=20,
    ),
    Scenario(
        "surge",
        "16 more clients than a function of 4 environments (ApiReservedConcurrency=4) admits",
        ("api-function-throttles",),
        lambda stack: Surge(stack, clients=16),
        env={"LAMBDA_CONCURRENCY": "4"},
        users_per_door=1,
        fault_s=20,
        recovery_s=20,
    ),
    Scenario(
        "expired-tokens",
        "clients keep calling with a token that expired",
        ("api-4xx-errors",),
        lambda stack: ExpiredTokens(stack, clients=4),
        fault_s=20,
        recovery_s=20,
    ),
    Scenario(
        "flask-door-down",
        "the Flask door's gunicorn and workers are killed, and started again",
        ("flask-lb-5xx-rate",),
        FlaskDoorDown,
        fault_s=20,
        recovery_s=30,
    ),
    Scenario(
        "connection-leak",
        "another client opens 80 sessions and leaves them idle",
        ("db-connections-high",),
        lambda stack: ConnectionLeak(stack, sessions=80),
        fault_s=20,
        recovery_s=20,
    ),
    Scenario(
        "cpu-hog",
        "sessions spin CPU-bound loops in the server",
        ("db-cpu-high",),
        lambda stack: CpuHog(stack, sessions=8),
        users_per_door=2,
        fault_s=45,
        recovery_s=20,
    ),
    Scenario(
        "storage-fill",
        "a table grows until less than 2 GiB of the instance's 2.25 GiB is free (then is dropped)",
        ("db-free-storage-low",),
        lambda stack: StorageFill(stack, bytes_=int(0.45 * GIB)),
        allocated_storage_gib=2.25,
        fault_s=20,
        recovery_s=20,
    ),
    Scenario(
        "memory-hog",
        "three sessions each hold a 320 MiB temporary table in memory",
        ("db-freeable-memory-low",),
        lambda stack: MemoryHog(stack, sessions=3, mib_each=320),
        fault_s=30,
        recovery_s=20,
    ),
    Scenario(
        "flood",
        "one client address sends 150 requests a second (3,000 a compressed minute), past the web ACL's"
        " limit of 1,500 in 5 minutes",
        ("waf-blocked-requests-spike",),
        lambda stack: Flood(stack, per_second=150),
        time_scale=20,
        fault_s=60,
        recovery_s=45,
    ),
    Scenario(
        "failing-migration",
        "a deploy ships a migration that fails (a NOT NULL column added to a filled table): the"
        " migrations function runs it",
        ("migrations-function-errors",),
        FailingMigration,
        fault_s=15,
        recovery_s=15,
    ),
    Scenario(
        "signing-keys-outage",
        "the user pool's signing keys cannot be fetched: the scheduled refreshes fail",
        ("signing-keys-function-errors",),
        SigningKeysOutage,
        fault_s=60,
        recovery_s=45,
    ),
)


def log(message: str) -> None:
    print(f"[alarms-proof] {message}", file=sys.stderr, flush=True)


# ---- one scenario -----------------------------------------------------------------------------------------------


@dataclass
class Proof:
    alarm: str
    scenario: Scenario
    ok_before: bool = False
    alarm_at: float | None = None  # epoch seconds of the capture
    ok_at: float | None = None
    sns: set[tuple[str, str]] = field(default_factory=set)  # (old, new) read back from the queue
    injected_at: float = 0.0
    healed_at: float = 0.0

    @property
    def proven(self) -> bool:
        return (
            self.ok_before
            and self.alarm_at is not None
            and self.ok_at is not None
            and {(OK, ALARM), (ALARM, OK)} <= self.sns
        )

    def why_not(self) -> str:
        if not self.ok_before:
            return "not OK before the fault"
        if self.alarm_at is None:
            return "never went to ALARM under the fault"
        if self.ok_at is None:
            return "never went back to OK after the fault"
        return "no SNS message each way"

    def time_to_alarm(self) -> str:
        return self._elapsed(self.alarm_at, self.injected_at)

    def time_to_ok(self) -> str:
        return self._elapsed(self.ok_at, self.healed_at)

    def _elapsed(self, at: float | None, since: float) -> str:
        if at is None:
            return "-"
        real = max(at - since, 0.0)
        return f"{real * self.scenario.time_scale / 60:.1f} min ({real:.0f} s)"


class Capture:
    """The EMF lines the stack printed so far, read as they come (the alarm replay needs no other)."""

    def __init__(self, stack: ScratchStack) -> None:
        self._stack = stack
        self._offsets: dict[Path, int] = {}
        self.lines: list[str] = []

    def read(self) -> list[str]:
        for path in self._stack.stdout_files.values():
            with path.open("rb") as handle:
                handle.seek(self._offsets.get(path, 0))
                data = handle.read()
            complete = data.rfind(b"\n") + 1
            self._offsets[path] = self._offsets.get(path, 0) + complete
            self.lines += [line for line in data[:complete].decode(errors="replace").splitlines() if '"_aws"' in line]
        return self.lines


def _states(
    transitions: list[Transition], alarms: tuple[str, ...], until: float | None = None
) -> dict[str, list[Transition]]:
    """Each alarm's transitions; with `until`, only those of periods over by then (the last period of a capture still
    being written is evaluated on what it has so far, at its end, which is still to come)."""
    return {
        alarm: [t for t in transitions if t.alarm == alarm and (until is None or t.at.timestamp() <= until)]
        for alarm in alarms
    }


def _wait(
    capture: Capture,
    catalog: AlarmCatalog,
    scenario: Scenario,
    limit_s: float,
    done: Callable[[dict[str, list[Transition]]], bool],
) -> None:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        time.sleep(CHECK_EVERY_S)  # the stack runs meanwhile: this is the pace of the replay, not a readiness wait
        result = replay(catalog, capture.read(), time_scale=scenario.time_scale)
        if done(_states(result.transitions, scenario.proves, until=time.time())):
            return


def _state_now(transitions: list[Transition]) -> str | None:
    return transitions[-1].new_state if transitions else None


def _went(transitions: list[Transition], state: str, after: float) -> Transition | None:
    return next((t for t in transitions if t.new_state == state and t.at.timestamp() >= after), None)


@contextmanager
def _closing(fault: Fault) -> Iterator[Fault]:
    try:
        yield fault
    finally:
        fault.close()


def run_scenario(scenario: Scenario, catalog: AlarmCatalog, save_to: Path | None = None) -> list[Proof]:
    log(f"{scenario.name}: {scenario.what} (time compressed {scenario.time_scale:g}x)")
    minute_s = 60 / scenario.time_scale
    env = {
        "METRICS_FLUSH_INTERVAL_S": f"{max(minute_s / 4, 0.25):g}",
        "XRAY_SAMPLING": "all",
        "GUNICORN_THREADS": str(USERS_PER_DOOR + 4),
        "DB_POOL_MAX_SIZE": str(USERS_PER_DOOR + 4),
        **scenario.env,
    }
    with scratch_stack(
        env,
        lambda message: None,
        prefix=f"alarms-proof-{scenario.name}-",
        time_scale=scenario.time_scale,
        allocated_storage_gib=scenario.allocated_storage_gib,
    ) as stack:
        tokens = {role: stack.token(role) for role in ("registrar", "admin")}
        users = Load(
            stack.door_urls,
            Mix(tokens, busy=False),
            workers=scenario.users_per_door,
            pause_s=THINK_TIME_S,
            think=random.Random(scenario.name),
        )
        capture = Capture(stack)
        fault = scenario.fault(stack)
        with _closing(fault), users, readiness_schedule(stack, scenario.time_scale):
            _wait(
                capture,
                catalog,
                scenario,
                30 * minute_s + 30,
                lambda states: all(_state_now(t) == OK for t in states.values()),
            )
            fault.inject()
            log(f"{scenario.name}: fault injected")
            _wait(
                capture,
                catalog,
                scenario,
                scenario.fault_s,
                lambda states: all(_went(t, ALARM, fault.injected_at) for t in states.values()),
            )
            fault.heal()
            log(f"{scenario.name}: fault healed")
            _wait(
                capture,
                catalog,
                scenario,
                scenario.recovery_s,
                lambda states: all(
                    _went(t, OK, fault.healed_at) or not _went(t, ALARM, fault.injected_at) for t in states.values()
                ),
            )
        everything = stack.stop()
        lines = capture.read()
    if save_to is not None:
        save_to.mkdir(parents=True, exist_ok=True)
        (save_to / f"{scenario.name}.log").write_text("\n".join(everything) + "\n", encoding="utf-8")
    result = replay(catalog, lines, time_scale=scenario.time_scale)
    states = _states(result.transitions, scenario.proves)
    proofs = []
    for alarm in scenario.proves:
        transitions = states[alarm]
        before = [t for t in transitions if t.at.timestamp() <= fault.injected_at]
        went_to_alarm = _went(transitions, ALARM, fault.injected_at)
        # Back to OK: the state it settled in after the fault (an alarm on a sparse metric may flap while it lasts).
        settled = transitions[-1] if went_to_alarm and transitions[-1].new_state == OK else None
        went_to_ok = settled if settled and settled.at >= went_to_alarm.at else None
        proofs.append(
            Proof(
                alarm,
                scenario,
                ok_before=bool(before) and before[-1].new_state == OK,
                alarm_at=went_to_alarm.at.timestamp() if went_to_alarm else None,
                ok_at=went_to_ok.at.timestamp() if went_to_ok else None,
                injected_at=fault.injected_at,
                healed_at=fault.healed_at,
            )
        )
    _read_back_sns(result.transitions, proofs)
    for proof in proofs:
        log(f"{scenario.name}: {proof.alarm} {'proven' if proof.proven else 'NOT proven: ' + proof.why_not()}")
    return proofs


def _read_back_sns(transitions: list[Transition], proofs: list[Proof]) -> None:
    """Records, for each alarm to prove, the state changes its SNS messages said, as read back from the queues."""
    by_alarm = {proof.alarm: proof for proof in proofs}
    for message in sns_round_trip(t for t in transitions if t.alarm in by_alarm):
        by_alarm[message["AlarmName"]].sns.add((message["OldStateValue"], message["NewStateValue"]))


# ---- the whole proof --------------------------------------------------------------------------------------------


def scenario_of(alarm: str) -> Scenario:
    return next(scenario for scenario in SCENARIOS if alarm in scenario.proves)


def report(proofs: list[Proof]) -> bool:
    rows = [
        (
            proof.alarm,
            proof.scenario.name,
            proof.time_to_alarm(),
            proof.time_to_ok(),
            "proven" if proof.proven else f"NOT PROVEN: {proof.why_not()}",
        )
        for proof in proofs
    ]
    header = ("alarm", "scenario", "time to ALARM", "time to OK", "")
    widths = [max(len(row[index]) for row in [header, *rows]) for index in range(4)]
    print()
    for row in [header, *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[4])
    proven = sum(proof.proven for proof in proofs)
    print(f"\nalarms proven: {proven}/{len(proofs)}")
    return proven == len(proofs)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m local_stack.alarms_proof",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="ALARM",
        help="prove this alarm only (its scenario runs; repeat or separate by commas for several)",
    )
    parser.add_argument("--list", action="store_true", help="list each alarm with the scenario that proves it")
    parser.add_argument(
        "--save",
        type=Path,
        metavar="DIR",
        help="keep what each scenario's stack printed as DIR/<scenario>.log, to replay again"
        " (python -m infra.alarm_replay DIR/<scenario>.log --time-scale <its scale>)",
    )
    args = parser.parse_args(argv)
    catalog = load_alarms()
    names = [alarm.name for alarm in catalog.alarms] + [catalog.composite.name]
    only = [name for value in args.only for name in value.split(",") if name]
    unknown = [name for name in only if name not in names]
    if unknown:
        parser.error(f"no such alarm: {', '.join(unknown)} (alarms/*.yaml names them)")
    wanted = only or names
    if args.list:
        for name in wanted:
            print(f"{name}: {scenario_of(name).name}")
        return 0
    scenarios = [scenario for scenario in SCENARIOS if any(alarm in wanted for alarm in scenario.proves)]
    proofs = []
    for scenario in scenarios:
        proofs += [proof for proof in run_scenario(scenario, catalog, args.save) if proof.alarm in wanted]
    return 0 if report(proofs) else 1


if __name__ == "__main__":
    sys.exit(main())

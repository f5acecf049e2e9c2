"""One fault library for the local stack: the load clients put on the doors, the schedules AWS runs against them, and
the faults that go wrong under it, each done for real, so that what the doors, the local stand-ins for AWS and the
RDS monitor publish moves by itself. `make drill`, the dashboard preview's capture and `make alarms-proof` are built
on it; no fault writes a metric.

A fault is injected and healed (`with fault:` does both), and remembers when (epoch seconds, the clock of the EMF
timestamps the alarm replay reads). Each works on a local_stack.scratch_stack.ScratchStack:

| fault | what goes wrong, for real |
|---|---|
| DatabaseDown | PostgreSQL crashes (SIGQUIT to the postmaster: `pg_ctl stop -m immediate`), and is started again |
| HeldLock | a session holds an ACCESS EXCLUSIVE lock on `students` (a migration, a batch job): statements wait |
| ConnectionLeak | another client opens sessions and never closes them |
| CpuHog | sessions run CPU-bound loops in the server (a runaway report) |
| StorageFill | a table grows until the allocated storage is nearly full (a runaway import), then is dropped |
| MemoryHog | sessions hold large temporary tables in their own memory (temp_buffers) |
| LambdaCrashes | the Lambda door's execution environments are killed while they serve (as the OOM killer would) |
| Deploy | a door restarted with other settings (a deploy of a bad configuration), then with its own again |
| Canary | a new version of the Lambda function, with other settings, takes a share of its invocations; rolled back |
| Surge | more concurrent clients than the Lambda function's concurrency admits |
| ExpiredTokens | a client keeps calling with a token that has expired |
| FlaskDoorDown | the Flask door's processes die (gunicorn and its workers killed), and it is started again |
| Flood | one client address sends requests as fast as it can, past the web ACL's rate limit |
| Together | several of the above at once (injected in order, healed in reverse) |
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import random
import signal
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import psutil
import psycopg

from .scratch_stack import ScratchStack

FAULT_APPLICATION = "local-fault"  # application_name of the faults' own sessions
REQUEST_TIMEOUT_S = 30.0  # a client's patience: longer than any answer the stack gives (API Gateway's 29 s)
MAX_REQUESTS_PER_CLIENT = 200_000  # every load loop is bounded in count as well as in time


# ---- clients ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    door: str
    method: str
    path: str
    sent: float  # time.monotonic()
    elapsed: float  # seconds
    status: int  # 0: no answer (connection refused or reset, timeout)
    body: bytes = field(repr=False, default=b"")


class Client:
    """One HTTP/1.1 connection kept alive to a door, reopened after a failure; from `source_address` when given (a
    client of its own to the web ACL, which counts requests per address)."""

    def __init__(self, base_url: str, source_address: str | None = None) -> None:
        parts = urlsplit(base_url)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 80
        self._source = (source_address, 0) if source_address else None
        self._connection: http.client.HTTPConnection | None = None

    def send(self, method: str, path: str, token: str | None = None, body: dict | None = None) -> tuple[int, bytes]:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        payload = json.dumps(body).encode() if body is not None else None
        try:
            if self._connection is None:
                self._connection = http.client.HTTPConnection(
                    self._host, self._port, timeout=REQUEST_TIMEOUT_S, source_address=self._source
                )
            self._connection.request(method, path, body=payload, headers=headers)
            response = self._connection.getresponse()
            data = response.read()
            if response.getheader("Connection", "").lower() == "close":
                self.close()
            return response.status, data
        except (OSError, http.client.HTTPException):
            self.close()
            return 0, b""

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


Step = tuple[str, str, str | None, dict | None]  # method, path, token, body


class Mix:
    """What one worker sends each round, given the round's number and the ids it created so far: a student created,
    a page, the count, the student read. `busy` adds what a busy API also sees, so that every panel of the dashboards
    has something to draw: changes and deletes, the 4xx of clients' mistakes, and (once the worker has made itself a
    course offered in a term of its own) enrollments, drops and grades."""

    def __init__(self, tokens: dict[str, str], *, busy: bool) -> None:
        self.tokens = tokens
        self.busy = busy
        self._offerings: dict[str, int] = {}  # worker -> the offering it enrolls its students in

    def round(self, worker: str, number: int, created: list[int]) -> list[Step]:
        registrar = self.tokens["registrar"]
        email = f"load-{worker}-{number}-{uuid.uuid4().hex[:8]}@example.org"
        steps: list[Step] = [
            ("POST", "/students", registrar, {"first_name": "Load", "last_name": worker, "email": email}),
            ("GET", "/students?limit=20", registrar, None),
            ("GET", "/students/count", registrar, None),
        ]
        if created:
            steps.append(("GET", f"/students/{created[-1]}", registrar, None))
        if not self.busy:
            return steps
        if created and number % 3 == 0:
            steps.append(("PATCH", f"/students/{created[-1]}", registrar, {"status": "graduated"}))
        if len(created) > 2 and number % 4 == 0:
            steps.append(("DELETE", f"/students/{created.pop(0)}", registrar, None))
        if number % 5 == 0:
            steps += [
                ("GET", "/students/999999999", registrar, None),
                ("GET", "/students/not-a-number", registrar, None),
                ("POST", "/students", registrar, {"first_name": "Load", "last_name": "Twice", "email": email}),
            ]
        if created and number % 6 == 0:
            steps.append(("GET", f"/students/{created[-1]}/audit", self.tokens["admin"], None))
        if number % 7 == 0:
            steps.append(("GET", "/students/count", None, None))  # no token: 401
        return steps

    def offering(self, client: Client, worker: str) -> int | None:
        """The worker's offering, made the first time it is asked for (a course and a term of its own)."""
        if worker not in self._offerings:
            registrar, tag = self.tokens["registrar"], uuid.uuid4().hex[:6].upper()
            course = client.send(
                "POST",
                "/courses",
                registrar,
                {"code": f"LOAD-{tag}", "title": "Load", "credits": 5, "department": "Load"},
            )
            term = client.send(
                "POST", "/terms", registrar, {"code": f"LOAD-{tag}", "starts_on": "2026-09-01", "ends_on": "2026-12-18"}
            )
            if course[0] != 201 or term[0] != 201:
                return None
            offering = client.send(
                "POST",
                "/offerings",
                registrar,
                {
                    "course_id": json.loads(course[1])["id"],
                    "term_id": json.loads(term[1])["id"],
                    "teacher_sub": "load-teacher",
                    "capacity": 10_000,
                },
            )
            if offering[0] != 201:
                return None
            self._offerings[worker] = json.loads(offering[1])["id"]
        return self._offerings[worker]

    def enrollment_steps(self, client: Client, worker: str, number: int, student: int) -> list[Step]:
        """Enrolls the round's student, then drops every third and grades the others."""
        offering = self.offering(client, worker) if self.busy else None
        if offering is None:
            return []
        registrar = self.tokens["registrar"]
        status, body = client.send("POST", f"/offerings/{offering}/enrollments", registrar, {"student_id": student})
        if status != 201:
            return []
        enrollment = json.loads(body)["id"]
        if number % 3 == 0:
            return [("PATCH", f"/enrollments/{enrollment}", registrar, {"status": "dropped"})]
        return [("PUT", f"/enrollments/{enrollment}/grade", registrar, {"grade": "B+"})]


class Load:
    """Bounded load on the doors: `workers` clients per door (each from a loopback address of its own, unless
    `source_address` names one for all), each sending its mix's rounds one request after another
    until stopped, with `pause_s` between requests (a paced client), or with `think` a random pause of that mean (a
    person's think time: exponential, so that clients do not move in step). Every reply is kept, and every create
    the door acknowledged (201), to check later that the database has it."""

    def __init__(
        self,
        urls: dict[str, str],
        mix: Mix | Callable[[str, int, list[int]], list[Step]],
        *,
        workers: int = 2,
        pause_s: float = 0.0,
        think: random.Random | None = None,
        source_address: str | None = None,
    ) -> None:
        self.urls = urls
        self._mix = mix
        self._round = mix.round if isinstance(mix, Mix) else mix
        self.workers = workers
        self.pause_s = pause_s
        self._think = think
        self.source_address = source_address
        self.replies: list[Reply] = []
        self.acknowledged: dict[str, list[int]] = {door: [] for door in urls}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> Load:
        self._threads = [
            threading.Thread(target=self._work, args=(door, url, index), name=f"load-{door}-{index}", daemon=True)
            for door, url in self.urls.items()
            for index in range(self.workers)
        ]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=REQUEST_TIMEOUT_S + 5)

    def __enter__(self) -> Load:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _pause(self) -> float:
        if self._think is None:
            return self.pause_s
        with self._lock:
            return min(self._think.expovariate(1 / self.pause_s), 4 * self.pause_s)

    def _work(self, door: str, url: str, index: int) -> None:
        client = Client(url, self.source_address or _next_client_address())
        created: list[int] = []
        sent = 0
        number = 0
        try:
            while not self._stop.is_set() and sent < MAX_REQUESTS_PER_CLIENT:
                number += 1
                for method, path, token, body in self._round(f"{door}{index}", number, created):
                    if self._stop.is_set():
                        return
                    started = time.monotonic()
                    status, data = client.send(method, path, token, body)
                    reply = Reply(
                        door, method, path, started, time.monotonic() - started, status, data if status == 201 else b""
                    )
                    sent += 1
                    with self._lock:
                        self.replies.append(reply)
                        if status == 201 and method == "POST" and path == "/students":
                            self.acknowledged[door].append(json.loads(data)["id"])
                    if status == 201 and method == "POST" and path == "/students":
                        created.append(json.loads(data)["id"])
                        if isinstance(self._mix, Mix):
                            for step in self._mix.enrollment_steps(client, f"{door}{index}", number, created[-1]):
                                client.send(*step)
                    if self.pause_s:
                        self._stop.wait(self._pause())
        finally:
            client.close()


_client_addresses = itertools.count()
_client_addresses_lock = threading.Lock()


def _next_client_address() -> str:
    """A loopback address of its own for each client (127.1.0.1, 127.1.0.2, ...): people call from addresses of their
    own, and the web ACL's rate limit counts per address."""
    with _client_addresses_lock:
        number = next(_client_addresses) % (250 * 250)
    return f"127.1.{number // 250}.{number % 250 + 1}"


class Probe:
    """One request every `every_s` to each door's `path` (an AWS schedule, a health probe), replies kept."""

    def __init__(self, urls: dict[str, str], path: str, every_s: float) -> None:
        self.load = Load(urls, lambda *_: [("GET", path, None, None)], workers=1, pause_s=every_s)

    @property
    def replies(self) -> list[Reply]:
        return self.load.replies

    def start(self) -> Probe:
        self.load.start()
        return self

    def stop(self) -> None:
        self.load.stop()

    def __enter__(self) -> Probe:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def readiness_schedule(stack: ScratchStack, time_scale: float) -> Probe:
    """The template's ReadinessProbe: the Lambda function's readiness every minute (here through the local gateway;
    EventBridge invokes the function itself). The Flask door's readiness is the load balancer's health check."""
    return Probe({"lambda": stack.door_urls["lambda"]}, "/health/ready", 60 / time_scale)


# ---- faults ----------------------------------------------------------------------------------------------------


class Fault:
    name = "fault"

    def __init__(self) -> None:
        self.injected_at: float | None = None  # epoch seconds
        self.healed_at: float | None = None

    # Each moment is taken as the injection or the healing begins: what it sets off can show before it returns (a
    # restarted door serves its first requests while the restart is still being waited for).
    def inject(self) -> None:
        self.injected_at = time.time()
        self._inject()

    def heal(self) -> None:
        self.healed_at = time.time()
        self._heal()

    def _inject(self) -> None:
        raise NotImplementedError

    def _heal(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Releases what the fault keeps running besides itself (a function's schedule); nothing by default."""

    def __enter__(self) -> Fault:
        self.inject()
        return self

    def __exit__(self, *_: object) -> None:
        self.heal()


def _session(stack: ScratchStack) -> psycopg.Connection:
    """A session of the faults' own: no statement timeout (the doors' settings are theirs, not this client's)."""
    return psycopg.connect(
        stack.database_url, autocommit=True, application_name=FAULT_APPLICATION, options="-c statement_timeout=0"
    )


class DatabaseDown(Fault):
    """PostgreSQL stops as a crash would (`pg_ctl stop -m immediate`: SIGQUIT to the postmaster, whose backends quit
    without a word to their clients), then starts again. `accepting_at` is when it accepted a connection again."""

    name = "database-down"

    def __init__(self, stack: ScratchStack) -> None:
        super().__init__()
        self.stack = stack
        self.accepting_at: float | None = None  # time.monotonic()

    def _inject(self) -> None:
        self.stack.server.crash()

    def _heal(self) -> None:
        starting = threading.Thread(target=self.stack.server.start, name="database-start")
        starting.start()
        deadline = time.monotonic() + 60
        while self.accepting_at is None:
            try:
                psycopg.connect(self.stack.database_url, connect_timeout=2).close()
                self.accepting_at = time.monotonic()
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise RuntimeError("PostgreSQL did not accept connections again") from None
                time.sleep(0.005)  # as a client retrying: the first accepted connection is the moment measured
        starting.join()


class HeldLock(Fault):
    """A session takes an ACCESS EXCLUSIVE lock on `table` in a transaction it keeps open (what a migration's ALTER
    TABLE, or a batch job's LOCK, does): every statement on the table waits for it, until the statement timeout."""

    name = "held-lock"

    def __init__(self, stack: ScratchStack, table: str = "students") -> None:
        super().__init__()
        self.stack, self.table = stack, table
        self._session: psycopg.Connection | None = None

    def _inject(self) -> None:
        self._session = _session(self.stack)
        self._session.execute("BEGIN")
        self._session.execute(f"LOCK TABLE {self.table} IN ACCESS EXCLUSIVE MODE")

    def _heal(self) -> None:
        if self._session is not None:
            self._session.execute("ROLLBACK")
            self._session.close()


class ConnectionLeak(Fault):
    """Another client opens `sessions` connections and leaves them idle, as a leaking pool or a forgotten console
    does."""

    name = "connection-leak"

    def __init__(self, stack: ScratchStack, sessions: int) -> None:
        super().__init__()
        self.stack, self.sessions = stack, sessions
        self._held: list[psycopg.Connection] = []

    def _inject(self) -> None:
        self._held = [_session(self.stack) for _ in range(self.sessions)]

    def _heal(self) -> None:
        for session in self._held:
            session.close()
        self._held = []


class _BackgroundStatements(Fault):
    """Sessions of the faults' own, each running its statements in a thread of its own until healed."""

    def __init__(self, stack: ScratchStack, sessions: int) -> None:
        super().__init__()
        self.stack, self.sessions = stack, sessions
        self._held: list[psycopg.Connection] = []
        self._threads: list[threading.Thread] = []
        self._ready = threading.Barrier(sessions + 1)

    def statements(self) -> list[str]:
        raise NotImplementedError

    def _inject(self) -> None:
        self._held = [_session(self.stack) for _ in range(self.sessions)]
        self._threads = [
            threading.Thread(target=self._run, args=(session,), name=self.name, daemon=True) for session in self._held
        ]
        for thread in self._threads:
            thread.start()
        self._ready.wait(timeout=60)

    def _run(self, session: psycopg.Connection) -> None:
        *setup, last = self.statements()
        try:
            for statement in setup:
                session.execute(statement)
            self._ready.wait(timeout=60)
            session.execute(last)
        except (psycopg.errors.QueryCanceled, psycopg.OperationalError, threading.BrokenBarrierError):
            pass  # cancelled or closed by _heal: the fault is over

    def _heal(self) -> None:
        with _session(self.stack) as control:
            for session in self._held:
                control.execute("SELECT pg_cancel_backend(%s)", (session.info.backend_pid,))
        for thread in self._threads:
            thread.join(timeout=30)
        for session in self._held:
            session.close()
        self._held, self._threads = [], []


class CpuHog(_BackgroundStatements):
    """Sessions each spinning a PL/pgSQL loop in the server, as a runaway report run in parallel would: more sessions
    than the instance has vCPUs keep every one of them busy. Here the server shares the machine's cores with the rest
    of the stack; the RDS monitor counts the time its processes waited for a core as time an instance of its own would
    have given them (local_stack/rds_monitor.py)."""

    name = "cpu-hog"

    def statements(self) -> list[str]:
        return ["DO $$DECLARE i bigint := 0; BEGIN LOOP i := i + 1; END LOOP; END$$"]


class MemoryHog(_BackgroundStatements):
    """Sessions each holding a temporary table in their own memory (temp_buffers, which a session keeps until it
    ends), as sessions building large temporary tables for reports do."""

    name = "memory-hog"

    def __init__(self, stack: ScratchStack, sessions: int, mib_each: int) -> None:
        super().__init__(stack, sessions)
        self.mib_each = mib_each

    def statements(self) -> list[str]:
        rows = self.mib_each * 1024 * 1024 // 1100  # a row of 1,000 characters takes about 1.1 kB in a page
        return [
            f"SET temp_buffers = '{self.mib_each + 16}MB'",
            f"CREATE TEMP TABLE ballast AS SELECT repeat('x', 1000) AS pad FROM generate_series(1, {rows})",
            "SELECT pg_sleep(3600)",
        ]  # the session (and its buffers) kept until the fault is healed


class StorageFill(Fault):
    """A table written until the data directory holds `bytes_` more (UNLOGGED: the data files only, no WAL), as a
    runaway import fills a volume; dropped when healed, which frees its files at once."""

    name = "storage-fill"
    _BATCH_ROWS = 50_000  # about 90 MB a batch

    def __init__(self, stack: ScratchStack, bytes_: int) -> None:
        super().__init__()
        self.stack, self.bytes = stack, bytes_

    def _inject(self) -> None:
        with _session(self.stack) as session:
            session.execute("CREATE UNLOGGED TABLE IF NOT EXISTS fault_ballast (pad text STORAGE PLAIN)")
            written = 0
            while written < self.bytes:
                session.execute(
                    "INSERT INTO fault_ballast SELECT repeat('x', 1800) FROM generate_series(1, %s)",
                    (self._BATCH_ROWS,),
                )
                written = session.execute("SELECT pg_total_relation_size('fault_ballast')").fetchone()[0]

    def _heal(self) -> None:
        with _session(self.stack) as session:
            session.execute("DROP TABLE IF EXISTS fault_ballast")


class LambdaCrashes(Fault):
    """The Lambda door's execution environments killed (SIGKILL) every `every_s` while they serve, as the OOM killer
    ends a function over its memory: each invocation in flight fails with Runtime.ExitError, and the next ones
    cold-start new environments."""

    name = "lambda-crashes"

    def __init__(self, stack: ScratchStack, every_s: float) -> None:
        super().__init__()
        self.stack, self.every_s = stack, every_s
        self.killed = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _inject(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._kill, name="lambda-crashes", daemon=True)
        self._thread.start()

    def _kill(self) -> None:
        door = psutil.Process(self.stack.processes["lambda"].pid)
        while not self._stop.wait(self.every_s):
            for child in door.children():
                try:
                    if "awslambdaric" in child.cmdline():
                        child.kill()
                        self.killed += 1
                except psutil.NoSuchProcess:
                    continue

    def _heal(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)


class Deploy(Fault):
    """A door restarted with `env` over its settings (a deploy of another configuration), and with its own again
    when healed (the deploy rolled back)."""

    name = "deploy"

    def __init__(self, stack: ScratchStack, door: str, env: dict[str, str]) -> None:
        super().__init__()
        self.stack, self.door, self.env = stack, door, env

    def _inject(self) -> None:
        self.stack.stop_door(self.door)
        self.stack.start_door(self.door, self.env)

    def _heal(self) -> None:
        self.stack.stop_door(self.door)
        self.stack.start_door(self.door)


class Canary(Fault):
    """A deployment of the Lambda door's function as CodeDeploy runs it: a new version published with `env` over
    the function's settings (a bad deploy) takes `weight` of the invocations through the alias `live` (by default
    the first step of the template's ApiDeploymentStrategy, 10 %); healed as CodeDeploy heals it when a rollback
    alarm fires: the alias routes every invocation to the previous version again, the new version's environments
    left idle (local_stack/lambda_door.py). Publishing restarts the door, the deployed version's environments
    cold again, where Lambda would keep them warm."""

    name = "canary"

    def __init__(self, stack: ScratchStack, env: dict[str, str], weight: float | None = None) -> None:
        super().__init__()
        self.stack, self.env, self.weight = stack, env, weight

    def _inject(self) -> None:
        arguments = [f"--canary={name}={value}" for name, value in self.env.items()]
        if self.weight is not None:
            arguments.append(f"--canary-weight={self.weight:g}")
        self.stack.stop_door("lambda")
        self.stack.start_door("lambda", arguments=arguments)

    def _heal(self) -> None:
        self.stack.processes["lambda"].send_signal(signal.SIGUSR1)  # lambda_door's rollback


class _ClientsFault(Fault):
    """A fault that is clients: a Load started when injected and stopped when healed."""

    def __init__(self, load: Load) -> None:
        super().__init__()
        self.load = load

    def _inject(self) -> None:
        self.load.start()

    def _heal(self) -> None:
        self.load.stop()


class Surge(_ClientsFault):
    """`clients` more concurrent clients reading pages of students from the Lambda door, one request after another."""

    name = "surge"

    def __init__(self, stack: ScratchStack, clients: int) -> None:
        token = stack.token("registrar")
        super().__init__(
            Load(
                {"lambda": stack.door_urls["lambda"]},
                lambda *_: [("GET", "/students?limit=200", token, None)],
                workers=clients,
            )
        )


class ExpiredTokens(_ClientsFault):
    """`clients` clients of both doors calling with a token that expired a minute ago: every request a 401."""

    name = "expired-tokens"

    def __init__(self, stack: ScratchStack, clients: int, pause_s: float = 0.0) -> None:
        token = stack.token("registrar", ttl_s=-60)
        urls = dict(stack.door_urls)
        super().__init__(
            Load(urls, lambda *_: [("GET", "/students/count", token, None)], workers=clients, pause_s=pause_s)
        )


class Flood(_ClientsFault):
    """One client address (`address`, a loopback address of its own) sending `/health` through the load balancer,
    `per_second` requests a second: the web ACL's rate-based rule counts it apart from everyone else."""

    name = "flood"
    CLIENTS = 6

    def __init__(self, stack: ScratchStack, per_second: float, address: str = "127.0.0.66") -> None:
        _check_loopback(address)
        super().__init__(
            Load(
                {"flask": stack.door_urls["flask"]},
                lambda *_: [("GET", "/health", None, None)],
                workers=self.CLIENTS,
                pause_s=self.CLIENTS / per_second,
                source_address=address,
            )
        )


class FlaskDoorDown(Fault):
    """The Flask door's processes die (gunicorn's master and its workers, killed), and it is started again."""

    name = "flask-door-down"

    def __init__(self, stack: ScratchStack) -> None:
        super().__init__()
        self.stack = stack

    def _inject(self) -> None:
        process = self.stack.processes.pop("flask")
        os.killpg(process.pid, signal.SIGKILL)  # the door runs in a session (and process group) of its own
        process.wait(timeout=30)

    def _heal(self) -> None:
        self.stack.start_door("flask")


class Together(Fault):
    """Several faults at once: injected in order, healed in reverse."""

    def __init__(self, *faults: Fault) -> None:
        super().__init__()
        self.faults = faults
        self.name = "+".join(fault.name for fault in faults)

    def _inject(self) -> None:
        for fault in self.faults:
            fault.inject()

    def _heal(self) -> None:
        for fault in reversed(self.faults):
            fault.heal()


def _check_loopback(address: str) -> None:
    packed = socket.inet_aton(address)
    if packed[0] != 127:
        raise ValueError(f"{address}: the faults' clients use loopback addresses only")


def created_ids_missing(stack: ScratchStack, ids: Iterable[int]) -> int:
    """How many of the acknowledged creates the database does not have."""
    wanted = set(ids)
    with psycopg.connect(stack.database_url) as connection:
        found = {row[0] for row in connection.execute("SELECT id FROM students WHERE id = ANY(%s)", (list(wanted),))}
    return len(wanted - found)

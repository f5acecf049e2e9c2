"""A throwaway local stack for runs under load (`make drill`, the dashboard preview's capture, `make alarms-proof`, the
end-to-end test against a stack): an embedded PostgreSQL in a scratch folder, migrated, and both doors serving on
loopback with their stdout (logs and EMF) in files.

Given a time scale, the AWS services around the doors stand in too, their intervals compressed by it as the alarm
replay compresses alarm periods: the Flask door behind the load balancer and web ACL stand-in
(local_stack/load_balancer.py, which clients then call), and the RDS monitor publishing the database's AWS/RDS
metrics (local_stack/rds_monitor.py). The Lambda door always publishes AWS/ApiGateway and AWS/Lambda. Faults are
local_stack/faults.py's."""

import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from student_records.data import migrations

from .cloudwatch import AwsMetrics, LineStream
from .dev_auth import auth_environment, issue_token
from .embedded_postgres import EmbeddedPostgres
from .ports import free_port
from .rds_monitor import RDS_PERIOD_S, Instance, RdsMonitor
from .run import REPO_ROOT, start_flask_door, start_lambda_door

READY_DEADLINE_S = 60
STARTERS = {"flask": start_flask_door, "lambda": start_lambda_door}


def wait_until_serving(url: str, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + READY_DEADLINE_S
    while True:
        try:
            with urllib.request.urlopen(url + "/health", timeout=2):
                return
        except OSError:
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"{' '.join(map(str, process.args))} exited with {process.returncode}") from None
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not start within {READY_DEADLINE_S} s") from None
            time.sleep(0.1)  # polling the health route: the door answers once it serves


@dataclass
class ScratchStack:
    database_url: str
    server: EmbeddedPostgres
    door_urls: dict[str, str]  # what clients call: "flask" (the load balancer, when it stands in) and "lambda"
    door_ports: dict[str, int]  # where each door itself listens
    stdout_files: dict[str, Path]  # every process's output, the RDS monitor's included
    scratch: Path
    time_scale: float | None
    _env: dict[str, str]
    _log: Callable[[str], None]
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)  # flask, lambda, load-balancer
    _monitor: RdsMonitor | None = None

    @property
    def key_dir(self) -> Path:
        return self.scratch / "auth"

    def token(self, role: str, ttl_s: int = 3600) -> str:
        return issue_token(role, key_dir=self.key_dir, ttl_s=ttl_s)

    def lines(self) -> list[str]:
        """Everything printed so far, process by process."""
        return [line for path in self.stdout_files.values() for line in path.read_text(errors="replace").splitlines()]

    def start_door(self, name: str, env: dict[str, str] | None = None, arguments: Sequence[str] = ()) -> None:
        """Starts the door `name` on its port, with the stack's environment and `env` over it (a deploy of other
        settings) and `arguments` for its command (the Lambda door's `--canary`: a deployment under way), its output
        appended to its file; returns once it serves."""
        stdout = self.stdout_files[name].open("a")
        self.processes[name] = STARTERS[name](self.door_ports[name], {**self._env, **(env or {})}, stdout, arguments)
        stdout.close()  # the child holds its own copy
        wait_until_serving(f"http://127.0.0.1:{self.door_ports[name]}", self.processes[name])

    def stop_door(self, name: str) -> None:
        process = self.processes.pop(name)
        process.terminate()
        process.wait(timeout=30)

    def stop(self) -> list[str]:
        """Stops the doors (the Flask door flushes its last EMF on the way out), the load balancer and the RDS
        monitor; returns what they printed."""
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            process.wait(timeout=30)
        self._stop_monitor()
        return self.lines()

    def kill(self) -> None:
        """Whatever still runs, killed: the way out of a stack whose run failed."""
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
        self._stop_monitor()

    def _stop_monitor(self) -> None:
        if self._monitor is not None:
            self._monitor.stop()
            self._monitor = None

    def start_aws_stand_ins(self, allocated_storage_gib: float | None) -> None:
        """The load balancer and web ACL before the Flask door (which clients then call), and the RDS monitor."""
        assert self.time_scale is not None
        time_scale = self.time_scale
        output = self.scratch / "load-balancer.log"
        self.stdout_files["load-balancer"] = output
        port = free_port()
        with output.open("w") as stdout:
            self.processes["load-balancer"] = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "local_stack.load_balancer",
                    "--port",
                    str(port),
                    "--target",
                    f"127.0.0.1:{self.door_ports['flask']}",
                    "--time-scale",
                    f"{time_scale:g}",
                ],
                cwd=REPO_ROOT,
                stdout=stdout,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.door_urls["flask"] = f"http://127.0.0.1:{port}"
        wait_until_serving(self.door_urls["flask"], self.processes["load-balancer"])
        monitor_output = self.scratch / "rds-monitor.log"
        self.stdout_files["rds-monitor"] = monitor_output
        instance = Instance.from_template(allocated_storage_gib=allocated_storage_gib)
        self._monitor = RdsMonitor(
            self.database_url, instance, AwsMetrics(LineStream(monitor_output.open("a"))), log=self._log
        )
        self._monitor.start(RDS_PERIOD_S / time_scale)


@contextmanager
def scratch_stack(
    env: dict[str, str],
    log: Callable[[str], None],
    prefix: str,
    *,
    time_scale: float | None = None,
    allocated_storage_gib: float | None = None,
) -> Iterator[ScratchStack]:
    """`env` is added to the doors' environment (which already names the database, the development signing
    key, a UDP port nobody reads for X-Ray, one gunicorn worker and no effective rate limit). With `time_scale`, the
    load balancer and the RDS monitor stand in (the monitor's instance given `allocated_storage_gib` when set)."""
    (REPO_ROOT / ".data").mkdir(exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=prefix, dir=REPO_ROOT / ".data"))
    server = EmbeddedPostgres(scratch / "postgres", log=log)
    stack: ScratchStack | None = None
    try:
        server.start()
        server.ensure_database("student_records")
        database_url = server.dsn("student_records")
        migrations.migrate(database_url)
        door_env = {
            "DATABASE_URL": database_url,
            **auth_environment(scratch / "auth"),
            "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{free_port(protocol='udp')}",
            "AWS_EC2_METADATA_DISABLED": "true",
            # The sampling rules applied locally, as `make run` does: no daemon here to poll for AWS's.
            "XRAY_SAMPLING": "rules",
            "GUNICORN_WORKERS": "1",
            "RATE_LIMIT": "100000 per second",
            "PYTHONUNBUFFERED": "1",
            # Behind the load balancer, the client is the address it adds to X-Forwarded-For, as on EC2.
            **({"TRUSTED_PROXY_HOPS": "1"} if time_scale else {}),
            **env,
        }
        ports = {name: free_port() for name in STARTERS}
        stack = ScratchStack(
            database_url,
            server,
            {name: f"http://127.0.0.1:{port}" for name, port in ports.items()},
            ports,
            {name: scratch / f"{name}.log" for name in STARTERS},
            scratch,
            time_scale,
            door_env,
            log,
        )
        for name in STARTERS:
            stack.start_door(name)
        if time_scale:
            stack.start_aws_stand_ins(allocated_storage_gib)
        yield stack
    finally:
        if stack is not None:
            stack.kill()
        server.stop()
        shutil.rmtree(scratch, ignore_errors=True)

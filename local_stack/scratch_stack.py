"""A throwaway local stack for runs under load (`make drill`, the dashboard preview's capture): an embedded
PostgreSQL in a scratch folder, migrated, and both doors serving on loopback with their stdout (logs and
EMF) in files; the database can be taken down for a while and brought back."""

import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from student_records.data import migrations

from .dev_auth import auth_environment, issue_token
from .embedded_postgres import EmbeddedPostgres
from .run import REPO_ROOT, start_flask_door, start_lambda_door

READY_DEADLINE_S = 60


def free_port(kind: socket.SocketKind = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_serving(url: str) -> None:
    deadline = time.monotonic() + READY_DEADLINE_S
    while True:
        try:
            with urllib.request.urlopen(url + "/health", timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not start within {READY_DEADLINE_S} s") from None
            time.sleep(0.1)  # polling the health route: the door answers once it serves


@dataclass
class ScratchStack:
    database_url: str
    door_urls: dict[str, str]  # "flask" and "lambda"
    stdout_files: dict[str, Path]
    _server: EmbeddedPostgres
    _processes: list[subprocess.Popen]
    _key_dir: Path

    def token(self, role: str) -> str:
        return issue_token(role, key_dir=self._key_dir)

    def take_database_down(self, seconds: float) -> float:
        """Stops PostgreSQL for `seconds`, starts it again; returns when it was back (time.monotonic())."""
        self._server.stop()
        time.sleep(seconds)  # the outage itself
        self._server.start()
        return time.monotonic()

    def stop_doors(self) -> list[str]:
        """Stops both doors (the Flask door flushes its last EMF on the way out); returns what they printed."""
        for process in self._processes:
            process.terminate()
        for process in self._processes:
            process.wait(timeout=30)
        return [line for path in self.stdout_files.values() for line in path.read_text(errors="replace").splitlines()]


@contextmanager
def scratch_stack(env: dict[str, str], log: Callable[[str], None], prefix: str) -> Iterator[ScratchStack]:
    """`env` is added to the doors' environment (which already names the database, the development signing
    key, a UDP port nobody reads for X-Ray, one gunicorn worker and no effective rate limit)."""
    (REPO_ROOT / ".data").mkdir(exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=prefix, dir=REPO_ROOT / ".data"))
    server = EmbeddedPostgres(scratch / "postgres", log=log)
    processes: list[subprocess.Popen] = []
    try:
        server.start()
        server.ensure_database("student_records")
        database_url = server.dsn("student_records")
        migrations.migrate(database_url)
        door_env = {
            "DATABASE_URL": database_url,
            **auth_environment(scratch / "auth"),
            "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{free_port(socket.SOCK_DGRAM)}",
            "GUNICORN_WORKERS": "1",
            "RATE_LIMIT": "100000 per second",
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        urls, outputs = {}, {}
        for name, start in (("flask", start_flask_door), ("lambda", start_lambda_door)):
            port, outputs[name] = free_port(), scratch / f"{name}.log"
            processes.append(start(port, door_env, outputs[name].open("w")))
            urls[name] = f"http://127.0.0.1:{port}"
        for url in urls.values():
            wait_until_serving(url)
        yield ScratchStack(database_url, urls, outputs, server, processes, scratch / "auth")
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
        server.stop()
        shutil.rmtree(scratch, ignore_errors=True)

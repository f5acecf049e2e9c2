"""Each front door in a process of its own, as in production, with its stdout captured and its X-Ray
segments received on a real UDP socket: what the observability tests read."""

import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
READY_DEADLINE_S = 60


class UdpCollector:
    """Receives X-Ray daemon datagrams on 127.0.0.1 and keeps every document (and every datagram as it came)."""

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)  # bursts of split traces
        self._socket.bind(("127.0.0.1", 0))
        self.port = self._socket.getsockname()[1]
        self.raw: list[bytes] = []
        self.documents: list[dict] = []
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while True:
            try:
                data = self._socket.recv(65536)
            except OSError:
                return
            _header, _, body = data.partition(b"\n")
            with self._changed:
                self.raw.append(data)
                self.documents.append(json.loads(body))
                self._changed.notify_all()

    def wait_for(self, predicate, timeout: float = 10.0) -> list[dict]:
        """Blocks until predicate(documents) holds; returns the documents then."""
        with self._changed:
            assert self._changed.wait_for(lambda: predicate(self.documents), timeout), "segments never arrived"
            return list(self.documents)

    def close(self) -> None:
        self._socket.close()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class DoorProcess:
    """One front door served on loopback by its real server: gunicorn for flask, the local gateway for lambda.
    Not on EC2: the instance metadata lookup is off unless `overrides` turn it on (with an endpoint of their own)."""

    def __init__(
        self, door: str, database_url: str, daemon_port: int, scratch: Path, overrides: dict[str, str] | None = None
    ) -> None:
        self.door = door
        self.port = free_port()
        self.stdout_path = scratch / f"{door}-stdout.log"
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{daemon_port}",
            "XRAY_SAMPLING": "all",
            "METRICS_FLUSH_INTERVAL_S": "0",
            "PYTHONUNBUFFERED": "1",
            "LOG_LEVEL": "INFO",
            "PORT": str(self.port),
            "GUNICORN_WORKERS": "1",
            "GUNICORN_THREADS": "2",
            "AWS_EC2_METADATA_DISABLED": "true",
            **(overrides or {}),
        }
        for name in ("LAMBDA_TASK_ROOT", "_X_AMZN_TRACE_ID", "AWS_LAMBDA_FUNCTION_NAME"):
            env.pop(name, None)
        if door == "lambda":
            command = [sys.executable, "-m", "local_stack.lambda_door", "--port", str(self.port)]
        else:
            command = [
                sys.executable,
                "-m",
                "gunicorn",
                "-c",
                "flask_backend/gunicorn.conf.py",
                "flask_backend.wsgi:app",
            ]
        self._stdout = self.stdout_path.open("w")
        self.process = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=self._stdout, stderr=subprocess.STDOUT)
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._wait_until_serving()

    def _wait_until_serving(self) -> None:
        deadline = time.monotonic() + READY_DEADLINE_S
        while True:
            assert self.process.poll() is None, self.stdout_path.read_text()
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return
            except OSError:
                assert time.monotonic() < deadline, self.stdout_path.read_text()
                time.sleep(0.05)

    def send(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        from tests.doors import token_for

        headers = {"Authorization": f"Bearer {token_for('admin', subject='observability-suite')}", **(headers or {})}
        request = urllib.request.Request(self.base_url + path, data=body, method=method, headers=headers)
        if body is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def output_lines(self) -> list[dict]:
        """Every JSON line the process printed (logs and EMF documents)."""
        lines = []
        for line in self.stdout_path.read_text().splitlines():
            if line.startswith("{"):
                lines.append(json.loads(line))
        return lines

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        self._stdout.close()

"""A port `make run` needs, held by another program: one line names it with the variable that moves it (PORT,
GATEWAY_PORT, AWS_XRAY_DAEMON_ADDRESS, EMBEDDED_PG_PORT), no traceback, a non-zero exit, and nothing left running;
whether it is found before anything starts or when the server that needs it binds."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from local_stack.embedded_postgres import EmbeddedPostgres
from local_stack.ports import Port, PortInUse, free_port, held_by_others
from local_stack.run import start_flask_door
from local_stack.trace_viewer import TraceViewer
from local_stack.trace_viewer import main as trace_viewer_main

REPO_ROOT = Path(__file__).resolve().parents[2]
RUN_TIMEOUT_S = 120


@contextmanager
def held_port(kind: socket.SocketKind = socket.SOCK_STREAM) -> Iterator[int]:
    """A port on 127.0.0.1 that this test holds open, as another program would (a TCP one listening)."""
    if kind == socket.SOCK_STREAM:
        holder = socket.create_server(("127.0.0.1", 0))
    else:
        holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        holder.bind(("127.0.0.1", 0))
    with holder:
        yield holder.getsockname()[1]


def _bindable(port: int, kind: socket.SocketKind = socket.SOCK_STREAM) -> bool:
    return not held_by_others([Port("probe", "P", "127.0.0.1", port, "udp" if kind == socket.SOCK_DGRAM else "tcp")])


@pytest.fixture
def scratch() -> Iterator[Path]:
    path = REPO_ROOT / ".data" / f"test-busy-ports-{uuid.uuid4().hex[:8]}"
    path.mkdir(parents=True)
    yield path
    if EmbeddedPostgres(path / "postgres").is_running():  # only when a test failed to stop it
        EmbeddedPostgres(path / "postgres").stop()
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def run_env(scratch: Path) -> dict[str, str]:
    """`make run`'s environment on a fresh machine, every port free: a test then takes one."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DB_HOST") and not k.startswith("AUTH_")}
    return env | {
        "EMBEDDED_PG_DIR": str(scratch / "postgres"),
        "AUTH_KEY_DIR": str(scratch / "auth"),
        "SEED_STUDENTS": "5",
        "PORT": str(free_port()),
        "GATEWAY_PORT": str(free_port()),
        "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{free_port(protocol='udp')}",
    }


def _make_run(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "local_stack.run"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )


def _lines_naming(output: str, variable: str) -> list[str]:
    return [line for line in output.splitlines() if f"set {variable} to move it" in line]


@pytest.mark.parametrize(
    ("variable", "kind", "value"),
    [
        ("PORT", socket.SOCK_STREAM, "{port}"),
        ("GATEWAY_PORT", socket.SOCK_STREAM, "{port}"),
        ("AWS_XRAY_DAEMON_ADDRESS", socket.SOCK_DGRAM, "127.0.0.1:{port}"),
        ("EMBEDDED_PG_PORT", socket.SOCK_STREAM, "{port}"),
    ],
)
def test_make_run_names_a_taken_port_with_its_variable_and_leaves_nothing_running(
    run_env, scratch, variable, kind, value
):
    # Given another program holding the port that the variable gives
    with held_port(kind) as port:
        env = run_env | {variable: value.format(port=port)}
        # When `make run` starts
        result = _make_run(env)
    output = result.stdout + result.stderr
    # Then it fails, in one line that names the port and the variable, with a free value to give it
    assert result.returncode != 0, output
    [line] = _lines_naming(output, variable)
    assert f"port {port}" in line and f"e.g. {variable}=" in line
    assert "Traceback" not in output
    # And nothing it started is left: no database on its data directory, no door or viewer on the other ports
    assert not EmbeddedPostgres(scratch / "postgres").is_running()
    assert _bindable(int(env["PORT"])) and _bindable(int(env["GATEWAY_PORT"]))
    assert _bindable(int(env["AWS_XRAY_DAEMON_ADDRESS"].rsplit(":", 1)[1]), socket.SOCK_DGRAM)


def test_every_taken_port_is_named_at_once(run_env):
    # Given the ports of a `make run` that is already running, as a second `make run` finds them
    with held_port() as flask, held_port() as gateway, held_port(socket.SOCK_DGRAM) as daemon:
        env = run_env | {
            "PORT": str(flask),
            "GATEWAY_PORT": str(gateway),
            "AWS_XRAY_DAEMON_ADDRESS": f"127.0.0.1:{daemon}",
        }
        # When `make run` starts
        result = _make_run(env)
    # Then each is named in a line of its own before anything started
    output = result.stdout + result.stderr
    assert result.returncode != 0
    for variable in ("PORT", "GATEWAY_PORT", "AWS_XRAY_DAEMON_ADDRESS"):
        assert len(_lines_naming(output, variable)) == 1, output
    assert "PostgreSQL" not in output and "Traceback" not in output


def test_a_port_taken_once_the_database_runs_is_named_by_the_door_and_the_database_is_stopped(run_env, scratch):
    # Given `make run` started with every port free
    process = subprocess.Popen(
        [sys.executable, "-m", "local_stack.run"],
        cwd=REPO_ROOT,
        env=run_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    output: list[str] = []
    holder = None
    try:
        for line in process.stdout:
            output.append(line)
            if "PostgreSQL" in line and "listening on" in line:
                # When another program takes the Flask door's port after the check, while the database starts
                # (make run paused meanwhile: the doors start only after migrations and demo data)
                os.killpg(process.pid, signal.SIGSTOP)
                holder = socket.create_server(("127.0.0.1", int(run_env["PORT"])))
                os.killpg(process.pid, signal.SIGCONT)
                break
        output.extend(process.stdout)
        process.wait(timeout=RUN_TIMEOUT_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if holder is not None:
            holder.close()
    text = "".join(output)
    assert holder is not None, text
    # Then the Flask door (gunicorn) names PORT in one line, make run stops, and nothing it started is left
    assert process.returncode != 0, text
    assert len(_lines_naming(text, "PORT")) == 1, text
    assert "Traceback" not in text
    assert "PostgreSQL stopped" in text
    assert not EmbeddedPostgres(scratch / "postgres").is_running()
    assert _bindable(int(run_env["GATEWAY_PORT"]))


def test_gunicorn_names_PORT_at_once_instead_of_retrying(tmp_path):
    # Given another program on the Flask door's port
    with held_port() as port:
        # When gunicorn starts the Flask door there
        door = start_flask_door(port, {"GUNICORN_WORKERS": "1"}, stdout=subprocess.PIPE)
        output, _ = door.communicate(timeout=30)
    # Then it exits without binding workers or retrying (gunicorn's own bind retries for five seconds), saying PORT
    assert door.returncode != 0
    [line] = _lines_naming(output.decode(), "PORT")
    assert f"port {port}" in line
    assert "Traceback" not in output.decode() and "Retrying" not in output.decode()


def test_the_lambda_door_names_GATEWAY_PORT():
    # Given another program on the gateway's port
    with held_port() as port:
        # When the Lambda door starts there
        result = subprocess.run(
            [sys.executable, "-m", "local_stack.lambda_door", "--port", str(port)],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    # Then it exits 1 with one line naming GATEWAY_PORT
    assert result.returncode == 1
    assert [line for line in result.stderr.splitlines() if line.strip()] == _lines_naming(result.stderr, "GATEWAY_PORT")


def test_the_trace_viewer_names_AWS_XRAY_DAEMON_ADDRESS(capsys):
    # Given another program on the viewer's UDP port
    with held_port(socket.SOCK_DGRAM) as port:
        # When the viewer is made to listen there, in make run's process or on its own
        with pytest.raises(PortInUse, match=f"port {port}.*set AWS_XRAY_DAEMON_ADDRESS to move it"):
            TraceViewer("127.0.0.1", port)
        status = trace_viewer_main(["--address", f"127.0.0.1:{port}"])
    # Then the error names the variable (and, on its own, the option)
    assert status == 1
    [line] = _lines_naming(capsys.readouterr().err, "AWS_XRAY_DAEMON_ADDRESS")
    assert "--address" in line


def test_the_suggested_value_is_free():
    # Given a held port
    with held_port() as port:
        # When the error is made
        error = PortInUse(Port("the Flask door", "PORT", "127.0.0.1", port))
        # Then the value it suggests can be bound
        suggested = int(str(error).rsplit("PORT=", 1)[1])
        assert suggested != port and _bindable(suggested)

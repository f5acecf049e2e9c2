"""`make run`: PostgreSQL (embedded unless DATABASE_URL names one), migrations, demo data, then both
front doors on loopback: the Flask door under gunicorn and the Lambda door behind the local gateway,
each in its own process, a trace viewer that prints each request's X-Ray trace as a tree, and a monitor that
publishes the database's AWS/RDS metrics (local_stack/rds_monitor.py).
Logs and EMF metrics are JSON lines on stdout. Ctrl-C stops everything, the embedded database included."""

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path

from application import build_application
from application.settings import ProcessSettings, Settings
from observability.xray_daemon import daemon_address
from student_records.data import migrations
from student_records.settings import ConfigurationError

from . import seed
from .cloudwatch import LineStream
from .dev_auth import DEFAULT_KEY_DIR, auth_environment
from .embedded_postgres import DEFAULT_DATA_DIR, EmbeddedPostgres
from .gateway import gateway_listener
from .ports import Port, PortInUse, held_by_others
from .rds_monitor import RdsMonitor, monitor_local_server
from .trace_viewer import TraceViewer, viewer_listener

REPO_ROOT = Path(__file__).resolve().parents[1]
DATABASE_NAME = "student_records"
# Locally requests are traced by the sampling rules deployed to X-Ray (observability/sampling_rules.json: writes
# always, reads one a second then 5 %, health probes never; XRAY_SAMPLING=all traces every one), segments go to the
# viewer started here, and the Flask door does not look for an EC2 instance to name (the metadata service's timeout
# would only delay each worker's start).
LOCAL_DEFAULTS = {
    "XRAY_SAMPLING": "rules",
    "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
    "AWS_EC2_METADATA_DISABLED": "true",
}


def log(message: str) -> None:
    print(f"[run] {message}", file=sys.stderr, flush=True)


def _start_database() -> EmbeddedPostgres | None:
    """The embedded server this run started, to stop at exit; None when DATABASE_URL names a database, or when
    the embedded server already runs on the data directory (another `make run`'s, which must outlive this one)."""
    if os.environ.get("DATABASE_URL") or os.environ.get("DB_HOST"):
        log("using the database named by DATABASE_URL / DB_HOST")
        return None
    port = int(os.environ["EMBEDDED_PG_PORT"]) if os.environ.get("EMBEDDED_PG_PORT") else None
    server = EmbeddedPostgres(Path(os.environ.get("EMBEDDED_PG_DIR", DEFAULT_DATA_DIR)), port=port, log=log)
    already_running = server.is_running()
    server.start()
    server.ensure_database(DATABASE_NAME)
    os.environ["DATABASE_URL"] = server.dsn(DATABASE_NAME)
    if already_running:
        log("that PostgreSQL was running before this run started: it is left running at exit")
        return None
    return server


def _start_door(command: list[str], env: dict[str, str], stdout=None) -> subprocess.Popen:
    # Its own session: Ctrl-C reaches only this process, which then stops everything in order.
    return subprocess.Popen(
        command,
        cwd=REPO_ROOT,
        env={**os.environ, **env},
        stdout=stdout,
        stderr=subprocess.STDOUT if stdout else None,
        start_new_session=True,
    )


def start_flask_door(
    port: int, env: dict[str, str] | None = None, stdout=None, arguments: Sequence[str] = ()
) -> subprocess.Popen:
    """`arguments`: gunicorn's own, before the application."""
    config = str(REPO_ROOT / "flask_backend" / "gunicorn.conf.py")
    return _start_door(
        [sys.executable, "-m", "gunicorn", "--config", config, *arguments, "flask_backend.wsgi:app"],
        {**(env or {}), "HOST": "127.0.0.1", "PORT": str(port)},
        stdout,
    )


def start_lambda_door(
    port: int, env: dict[str, str] | None = None, stdout=None, arguments: Sequence[str] = ()
) -> subprocess.Popen:
    """`arguments`: lambda_door's own, after the port (a canary: `--canary NAME=VALUE`)."""
    return _start_door(
        [sys.executable, "-m", "local_stack.lambda_door", "--port", str(port), *arguments], env or {}, stdout
    )


def main() -> int:
    flask_port = int(os.environ.get("PORT", "8000"))
    gateway_port = int(os.environ.get("GATEWAY_PORT", "3000"))
    for name, value in LOCAL_DEFAULTS.items():
        os.environ.setdefault(name, value)
    # A development signing key, trusted by both doors: `make token ROLE=...` issues tokens with it.
    key_dir = Path(os.environ.setdefault("AUTH_KEY_DIR", str(DEFAULT_KEY_DIR)))
    for name, value in auth_environment(key_dir).items():
        os.environ.setdefault(name, value)
    stop = threading.Event()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signal_number, lambda *_: stop.set())

    # Every port another program holds, each named in one line with the variable that moves it, before anything
    # starts; one taken since (or the database's) is reported the same way by the server that fails to bind it.
    taken = held_by_others(
        [
            Port("the Flask door", "PORT", "127.0.0.1", flask_port),
            gateway_listener("127.0.0.1", gateway_port),
            viewer_listener(*daemon_address()),
        ]
    )
    for error in taken:
        log(str(error))
    if taken:
        return 1
    viewer: TraceViewer | None = None
    server: EmbeddedPostgres | None = None
    monitor: RdsMonitor | None = None
    doors: list[subprocess.Popen] = []
    try:
        viewer = TraceViewer(*daemon_address())
        viewer.start_in_thread()
        log(f"trace viewer on udp://127.0.0.1:{viewer.port} (AWS_XRAY_DAEMON_ADDRESS)")
        server = _start_database()
        applied = migrations.migrate(os.environ["DATABASE_URL"], log=log)
        log(f"schema at version {migrations.latest_version()} ({len(applied)} migrations applied now)")
        # The demo data is made through the services, as the doors' requests are, with the doors' settings.
        process = ProcessSettings.from_environ()
        application = build_application(Settings.from_environ())
        try:
            seed.seed(application.services, process.seed_students, log)
        finally:
            application.close()
        if process.rds_monitor:
            monitor = monitor_local_server(os.environ["DATABASE_URL"], process.rds_monitor_period_s, LineStream(), log)

        doors = [start_flask_door(flask_port), start_lambda_door(gateway_port)]
        log(f"Flask door:  http://127.0.0.1:{flask_port}   (gunicorn)")
        log(
            f"Lambda door: http://127.0.0.1:{gateway_port}   (local API Gateway -> handlers.api.lambda_handler in"
            " execution environments under awslambdaric; Lambda's platform lines on stdout)"
        )
        log(
            f'try: TOKEN=$(make -s token ROLE=registrar); curl -s -H "Authorization: Bearer $TOKEN"'
            f" http://127.0.0.1:{flask_port}/students?limit=2 ; Ctrl-C stops everything"
        )
        while not stop.is_set():
            exited = [door for door in doors if door.poll() is not None]
            if exited:
                log(f"{' '.join(exited[0].args[2:4])} exited with status {exited[0].returncode}; stopping")
                return 1
            stop.wait(0.5)
    except (PortInUse, ConfigurationError) as error:
        log(str(error))
        return 1
    finally:
        log("stopping")
        for door in doors:
            if door.poll() is None:
                door.send_signal(signal.SIGTERM)
        for door in doors:
            door.wait(timeout=15)
        if monitor is not None:
            monitor.stop()
        if server is not None:
            server.stop()
        if viewer is not None:
            viewer.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())

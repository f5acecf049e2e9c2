"""`make run`: PostgreSQL (embedded unless DATABASE_URL names one), migrations, demo data, then both
front doors on loopback: the Flask door under gunicorn and the Lambda door behind the local gateway.
Ctrl-C stops everything, the embedded database included."""

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from rest_contract.operations import OPERATIONS
from student_records.data import migrations
from student_records.service import get_student_service

from . import seed
from .embedded_postgres import DEFAULT_DATA_DIR, EmbeddedPostgres
from .gateway import LocalGateway

REPO_ROOT = Path(__file__).resolve().parents[1]
DATABASE_NAME = "student_records"
FUNCTION_NAME = "student-records-api"


def log(message: str) -> None:
    print(f"[run] {message}", file=sys.stderr, flush=True)


def _start_database() -> EmbeddedPostgres | None:
    """The embedded server when no database is configured; None when DATABASE_URL names one."""
    if os.environ.get("DATABASE_URL") or os.environ.get("DB_HOST"):
        log("using the database named by DATABASE_URL / DB_HOST")
        return None
    port = int(os.environ["EMBEDDED_PG_PORT"]) if os.environ.get("EMBEDDED_PG_PORT") else None
    server = EmbeddedPostgres(Path(os.environ.get("EMBEDDED_PG_DIR", DEFAULT_DATA_DIR)), port=port, log=log)
    server.start()
    server.ensure_database(DATABASE_NAME)
    os.environ["DATABASE_URL"] = server.dsn(DATABASE_NAME)
    return server


def _start_flask_door(port: int) -> subprocess.Popen:
    command = [
        sys.executable, "-m", "gunicorn",
        "--config", str(REPO_ROOT / "flask_backend" / "gunicorn.conf.py"),
        "flask_backend.wsgi:app",
    ]
    env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port)}
    # Its own session: Ctrl-C reaches only this process, which then stops everything in order.
    return subprocess.Popen(command, cwd=REPO_ROOT, env=env, start_new_session=True)


def main() -> int:
    flask_port = int(os.environ.get("PORT", "8000"))
    gateway_port = int(os.environ.get("GATEWAY_PORT", "3000"))
    stop = threading.Event()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signal_number, lambda *_: stop.set())

    server = _start_database()
    gunicorn = None
    gateway = None
    try:
        applied = migrations.migrate(os.environ["DATABASE_URL"], log=log)
        log(f"schema at version {migrations.latest_version()} ({len(applied)} migrations applied now)")
        seed.seed(get_student_service(), int(os.environ.get("SEED_STUDENTS", "300")), log)

        gunicorn = _start_flask_door(flask_port)
        from handlers.api import lambda_handler

        gateway = LocalGateway(
            lambda_handler,
            function_name=FUNCTION_NAME,
            route_templates=[operation.path for operation in OPERATIONS],
            port=gateway_port,
        )
        gateway.start_in_thread()
        log(f"Flask door:  http://127.0.0.1:{flask_port}   (gunicorn)")
        log(f"Lambda door: http://127.0.0.1:{gateway.port}   (local API Gateway -> handlers.api.lambda_handler)")
        log(f"try: curl -s http://127.0.0.1:{flask_port}/students?limit=2 ; Ctrl-C stops everything")
        while not stop.is_set():
            if gunicorn.poll() is not None:
                log(f"gunicorn exited with status {gunicorn.returncode}; stopping")
                return 1
            stop.wait(0.5)
    finally:
        log("stopping")
        if gateway is not None:
            gateway.shutdown()
        if gunicorn is not None and gunicorn.poll() is None:
            gunicorn.send_signal(signal.SIGTERM)
            gunicorn.wait(timeout=15)
        from student_records.data.database import close_database

        close_database()
        if server is not None:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())

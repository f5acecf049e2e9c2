"""gunicorn settings for the Flask door; those the environment can change are ProcessSettings (HOST, PORT,
GUNICORN_*: application/settings.py, documented with the service's settings)."""

import errno
import multiprocessing
import os
import sys

from gunicorn import sock, util
from gunicorn.arbiter import Arbiter

from application.settings import ProcessSettings
from student_records.settings import ConfigurationError

try:
    _process = ProcessSettings.from_environ()
except ConfigurationError as error:
    sys.exit(f"the Flask door cannot start: {error}")

bind = f"{_process.host}:{_process.port}"
# Threads share a worker's connection pool; DB_POOL_MAX_SIZE should be at least `threads`.
workers = _process.gunicorn_workers or multiprocessing.cpu_count()
threads = _process.gunicorn_threads
worker_class = "gthread"
timeout = _process.gunicorn_timeout
graceful_timeout = 10
keepalive = 5
# Our own structured request log replaces gunicorn's access log.
accesslog = None
errorlog = "-"
loglevel = _process.gunicorn_log_level
# gunicorn's own lines as the service's JSON lines (observability/gunicorn_logging.py).
logger_class = "observability.JsonLinesLogger"
# Each worker opens its own pool after the fork: a pool must never cross a fork.
preload_app = False


def on_starting(server: Arbiter) -> None:
    """Binds the listeners before gunicorn would, so that a port another program holds ends the start at once, in
    one line naming PORT: gunicorn's own bind retries for five seconds, then says only "Can't connect to (host,
    port)". The arbiter binds only when it has no listeners yet; inherited ones (a re-executed master's
    GUNICORN_FD, socket activation's LISTEN_FDS) and unix sockets are left to it."""
    addresses = server.cfg.address
    if (
        os.environ.get("GUNICORN_FD")
        or os.environ.get("LISTEN_FDS")
        or not all(isinstance(address, tuple) for address in addresses)
    ):
        return
    listeners = []
    for host, port in addresses:
        try:
            listeners.append(
                (sock.TCP6Socket if util.is_ipv6(host) else sock.TCPSocket)((host, port), server.cfg, server.log)
            )
        except OSError as error:
            if error.errno != errno.EADDRINUSE:
                raise
            server.log.error(
                "the Flask door cannot listen on %s tcp port %s: another program holds it; set PORT to move it",
                host,
                port,
            )
            sys.exit(1)
    server.LISTENERS = listeners

"""gunicorn settings for the Flask door; each can be overridden by the environment named beside it."""

import multiprocessing
import os

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
# Threads share a worker's connection pool; DB_POOL_MAX_SIZE should be at least `threads`.
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count()))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 10
keepalive = 5
# Our own structured request log replaces gunicorn's access log.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# gunicorn's own lines as the service's JSON lines (observability/gunicorn_logging.py).
logger_class = "observability.gunicorn_logging.JsonLinesLogger"
# Each worker opens its own pool after the fork: a pool must never cross a fork.
preload_app = False

"""Per-client rate limiting for the Flask door (the Lambda door is throttled by the API Gateway stage).

RATE_LIMIT (default "50 per second; 1000 per minute") applies per client address; RATE_LIMIT_STORAGE_URI
(default memory://, which counts per worker process) can name a shared store such as redis://.
Behind a load balancer, TRUSTED_PROXY_HOPS (default 0) says how many X-Forwarded-For hops to trust.
"""

import math
import os
import time

from flask import Flask, Response
from flask_limiter import Limiter, RateLimitExceeded
from flask_limiter.util import get_remote_address
from werkzeug.middleware.proxy_fix import ProxyFix

from rest_contract.problems import TOO_MANY_REQUESTS, problem_response

DEFAULT_LIMIT = "50 per second; 1000 per minute"
# Load balancers and orchestrators poll these; they must never be refused.
EXEMPT_ENDPOINTS = ("health", "readiness")


def install_rate_limit(app: Flask, to_flask_response) -> None:
    hops = int(os.environ.get("TRUSTED_PROXY_HOPS", "0"))
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops)  # type: ignore[method-assign]
    limiter = Limiter(
        get_remote_address,
        app=app,
        default_limits=[os.environ.get("RATE_LIMIT", DEFAULT_LIMIT)],
        storage_uri=os.environ.get("RATE_LIMIT_STORAGE_URI", "memory://"),
        # Its own headers would also overwrite the Retry-After of a 503; the 429 below sets its own.
        headers_enabled=False,
        # The in-memory moving window starts a timer thread up to 100 times a second per worker (measured:
        # 80-175 µs a request); a fixed window keeps one counter per client and window.
        strategy="fixed-window",
    )
    for endpoint in EXEMPT_ENDPOINTS:
        limiter.exempt(app.view_functions[endpoint])

    @app.errorhandler(RateLimitExceeded)
    def _too_many_requests(error: RateLimitExceeded) -> Response:
        limit = limiter.current_limit
        wait_s = max(1, math.ceil(limit.reset_at - time.time())) if limit else 1
        return to_flask_response(problem_response(
            TOO_MANY_REQUESTS, f"rate limit exceeded: {error.description}", headers={"Retry-After": str(wait_s)}
        ))

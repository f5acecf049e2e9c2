"""Per-client rate limiting for the Flask door (the Lambda door is throttled by the API Gateway stage).

The http section of the settings says how (application/settings.py): RATE_LIMIT applies per client address, in
fixed windows; RATE_LIMIT_STORAGE_URI (memory://, which counts per worker process) can name a shared store such as
redis://. Behind a load balancer, TRUSTED_PROXY_HOPS says how many X-Forwarded-For hops to trust. The `limits`
library counts; Flask-Limiter, built on it, was dropped: resolving its decorators, exemptions and contexts on every
request cost ~60 µs, five times the count itself.
"""

import math
import time
from collections.abc import Callable

from flask import Flask, Response, request
from limits import parse_many
from limits.storage import storage_from_string
from limits.strategies import FixedWindowRateLimiter
from werkzeug.middleware.proxy_fix import ProxyFix

from application.settings import HttpSettings
from rest_contract.http import ApiResponse
from rest_contract.problems import TOO_MANY_REQUESTS, problem_response

# Load balancers and orchestrators poll these; they must never be refused.
EXEMPT_ENDPOINTS = frozenset({"health", "readiness"})


def install_rate_limit(app: Flask, settings: HttpSettings, refuse: Callable[[ApiResponse], Response]) -> None:
    """Refuses a client over its rate before the view runs, with the problem document `refuse` answers."""
    if settings.trusted_proxy_hops:
        # Flask's documented way to wrap its WSGI app: https://flask.palletsprojects.com/en/stable/deploying/proxy_fix/
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxy_hops)  # type: ignore[method-assign]
    rates = parse_many(settings.rate_limit)
    limiter = FixedWindowRateLimiter(storage_from_string(settings.rate_limit_storage_uri))

    @app.before_request
    def _limit() -> Response | None:
        if request.endpoint in EXEMPT_ENDPOINTS:
            return None
        client = request.remote_addr or "unknown"
        for rate in rates:
            if not limiter.hit(rate, client):
                reset_at = limiter.get_window_stats(rate, client).reset_time
                return refuse(
                    problem_response(
                        TOO_MANY_REQUESTS,
                        f"rate limit exceeded: {rate}",
                        headers={"Retry-After": str(max(1, math.ceil(reset_at - time.time())))},
                    )
                )
        return None

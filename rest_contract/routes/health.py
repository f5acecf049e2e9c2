"""Liveness and readiness: public, for load balancers, orchestrators and operators."""

from student_records.models import Model
from student_records.readiness import CheckResult, Readiness

from ..http import ApiResponse, json_response
from ..identity import AuthUnavailable
from ..problems import NOT_READY, problem_response
from ..routing import Context, Operation


class HealthBody(Model):
    status: str


def health(ctx: Context) -> ApiResponse:
    # Liveness only: never touches the database, so a database outage does not get processes killed.
    return json_response(200, {"status": "ok"})


def readiness(ctx: Context) -> ApiResponse:
    report = ctx.services.readiness.check(auth=_auth_check(ctx))
    checks = {name: check.model_dump(mode="json", exclude_none=True) for name, check in report.checks.items()}
    if report.status != "ok":
        failed = ", ".join(name for name, check in report.checks.items() if check.status != "ok")
        return problem_response(NOT_READY, f"failed checks: {failed}", checks=checks)
    return json_response(200, {"status": "ok", "checks": checks, "schema_version": report.schema_version})


def _auth_check(ctx: Context) -> CheckResult:
    """Signing keys held (read now if need be), or what is missing or failing: readiness is for operators."""
    try:
        return CheckResult(status="ok", detail=ctx.services.authenticator.check())
    except AuthUnavailable as problem:
        return CheckResult(status="failed", detail=str(problem))


TAGS = {"health": "Liveness and readiness, public: for load balancers, orchestrators and operators."}
OPERATIONS = (
    Operation(
        "health",
        "GET",
        "/health",
        "Liveness: the process answers (never touches the database)",
        "Public, for load balancers and orchestrators: 200 while the process answers. It never touches the"
        " database, so that a database outage does not get healthy processes replaced.",
        health,
        200,
        (HealthBody,),
        tag="health",
        public=True,
    ),
    Operation(
        "readiness",
        "GET",
        "/health/ready",
        "Readiness: database round trip, schema version and signing keys",
        "Public, for load balancers and operators: one round trip to the database, its schema version against"
        " the latest migration, and the signing keys (`auth`). 200 with each check's result; 503 `not-ready`"
        " naming the failed checks, which keeps the process out of service until they pass.",
        readiness,
        200,
        (Readiness,),
        problem_statuses=(503,),
        tag="health",
        public=True,
    ),
)

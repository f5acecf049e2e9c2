"""The metric catalog: every metric the code may emit, with its unit, dimensions and meaning.

Nothing is emitted unless it is here (the recorder refuses it), dashboards and alarms are checked
against it, and its part of docs/observability.md is generated from it (`make generate`: infra/docs.py).
"""

from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property


class Unit(StrEnum):
    COUNT = "Count"
    MILLISECONDS = "Milliseconds"


class Aggregation(StrEnum):
    """How values recorded between two flushes are written: summed (counters) or each one (samples)."""

    SUM = "Sum"
    SAMPLES = "Samples"


class Dimension(StrEnum):
    """The only dimension names allowed: each has a small, fixed set of values (never ids or personal data)."""

    FRONT_DOOR = "FrontDoor"  # lambda | flask
    ROUTE = "Route"  # an OpenAPI path template, e.g. /students/{student_id}
    QUERY_NAME = "QueryName"  # a data-layer query name, e.g. students.get
    FUNCTION_NAME = "FunctionName"  # a Lambda function name


# eq=False: each metric is one catalog object, compared and hashed by identity (the recorder looks specs up
# on every value; hashing every field each time would cost more than the lookup).
@dataclass(frozen=True, eq=False)
class MetricSpec:
    name: str
    unit: Unit
    # Each inner tuple is one EMF dimension set; () publishes the metric with no dimensions (the total).
    dimension_sets: tuple[tuple[Dimension, ...], ...]
    description: str
    emitted_by: str
    aggregation: Aggregation = Aggregation.SUM

    @cached_property
    def dimension_names(self) -> frozenset[Dimension]:
        return frozenset(name for dimension_set in self.dimension_sets for name in dimension_set)


_SAMPLES = Aggregation.SAMPLES
_PER_ROUTE = ((Dimension.FRONT_DOOR, Dimension.ROUTE), (Dimension.FRONT_DOOR,))
_PER_QUERY = ((Dimension.QUERY_NAME,), ())
_TOTAL = ((),)

REQUESTS = MetricSpec("Requests", Unit.COUNT, _PER_ROUTE, "Requests answered, any status.", "both doors, per request")
REQUEST_LATENCY = MetricSpec(
    "RequestLatency",
    Unit.MILLISECONDS,
    _PER_ROUTE,
    "Time from request received to response ready, inside the process.",
    "both doors, per request",
    _SAMPLES,
)
CLIENT_ERRORS = MetricSpec(
    "ClientErrors",
    Unit.COUNT,
    _PER_ROUTE,
    "Requests answered 4xx (0 otherwise: Sum / Requests is the rate).",
    "both doors, per request",
)
SERVER_ERRORS = MetricSpec(
    "ServerErrors",
    Unit.COUNT,
    _PER_ROUTE,
    "Requests answered 5xx (0 otherwise: Sum / Requests is the rate).",
    "both doors, per request",
)
DB_QUERY_LATENCY = MetricSpec(
    "DbQueryLatency",
    Unit.MILLISECONDS,
    _PER_QUERY,
    "Time of one statement, from execute to result.",
    "data layer, per statement",
    _SAMPLES,
)
DB_QUERY_ERRORS = MetricSpec(
    "DbQueryErrors",
    Unit.COUNT,
    _PER_QUERY,
    "Statements that failed, except those refused for the client's data (a duplicate email: a ClientError); else 0.",
    "data layer, per statement",
)
DB_CONNECTION_ERRORS = MetricSpec(
    "DbConnectionErrors",
    Unit.COUNT,
    _TOTAL,
    "Requests that could not get a working connection (pool timeout, connection lost, refused at once while the "
    "database is unreachable).",
    "data layer",
)
DB_FAST_REFUSALS = MetricSpec(
    "DbFastRefusals",
    Unit.COUNT,
    _TOTAL,
    "Requests refused at once, without waiting for the pool, because new connections to the database were failing "
    "(each is also a DbConnectionErrors); only when some were.",
    "data layer",
)
DB_POOL_WAIT = MetricSpec(
    "DbPoolWait",
    Unit.MILLISECONDS,
    _TOTAL,
    "Time spent waiting for a pooled connection.",
    "data layer, per checkout",
    _SAMPLES,
)
STUDENTS_CREATED = MetricSpec(
    "StudentsCreated", Unit.COUNT, _TOTAL, "Students created, through the API or a bulk import.", "domain service"
)
STUDENTS_UPDATED = MetricSpec("StudentsUpdated", Unit.COUNT, _TOTAL, "Students changed by PATCH.", "domain service")
STUDENTS_DELETED = MetricSpec("StudentsDeleted", Unit.COUNT, _TOTAL, "Students deleted.", "domain service")
STUDENTS_TOTAL = MetricSpec(
    "StudentsTotal",
    Unit.COUNT,
    _TOTAL,
    "Number of students (exact counter), sampled on each readiness check.",
    "domain service, readiness",
    _SAMPLES,
)
READINESS_FAILURES = MetricSpec(
    "ReadinessFailures",
    Unit.COUNT,
    _TOTAL,
    "Readiness checks that failed (0 when they pass).",
    "domain service, readiness",
)
ENROLLMENTS_CREATED = MetricSpec(
    "EnrollmentsCreated",
    Unit.COUNT,
    _TOTAL,
    "Students enrolled in an offering (enrolling again after a drop included).",
    "domain service",
)
ENROLLMENTS_DROPPED = MetricSpec(
    "EnrollmentsDropped", Unit.COUNT, _TOTAL, "Enrollments dropped (each frees a seat).", "domain service"
)
GRADES_RECORDED = MetricSpec(
    "GradesRecorded", Unit.COUNT, _TOTAL, "Final grades recorded or corrected.", "domain service"
)
SIGNALS_DROPPED = MetricSpec(
    "SignalsDropped",
    Unit.COUNT,
    _TOTAL,
    "Request log lines and X-Ray datagrams lost: the writer's queue was full, or the socket refused a datagram (the "
    "daemon not listening, a full buffer); only when some were.",
    "both doors, X-Ray sender; Flask door, signal writer",
)
COLD_STARTS = MetricSpec(
    "ColdStarts",
    Unit.COUNT,
    ((Dimension.FUNCTION_NAME,),),
    "First invocation of a Lambda execution environment.",
    "Lambda door, first invocation",
)

CATALOG: dict[str, MetricSpec] = {
    spec.name: spec
    for spec in (
        REQUESTS,
        REQUEST_LATENCY,
        CLIENT_ERRORS,
        SERVER_ERRORS,
        DB_QUERY_LATENCY,
        DB_QUERY_ERRORS,
        DB_CONNECTION_ERRORS,
        DB_FAST_REFUSALS,
        DB_POOL_WAIT,
        STUDENTS_CREATED,
        STUDENTS_UPDATED,
        STUDENTS_DELETED,
        STUDENTS_TOTAL,
        READINESS_FAILURES,
        ENROLLMENTS_CREATED,
        ENROLLMENTS_DROPPED,
        GRADES_RECORDED,
        SIGNALS_DROPPED,
        COLD_STARTS,
    )
}


def render_markdown() -> str:
    """The metric catalog's part of docs/observability.md."""
    from .settings import METRICS_NAMESPACE

    lines = [
        f"## Metric catalog (namespace `{METRICS_NAMESPACE}`)",
        "",
        "Dimension sets are listed one per line; `(none)` is the total across all dimension values.",
        "",
        "Counters are summed between two flushes (read them with Sum); samples keep every value",
        "(read them with percentiles, Average or Maximum).",
        "",
        "| metric | unit | kind | dimension sets | meaning | emitted by |",
        "|---|---|---|---|---|---|",
    ]
    for spec in CATALOG.values():
        sets = "<br>".join(", ".join(d.value for d in ds) or "(none)" for ds in spec.dimension_sets)
        kind = "counter" if spec.aggregation is Aggregation.SUM else "samples"
        lines.append(
            f"| `{spec.name}` | {spec.unit.value} | {kind} | {sets} | {spec.description} | {spec.emitted_by} |"
        )
    lines += ["", "## Dimensions", "", "| dimension | values |", "|---|---|"]
    values = {
        Dimension.FRONT_DOOR: "`lambda`, `flask`",
        Dimension.ROUTE: "the OpenAPI path templates in `openapi.json`, or `NO_ROUTE`",
        Dimension.QUERY_NAME: "the `Query` names of `student_records/` (each resource's `repository.py`, and `data/`)",
        Dimension.FUNCTION_NAME: "the Lambda function names of the stack",
    }
    lines += [f"| `{dimension.value}` | {values[dimension]} |" for dimension in Dimension]
    return "\n".join(lines)

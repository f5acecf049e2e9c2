"""Every route on both doors, each door in its own real server process: one request log line with all
its fields, valid EMF with the request metrics, and one trace with exactly one SQL subsegment per
statement the data layer ran. Personal data never reaches stdout or a segment."""

import json
import re
import uuid

import pytest

from student_records.data import health, migrations
from student_records.students import repository as student_queries
from tests.observability.emf_spec import assert_valid_emf
from tests.observability.stack import DoorProcess, UdpCollector

QUERY_NAMES = {
    value.name
    for module in (student_queries, health, migrations)
    for value in vars(module).values()
    if type(value).__name__ == "Query"
} | {"students.update"}
DOORS = ["lambda", "flask"]
REQUEST_FIELDS = {
    "level",
    "message",
    "timestamp",
    "service",
    "method",
    "route",
    "status",
    "duration_ms",
    "front_door",
    "correlation_id",
    "xray_trace_id",
}
LAMBDA_FIELDS = {"cold_start", "function_name", "function_arn", "function_request_id"}


@pytest.fixture(scope="module")
def collector():
    udp = UdpCollector()
    yield udp
    udp.close()


@pytest.fixture(scope="module")
def doors(database_conninfo, collector, tmp_path_factory):
    scratch = tmp_path_factory.mktemp("doors")
    started = {}
    try:
        for door in DOORS:
            started[door] = DoorProcess(door, database_conninfo, collector.port, scratch)
        yield started
    finally:
        for process in started.values():
            process.stop()


def _root(trace_header: str) -> str:
    return re.search(r"Root=([^;]+)", trace_header)[1]


def _walk(document):
    yield document
    for child in document.get("subsegments", []):
        yield from _walk(child)


def _trace_documents(collector, trace_id, door):
    def complete(documents):
        mine = [d for d in documents if d.get("trace_id") == trace_id]
        roots = [d for d in mine if not d.get("parent_id") and not d.get("in_progress")]
        return bool(roots)

    return [d for d in collector.wait_for(complete) if d.get("trace_id") == trace_id]


def _sql_subsegments(documents):
    found = {}
    for document in documents:
        for entity in _walk(document):
            if "sql" in entity:
                found[entity["id"]] = entity
    return list(found.values())


class Observed:
    def __init__(self, door: DoorProcess, collector: UdpCollector, method, path, body=None, headers=None):
        mark = len(door.output_lines())
        self.status, headers_out, self.body = door.send(method, path, body, headers)
        self.headers = {k.lower(): v for k, v in headers_out.items()}
        self.correlation_id = self.headers["x-request-id"]
        self.trace_id = _root(self.headers["x-amzn-trace-id"])
        self.new_lines = door.output_lines()[mark:]
        self.logs = [line for line in self.new_lines if "_aws" not in line]
        # The door's own documents: the Lambda door's stdout also carries API Gateway's and Lambda's (AWS/ namespaces).
        self.emf = [
            line
            for line in self.new_lines
            if "_aws" in line and not line["_aws"]["CloudWatchMetrics"][0]["Namespace"].startswith("AWS/")
        ]
        self.segments = _trace_documents(collector, self.trace_id, door.door)


@pytest.fixture
def observe(doors, collector, db):
    def _observe(door, method, path, body=None, headers=None):
        return Observed(doors[door], collector, method, path, body, headers)

    return _observe


def _create(observe, door, **fields):
    body = {"first_name": "Ada", "last_name": "Lovelace", "email": f"{uuid.uuid4().hex[:10]}@example.org"} | fields
    observed = observe(door, "POST", "/students", json.dumps(body).encode())
    assert observed.status == 201, observed.body
    return json.loads(observed.body)["id"]


CASES = [
    # (operation route template, method, path builder, body, expected SQL statements)
    ("/health", "GET", lambda sid: "/health", None, 0),
    ("/health/ready", "GET", lambda sid: "/health/ready", None, 3),
    ("/students/count", "GET", lambda sid: "/students/count", None, 1),
    ("/students", "GET", lambda sid: "/students?limit=5", None, 1),
    (
        "/students",
        "POST",
        lambda sid: "/students",
        {"first_name": "Grace", "last_name": "Hopper", "email": "grace.hopper@example.org"},
        1,
    ),
    ("/students/{student_id}", "GET", lambda sid: f"/students/{sid}", None, 1),
    ("/students/{student_id}", "PATCH", lambda sid: f"/students/{sid}", {"status": "graduated"}, 2),
    ("/students/{student_id}", "DELETE", lambda sid: f"/students/{sid}", None, 1),
]


@pytest.mark.parametrize("door", DOORS)
@pytest.mark.parametrize(
    ("route", "method", "path", "body", "statements"), CASES, ids=[f"{c[1]} {c[0]}" for c in CASES]
)
def test_one_request_yields_its_log_line_metrics_and_trace(observe, door, route, method, path, body, statements):
    # Given a student to act on
    student_id = _create(observe, door)
    # When one request is made
    observed = observe(door, method, path(student_id), json.dumps(body).encode() if body else None)
    assert observed.status < 400, observed.body

    # Then exactly one request log line, with every field
    request_lines = [line for line in observed.logs if line.get("message") == "request"]
    assert len(request_lines) == 1, observed.logs
    line = request_lines[0]
    expected_fields = REQUEST_FIELDS | (LAMBDA_FIELDS if door == "lambda" else set())
    assert expected_fields <= set(line), expected_fields - set(line)
    assert line["level"] == "INFO"
    assert (line["method"], line["route"], line["status"], line["front_door"]) == (method, route, observed.status, door)
    assert line["correlation_id"] == observed.correlation_id
    assert line["xray_trace_id"] == observed.trace_id
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] > 0

    # And EMF documents that follow the specification, with the request metrics for this route
    assert observed.emf
    for document in observed.emf:
        assert_valid_emf(document)
        if "QueryName" in document:
            assert document["QueryName"] in QUERY_NAMES
    request_metrics = [d for d in observed.emf if d.get("Route") == route and d.get("FrontDoor") == door]
    assert len(request_metrics) == 1
    metrics = request_metrics[0]
    assert metrics["Requests"] == 1 and metrics["ClientErrors"] == 0 and metrics["ServerErrors"] == 0
    assert metrics["RequestLatency"] > 0
    query_documents = [d for d in observed.emf if "QueryName" in d]
    assert (
        sum(len(d["DbQueryLatency"]) if isinstance(d["DbQueryLatency"], list) else 1 for d in query_documents)
        == statements
    )

    # And one trace, annotated with route and correlation id, with one SQL subsegment per statement
    annotated = [e for d in observed.segments for e in _walk(d) if e.get("annotations", {}).get("route")]
    assert annotated and annotated[0]["annotations"]["route"] == route
    assert annotated[0]["annotations"]["correlation_id"] == observed.correlation_id
    sql = _sql_subsegments(observed.segments)
    assert len(sql) == statements, [s["annotations"] for s in sql]
    for subsegment in sql:
        # named after the database (one node on the service map), the query in its annotation
        database = subsegment["sql"]["url"].rsplit("/", 1)[1]
        assert subsegment["name"] == f"{database}@127.0.0.1"
        assert subsegment["annotations"]["query_name"] in QUERY_NAMES
        assert subsegment["namespace"] == "remote"
        assert subsegment["sql"]["database_type"] == "PostgreSQL"
        assert subsegment["sql"]["url"].startswith("postgresql://127.0.0.1:")
        assert "password" not in json.dumps(subsegment["sql"])
    # and the Flask segment, off EC2, is the EC2 door's (its origin) without an instance
    if door == "flask":
        (segment,) = [d for d in observed.segments if not d.get("parent_id")]
        assert segment["origin"] == "AWS::EC2::Instance" and "ec2" not in segment["aws"]


@pytest.mark.parametrize("door", DOORS)
def test_incoming_trace_header_is_honoured_and_returned(observe, door):
    root = "1-5759e988-bd862e3fe1be46a994272793"
    observed = observe(door, "GET", "/health", headers={"X-Amzn-Trace-Id": f"Root={root};Sampled=1"})
    assert observed.trace_id == root
    assert any(d["trace_id"] == root for d in observed.segments)


def test_flask_honours_a_plain_incoming_request_id(observe):
    observed = observe("flask", "GET", "/health", headers={"X-Request-Id": "caller-chosen-id-42"})
    assert observed.correlation_id == "caller-chosen-id-42"
    assert [line["correlation_id"] for line in observed.logs if line.get("message") == "request"] == [
        "caller-chosen-id-42"
    ]


@pytest.mark.parametrize("door", DOORS)
def test_a_failed_statement_is_traced_and_counted_without_its_values(observe, door):
    # Given a student, and a second create with the same email
    email = f"dup-{uuid.uuid4().hex[:8]}@example.org"
    _create(observe, door, email=email)
    observed = observe(
        door, "POST", "/students", json.dumps({"first_name": "Twin", "last_name": "Copy", "email": email}).encode()
    )
    # Then 409, the insert's subsegment is an error (the client's, not a fault) naming the driver error, and no
    # value is in the trace; the refusal counts as the client's error, not the database's, in the metrics too
    assert observed.status == 409
    (insert,) = [s for s in _sql_subsegments(observed.segments) if s["annotations"]["query_name"] == "students.insert"]
    assert insert["error"] is True and "fault" not in insert
    exception = insert["cause"]["exceptions"][0]
    assert exception["type"] == "UniqueViolation"
    assert exception["message"] == "SQLSTATE 23505"
    assert email not in json.dumps(observed.segments)
    errors = [d for d in observed.emf if d.get("QueryName") == "students.insert"]
    assert errors and errors[0]["DbQueryErrors"] == 0
    request = next(line for line in observed.logs if line.get("message") == "request")
    assert request["status"] == 409


CANARIES = {
    "first_name": "Quintessa",
    "last_name": "Zyzzogeton",
    "email": "quintessa.canary@pii-canary.example",
    "date_of_birth": "1987-06-05",
}


@pytest.mark.parametrize("door", DOORS)
def test_personal_data_never_reaches_logs_metrics_or_traces(doors, collector, observe, door):
    # Given a student with distinctive personal data, created through this door
    process = doors[door]
    mark_stdout = len(process.stdout_path.read_text())
    mark_udp = len(collector.raw)
    created = observe(door, "POST", "/students", json.dumps(CANARIES).encode())
    student_id = json.loads(created.body)["id"]
    # When every route is driven, success and error paths alike, with the personal data in play
    calls = [
        ("GET", f"/students/{student_id}", None),
        ("GET", "/students?q=Quintess", None),
        ("GET", "/students?q=quintessa.canary&status=active", None),
        ("GET", "/students/count", None),
        ("GET", "/health/ready", None),
        ("GET", "/health", None),
        ("POST", "/students", CANARIES),  # duplicate: 409
        ("POST", "/students", {**CANARIES, "email": "not-an-email Quintessa", "date_of_birth": "1987-06-05x"}),
        ("POST", "/students", b'{"first_name": "Quintessa", "email": '),  # malformed JSON
        ("PATCH", f"/students/{student_id}", {"last_name": "Zyzzogeton-Smith", "email": "z.canary@pii-canary.example"}),
        ("PATCH", f"/students/{student_id}", {"first_name": "Quintessa", "version": 99}),  # 412
        ("PATCH", f"/students/{student_id}", {"date_of_birth": "1987-06-05", "nickname": "Quintessa"}),  # 422
        ("DELETE", f"/students/{student_id}", None),
        ("GET", f"/students/{student_id}", None),  # 404
    ]
    for method, path, body in calls:
        raw = body if isinstance(body, bytes) else json.dumps(body).encode() if body is not None else None
        observe(door, method, path, raw)
    # Then none of it is in what the process printed, nor in any segment it sent
    stdout = process.stdout_path.read_text()[mark_stdout:]
    datagrams = b"".join(collector.raw[mark_udp:]).decode()
    assert stdout and datagrams
    for canary in [*CANARIES.values(), "Quintess", "pii-canary", "z.canary", "Zyzzogeton-Smith"]:
        for variant in {canary, canary.lower(), canary.upper()}:
            assert variant not in stdout, f"{variant!r} found in {door} stdout"
            assert variant not in datagrams, f"{variant!r} found in {door} X-Ray segments"

"""The Flask door's X-Ray segment, as the daemon receives it: one datagram per sampled request, with the
statements' subsegments (named after the database, annotated with the query), the HTTP fields and flags, the
annotations, the EC2 instance when there is one, and the caller's trace header honoured."""

import json
import re
import time

import pytest
from aws_xray_sdk.core import xray_recorder
from aws_xray_sdk.core.sampling.local.sampler import LocalSampler
from flask import Flask

from observability import ec2_metadata
from observability.flask_door import instrument_flask
from observability.requests import set_route
from observability.settings import SERVICE_NAME
from observability.tracing import database_subsegment
from tests.apps import observing
from tests.observability import fake_imds
from tests.observability.fake_imds import FakeImds
from tests.observability.stack import DoorProcess, UdpCollector, free_port

DAEMON_HEADER = b'{"format":"json","version":1}'
ROOT = "1-5759e988-bd862e3fe1be46a994272793"
PARENT = "53995c3f42cd8ad8"
GET_SQL = "SELECT id, first_name FROM students WHERE id = %s"
AUDIT_SQL = "INSERT INTO student_audit (student_id, action) VALUES (%s, %s)"
INSERT_SQL = "INSERT INTO students (email) VALUES (%s)"
DATABASE_URL = "postgresql://127.0.0.1:5432/records"
DATABASE_NODE = "records@127.0.0.1"  # what the service map shows: the database, not the query


class UniqueViolation(Exception):
    sqlstate = "23505"


class DeadlockDetected(Exception):
    sqlstate = "40P01"


class StringDataRightTruncation(Exception):
    sqlstate = "22001"


class ConstraintViolation(Exception):
    """As the data layer raises it: a domain error, raised from the driver's."""


@pytest.fixture(scope="module")
def collector():
    udp = UdpCollector()
    yield udp
    udp.close()


@pytest.fixture
def not_on_ec2():
    """The instance metadata lookup off, as botocore's variable says."""
    observing(ec2_metadata_disabled=True)


def _instrumented_app(collector, monkeypatch) -> Flask:
    observing(xray_daemon_address=f"127.0.0.1:{collector.port}")
    app = Flask(__name__)
    instrument_flask(app)

    @app.get("/status/<int:code>")
    def status(code: int):
        return "", code

    return app


@pytest.fixture
def client(collector, monkeypatch, not_on_ec2):
    """A Flask app instrumented as the door is, its segments sent to the collector."""
    saved = xray_recorder.sampling, xray_recorder.sampler
    app = _instrumented_app(collector, monkeypatch)

    @app.get("/students/<int:student_id>")
    def get_student(student_id: int):
        set_route("/students/{student_id}")
        with database_subsegment("students.get", GET_SQL, DATABASE_URL, "app"):
            pass
        with database_subsegment("students.audit", AUDIT_SQL, DATABASE_URL, "app"):
            pass
        return {"id": student_id}

    @app.post("/students")
    def create_student():
        try:
            with database_subsegment("students.insert", INSERT_SQL, DATABASE_URL, "app"):
                raise UniqueViolation("Key (email)=(quintessa@pii-canary.example) already exists")
        except UniqueViolation:
            return "", 409

    @app.post("/too-long")
    def too_long():
        try:
            with database_subsegment("students.insert", INSERT_SQL, DATABASE_URL, "app"):
                try:
                    raise StringDataRightTruncation("value too long: 'Quintessa Zyzzogeton'")
                except StringDataRightTruncation as error:
                    raise ConstraintViolation("rule broken by 'Quintessa'") from error
        except ConstraintViolation:
            return "", 422

    @app.post("/deadlock")
    def deadlock():
        try:
            with database_subsegment("students.update", INSERT_SQL, DATABASE_URL, "app"):
                raise DeadlockDetected("deadlock detected on a row of Quintessa")
        except DeadlockDetected:
            return "", 503

    @app.get("/boom")
    def boom():
        raise RuntimeError("Quintessa Zyzzogeton")

    yield app.test_client()
    xray_recorder.sampling, xray_recorder.sampler = saved


def _root(response) -> str:
    return re.fullmatch(r"Root=([^;]+)(;Sampled=[01])?", response.headers["X-Amzn-Trace-Id"])[1]


def _datagrams(collector, trace_id: str) -> list[bytes]:
    """Every datagram of the trace, once its segment (the one without a parent id) has arrived."""
    collector.wait_for(lambda documents: any(d["trace_id"] == trace_id for d in documents))
    return [raw for raw in list(collector.raw) if json.loads(raw.partition(b"\n")[2])["trace_id"] == trace_id]


def _segment(collector, trace_id: str) -> dict:
    (datagram,) = _datagrams(collector, trace_id)
    return json.loads(datagram.partition(b"\n")[2])


def test_a_sampled_request_is_one_datagram_with_one_subsegment_per_statement(client, collector):
    # When a request runs two statements
    response = client.get("/students/7?q=Quintessa")
    # Then one datagram, in the daemon's format, carries the segment and both statements
    trace_id = _root(response)
    (datagram,) = _datagrams(collector, trace_id)
    header, _, body = datagram.partition(b"\n")
    assert header == DAEMON_HEADER
    segment = json.loads(body)
    assert segment["name"] == SERVICE_NAME and not segment["in_progress"]
    assert segment["start_time"] <= segment["end_time"]
    # With the request's method, URL without its query string, and status
    assert segment["http"] == {
        "request": {"method": "GET", "url": "http://localhost/students/7"},
        "response": {"status": 200},
    }
    assert not {"error", "fault", "throttle", "cause"} & set(segment)
    assert segment["annotations"] == {
        "route": "/students/{student_id}",
        "front_door": "flask",
        "correlation_id": response.headers["X-Request-Id"],
    }
    # And, off EC2, the EC2 door's origin without an instance
    assert segment["origin"] == "AWS::EC2::Instance" and set(segment["aws"]) == {"xray"}
    # And one remote subsegment per statement, named after the database it ran on, annotated with its query,
    # with the SQL and its placeholders
    statements = segment["subsegments"]
    assert [s["name"] for s in statements] == [DATABASE_NODE, DATABASE_NODE]
    assert [s["annotations"] for s in statements] == [{"query_name": "students.get"}, {"query_name": "students.audit"}]
    for statement, sql in zip(statements, [GET_SQL, AUDIT_SQL], strict=False):
        assert statement["parent_id"] == segment["id"] and statement["trace_id"] == trace_id
        assert statement["namespace"] == "remote" and not statement["in_progress"]
        assert statement["sql"] == {
            "sanitized_query": sql,
            "database_type": "PostgreSQL",
            "url": DATABASE_URL,
            "user": "app",
            "driver_version": statement["sql"]["driver_version"],
        }
    assert b"Quintessa" not in datagram


def test_the_callers_root_parent_and_decision_are_honoured(client, collector):
    response = client.get("/status/200", headers={"X-Amzn-Trace-Id": f"Root={ROOT};Parent={PARENT};Sampled=1"})
    assert response.headers["X-Amzn-Trace-Id"] == f"Root={ROOT}"
    segment = _segment(collector, ROOT)
    assert segment["parent_id"] == PARENT


def test_a_caller_asking_for_the_decision_gets_it_back(client, collector):
    root = "1-5759e988-bd862e3fe1be46a994272794"
    response = client.get("/status/200", headers={"X-Amzn-Trace-Id": f"Root={root};Sampled=?"})
    assert response.headers["X-Amzn-Trace-Id"] == f"Root={root};Sampled=1"
    assert "parent_id" not in _segment(collector, root)


def test_an_unsampled_request_sends_nothing_and_keeps_the_callers_root(client, collector, capsys):
    unsampled_root = "1-5759e988-bd862e3fe1be46a994272795"
    # When the caller decided not to sample, then a sampled request follows on the same socket
    unsampled = client.get("/students/8", headers={"X-Amzn-Trace-Id": f"Root={unsampled_root};Sampled=0"})
    sampled_root = _root(client.get("/status/200"))
    _segment(collector, sampled_root)
    # Then nothing of the first one reached the daemon, yet its log line and response carry its root
    assert unsampled.headers["X-Amzn-Trace-Id"] == f"Root={unsampled_root}"
    assert not [d for d in collector.documents if d["trace_id"] == unsampled_root]
    request_lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"message":"request"' in line]
    assert request_lines[0]["xray_trace_id"] == unsampled_root


@pytest.mark.parametrize(
    ("status", "flags"), [(201, set()), (404, {"error"}), (429, {"error", "throttle"}), (503, {"fault"})]
)
def test_the_status_sets_the_segments_flags(client, collector, status, flags):
    segment = _segment(collector, _root(client.get(f"/status/{status}")))
    assert segment["http"]["response"] == {"status": status}
    assert {flag for flag in ("error", "throttle", "fault") if segment.get(flag)} == flags


def test_an_unhandled_exception_is_a_fault_recorded_without_its_message(client, collector):
    response = client.get("/boom")
    assert response.status_code == 500
    (datagram,) = _datagrams(collector, _root(response))
    segment = json.loads(datagram.partition(b"\n")[2])
    assert segment["fault"] is True and segment["http"]["response"] == {"status": 500}
    (exception,) = segment["cause"]["exceptions"]
    assert exception["type"] == "RuntimeError"
    assert b"Quintessa" not in datagram and b"Zyzzogeton" not in datagram


def test_a_statement_refused_for_the_clients_data_is_an_error_naming_its_sqlstate_only(client, collector):
    # When the database refuses a duplicate email (SQLSTATE 23505; DbQueryErrors does not count it either)
    response = client.post("/students")
    (datagram,) = _datagrams(collector, _root(response))
    (insert,) = json.loads(datagram.partition(b"\n")[2])["subsegments"]
    # Then the statement is the client's error, not a fault of the service, and says why without the row
    assert insert["error"] is True and "fault" not in insert
    (exception,) = insert["cause"]["exceptions"]
    assert (exception["type"], exception["message"], exception["remote"]) == ("UniqueViolation", "SQLSTATE 23505", True)
    assert b"pii-canary" not in datagram


def test_a_driver_error_behind_a_domain_error_is_classified_by_its_sqlstate(client, collector):
    # When a class 22 driver error reaches the statement as the domain error the data layer raises from it
    response = client.post("/too-long")
    (datagram,) = _datagrams(collector, _root(response))
    (insert,) = json.loads(datagram.partition(b"\n")[2])["subsegments"]
    # Then it is an error, and the cause names both exceptions, the domain one caused by the driver's
    assert insert["error"] is True and "fault" not in insert
    outer, driver = insert["cause"]["exceptions"]
    assert (outer["type"], outer["cause"]) == ("ConstraintViolation", driver["id"])
    assert (driver["type"], driver["message"]) == ("StringDataRightTruncation", "SQLSTATE 22001")
    assert b"Quintessa" not in datagram and b"Zyzzogeton" not in datagram


def test_a_statement_that_failed_on_the_services_side_is_a_fault(client, collector):
    response = client.post("/deadlock")
    (datagram,) = _datagrams(collector, _root(response))
    (update,) = json.loads(datagram.partition(b"\n")[2])["subsegments"]
    assert update["fault"] is True and "error" not in update
    assert update["cause"]["exceptions"][0]["message"] == "SQLSTATE 40P01"
    assert b"Quintessa" not in datagram


def test_stack_frames_are_relative_to_the_working_directory(client, collector):
    response = client.post("/students")
    (datagram,) = _datagrams(collector, _root(response))
    (insert,) = json.loads(datagram.partition(b"\n")[2])["subsegments"]
    paths = [frame["path"] for frame in insert["cause"]["exceptions"][0]["stack"]]
    assert "tests/observability/test_tracing_flask.py" in paths


def test_without_a_callers_decision_the_sdks_sampler_decides(client, collector):
    # Given centralized-style rules: /status/* always traced, everything else never
    xray_recorder.sampling = True
    xray_recorder.sampler = LocalSampler(
        {
            "version": 2,
            "rules": [
                {
                    "description": "status",
                    "host": "*",
                    "http_method": "GET",
                    "url_path": "/status/*",
                    "fixed_target": 0,
                    "rate": 1.0,
                }
            ],
            "default": {"fixed_target": 0, "rate": 0.0},
        }
    )
    # When one request of each kind is made
    untraced = _root(client.get("/students/9"))
    traced = _root(client.get("/status/200"))
    # Then only the rule's request reached the daemon
    _segment(collector, traced)
    assert not [d for d in collector.documents if d["trace_id"] == untraced]


def test_under_the_projects_sampling_rules_probes_are_never_traced_and_writes_always(
    collector, monkeypatch, not_on_ec2
):
    # Given the door applying observability/sampling_rules.json in-process, as `make run` does
    saved = xray_recorder.sampling, xray_recorder.sampler
    observing(xray_daemon_address=f"127.0.0.1:{collector.port}", xray_sampling="rules")
    app = Flask(__name__)
    instrument_flask(app)
    app.get("/health/ready", endpoint="ready")(lambda: "")
    app.post("/students", endpoint="create")(lambda: ("", 201))
    client = app.test_client()
    try:
        # When a probe and a write are made, each several times
        probes = [_root(client.get("/health/ready")) for _ in range(5)]
        writes = [_root(client.post("/students")) for _ in range(5)]
    finally:
        xray_recorder.sampling, xray_recorder.sampler = saved
    # Then every write reached the daemon, and no probe did
    for trace_id in writes:
        _segment(collector, trace_id)
    assert not [d for d in collector.documents if d["trace_id"] in probes]


def test_annotation_keys_x_ray_cannot_filter_on_are_left_out(client, collector):
    from observability.tracing import annotate

    @client.application.get("/annotated")
    def annotated():
        annotate(**{"tenant_id": "t-1", "tenant id": "t-2", "tenant.id": "t-3"})
        return ""

    segment = _segment(collector, _root(client.get("/annotated")))
    assert segment["annotations"]["tenant_id"] == "t-1"
    assert not {"tenant id", "tenant.id"} & set(segment["annotations"])


# --- the EC2 instance ---


@pytest.fixture
def imds():
    """An instance metadata service of its own (a new endpoint: the process asks it afresh), in force."""
    server = FakeImds()
    observing(ec2_metadata_disabled=False, ec2_metadata_endpoint=server.endpoint)
    yield server
    server.close()


def test_on_ec2_the_segment_names_its_instance_asked_once_per_process_through_imdsv2(collector, monkeypatch, imds):
    # Given two apps built in one process, with an instance metadata service answering (IMDSv2 only)
    apps = [_instrumented_app(collector, monkeypatch) for _ in range(2)]
    # When each serves a request
    segments = [_segment(collector, _root(app.test_client().get("/status/200"))) for app in apps]
    # Then each segment names the EC2 instance, as the specification's EC2 example does
    for segment in segments:
        assert segment["origin"] == "AWS::EC2::Instance"
        assert segment["aws"]["ec2"] == {
            "instance_id": fake_imds.INSTANCE_ID,
            "availability_zone": fake_imds.AVAILABILITY_ZONE,
        }
        assert segment["aws"]["xray"]["sdk"] == "X-Ray for Python"
    # And the service was asked once, a token first, then the identity document with it
    assert imds.requests == [("PUT", "/latest/api/token"), ("GET", "/latest/dynamic/instance-identity/document")]


def test_where_no_metadata_service_answers_the_segment_has_no_instance(collector, monkeypatch):
    # Given an endpoint where nothing listens (off EC2)
    observing(ec2_metadata_disabled=False, ec2_metadata_endpoint=f"http://127.0.0.1:{free_port()}/")
    started = time.monotonic()
    app = _instrumented_app(collector, monkeypatch)
    booted_in = time.monotonic() - started
    segment = _segment(collector, _root(app.test_client().get("/status/200")))
    # Then booting did not wait past the lookup's timeout, and the segment names no instance
    assert booted_in < 1.0
    assert "ec2" not in segment["aws"]


def test_the_lookup_is_skipped_when_disabled(imds):
    assert ec2_metadata.lookup(disabled=True, endpoint_url=imds.endpoint) is None
    assert imds.requests == []


def test_an_endpoint_that_refuses_imdsv2_gives_no_instance(imds):
    # Given an endpoint that answers, but whose token request fails (say, a proxy that is not IMDS)
    assert ec2_metadata.lookup(endpoint_url=imds.endpoint + "elsewhere/") is None
    assert imds.requests == [("PUT", "/elsewhere/latest/api/token")]


def test_the_flask_door_under_gunicorn_asks_at_boot_and_names_its_instance(database_conninfo, tmp_path, collector):
    # Given the door under gunicorn (one worker) on an "EC2 instance" whose metadata service is a fake one
    imds = FakeImds()
    door = DoorProcess(
        "flask",
        database_conninfo,
        collector.port,
        tmp_path,
        {"AWS_EC2_METADATA_DISABLED": "false", "AWS_EC2_METADATA_SERVICE_ENDPOINT": imds.endpoint},
    )
    try:
        # When it serves two requests
        roots = [door.send("GET", "/health")[1]["X-Amzn-Trace-Id"].removeprefix("Root=") for _ in range(2)]
        segments = [_segment(collector, root) for root in roots]
    finally:
        door.stop()
        imds.close()
    # Then both segments name the instance, which the worker asked for once, at boot
    for segment in segments:
        assert segment["origin"] == "AWS::EC2::Instance"
        assert segment["aws"]["ec2"]["instance_id"] == fake_imds.INSTANCE_ID
    assert imds.requests == [("PUT", "/latest/api/token"), ("GET", "/latest/dynamic/instance-identity/document")]

"""The Flask door's X-Ray segment, as the daemon receives it: one datagram per sampled request, with the
statements' subsegments, the HTTP fields and flags, the annotations, and the caller's trace header honoured."""

import json
import re

import pytest
from aws_xray_sdk.core import xray_recorder
from aws_xray_sdk.core.sampling.local.sampler import LocalSampler
from flask import Flask

from observability.flask_door import instrument_flask
from observability.requests import set_route
from observability.settings import SERVICE_NAME
from observability.tracing import database_subsegment
from tests.observability.stack import UdpCollector

DAEMON_HEADER = b'{"format":"json","version":1}'
ROOT = "1-5759e988-bd862e3fe1be46a994272793"
PARENT = "53995c3f42cd8ad8"
GET_SQL = "SELECT id, first_name FROM students WHERE id = %s"
AUDIT_SQL = "INSERT INTO student_audit (student_id, action) VALUES (%s, %s)"
INSERT_SQL = "INSERT INTO students (email) VALUES (%s)"
DATABASE_URL = "postgresql://127.0.0.1:5432/records"


class UniqueViolation(Exception):
    sqlstate = "23505"


@pytest.fixture(scope="module")
def collector():
    udp = UdpCollector()
    yield udp
    udp.close()


@pytest.fixture
def client(collector, monkeypatch):
    """A Flask app instrumented as the door is, its segments sent to the collector."""
    monkeypatch.setenv("AWS_XRAY_DAEMON_ADDRESS", f"127.0.0.1:{collector.port}")
    saved = xray_recorder.sampling, xray_recorder.sampler
    app = Flask(__name__)
    instrument_flask(app)

    @app.get("/students/<int:student_id>")
    def get_student(student_id: int):
        set_route("/students/{student_id}")
        with database_subsegment("students.get", GET_SQL, DATABASE_URL, "app"):
            pass
        with database_subsegment("students.audit", AUDIT_SQL, DATABASE_URL, "app"):
            pass
        return {"id": student_id}

    @app.get("/status/<int:code>")
    def status(code: int):
        return "", code

    @app.post("/students")
    def create_student():
        try:
            with database_subsegment("students.insert", INSERT_SQL, DATABASE_URL, "app"):
                raise UniqueViolation("Key (email)=(quintessa@pii-canary.example) already exists")
        except UniqueViolation:
            return "", 409

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
    assert segment["http"] == {"request": {"method": "GET", "url": "http://localhost/students/7"},
                               "response": {"status": 200}}
    assert not {"error", "fault", "throttle", "cause"} & set(segment)
    assert segment["annotations"] == {"route": "/students/{student_id}", "front_door": "flask",
                                      "correlation_id": response.headers["X-Request-Id"]}
    # And one remote subsegment per statement, with the SQL and its placeholders
    statements = segment["subsegments"]
    assert [s["name"] for s in statements] == ["students.get", "students.audit"]
    for statement, sql in zip(statements, [GET_SQL, AUDIT_SQL]):
        assert statement["parent_id"] == segment["id"] and statement["trace_id"] == trace_id
        assert statement["namespace"] == "remote" and not statement["in_progress"]
        assert statement["annotations"] == {"query_name": statement["name"]}
        assert statement["sql"] == {"sanitized_query": sql, "database_type": "PostgreSQL", "url": DATABASE_URL,
                                    "user": "app", "driver_version": statement["sql"]["driver_version"]}
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


@pytest.mark.parametrize(("status", "flags"), [
    (201, set()),
    (404, {"error"}),
    (429, {"error", "throttle"}),
    (503, {"fault"}),
])
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


def test_a_failed_statement_is_a_fault_naming_its_sqlstate_only(client, collector):
    response = client.post("/students")
    (datagram,) = _datagrams(collector, _root(response))
    (insert,) = json.loads(datagram.partition(b"\n")[2])["subsegments"]
    assert insert["fault"] is True
    (exception,) = insert["cause"]["exceptions"]
    assert (exception["type"], exception["message"]) == ("UniqueViolation", "SQLSTATE 23505")
    assert b"pii-canary" not in datagram


def test_without_a_callers_decision_the_sdks_sampler_decides(client, collector):
    # Given centralized-style rules: /status/* always traced, everything else never
    xray_recorder.sampling = True
    xray_recorder.sampler = LocalSampler({
        "version": 2,
        "rules": [{"description": "status", "host": "*", "http_method": "GET", "url_path": "/status/*",
                   "fixed_target": 0, "rate": 1.0}],
        "default": {"fixed_target": 0, "rate": 0.0},
    })
    # When one request of each kind is made
    untraced = _root(client.get("/students/9"))
    traced = _root(client.get("/status/200"))
    # Then only the rule's request reached the daemon
    _segment(collector, traced)
    assert not [d for d in collector.documents if d["trace_id"] == untraced]

"""No trace datagram exceeds the daemon's size, whatever a request runs: statements that do not fit in their
request's document are sent as independent subsegments, and one too large alone has its SQL text cut. A request
of 60 statements arrives whole, and the local trace viewer puts its tree back together."""

import io
import json
import re

import pytest
from flask import Flask

from local_stack.trace_viewer import TraceViewer
from observability.flask_door import instrument_flask
from observability.lambda_door import instrument_api_handler
from observability.requests import set_route
from observability.tracing import TRUNCATED_SQL_MARK, database_subsegment
from observability.xray_daemon import MAX_DATAGRAM_BYTES
from student_records.students import repository as students
from tests.apps import observing
from tests.observability.stack import UdpCollector

DATABASE_URL = "postgresql://db.example.internal:5432/student_records"
DATABASE_NODE = "student_records@db.example.internal"
# The data layer's own statements, long ones among them (each write carries its audit CTE).
QUERIES = [students.INSERT, students.GET, students.SEARCH_BY_STATUS, students.GET_VERSION_FOR_UPDATE]
STATEMENTS = 60
WAIT_S = 10


class UniqueViolation(Exception):
    sqlstate = "23505"


def _statement_names(count: int) -> list[str]:
    return [QUERIES[n % len(QUERIES)].name for n in range(count)]


def _run_statements(count: int) -> None:
    for n in range(count):
        query = QUERIES[n % len(QUERIES)]
        try:
            with database_subsegment(query.name, query.sql, DATABASE_URL, "app"):
                if n % 2:  # half fail (a duplicate email), so half carry a cause with its frames
                    raise UniqueViolation("Key (email)=(someone@example.org) already exists")
        except UniqueViolation:
            pass


@pytest.fixture
def flask_client(daemon):
    observing(ec2_metadata_disabled=True)
    app = Flask(__name__)
    instrument_flask(app)

    @app.get("/statements/<int:count>")
    def many(count: int):
        set_route("/statements/{count}")
        _run_statements(count)
        if count == 1:
            with database_subsegment("students.giant", "SELECT " + "x, " * 40_000 + "1", DATABASE_URL, "app"):
                pass
        return ""

    return app.test_client()


def _trace_datagrams(daemon: UdpCollector, trace_id: str, done) -> list[bytes]:
    def mine(documents):
        return [d for d in documents if d["trace_id"] == trace_id]

    daemon.wait_for(lambda documents: done(mine(documents)), timeout=WAIT_S)
    return [raw for raw in list(daemon.raw) if json.loads(raw.partition(b"\n")[2])["trace_id"] == trace_id]


def _statements_in(datagrams: list[bytes]) -> dict[str, dict]:
    """Every statement subsegment, embedded or sent on its own, by id."""
    found = {}
    for raw in datagrams:
        document = json.loads(raw.partition(b"\n")[2])
        for entity in [document, *document.get("subsegments", [])]:
            if "sql" in entity:
                found[entity["id"]] = entity
    return found


def _replayed_in_the_viewer(datagrams: list[bytes], root: bytes | None, tmp_path) -> tuple[list[str], list[str]]:
    """The datagrams sent, in the order they came, to a trace viewer (and its traces file); what it printed."""
    out = io.StringIO()
    traces_file = tmp_path / "traces.jsonl"
    viewer = TraceViewer("127.0.0.1", 0, out=out, traces_file=traces_file)
    viewer.start_in_thread()
    try:
        with UdpSender() as sender:
            for datagram in [*datagrams, *([root] if root else [])]:
                sender.sendto(datagram, ("127.0.0.1", viewer.port))
        assert viewer.trace_printed.wait(WAIT_S), out.getvalue()
    finally:
        viewer.shutdown()
    return out.getvalue().splitlines(), traces_file.read_text().splitlines()


class UdpSender:
    def __enter__(self):
        import socket

        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        return self._socket

    def __exit__(self, *exc) -> None:
        self._socket.close()


def _assert_whole(datagrams: list[bytes], count: int) -> dict[str, dict]:
    # every datagram within the daemon's size, header included
    assert all(len(raw) <= MAX_DATAGRAM_BYTES for raw in datagrams), [len(raw) for raw in datagrams]
    # the trace did need more than one (60 statements are well past 64 kB)
    assert sum(len(raw) for raw in datagrams) > MAX_DATAGRAM_BYTES and len(datagrams) > 1
    # every statement present once, each named after the database and annotated with its query
    statements = _statements_in(datagrams)
    assert len(statements) == count
    ordered = sorted(statements.values(), key=lambda statement: statement["start_time"])
    assert [s["annotations"]["query_name"] for s in ordered] == _statement_names(count)
    assert {s["name"] for s in ordered} == {DATABASE_NODE}
    # those sent on their own say so, and name their trace and parent
    for raw in datagrams:
        document = json.loads(raw.partition(b"\n")[2])
        if "sql" in document:
            assert document["type"] == "subsegment" and document["parent_id"] and document["trace_id"]
    return statements


def test_a_flask_request_of_60_statements_arrives_whole_in_datagrams_within_the_limit(flask_client, daemon, tmp_path):
    # When one request runs 60 statements
    response = flask_client.get(f"/statements/{STATEMENTS}")
    trace_id = response.headers["X-Amzn-Trace-Id"].removeprefix("Root=")

    def done(documents):
        segment_arrived = any(not d.get("parent_id") for d in documents)
        return segment_arrived and len(_statements_in([b"\n" + json.dumps(d).encode() for d in documents])) == 60

    datagrams = _trace_datagrams(daemon, trace_id, done)
    # Then it came whole, in datagrams within the limit
    statements = _assert_whole(datagrams, STATEMENTS)
    (segment,) = [
        json.loads(raw.partition(b"\n")[2])
        for raw in datagrams
        if "parent_id" not in json.loads(raw.partition(b"\n")[2])
    ]
    assert all(statement["parent_id"] == segment["id"] for statement in statements.values())
    # And the trace viewer, given the datagrams as they came, prints one tree with every statement under the request
    printed, documents = _replayed_in_the_viewer(datagrams, None, tmp_path)
    assert printed[0].startswith(f"trace {trace_id}  GET /statements/{{count}} -> 200")
    statement_lines = [line for line in printed if f" on {DATABASE_NODE}  " in line]
    assert [re.search(r"[├└]─ (\S+) on ", line)[1] for line in statement_lines] == _statement_names(STATEMENTS)
    assert not [line for line in printed if "never arrived" in line]
    # And its traces file holds every document received, one per line
    assert len(documents) == len(datagrams)
    assert {json.loads(line)["trace_id"] for line in documents} == {trace_id}


def test_a_lambda_invocation_of_60_statements_arrives_whole_under_its_handler(daemon, monkeypatch, tmp_path):
    # Given an invocation Lambda traces (its function segment is Lambda's, sent by the local gateway last)
    root, function_segment = "1-5759e988-bd862e3fe1be46a994272799", "53995c3f42cd8ad8"
    monkeypatch.setenv("_X_AMZN_TRACE_ID", f"Root={root};Parent={function_segment};Sampled=1")

    def lambda_handler(event, context):
        _run_statements(STATEMENTS)
        return {"statusCode": 200, "headers": {}, "body": "{}"}

    class Context:
        function_name = "student-records-api"
        memory_limit_in_mb = 512
        invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:student-records-api"
        aws_request_id = "c6af9ac6-7b61-11e6-9a41-93e812345678"

    # When it runs 60 statements
    instrument_api_handler(lambda_handler)({"httpMethod": "GET"}, Context())

    def done(documents):
        handler_arrived = any(d.get("name") == "## lambda_handler" for d in documents)
        return handler_arrived and len(_statements_in([b"\n" + json.dumps(d).encode() for d in documents])) == 60

    datagrams = _trace_datagrams(daemon, root, done)
    # Then they came whole, within the limit, under the handler's subsegment
    statements = _assert_whole(datagrams, STATEMENTS)
    (handler,) = [
        json.loads(raw.partition(b"\n")[2])
        for raw in datagrams
        if json.loads(raw.partition(b"\n")[2])["name"] == "## lambda_handler"
    ]
    assert handler["parent_id"] == function_segment
    assert all(statement["parent_id"] == handler["id"] for statement in statements.values())
    # And the viewer, once the function's segment arrives, prints the tree: statements under the handler
    function = {
        "id": function_segment,
        "name": "student-records-api",
        "trace_id": root,
        "start_time": handler["start_time"] - 0.001,
        "end_time": handler["end_time"] + 0.001,
        "http": {"request": {"method": "GET", "url": "/statements"}, "response": {"status": 200}},
    }
    printed, _ = _replayed_in_the_viewer(
        datagrams, b'{"format":"json","version":1}\n' + json.dumps(function).encode(), tmp_path
    )
    assert printed[2].startswith("  └─ ## lambda_handler  ")
    assert len([line for line in printed if line.startswith("     ") and f" on {DATABASE_NODE}  " in line]) == 60
    assert not [line for line in printed if "never arrived" in line]


def test_a_statement_too_large_alone_is_sent_with_its_sql_cut_short(flask_client, daemon):
    # When a request runs a statement whose SQL text alone is past 64 kB
    response = flask_client.get("/statements/1")
    trace_id = response.headers["X-Amzn-Trace-Id"].removeprefix("Root=")
    datagrams = _trace_datagrams(daemon, trace_id, lambda documents: any(not d.get("parent_id") for d in documents))
    # Then it is still there, within the limit, its SQL cut and marked so
    assert all(len(raw) <= MAX_DATAGRAM_BYTES for raw in datagrams)
    (giant,) = [s for s in _statements_in(datagrams).values() if s["annotations"]["query_name"] == "students.giant"]
    query = giant["sql"]["sanitized_query"]
    assert query.startswith("SELECT x, x, ") and query.endswith(TRUNCATED_SQL_MARK)
    assert len(query) > 40_000

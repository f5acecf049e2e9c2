"""Tests for local_stack.trace_viewer, the local X-Ray daemon that prints each request's trace as a tree."""

from __future__ import annotations

import io
import json
import socket
from collections.abc import Iterator
from typing import Any

import pytest
from aws_xray_sdk import global_sdk_config
from aws_xray_sdk.core import AWSXRayRecorder

from local_stack.trace_viewer import (
    Trace,
    TraceAssembler,
    TraceViewer,
    has_annotations,
    main,
    parse_datagram,
    render_trace,
)
from observability.xray_daemon import daemon_address

TRACE_ID = "1-6745c0de-0123456789abcdef01234567"
OTHER_TRACE_ID = "1-6745c0df-fedcba9876543210fedcba98"
# What the SDK's UDP emitter puts before every document.
HEADER = b'{"format":"json","version":1}\n'
WAIT_S = 2.0


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def segment(entity_id: str, *, start: float = 0.0, end: float | None = 1.0, **fields: Any) -> dict:
    """A document shaped as the SDK sends it: `end_time`, or `in_progress` when `end` is None."""
    document = {"id": entity_id, "name": entity_id, "trace_id": TRACE_ID, "start_time": start, **fields}
    if end is None:
        document["in_progress"] = True
    else:
        document.update(in_progress=False, end_time=end)
    return document


def subsegment(entity_id: str, parent_id: str, **fields: Any) -> dict:
    return segment(entity_id, parent_id=parent_id, type="subsegment", **fields)


def tree(entity: dict) -> dict[str, Any]:
    """Names only, nested as attached, so a whole trace's shape fits in one assertion."""
    return {entity["name"]: [tree(child) for child in entity["subsegments"]]}


def datagram(document: Any) -> bytes:
    return HEADER + json.dumps(document).encode()


# --- TraceAssembler ---


def test_a_complete_root_segment_is_a_finished_trace_with_its_nested_subsegments():
    # Given a segment carrying its subsegments nested, as the SDK sends a small trace
    root = segment("root", subsegments=[subsegment("handler", "root", subsegments=[subsegment("query", "handler")])])

    # When it is the only document
    traces = TraceAssembler().add(root)

    # Then it is a finished trace on its own
    assert [trace.trace_id for trace in traces] == [TRACE_ID]
    assert tree(traces[0].root) == {"root": [{"handler": [{"query": []}]}]}


def test_standalone_subsegments_wait_for_their_root_and_are_attached_under_it():
    # Given subsegments streamed before the root segment, as inside Lambda
    assembler = TraceAssembler()
    first, second = subsegment("lock", "root", start=0.1), subsegment("update", "root", start=0.2)

    # When they arrive, then the root
    before_root = assembler.add(first) + assembler.add(second)
    traces = assembler.add(segment("root"))

    # Then nothing is finished until the root, which then holds both
    assert before_root == []
    assert tree(traces[0].root) == {"root": [{"lock": []}, {"update": []}]}


def test_a_standalone_subsegment_attaches_under_a_subsegment_nested_in_another_document():
    # Given a handler subsegment sent standalone, holding a nested query whose own child was streamed on its own
    handler = subsegment("handler", "root", subsegments=[subsegment("query", "handler")])
    fetch = subsegment("fetch", "query")
    assembler = TraceAssembler()

    # When the deepest piece comes first and the root last
    assembler.add(fetch)
    assembler.add(handler)
    traces = assembler.add(segment("root"))

    # Then the chain is rebuilt at every depth
    assert tree(traces[0].root) == {"root": [{"handler": [{"query": [{"fetch": []}]}]}]}


@pytest.mark.parametrize("order", [(0, 1, 2), (2, 1, 0), (1, 2, 0), (2, 0, 1)])
def test_arrival_order_of_a_chain_does_not_change_the_tree(order: tuple[int, ...]):
    # Given a chain handler -> query -> fetch, each sent standalone, as Lambda streams them when they close
    pieces = [subsegment("handler", "root"), subsegment("query", "handler"), subsegment("fetch", "query")]
    assembler = TraceAssembler()

    # When they arrive in any order before the root
    for index in order:
        assert assembler.add(pieces[index]) == []
    traces = assembler.add(segment("root"))

    # Then the same tree results
    assert tree(traces[0].root) == {"root": [{"handler": [{"query": [{"fetch": []}]}]}]}


def test_an_in_progress_root_does_not_finish_the_trace_and_its_complete_version_replaces_it():
    # Given a root sent in progress, then a child
    assembler = TraceAssembler()
    assert assembler.add(segment("root", end=None)) == []
    assert assembler.add(subsegment("query", "root")) == []

    # When the completed root arrives
    traces = assembler.add(segment("root"))

    # Then the trace holds the root once, complete, with the child
    assert tree(traces[0].root) == {"root": [{"query": []}]}
    assert traces[0].root["in_progress"] is False


def test_a_root_whose_parent_id_is_null_counts_as_a_root():
    # Given a hand-written sender that spells "no parent" as null, when its segment arrives, then it finishes a trace
    assert len(TraceAssembler().add(segment("root", parent_id=None))) == 1


def test_a_finished_trace_is_forgotten():
    # Given a trace that has finished
    assembler = TraceAssembler()
    assembler.add(subsegment("query", "root"))
    assembler.add(segment("root"))

    # When a root with the same trace id arrives again (a second invocation in the same trace)
    traces = assembler.add(segment("root"))

    # Then the earlier pieces are not attached a second time
    assert tree(traces[0].root) == {"root": []}


def test_traces_whose_root_never_arrives_are_dropped_after_max_age():
    # Given a piece of a trace whose root never comes
    clock = FakeClock()
    assembler = TraceAssembler(max_age_s=60, clock=clock)
    assembler.add(subsegment("query", "root"))

    # When more than max_age passes and another document arrives
    clock.now += 61
    assembler.add({**subsegment("other", "elsewhere"), "trace_id": OTHER_TRACE_ID})

    # Then the stale trace is counted as dropped, and a late root finds nothing left of it
    assert assembler.dropped == 1
    assert tree(assembler.add(segment("root"))[0].root) == {"root": []}


def test_a_trace_younger_than_max_age_is_kept():
    # Given a piece of a trace
    clock = FakeClock()
    assembler = TraceAssembler(max_age_s=60, clock=clock)
    assembler.add(subsegment("query", "root"))

    # When its root arrives just within max_age
    clock.now += 59
    traces = assembler.add(segment("root"))

    # Then nothing was dropped
    assert assembler.dropped == 0
    assert tree(traces[0].root) == {"root": [{"query": []}]}


def test_the_oldest_pending_trace_is_dropped_when_max_pending_is_reached():
    # Given an assembler that keeps two unfinished traces
    assembler = TraceAssembler(max_pending=2, clock=FakeClock())
    trace_ids = [f"1-6745c0de-00000000000000000000000{index}" for index in range(3)]

    # When pieces of three traces arrive
    for trace_id in trace_ids:
        assembler.add({**subsegment("query", "root"), "trace_id": trace_id})

    # Then the first is dropped and the last is still whole
    assert assembler.dropped == 1
    assert tree(assembler.add({**segment("root"), "trace_id": trace_ids[0]})[0].root) == {"root": []}
    assert tree(assembler.add({**segment("root"), "trace_id": trace_ids[2]})[0].root) == {"root": [{"query": []}]}


def test_assembling_leaves_the_received_documents_untouched():
    # Given a root and a piece
    root, piece = segment("root"), subsegment("query", "root")
    assembler = TraceAssembler()

    # When they are assembled
    assembler.add(piece)
    assembler.add(root)

    # Then the inputs are as they were
    assert "subsegments" not in root
    assert "subsegments" not in piece


# --- parse_datagram ---


def test_a_daemon_protocol_datagram_parses_to_its_document():
    # Given a document behind either spelling of the header
    document = segment("root")
    spaced = b'{"format": "json", "version": 1}\n' + json.dumps(document).encode()

    # When parsed, then the document comes back
    assert parse_datagram(datagram(document)) == document
    assert parse_datagram(spaced) == document


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"garbage", id="no header"),
        pytest.param(json.dumps(segment("root")).encode(), id="document without header"),
        pytest.param(b'{"format":"xml"}\n' + json.dumps(segment("root")).encode(), id="other format"),
        pytest.param(b"[1]\n" + json.dumps(segment("root")).encode(), id="header not an object"),
        pytest.param(HEADER + b"{not json", id="body not json"),
        pytest.param(HEADER + b"\xff\xfe", id="not utf-8"),
        pytest.param(datagram([segment("root")]), id="body not an object"),
        pytest.param(datagram({k: v for k, v in segment("root").items() if k != "trace_id"}), id="no trace id"),
        pytest.param(datagram({k: v for k, v in segment("root").items() if k != "id"}), id="no id"),
        pytest.param(datagram(segment("root", start="yesterday")), id="start time not a number"),
        pytest.param(datagram(segment("root", subsegments={"a": 1})), id="subsegments not a list"),
        pytest.param(datagram(segment("root", subsegments=[{"id": "x"}])), id="nested subsegment malformed"),
        pytest.param(datagram({**subsegment("query", "root"), "parent_id": 42}), id="parent id not a string"),
        pytest.param(datagram({**subsegment("query", "root"), "parent_id": None}), id="subsegment without parent"),
        pytest.param(HEADER + b"[" * 100_000 + b"]" * 100_000, id="nested deeper than recursion allows"),
    ],
)
def test_garbage_datagrams_parse_to_none(data: bytes):
    # Given a datagram that is not a usable document, when parsed, then None and no exception
    assert parse_datagram(data) is None


# --- render_trace ---


def test_render_heads_the_tree_with_the_request_and_lists_children_in_start_order():
    # Given a Lambda-shaped trace: the gateway's root with http info, a handler with annotations and queries
    http = {"request": {"method": "PUT", "url": "http://127.0.0.1:3000/students/42?v=1"}, "response": {"status": 200}}
    root = segment(
        "student-records-api",
        start=100.0,
        end=100.0124,
        http=http,
        subsegments=[
            subsegment(
                "## lambda_handler",
                "student-records-api",
                start=100.001,
                end=100.012,
                annotations={"route": "/students/{student_id}", "correlation_id": "c0ffee"},
                subsegments=[
                    subsegment(
                        "students.update",
                        "## lambda_handler",
                        start=100.003,
                        end=100.0042,
                        namespace="remote",
                        sql={"sanitized_query": "UPDATE students\n   SET name = %(name)s\n WHERE id = %(id)s"},
                    ),
                    subsegment(
                        "students.lock_version",
                        "## lambda_handler",
                        start=100.002,
                        end=100.0028,
                        namespace="remote",
                        sql={"sanitized_query": "SELECT version FROM students WHERE id = %(id)s FOR UPDATE"},
                    ),
                ],
            )
        ],
    )

    # When rendered
    text = render_trace(Trace(TRACE_ID, root))

    # Then the heading names the route, and SQL appears on one line each, earliest first
    assert text.splitlines() == [
        f"trace {TRACE_ID}  PUT /students/{{student_id}} -> 200  12.4 ms  [correlation_id=c0ffee]",
        "  student-records-api  12.4 ms",
        "  └─ ## lambda_handler  11.0 ms",
        "     ├─ students.lock_version  0.8 ms  SELECT version FROM students WHERE id = %(id)s FOR UPDATE",
        "     └─ students.update  1.2 ms  UPDATE students SET name = %(name)s WHERE id = %(id)s",
    ]


def test_render_shows_the_url_path_when_no_route_is_annotated_and_http_info_from_a_descendant():
    # Given a root without http info whose child has it, and no route annotation
    http = {"request": {"method": "GET", "url": "http://localhost/health"}, "response": {"status": 200}}
    root = segment("api", subsegments=[subsegment("handler", "api", http=http)])

    # When rendered, then the heading has the child's method, path and status
    assert render_trace(Trace(TRACE_ID, root)).splitlines()[0] == f"trace {TRACE_ID}  GET /health -> 200  1000.0 ms"


def test_render_marks_faults_errors_in_progress_children_and_missing_parents():
    # Given a failed request: a query that raised, a child still in progress, a piece whose parent never came
    exception = {"id": "e1", "type": "OperationalError", "message": "connection\n  refused", "stack": []}
    root = segment(
        "api",
        end=2.0,
        fault=True,
        cause="e1",  # the SDK's reference to an exception already recorded below
        subsegments=[
            subsegment("students.get", "api", start=0.1, end=0.2, fault=True, cause={"exceptions": [exception]}),
            subsegment("cache.warm", "api", start=0.3, end=None),
            subsegment("audit", "lost-parent", start=0.4, end=0.5, error=True),
        ],
    )

    # When rendered
    lines = render_trace(Trace(TRACE_ID, root)).splitlines()

    # Then each problem shows on its own entity
    assert lines[1:] == [
        "  api  2000.0 ms  ! fault",
        "  ├─ students.get  100.0 ms  ! fault: OperationalError: connection refused",
        "  ├─ cache.warm  (in progress)",
        "  └─ audit  100.0 ms  ! error  (parent lost-parent never arrived)",
    ]


def test_render_truncates_long_sql():
    # Given a query longer than a line
    query = "SELECT " + ", ".join(f"column_{index}" for index in range(100)) + " FROM students"
    root = segment("api", subsegments=[subsegment("students.list", "api", sql={"sanitized_query": query})])

    # When rendered
    sql_line = render_trace(Trace(TRACE_ID, root)).splitlines()[-1]

    # Then the query is cut at 160 characters
    shown = sql_line.split("ms  ", 1)[1]
    assert len(shown) == 160
    assert shown.endswith("…")
    assert query.startswith(shown[:-1])


def test_a_statement_named_after_its_database_shows_its_query_name_first():
    # Given statements as the service sends them: named after the database, the query in an annotation
    def statement(entity_id: str, query_name: str, start: float) -> dict:
        return subsegment(
            entity_id,
            "api",
            start=start,
            end=start + 0.001,
            namespace="remote",
            annotations={"query_name": query_name},
            sql={"sanitized_query": "SELECT 1"},
        )

    root = segment("api", subsegments=[statement("a", "students.get", 0.1), statement("b", "students.audit", 0.2)])
    root["subsegments"][0]["name"] = root["subsegments"][1]["name"] = "student_records@127.0.0.1"

    # When rendered, then each statement line names its query, then its database
    assert render_trace(Trace(TRACE_ID, root)).splitlines()[2:] == [
        "  ├─ students.get on student_records@127.0.0.1  1.0 ms  SELECT 1",
        "  └─ students.audit on student_records@127.0.0.1  1.0 ms  SELECT 1",
    ]


def test_render_names_a_chain_of_exceptions_by_the_outermost_type_and_the_root_cause():
    # Given a statement the database refused, recorded as the domain error raised from the driver's
    chain = [
        {"id": "e1", "type": "ConstraintViolation", "message": "see the logs by correlation id", "cause": "e2"},
        {"id": "e2", "type": "StringDataRightTruncation", "message": "SQLSTATE 22001", "remote": True},
    ]
    root = segment("api", subsegments=[subsegment("db@host", "api", error=True, cause={"exceptions": chain})])

    # When rendered, then the problem names both, the root cause with its SQLSTATE
    assert render_trace(Trace(TRACE_ID, root)).splitlines()[-1] == (
        "  └─ db@host  1000.0 ms  ! error: ConstraintViolation ← StringDataRightTruncation: SQLSTATE 22001"
    )


def test_has_annotations_looks_at_every_entity_of_the_tree():
    root = segment(
        "api",
        annotations={"route": "/students", "ColdStart": False},
        subsegments=[subsegment("db@host", "api", annotations={"query_name": "students.get"})],
    )
    trace = Trace(TRACE_ID, root)
    assert has_annotations(trace, {"query_name": "students.get", "route": "/students"})
    assert has_annotations(trace, {"ColdStart": "false"})
    assert not has_annotations(trace, {"query_name": "students.insert"})
    assert not has_annotations(trace, {"tenant": "students.get"})


# --- daemon_address ---


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, ("127.0.0.1", 2000)),
        ({"AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:3000"}, ("127.0.0.1", 3000)),
        ({"AWS_XRAY_DAEMON_ADDRESS": "localhost:2000"}, ("localhost", 2000)),
        ({"AWS_XRAY_DAEMON_ADDRESS": "tcp:127.0.0.1:2000 udp:127.0.0.1:2001"}, ("127.0.0.1", 2001)),
        ({"AWS_XRAY_DAEMON_ADDRESS": "udp:127.0.0.2:2001 tcp:127.0.0.1:2000"}, ("127.0.0.2", 2001)),
    ],
)
def test_daemon_address_reads_the_udp_address_as_the_sdk_does(env: dict[str, str], expected: tuple[str, int]):
    assert daemon_address(env) == expected


@pytest.mark.parametrize(
    "value", ["127.0.0.1", ":2000", "127.0.0.1:port", "tcp:127.0.0.1:2000 tcp:127.0.0.1:2001", "a b c"]
)
def test_daemon_address_refuses_malformed_values(value: str):
    with pytest.raises(ValueError):
        daemon_address({"AWS_XRAY_DAEMON_ADDRESS": value})


# --- TraceViewer ---


@pytest.mark.parametrize("host", ["192.0.2.10", "0.0.0.0"])
def test_the_viewer_refuses_to_listen_beyond_loopback(host: str):
    with pytest.raises(ValueError, match="loopback only"):
        TraceViewer(host, 0)


def test_main_refuses_an_address_beyond_loopback(capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as exit_info:
        main(["--address", "192.0.2.10:2000"])
    assert exit_info.value.code == 2
    assert "loopback only" in capsys.readouterr().err


@pytest.fixture
def viewer() -> Iterator[tuple[TraceViewer, io.StringIO]]:
    out = io.StringIO()
    trace_viewer = TraceViewer("127.0.0.1", 0, out=out)
    trace_viewer.start_in_thread()
    try:
        yield trace_viewer, out
    finally:
        trace_viewer.shutdown()


@pytest.fixture
def xray_sdk(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The SDK enabled and outside Lambda mode, whatever the environment says: these tests drive the SDK's own
    recorder, as other senders would, to check the viewer reads what it sends."""
    for variable in ("LAMBDA_TASK_ROOT", "_X_AMZN_TRACE_ID", "AWS_XRAY_DAEMON_ADDRESS", "AWS_XRAY_SDK_ENABLED"):
        # The SDK's environment variables override what configure() is given.
        monkeypatch.delenv(variable, raising=False)
    was_enabled = global_sdk_config.sdk_enabled()
    global_sdk_config.set_sdk_enabled(True)
    try:
        yield
    finally:
        global_sdk_config.set_sdk_enabled(was_enabled)


def send(port: int, data: bytes) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sender.sendto(data, ("127.0.0.1", port))


def test_the_viewer_prints_a_trace_the_real_sdk_sends(viewer: tuple[TraceViewer, io.StringIO], xray_sdk: None):
    trace_viewer, out = viewer
    # Given garbage on the port first, which must not stop the viewer
    send(trace_viewer.port, b"not a datagram")
    # and a recorder of its own sending to the viewer
    recorder = AWSXRayRecorder()
    recorder.configure(
        daemon_address=f"127.0.0.1:{trace_viewer.port}", sampling=False, context_missing="LOG_ERROR", service="test"
    )

    # When a request is traced with a query in it
    request_segment = recorder.begin_segment("student-records-api")
    request_segment.put_http_meta("url", "http://127.0.0.1:5000/students/42")
    request_segment.put_http_meta("method", "GET")
    request_segment.put_annotation("route", "/students/{student_id}")
    with recorder.in_subsegment("students.get", namespace="remote") as query:
        query.set_sql(
            {
                "sanitized_query": "SELECT * FROM students WHERE id = %(id)s",
                "database_type": "PostgreSQL",
                "url": "postgresql://127.0.0.1/student_records",
            }
        )
    request_segment.put_http_meta("status", 200)
    recorder.end_segment()
    recorder.emitter._socket.close()  # the SDK offers no way to close its emitter

    # Then the viewer prints the tree
    assert trace_viewer.trace_printed.wait(WAIT_S), f"no trace printed; output so far: {out.getvalue()!r}"
    lines = out.getvalue().splitlines()
    assert lines[0].startswith(f"trace {request_segment.trace_id}  GET /students/{{student_id}} -> 200  ")
    assert lines[1].startswith("  student-records-api  ")
    assert lines[2].startswith("  └─ students.get  ")
    assert lines[2].endswith("  SELECT * FROM students WHERE id = %(id)s")


def test_the_viewer_assembles_what_the_sdk_streams_inside_lambda(
    viewer: tuple[TraceViewer, io.StringIO], xray_sdk: None, monkeypatch: pytest.MonkeyPatch
):
    trace_viewer, out = viewer
    # Given a recorder in Lambda mode, where the function's segment belongs to Lambda and is never sent
    function_segment_id = "53995c3f42cd8ad8"
    monkeypatch.setenv("LAMBDA_TASK_ROOT", "/var/task")
    monkeypatch.setenv("_X_AMZN_TRACE_ID", f"Root={TRACE_ID};Parent={function_segment_id};Sampled=1")
    recorder = AWSXRayRecorder()
    recorder.configure(daemon_address=f"127.0.0.1:{trace_viewer.port}", context_missing="LOG_ERROR")

    # When the handler runs a query, each subsegment streamed as it closes, then the gateway sends the root
    with recorder.in_subsegment("## lambda_handler") as handler:
        handler.put_annotation("correlation_id", "c0ffee")
        with recorder.in_subsegment("students.get", namespace="remote") as query:
            query.set_sql({"sanitized_query": "SELECT * FROM students WHERE id = %(id)s"})
    recorder.emitter._socket.close()  # the SDK offers no way to close its emitter
    gateway_root = segment(
        function_segment_id,
        start=handler.start_time - 0.001,
        end=handler.end_time + 0.001,
        http={"request": {"method": "GET", "url": "/students/42"}, "response": {"status": 200}},
    )
    send(trace_viewer.port, datagram(gateway_root))

    # Then the streamed pieces hang under the gateway's root
    assert trace_viewer.trace_printed.wait(WAIT_S), f"no trace printed; output so far: {out.getvalue()!r}"
    lines = out.getvalue().splitlines()
    assert lines[0].startswith(f"trace {TRACE_ID}  GET /students/42 -> 200  ")
    assert lines[0].endswith("  [correlation_id=c0ffee]")
    assert lines[2].startswith("  └─ ## lambda_handler  ")
    assert lines[3].startswith("     └─ students.get  ")
    assert lines[3].endswith("  SELECT * FROM students WHERE id = %(id)s")


def _statement_trace(trace_id: str, query_name: str) -> list[bytes]:
    """A request's segment and one statement sent on its own, as the service sends a split trace."""
    statement = {
        **subsegment(
            "s1",
            "root",
            namespace="remote",
            annotations={"query_name": query_name},
            sql={"sanitized_query": "SELECT 1"},
        ),
        "trace_id": trace_id,
        "name": "db@host",
    }
    return [datagram(statement), datagram({**segment("root"), "trace_id": trace_id})]


def test_the_viewer_prints_only_traces_with_the_wanted_annotation(tmp_path):
    # Given a viewer asked for one query's traces
    out = io.StringIO()
    trace_viewer = TraceViewer("127.0.0.1", 0, out=out, annotations={"query_name": "students.get"})
    trace_viewer.start_in_thread()
    try:
        # When a trace of another query, then one of that query arrive
        for data in _statement_trace(OTHER_TRACE_ID, "students.insert") + _statement_trace(TRACE_ID, "students.get"):
            send(trace_viewer.port, data)
        assert trace_viewer.trace_printed.wait(WAIT_S), out.getvalue()
    finally:
        trace_viewer.shutdown()
    # Then only the wanted one was printed
    assert out.getvalue().splitlines()[0].startswith(f"trace {TRACE_ID}  ")
    assert OTHER_TRACE_ID not in out.getvalue()


def test_traces_file_gets_every_document_received_one_json_per_line(tmp_path, monkeypatch):
    # Given TRACES_FILE set, as `make run` would pass it on, and a file already holding an earlier run's line
    traces_file = tmp_path / "traces.jsonl"
    traces_file.write_text('{"earlier": "run"}\n')
    monkeypatch.setenv("TRACES_FILE", str(traces_file))
    out = io.StringIO()
    trace_viewer = TraceViewer("127.0.0.1", 0, out=out)
    trace_viewer.start_in_thread()
    try:
        # When garbage, then a trace of two documents, arrive
        send(trace_viewer.port, b"not a datagram")
        for data in _statement_trace(TRACE_ID, "students.get"):
            send(trace_viewer.port, data)
        assert trace_viewer.trace_printed.wait(WAIT_S), out.getvalue()
    finally:
        trace_viewer.shutdown()
    # Then the file gained both documents, whole and in the order received, after what it held
    lines = traces_file.read_text().splitlines()
    assert lines[0] == '{"earlier": "run"}'
    documents = [json.loads(line) for line in lines[1:]]
    assert [(document["id"], document["trace_id"]) for document in documents] == [("s1", TRACE_ID), ("root", TRACE_ID)]
    assert documents[0]["annotations"] == {"query_name": "students.get"}


def test_main_takes_a_traces_file_and_annotation_filters(tmp_path, capsys, monkeypatch):
    # Given the viewer's command line with a traces file and a filter, stopped as Ctrl-C would stop it
    seen = {}

    def serve_forever(self):
        seen.update(traces_file=self.traces_file, annotations=self._annotations)
        raise KeyboardInterrupt

    monkeypatch.setattr(TraceViewer, "serve_forever", serve_forever)
    traces_file = tmp_path / "traces.jsonl"
    assert (
        main(["--address", "127.0.0.1:0", "--traces-file", str(traces_file), "--annotation", "query_name=students.get"])
        == 0
    )
    assert seen == {"traces_file": traces_file, "annotations": {"query_name": "students.get"}}
    assert f"appending every trace document to {traces_file}" in capsys.readouterr().out
    # And a filter that is not KEY=VALUE is refused
    with pytest.raises(SystemExit):
        main(["--address", "127.0.0.1:0", "--annotation", "query_name"])

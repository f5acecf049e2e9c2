"""The EMF recorder: catalog metrics only, valid documents, counters summed and samples kept."""

import functools
import json
import operator

import pytest

from observability.catalog import (
    CATALOG,
    CLIENT_ERRORS,
    DB_QUERY_LATENCY,
    REQUEST_LATENCY,
    REQUESTS,
    SERVER_ERRORS,
    STUDENTS_CREATED,
    Aggregation,
    Dimension,
    MetricSpec,
    Unit,
)
from observability.emf import MetricsRecorder, UnknownMetric, agent_sink, stdout_sink
from observability.runtime import Observability
from tests.apps import OBSERVABILITY
from tests.observability.emf_spec import assert_valid_emf

ROUTE = {Dimension.FRONT_DOOR: "flask", Dimension.ROUTE: "/students"}


@pytest.fixture
def written():
    return []


@pytest.fixture
def recorder(written):
    return MetricsRecorder("StudentRecords", lambda line: written.append(json.loads(line)))


def test_metrics_outside_the_catalog_are_refused(recorder):
    rogue = MetricSpec("Rogue", Unit.COUNT, ((),), "not catalogued", "nobody")
    with pytest.raises(UnknownMetric):
        recorder.put(rogue, 1)


def test_dimensions_must_be_exactly_the_catalogued_ones(recorder):
    with pytest.raises(UnknownMetric):
        recorder.put(REQUESTS, 1, {Dimension.FRONT_DOOR: "flask"})
    with pytest.raises(UnknownMetric):
        recorder.put(STUDENTS_CREATED, 1, {Dimension.ROUTE: "/students"})


def test_dimension_values_are_bounded(recorder):
    with pytest.raises(ValueError):
        recorder.put(REQUESTS, 1, {Dimension.FRONT_DOOR: "flask", Dimension.ROUTE: "x" * 1025})
    with pytest.raises(ValueError):
        recorder.put(REQUESTS, 1, {Dimension.FRONT_DOOR: "", Dimension.ROUTE: "/students"})


def test_a_checked_metric_is_still_checked_with_other_dimensions(recorder):
    recorder.put(REQUESTS, 1, ROUTE)
    for _ in range(2):  # a refused call is not remembered as checked
        with pytest.raises(UnknownMetric):
            recorder.put(REQUESTS, 1, {Dimension.FRONT_DOOR: "flask"})
        with pytest.raises(ValueError):
            recorder.put(REQUESTS, 1, {**ROUTE, Dimension.ROUTE: ""})


def test_switched_off_recorder_checks_and_keeps_nothing(written):
    recorder = MetricsRecorder("StudentRecords", lambda line: written.append(json.loads(line)), enabled=False)
    rogue = MetricSpec("Rogue", Unit.COUNT, ((),), "not catalogued", "nobody")
    recorder.put(rogue, 1, {Dimension.ROUTE: ""})  # no check runs: a refused metric passes silently
    recorder.put_many({REQUESTS: 1, REQUEST_LATENCY: 2.0}, ROUTE)
    assert recorder.flush() == 0 and written == []


def _without_timestamps(documents: list[dict]) -> set[int]:
    return {document["_aws"].pop("Timestamp") for document in documents}


def _metadata(dimension_sets: list[list[str]], *metrics: tuple[str, str]) -> dict:
    return {
        "CloudWatchMetrics": [
            {
                "Namespace": "StudentRecords",
                "Dimensions": dimension_sets,
                "Metrics": [{"Name": name, "Unit": unit} for name, unit in metrics],
            }
        ]
    }


def test_documents_have_exactly_the_recorded_content(recorder, written):
    # Given the request metrics put together and one by one, in two routes, and a metric without dimensions
    other_route = {Dimension.ROUTE: "/health", Dimension.FRONT_DOOR: "lambda"}  # names in another order
    recorder.put_many({REQUESTS: 1, REQUEST_LATENCY: 2.5, CLIENT_ERRORS: 0, SERVER_ERRORS: 0}, ROUTE)
    recorder.put(REQUESTS, 1, other_route)
    recorder.put_many({REQUESTS: 1, REQUEST_LATENCY: 4.0, CLIENT_ERRORS: 1, SERVER_ERRORS: 0}, ROUTE)
    recorder.put(STUDENTS_CREATED, 2)
    # When flushed
    assert recorder.flush() == 3
    # Then one document per group, in the order the groups were first put, with every value where it belongs
    (timestamp,) = _without_timestamps(written)
    assert isinstance(timestamp, int)
    per_route = [["FrontDoor", "Route"], ["FrontDoor"]]
    count, milliseconds = "Count", "Milliseconds"
    assert written == [
        {
            "_aws": _metadata(
                per_route,
                ("Requests", count),
                ("RequestLatency", milliseconds),
                ("ClientErrors", count),
                ("ServerErrors", count),
            ),
            "FrontDoor": "flask",
            "Route": "/students",
            "Requests": 2,
            "RequestLatency": [2.5, 4.0],
            "ClientErrors": 1,
            "ServerErrors": 0,
        },
        {"_aws": _metadata(per_route, ("Requests", count)), "FrontDoor": "lambda", "Route": "/health", "Requests": 1},
        {"_aws": _metadata([[]], ("StudentsCreated", count)), "StudentsCreated": 2},
    ]
    # And a later flush of the same group with other metrics names only those
    written.clear()
    recorder.put_many({SERVER_ERRORS: 1, REQUESTS: 1}, ROUTE)
    recorder.flush()
    _without_timestamps(written)
    assert written == [
        {
            "_aws": _metadata(per_route, ("ServerErrors", count), ("Requests", count)),
            "FrontDoor": "flask",
            "Route": "/students",
            "ServerErrors": 1,
            "Requests": 1,
        }
    ]


def test_more_than_100_metrics_are_split_across_documents(written):
    # Given 150 catalogued counters and one sample metric with 120 values, all without dimensions
    counters = [MetricSpec(f"Counter{index}", Unit.COUNT, ((),), "test", "test") for index in range(150)]
    samples = MetricSpec("Samples", Unit.MILLISECONDS, ((),), "test", "test", Aggregation.SAMPLES)
    catalog = {spec.name: spec for spec in [*counters, samples]}
    recorder = MetricsRecorder("StudentRecords", lambda line: written.append(json.loads(line)), catalog=catalog)
    for value in range(120):
        recorder.put(samples, float(value))
    for index, spec in enumerate(counters):
        recorder.put_many({spec: index})
    # When flushed
    assert recorder.flush() == 3
    # Then at most 100 metrics and 100 values per document, each value in exactly one
    names = [[metric["Name"] for metric in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]] for document in written]
    assert names == [
        ["Samples", *[f"Counter{i}" for i in range(99)]],
        ["Samples"],
        [f"Counter{i}" for i in range(99, 150)],
    ]
    assert written[0]["Samples"] == [float(v) for v in range(100)]
    assert written[1]["Samples"] == [float(v) for v in range(100, 120)]
    assert [written[0 if index < 99 else 2][f"Counter{index}"] for index in range(150)] == list(range(150))
    for document, metric_names in zip(written, names, strict=False):
        assert set(document) == {"_aws", *metric_names}
        assert_valid_emf(document, catalog=catalog)


def test_stdout_sink_writes_a_flush_in_one_write(monkeypatch):
    writes = []
    monkeypatch.setattr("sys.stdout", type("Stdout", (), {"write": staticmethod(writes.append)})())
    recorder = MetricsRecorder("StudentRecords", stdout_sink)
    recorder.put(STUDENTS_CREATED, 1)
    recorder.put(REQUESTS, 1, ROUTE)
    assert recorder.flush() == 2
    assert len(writes) == 1 and writes[0].endswith("\n")
    assert [
        json.loads(line)["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"] for line in writes[0].splitlines()
    ] == ["StudentsCreated", "Requests"]


def test_one_document_per_dimension_group_with_counters_summed_and_samples_kept(recorder, written):
    for latency in (3.0, 5.0, 8.0):
        recorder.put(REQUESTS, 1, ROUTE)
        recorder.put(REQUEST_LATENCY, latency, ROUTE)
        recorder.put(SERVER_ERRORS, 0, ROUTE)
    recorder.put(STUDENTS_CREATED, 1)
    assert recorder.flush() == 2
    request_doc = next(doc for doc in written if "Requests" in doc)
    assert request_doc["Requests"] == 3
    assert request_doc["RequestLatency"] == [3.0, 5.0, 8.0]
    assert request_doc["ServerErrors"] == 0
    assert request_doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["FrontDoor", "Route"], ["FrontDoor"]]
    assert request_doc["FrontDoor"] == "flask" and request_doc["Route"] == "/students"
    business_doc = next(doc for doc in written if "StudentsCreated" in doc)
    assert business_doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [[]]
    for document in written:
        assert_valid_emf(document)


def test_flush_empties_the_buffer(recorder, written):
    recorder.put(STUDENTS_CREATED, 1)
    recorder.flush()
    assert recorder.flush() == 0
    assert len(written) == 1


def test_more_than_100_samples_are_split_across_documents(recorder, written):
    dims = {Dimension.QUERY_NAME: "students.get"}
    for value in range(250):
        recorder.put(DB_QUERY_LATENCY, float(value), dims)
    assert recorder.flush() == 3
    assert [len(doc["DbQueryLatency"]) for doc in written] == [100, 100, 50]
    assert functools.reduce(operator.iadd, (doc["DbQueryLatency"] for doc in written), []) == [
        float(v) for v in range(250)
    ]
    for document in written:
        assert_valid_emf(document)


def test_agent_sink_sends_one_datagram_per_document():
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.settimeout(5)
        recorder = MetricsRecorder("StudentRecords", agent_sink(f"udp://127.0.0.1:{listener.getsockname()[1]}"))
        recorder.put(STUDENTS_CREATED, 1)
        recorder.put(REQUESTS, 1, ROUTE)
        recorder.flush()
        documents = [json.loads(listener.recv(65536)) for _ in range(2)]
    assert [document.get("StudentsCreated", document.get("Requests")) for document in documents] == [1, 1]


def test_agent_endpoint_must_be_udp():
    with pytest.raises(ValueError, match="udp://"):
        agent_sink("tcp://127.0.0.1:25888")


def test_interval_flusher_flushes_what_is_left_when_stopped(written):
    # Given a Flask worker's Observability, its metrics flushed every hour
    flusher = Observability(
        OBSERVABILITY.model_copy(update={"metrics_flush_interval_s": 3600}),
        metrics_sink=lambda line: written.append(json.loads(line)),
    )
    flusher.write_in_background()
    flusher.recorder.put(STUDENTS_CREATED, 1)
    # When it stops (the worker exits)
    flusher.close()
    assert written and written[0]["StudentsCreated"] == 1


def test_catalog_uses_only_allow_listed_dimensions():
    for spec in CATALOG.values():
        assert spec.dimension_names <= set(Dimension)
        assert len(spec.dimension_sets) >= 1


def test_documents_name_the_log_group_when_one_is_configured(written):
    recorder = MetricsRecorder("StudentRecords", lambda line: written.append(json.loads(line)), log_group="/stack/m")
    recorder.put(STUDENTS_CREATED, 1)
    recorder.flush()
    assert written[0]["_aws"]["LogGroupName"] == "/stack/m"
    assert_valid_emf(written[0])

"""The EMF recorder: catalog metrics only, valid documents, counters summed and samples kept."""

import json

import pytest

from observability.catalog import (
    CATALOG, DB_QUERY_LATENCY, MetricSpec, REQUEST_LATENCY, REQUESTS, SERVER_ERRORS, STUDENTS_CREATED,
    Dimension, Unit,
)
from observability.emf import IntervalFlusher, MetricsRecorder, UnknownMetric, agent_sink
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
    assert sum((doc["DbQueryLatency"] for doc in written), []) == [float(v) for v in range(250)]
    for document in written:
        assert_valid_emf(document)


def test_agent_sink_sends_one_datagram_per_document():
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.settimeout(5)
        recorder = MetricsRecorder("StudentRecords", agent_sink(f"udp://127.0.0.1:{listener.getsockname()[1]}"))
        recorder.put(STUDENTS_CREATED, 1)
        recorder.flush()
        document = json.loads(listener.recv(65536))
    assert document["StudentsCreated"] == 1


def test_agent_endpoint_must_be_udp():
    with pytest.raises(ValueError, match="udp://"):
        agent_sink("tcp://127.0.0.1:25888")


def test_interval_flusher_flushes_what_is_left_when_stopped(recorder, written):
    flusher = IntervalFlusher(recorder, interval_s=3600)
    flusher.start()
    recorder.put(STUDENTS_CREATED, 1)
    flusher.stop()
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

"""The daemon emitter sends what the SDK's would: its protocol header, then the entity's document."""

import json

from aws_xray_sdk.core.models.segment import Segment
from aws_xray_sdk.core.models.subsegment import Subsegment

from observability.xray_emitter import DaemonEmitter
from tests.observability.stack import UdpCollector


def test_a_segment_arrives_as_the_sdk_would_serialize_it():
    collector = UdpCollector()
    try:
        # Given a closed segment with a failed statement, annotations and metadata
        segment = Segment("student-records")
        segment.put_http_meta("method", "GET")
        segment.put_http_meta("status", 503)
        segment.put_annotation("route", "/students/{student_id}")
        segment.put_metadata("build", {"version": 3})
        statement = Subsegment("students.get", "remote", segment)
        statement.set_sql({"sanitized_query": "SELECT 1 WHERE id = %s"})
        statement.add_exception(TimeoutError("SQLSTATE 57014"), [])
        segment.add_subsegment(statement)
        statement.close()
        segment.close()
        # When the emitter sends it
        DaemonEmitter(f"127.0.0.1:{collector.port}").send_entity(segment)
        # Then one datagram: the daemon's header line, then the same document the SDK's json would make
        (document,) = collector.wait_for(lambda documents: len(documents) == 1)
        header, _, _ = collector.raw[0].partition(b"\n")
        assert header == b'{"format":"json","version":1}'
        assert document == json.loads(segment.serialize())
        assert document["subsegments"][0]["cause"]["exceptions"][0]["message"] == "SQLSTATE 57014"
    finally:
        collector.close()

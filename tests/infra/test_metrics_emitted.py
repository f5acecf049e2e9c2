"""Dashboards and alarms point only at metrics the code really emits: both doors, as real server
processes, are driven through every route, an error and a database outage, and every app metric a
dashboard or an alarm names (with its dimensions) must be in what they printed."""

import json
import os

import pytest

from infra import dashboards
from infra.alarm_replay import datapoints_from_emf
from infra.alarms import load_alarms
from observability.catalog import CATALOG
from tests.doors import token_for

APP_NAMESPACE = "${MetricsNamespace}"
NAMESPACE = "StudentRecords"


def _post(door, path: str, body: dict) -> dict:
    return json.loads(door.send("POST", path, json.dumps(body).encode())[2])


def _drive_academic_records(door, student_id: int) -> None:
    """Enroll, drop, enroll again and grade: every business metric of enrollments."""
    course = _post(
        door, "/courses", {"code": f"EMIT-{door.door}", "title": "Emitted", "credits": 3, "department": "Observability"}
    )
    term = _post(
        door, "/terms", {"code": f"EMIT-{door.door.upper()}", "starts_on": "2026-09-01", "ends_on": "2026-12-18"}
    )
    offering = _post(
        door, "/offerings", {"course_id": course["id"], "term_id": term["id"], "teacher_sub": "t", "capacity": 5}
    )
    enrollment = _post(door, f"/offerings/{offering['id']}/enrollments", {"student_id": student_id})
    door.send("PATCH", f"/enrollments/{enrollment['id']}", json.dumps({"status": "dropped"}).encode())
    _post(door, f"/offerings/{offering['id']}/enrollments", {"student_id": student_id})
    door.send("PUT", f"/enrollments/{enrollment['id']}/grade", json.dumps({"grade": "A"}).encode())
    door.send("GET", f"/students/{student_id}/transcript")


def _drive_everything(doors, server) -> None:
    for door in doors.values():
        created = json.loads(
            door.send(
                "POST",
                "/students",
                json.dumps(
                    {"first_name": "Emit", "last_name": "Ted", "email": f"emitted-{door.door}@example.org"}
                ).encode(),
            )[2]
        )
        _drive_academic_records(door, created["id"])
        student = f"/students/{created['id']}"
        for method, path, body in [
            ("GET", student, None),
            ("GET", "/students?limit=5", None),
            ("GET", "/students?status=active", None),
            ("GET", "/students?q=emi", None),
            ("GET", "/students?q=emi&status=active", None),
            ("GET", "/students/count", None),
            ("GET", f"{student}/audit", None),
            ("GET", "/health", None),
            ("GET", "/health/ready", None),
            ("PATCH", student, {"status": "inactive"}),
            (
                "POST",
                "/students",
                {"first_name": "Emit", "last_name": "Ted", "email": f"emitted-{door.door}@example.org"},
            ),
            ("DELETE", student, None),
            ("GET", "/nowhere", None),
        ]:
            door.send(method, path, json.dumps(body).encode() if body is not None else None)
        teacher = {"Authorization": f"Bearer {token_for('teacher')}"}
        door.send("GET", "/students?q=emi", headers=teacher)
        door.send("GET", "/students?q=emi&status=active", headers=teacher)
    server.stop()
    try:
        for door in doors.values():
            door.send("GET", "/students/count")  # learns of the outage
            door.send("GET", "/students/count")  # refused at once (DbFastRefusals)
            door.send("GET", "/health/ready")
    finally:
        server.start()


def _drive_a_flask_door_whose_writer_drops(server, scratch) -> list[str]:
    """SignalsDropped exists only when the writer's queue overflows: a door with room for one waiting line, which
    it writes only when it stops, serves three requests."""
    from tests.observability.stack import DoorProcess, UdpCollector

    saved = dict(os.environ)
    os.environ.update({"SIGNALS_QUEUE_MAX": "1", "SIGNALS_FLUSH_INTERVAL_MS": "3600000"})
    collector = UdpCollector()
    try:
        (scratch / "dropping").mkdir(exist_ok=True)
        door = DoorProcess("flask", server.dsn("student_records"), collector.port, scratch / "dropping")
        for _ in range(3):
            door.send("GET", "/health")
        door.stop()
    finally:
        os.environ.clear()
        os.environ.update(saved)
        collector.close()
    return door.stdout_path.read_text().splitlines()


@pytest.fixture(scope="module")
def emitted(isolated_database, isolated_doors):
    server, scratch = isolated_database
    _drive_everything(isolated_doors, server)
    lines = [line for door in isolated_doors.values() for line in door.stdout_path.read_text().splitlines()]
    return datapoints_from_emf(lines + _drive_a_flask_door_whose_writer_drops(server, scratch))


def _was_emitted(emitted, name: str, dimensions: tuple[tuple[str, str], ...]) -> bool:
    """Literal dimension values must match; ${...} ones (set at deploy, e.g. function names) match any value."""
    for namespace, metric, emitted_dimensions in emitted:
        if namespace != NAMESPACE or metric != name:
            continue
        emitted_by_name = dict(emitted_dimensions)
        if set(emitted_by_name) != {dimension for dimension, _ in dimensions}:
            continue
        if all(value.startswith("${") or emitted_by_name[dimension] == value for dimension, value in dimensions):
            return True
    return False


def test_every_catalog_metric_was_emitted(emitted):
    names = {name for namespace, name, _ in emitted if namespace == NAMESPACE}
    assert set(CATALOG) - names == set()


def test_every_app_metric_on_a_dashboard_was_emitted_with_its_dimensions(emitted):
    for path in dashboards.dashboard_files():
        body = json.loads(dashboards.load_dashboard(path))
        for reference in dashboards.metric_references(body):
            if reference.namespace == APP_NAMESPACE:
                assert _was_emitted(emitted, reference.name, reference.dimensions), (path.name, reference)


def test_every_app_metric_an_alarm_watches_was_emitted_with_its_dimensions(emitted):
    for alarm in load_alarms().alarms:
        for metric in alarm.metrics():
            if metric.namespace == APP_NAMESPACE:
                assert _was_emitted(emitted, metric.name, metric.dimensions), (alarm.name, metric)

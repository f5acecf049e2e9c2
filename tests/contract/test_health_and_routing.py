"""Health routes, unknown routes and methods, on both doors."""

from rest_contract.operations import OPERATIONS
from student_records.data import migrations
from tests.doors import Call


def test_liveness(api):
    reply = api.send(Call("GET", "/health"))
    assert reply.status == 200
    assert reply.json == {"status": "ok"}


def test_readiness_reports_each_check(api):
    reply = api.send(Call("GET", "/health/ready"))
    assert reply.status == 200
    body = reply.json
    assert body["status"] == "ok"
    assert set(body["checks"]) == {"database", "schema", "auth"}
    assert all(check["status"] == "ok" for check in body["checks"].values())
    assert body["schema_version"] == migrations.latest_version()


def test_readiness_names_a_schema_behind_the_code(api, db):
    # Given a database whose newest migration record is missing
    newest = migrations.discover()[-1]
    db.execute("DELETE FROM schema_migrations WHERE version = %s", (newest.version,))
    try:
        reply = api.send(Call("GET", "/health/ready"))
    finally:
        db.execute(
            "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
            (newest.version, newest.name, newest.checksum),
        )
    assert reply.status == 503
    assert reply.content_type == "application/problem+json"
    assert reply.json["checks"]["schema"]["status"] == "failed"
    assert "schema" in reply.json["detail"]


def test_unknown_path_is_404_problem(api):
    reply = api.send(Call("GET", "/teachers"))
    assert reply.status == 404
    assert reply.content_type == "application/problem+json"


def test_known_path_with_other_method_is_405_with_allow(api):
    reply = api.send(Call("PUT", "/students/1", json_body={}))
    assert reply.status == 405
    assert reply.headers["allow"] == "DELETE, GET, PATCH"


def test_trailing_slash_is_the_same_route(api):
    assert api.send(Call("GET", "/students/")).status == 200


def test_every_operation_is_routed(api):
    for operation in OPERATIONS:
        path = operation.path.replace("{student_id}", "1")
        reply = api.send(Call(operation.method, path, json_body={} if operation.body_model else None))
        unmatched = reply.status == 405 or (
            reply.status == 404 and reply.json["detail"] == "no route matches this path"
        )
        assert not unmatched, operation.operation_id

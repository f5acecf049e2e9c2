"""OBSERVABILITY=off (for measuring what signals cost): a door then prints nothing at all."""

import json

from flask_backend import create_app
from tests.apps import application_for
from tests.doors import token_for


def test_switched_off_flask_door_serves_and_prints_nothing(db, settings, database, capsys):
    # Given the Flask door of an application whose settings switch observability off
    off = settings.model_copy(update={"observability": settings.observability.model_copy(update={"enabled": False})})
    client = create_app(application=application_for(off, database)).test_client()
    headers = {"Authorization": "Bearer " + token_for("admin")}
    capsys.readouterr()
    # When it creates a student and reads it back
    created = client.post(
        "/students", json={"first_name": "A", "last_name": "B", "email": "off@example.org"}, headers=headers
    )
    read = client.get(f"/students/{created.get_json()['id']}", headers=headers)
    # Then it serves both, with no request id, and prints nothing: no log line, no metric
    assert created.status_code == 201, created.data
    assert read.status_code == 200
    assert "X-Request-Id" not in created.headers
    out, err = capsys.readouterr()
    assert out == ""
    assert not [line for line in err.splitlines() if line.startswith("{") and json.loads(line)]

"""OBSERVABILITY=off (for measuring what signals cost): a door then prints nothing at all."""

import json
import subprocess
import sys

from tests.observability.stack import REPO_ROOT

SCRIPT = """
import os, json
from flask_backend import create_app
from tests.doors import token_for
client = create_app().test_client()
headers = {"Authorization": "Bearer " + token_for("admin")}
created = client.post("/students", json={"first_name": "A", "last_name": "B", "email": "off@example.org"}, headers=headers)
assert created.status_code == 201, created.data
assert client.get("/students/%d" % created.get_json()["id"], headers=headers).status_code == 200
assert "X-Request-Id" not in created.headers
"""


def test_switched_off_flask_door_serves_and_prints_nothing(db, database_conninfo):
    import os

    env = {**os.environ, "OBSERVABILITY": "off", "DATABASE_URL": database_conninfo, "METRICS_FLUSH_INTERVAL_S": "0"}
    result = subprocess.run([sys.executable, "-c", SCRIPT], cwd=REPO_ROOT, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert not [line for line in result.stderr.splitlines() if line.startswith("{") and json.loads(line)]

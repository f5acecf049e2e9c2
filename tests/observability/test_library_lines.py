"""The lines of gunicorn and of the libraries that log (the X-Ray SDK's sampler, the connection pool) are the
service's JSON lines, and never carry exception text."""

import json
import logging

import pytest
from gunicorn.config import Config

from observability.gunicorn_logging import JsonLinesLogger
from observability.logs import WITHHELD
from tests.observability.stack import DoorProcess, UdpCollector


@pytest.fixture
def collector():
    udp = UdpCollector()
    yield udp
    udp.close()


def test_every_line_the_flask_door_writes_is_json_gunicorn_s_included(database_conninfo, tmp_path, collector):
    # Given the Flask door under gunicorn, as on EC2 (stdout and stderr in one file)
    door = DoorProcess("flask", database_conninfo, collector.port, tmp_path)
    try:
        # When it serves a request, then is stopped
        assert door.send("GET", "/students/count")[0] == 200
    finally:
        door.stop()

    # Then every line is a JSON document, gunicorn's lifecycle lines among them, with the service's keys
    lines = [json.loads(line) for line in door.stdout_path.read_text().splitlines() if line.strip()]
    gunicorn_lines = [line for line in lines if line.get("name") == "gunicorn.error"]
    messages = [line["message"] for line in gunicorn_lines]
    assert any(message.startswith("Listening at: http://127.0.0.1:") for message in messages)
    assert any(message.startswith("Booting worker with pid: ") for message in messages)
    assert any(message.startswith("Worker exiting") for message in messages)
    assert {(line["level"], line["service"]) for line in gunicorn_lines} == {("INFO", "student-records")}


@pytest.fixture
def gunicorn_error_log():
    yield
    logging.getLogger("gunicorn.error").handlers.clear()  # process-wide: the test's handler goes with it


def test_a_line_reporting_an_exception_names_its_types_not_its_text_nor_its_arguments(gunicorn_error_log, capsys):
    # Given gunicorn's logger as the door configures it (its handler writes to the test's stderr)
    config = Config()
    config.set("errorlog", "-")
    log = JsonLinesLogger(config)

    # When gunicorn reports an error while handling a request, whose URI and exception quote the client's data
    try:
        raise ValueError("bad byte in 'ada.lovelace@example.org'")
    except ValueError:
        log.exception("Error handling request %s", "/students?q=ada.lovelace")

    # Then the line is JSON naming the exception's type and frames, with neither the URI nor the exception text
    err = capsys.readouterr().err
    [line] = [json.loads(text) for text in err.splitlines()]
    assert line["level"] == "ERROR"
    assert line["message"] == f"Error handling request {WITHHELD}"
    assert line["exception_type"] == "builtins.ValueError"
    assert line["stack"] and "test_library_lines.py" in line["stack"][0]
    assert "ada" not in err and "exception" not in line


def test_the_x_ray_sdk_s_lines_are_json_and_name_the_exception_by_type(capsys):
    # Given the service's logging (imported by either door)
    import observability.logs  # noqa: F401 - imported for its effect: the service's log handlers installed

    # When the X-Ray SDK's sampler fails to reach the daemon, as it does when the agent is down
    try:
        raise ConnectionRefusedError(111, "Connection refused")
    except ConnectionRefusedError:
        logging.getLogger("aws_xray_sdk.core.sampling.rule_poller").exception("Encountered an issue while polling")

    # Then one JSON line on stdout says so, with the exception's type and no traceback text
    [line] = [json.loads(text) for text in capsys.readouterr().out.splitlines()]
    assert (line["level"], line["name"]) == ("ERROR", "aws_xray_sdk.core.sampling.rule_poller")
    assert line["message"] == "Encountered an issue while polling"
    assert line["exception_type"] == "builtins.ConnectionRefusedError" and "exception" not in line

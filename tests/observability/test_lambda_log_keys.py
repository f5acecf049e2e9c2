"""The Lambda door's log lines keep the service's keys from one invocation to the next."""

import json
import logging

from tests.doors import Call, LambdaDoor


def _log_lines(capsys) -> list[dict]:
    return [
        json.loads(line)
        for line in capsys.readouterr().out.splitlines()
        if line.startswith("{") and '"_aws"' not in line
    ]


def test_psycopg_lines_keep_their_logger_name_after_an_invocation(capsys, application):
    # Given an invocation of the Lambda door has been served
    assert LambdaDoor(application).send(Call("GET", "/health")).status == 200
    capsys.readouterr()
    # When the driver's pool logs a line afterwards
    logging.getLogger("psycopg.pool").warning("pool line")
    # Then it still names its logger and the service, as before the invocation
    (line,) = _log_lines(capsys)
    assert (line["name"], line["service"]) == ("psycopg.pool", "student-records")

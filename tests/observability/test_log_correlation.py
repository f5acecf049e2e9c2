"""Every log line written while a request is served carries its correlation id; lines outside it carry none."""

import json
import logging
import threading

from observability.logs import logger
from observability.requests import FLASK, RequestObservation


def _lines(capsys) -> list[dict]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' not in line]


def test_lines_during_a_request_carry_its_id_and_lines_after_it_do_not(capsys):
    observation = RequestObservation(FLASK, "GET", "corr-1")
    logger.warning("inside")
    logging.getLogger("psycopg.pool").warning("pool line")  # shares the service's handler
    observation.finish(200)
    logger.warning("after")
    inside, pool, request, after = _lines(capsys)
    assert (inside["message"], inside["correlation_id"]) == ("inside", "corr-1")
    assert (pool["name"], pool["correlation_id"]) == ("psycopg.pool", "corr-1")
    assert request["correlation_id"] == "corr-1"
    assert after["message"] == "after" and "correlation_id" not in after


def test_each_request_has_its_own_id(capsys):
    for correlation_id in ("first", "second"):
        observation = RequestObservation(FLASK, "GET", correlation_id)
        logger.warning("work")
        observation.finish(200)
    assert [line["correlation_id"] for line in _lines(capsys)] == ["first", "first", "second", "second"]


def test_another_thread_does_not_see_this_requests_id(capsys):
    observation = RequestObservation(FLASK, "GET", "mine")
    elsewhere = threading.Thread(target=logger.warning, args=("other thread",))
    elsewhere.start()
    elsewhere.join()
    observation.finish(200)
    other = next(line for line in _lines(capsys) if line["message"] == "other thread")
    assert "correlation_id" not in other


def test_a_lines_own_correlation_id_is_kept(capsys):
    observation = RequestObservation(FLASK, "GET", "request-id")
    logger.warning("import run", extra={"correlation_id": "run-id"})
    observation.finish(200)
    assert _lines(capsys)[0]["correlation_id"] == "run-id"

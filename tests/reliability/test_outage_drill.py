"""The outage drill, shortened: both doors under load while PostgreSQL crashes and returns."""

import re

from local_stack.drill import main

RECOVERY_LIMIT_S = 1.0  # fail-fast's probe reconnects within an interval (250 ms) of the database accepting


def test_short_outage_drill_passes_every_check(capsys):
    # Given load on both doors, a 4 s outage and 7 s more of load; When the drill runs
    exit_code = main(["--before", "2", "--outage", "4", "--after", "7", "--workers", "3"])
    report = capsys.readouterr().out
    # Then every check passed, each door's among them, and the figures are printed
    assert exit_code == 0, report
    assert "FAIL" not in report
    for door in ("flask", "lambda"):
        for check in (
            "no 5xx other than 503",
            "every response during the outage within 2 s",
            "/health 200 throughout",
            "first success within 2 s of the database accepting connections",
        ):
            assert f"PASS  {door}: {check}" in report, report
    assert "missing from the database 0" in report
    # And each door served again well within the 2 s the drill allows: fail-fast's probe found the database back
    recoveries = [float(seconds) for seconds in re.findall(r"first success ([0-9.]+) s after", report)]
    assert len(recoveries) == 2 and max(recoveries) < RECOVERY_LIMIT_S, report
    assert "db-connection-errors: OK -> ALARM" in report and "db-connection-errors: ALARM -> OK" in report
    assert "('db-connection-errors', 'OK', 'ALARM')" in report and "('db-connection-errors', 'ALARM', 'OK')" in report

"""`make alarms-proof`, one scenario of it: the database crash, which drives the alarms of every kind the proof covers
(the doors' own metrics, API Gateway's and the load balancer's from the local stand-ins, the SLOs' burn rates from
Application Signals' computation, and the on-call composite). The whole proof takes about ten minutes: a make target,
not a test (README, "Alarms, proven")."""

from local_stack.alarms_proof import SCENARIOS, main


def test_the_database_crash_proves_its_alarms_each_way_with_their_sns_messages(capsys):
    # Given the scenario that proves the database connection alarm, and what else it drives
    [scenario] = [scenario for scenario in SCENARIOS if "db-connection-errors" in scenario.proves]
    assert {"api-5xx-errors", "flask-lb-unhealthy-targets", "slo-availability-lambda-fast-burn", "on-call-page"} <= set(
        scenario.proves
    )
    # When the proof runs it for all of them
    exit_code = main(["--only", ",".join(scenario.proves)])
    report = capsys.readouterr().out
    # Then each went to ALARM under the crash and back to OK after it, with an SNS message each way
    assert exit_code == 0, report
    for alarm in scenario.proves:
        [row] = [line for line in report.splitlines() if line.startswith(alarm + " ")]
        assert row.split()[1] == scenario.name and row.endswith("proven"), row
    assert report.strip().splitlines()[-1] == f"alarms proven: {len(scenario.proves)}/{len(scenario.proves)}"

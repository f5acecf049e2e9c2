"""The end-to-end suite's own rules: every operation has a scenario, a scenario calls what it names, and the
summary line and exit status. (It runs against `make run` in tests/local_stack/test_run_end_to_end.py, and
against a stack played by moto in test_e2e_against_a_stack.py.)"""

import pytest

from deployed.door import ScenarioFailed
from deployed.e2e import Report, _scenario_step, main
from deployed.scenarios import SCENARIOS, Scenario
from rest_contract.operations import OPERATIONS


def test_every_operation_has_a_scenario_and_every_named_operation_exists():
    named = set().union(*(scenario.operations for scenario in SCENARIOS))
    operations = {operation.operation_id for operation in OPERATIONS}
    assert operations - named == set(), "operations without an end-to-end scenario (deployed/scenarios.py)"
    assert named - operations == set(), "scenarios name operations that do not exist"


def test_scenario_names_are_unique():
    names = [scenario.name for scenario in SCENARIOS]
    assert len(names) == len(set(names))


class _Door:
    name = "flask"

    def __init__(self) -> None:
        self.operations_called: set[str] = set()


class _Run:
    def __init__(self) -> None:
        self.door = _Door()


def test_a_scenario_fails_when_it_does_not_call_an_operation_it_names():
    run = _Run()
    calls_one = Scenario(
        "names two, calls one",
        frozenset({"getStudent", "deleteStudent"}),
        lambda run: run.door.operations_called.add("getStudent"),
    )
    with pytest.raises(ScenarioFailed, match="names deleteStudent but did not call them"):
        _scenario_step(calls_one, run)()


@pytest.mark.parametrize(("outcomes", "status"), [([], 1), ([True], 0), ([True, False], 1), ([False], 1)])
def test_the_last_line_counts_and_the_exit_status_needs_a_pass_and_no_failure(capsys, outcomes, status):
    report = Report()
    for number, passes in enumerate(outcomes):
        report.run(f"scenario {number}", (lambda: None) if passes else _fails)
    assert report.summary() == status
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == f"e2e: {outcomes.count(True)} passed, {outcomes.count(False)} failed"
    assert [line.split(" ", 1)[0] for line in lines[:-1]] == ["PASS" if passes else "FAIL" for passes in outcomes]


def _fails() -> None:
    raise ScenarioFailed("GET /x [e2e-1-1] answered 500, expected 200")


def test_an_unexpected_error_in_a_scenario_is_a_failure_and_the_run_goes_on(capsys):
    report = Report()
    report.run("broken", lambda: {}["missing"])
    report.run("fine", lambda: None)
    assert report.summary() == 1
    assert capsys.readouterr().out.splitlines() == [
        "FAIL broken: KeyError: 'missing'",
        "PASS fine",
        "e2e: 1 passed, 1 failed",
    ]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "give --api-url"),
        (["--api-url", "127.0.0.1:3000"], "not an http(s) URL"),
        (["--api-url", "http://127.0.0.1:3000", "--run-id", "Not-Safe"], "--run-id"),
    ],
)
def test_the_command_line_refuses_what_it_cannot_run(capsys, argv, message):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err

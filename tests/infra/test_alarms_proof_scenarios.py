"""`make alarms-proof` sets out to prove every alarm: each alarm of alarms/ (and the on-call composite) has exactly one
scenario that drives it; and each runbook names how to rehearse its alarm on a laptop."""

from infra.alarms import RUNBOOKS_DIR, load_alarms
from local_stack.alarms_proof import SCENARIOS, main, scenario_of


def test_every_alarm_has_exactly_one_scenario():
    # Given every alarm and the composite
    catalog = load_alarms()
    names = [alarm.name for alarm in catalog.alarms] + [catalog.composite.name]
    # Then each is proven by exactly one scenario
    for name in names:
        proving = [scenario.name for scenario in SCENARIOS if name in scenario.proves]
        assert len(proving) == 1, (name, proving)
    # And the scenarios prove nothing else, each something
    assert {alarm for scenario in SCENARIOS for alarm in scenario.proves} == set(names)
    assert all(scenario.proves for scenario in SCENARIOS)
    assert len({scenario.name for scenario in SCENARIOS}) == len(SCENARIOS)


def test_each_runbook_says_how_to_rehearse_its_alarms_locally():
    catalog = load_alarms()
    for alarm in (*catalog.alarms, catalog.composite):
        runbook = (RUNBOOKS_DIR / alarm.runbook).read_text()
        # Then its runbook has the section, naming the command and the scenario
        section = runbook[runbook.index("## Rehearse it locally") :]
        assert f"`make alarms-proof ONLY={alarm.name}`: scenario `{scenario_of(alarm.name).name}`" in section, (
            alarm.name
        )


def test_list_names_each_alarms_scenario(capsys):
    # When the alarms are listed, some by name
    assert main(["--list", "--only", "db-cpu-high,api-new-version-errors", "--only", "on-call-page"]) == 0
    # Then each comes with its scenario
    assert capsys.readouterr().out.splitlines() == [
        "db-cpu-high: cpu-hog",
        "api-new-version-errors: canary-failing",
        "on-call-page: database-down",
    ]

"""Service-level objectives as data: the SLOs the template holds, and the multi-window burn-rate alarms, replayed
from the doors' own EMF the way Application Signals and CloudWatch would evaluate them."""

import pytest
import yaml

from infra import slos
from infra.alarm_replay import ALARM, OK, replay
from infra.alarms import load_alarms
from observability.catalog import REQUEST_LATENCY, REQUESTS, SERVER_ERRORS, Dimension
from tests.infra.stack_view import StackView
from tests.infra.test_alarm_replay import T0, Timeline, _transitions

LAMBDA = {Dimension.FRONT_DOOR: "lambda", Dimension.ROUTE: "/students"}


@pytest.fixture(scope="module")
def catalog():
    return load_alarms()


def test_the_template_holds_each_objective_request_based_with_its_burn_rates(transformed_template):
    # Given the stack at its defaults (no EC2 door) and with it
    objectives = slos.load_objectives()
    for with_door in (False, True):
        stack = StackView(transformed_template, {"FlaskArtifactBucket": "artifacts"} if with_door else {})
        deployed = stack.of_type("AWS::ApplicationSignals::ServiceLevelObjective")
        # Then every objective is an SLO where its door is deployed
        expected = {o.logical_id for o in objectives.objectives if with_door or o.front_door == "lambda"}
        assert set(deployed) == expected
        for objective in objectives.objectives:
            if objective.logical_id not in deployed:
                continue
            properties = deployed[objective.logical_id]["Properties"]
            # Over a rolling window, with the goal and every burn-rate window the alarms compare
            assert properties["Goal"]["Interval"] == {"RollingInterval": {"Duration": 28, "DurationUnit": "DAY"}}
            assert properties["Goal"]["AttainmentGoal"] == objective.goal
            assert [c["LookBackWindowMinutes"] for c in properties["BurnRateConfigurations"]] == [5, 30, 60, 360]
            # Request-based, over the door's own Requests and, for the bad or good requests, its 5xx or latency
            metric = properties["RequestBasedSli"]["RequestBasedSliMetric"]
            [total] = metric["TotalRequestCountMetric"]
            assert total["MetricStat"]["Metric"]["MetricName"] == "Requests"
            assert total["MetricStat"]["Metric"]["Dimensions"] == [{"Name": "FrontDoor", "Value": objective.front_door}]
            monitored = metric["MonitoredRequestCountMetric"]
            if objective.indicator == "availability":
                assert monitored["BadCountMetric"][0]["MetricStat"]["Metric"]["MetricName"] == "ServerErrors"
            else:
                good = monitored["GoodCountMetric"][0]["MetricStat"]
                assert (good["Metric"]["MetricName"], good["Stat"]) == ("RequestLatency", "TC(:1000)")


def test_every_objective_has_a_paging_fast_burn_and_a_notifying_slow_burn_alarm(catalog):
    by_name = {alarm.name: alarm for alarm in catalog.alarms}
    for objective in slos.load_objectives().objectives:
        fast, slow = by_name[f"slo-{objective.name}-fast-burn"], by_name[f"slo-{objective.name}-slow-burn"]
        assert fast.pages and not slow.pages
        assert (fast.threshold, slow.threshold) == (14.4, 6)
        windows = [
            {dict(q.metric.dimensions)["BurnRateWindowMinutes"] for q in alarm.queries if q.metric}
            for alarm in (fast, slow)
        ]
        assert windows == [{"60", "5"}, {"360", "30"}]
        assert fast.condition == slow.condition == objective.condition


def test_an_error_burst_fires_the_fast_burn_and_it_clears_once_the_short_window_is_clean(catalog):
    # Given 100 requests a minute, a fifth of them 5xx for minutes 30 to 39
    timeline = Timeline()
    for minute in range(70):
        errors = 20 if 30 <= minute < 40 else 0
        timeline.at(minute, (REQUESTS, 100, LAMBDA), (SERVER_ERRORS, errors, LAMBDA))
    # When replayed with the burn rates Application Signals would compute
    result = replay(catalog, timeline.lines)
    # Then the fast burn goes to ALARM once the hour's error rate is over 14.4 times the budget (and the last
    # 5 minutes too), and back to OK when the last 5 minutes are clean, though the hour is not
    states = _transitions(result, "slo-availability-lambda-fast-burn")
    assert [(old, new) for old, new, _ in states][-2:] == [(OK, ALARM), (ALARM, OK)]
    alarmed_at, cleared_at = states[-2][2], states[-1][2]
    assert 31 * 60 < alarmed_at <= 34 * 60  # the hour's error rate passes 1.44 % (14.4 x 0.1 %) at minute 32
    assert 40 * 60 < cleared_at <= 46 * 60
    # And it paged
    assert any(t.alarm == "on-call-page" and t.new_state == ALARM for t in result.transitions)


def test_slow_latency_fires_the_latency_burn_rate(catalog):
    # Given requests of which 30 % take 1.5 s (over the 1 s objective) for twenty minutes
    timeline = Timeline()
    for minute in range(40):
        slow = 30 if 10 <= minute < 30 else 0
        timeline.at(
            minute,
            (REQUESTS, 100, LAMBDA),
            *[(REQUEST_LATENCY, 1500.0, LAMBDA)] * slow,
            *[(REQUEST_LATENCY, 20.0, LAMBDA)] * (100 - slow),
        )
    result = replay(catalog, timeline.lines)
    assert (OK, ALARM) in [(old, new) for old, new, _ in _transitions(result, "slo-latency-lambda-fast-burn")]


def test_burn_rate_is_the_error_rate_over_the_budget():
    # Given 2 errors in 1000 requests over the window, against a 99.9 % goal (a 0.1 % budget)
    objectives = slos.Objectives(28, (60,), (slos.Objective("a", "d", "lambda", "availability", 99.9),))
    series = {
        ("NS", "Requests", frozenset({("FrontDoor", "lambda")})): [(T0 + 30, 1000.0)],
        ("NS", "ServerErrors", frozenset({("FrontDoor", "lambda")})): [(T0 + 30, 2.0)],
    }
    derived = slos.burn_rate_series(objectives, series, "NS", period_s=60, start=T0, end=T0 + 59)
    [(_, points)] = derived.items()
    assert points == [(T0 + 30, pytest.approx(2.0))]  # 0.2 % / 0.1 %


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"goal": 100}, "between 0 and 100"),
        ({"indicator": "latency"}, "threshold_ms is required"),
        ({"front_door": "ec2"}, "front_door is one of"),
        ({"name": "Availability"}, "lowercase words"),
    ],
)
def test_a_bad_objective_is_refused_with_a_reason(tmp_path, change, message):
    entry = {
        "name": "availability-lambda",
        "description": "d",
        "front_door": "lambda",
        "indicator": "availability",
        "goal": 99.9,
    } | change
    path = tmp_path / "objectives.yaml"
    path.write_text(yaml.safe_dump({"window_days": 28, "burn_rate_windows_minutes": [5, 60], "objectives": [entry]}))
    with pytest.raises(slos.ObjectiveDefinitionError, match=message):
        slos.load_objectives(path)

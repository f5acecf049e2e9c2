"""The metric math the dashboards and alarms use, evaluated as CloudWatch would for one period, and the rule
that keeps a dashboard line from going blank: every input that can be absent is FILLed."""

import pytest

from infra import metric_math


def test_a_missing_input_leaves_the_period_empty_unless_it_is_filled():
    # Given a minute with creations and no deletion (no datapoint of StudentsDeleted)
    minute = {"created": 5.0, "deleted": None}
    # Then `created - deleted` has no value there, and the filled form has the right one
    assert metric_math.evaluate("created - deleted", minute) is None
    assert metric_math.evaluate("FILL(created, 0) - FILL(deleted, 0)", minute) == 5.0
    # And FILL keeps a present value
    assert metric_math.evaluate("FILL(created, 0) - FILL(deleted, 0)", {"created": 5.0, "deleted": 2.0}) == 3.0


def test_a_rate_without_its_denominator_stays_empty():
    assert metric_math.evaluate("100 * FILL(errors, 0) / requests", {"errors": None, "requests": 40.0}) == 0.0
    assert metric_math.evaluate("100 * FILL(errors, 0) / requests", {"errors": None, "requests": None}) is None
    assert metric_math.evaluate("100 * FILL(errors, 0) / requests", {"errors": None, "requests": 0.0}) is None


@pytest.mark.parametrize(
    ("expression", "unfilled"),
    [
        ("created - deleted", ["created", "deleted"]),
        ("FILL(created, 0) - deleted", ["deleted"]),
        ("FILL(created, 0) - FILL(deleted, 0)", []),
        ("100 * errors / requests", ["errors"]),  # the divisor may be absent: no requests, no rate
        ("100 * FILL(errors, 0) / requests", []),
        ("100 * gw5", []),  # one metric: nothing to combine
        ("errors / (requests + retries)", ["errors"]),  # a divisor, however made, may be absent
    ],
)
def test_inputs_that_can_leave_a_gap_are_named(expression, unfilled):
    assert metric_math.unfilled_inputs(expression) == unfilled


def test_what_it_cannot_compute_is_refused():
    with pytest.raises(metric_math.MetricMathError):
        metric_math.evaluate("ANOMALY_DETECTION_BAND(m1)", {"m1": 1.0})
    with pytest.raises(metric_math.MetricMathError):
        metric_math.evaluate("m1 +", {"m1": 1.0})


def test_min_across_series_needs_every_series():
    # Given two burn-rate windows; Then MIN is the smaller, and no value when either window has none
    assert metric_math.evaluate("MIN([long, short])", {"long": 20.0, "short": 15.0}) == 15.0
    assert metric_math.evaluate("MIN([long, short])", {"long": 20.0, "short": None}) is None
    assert metric_math.inputs("MIN([long, short])") == {"long", "short"}

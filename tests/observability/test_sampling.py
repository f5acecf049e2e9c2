"""The sampling rules (observability/sampling_rules.json): what they decide, as the doors apply them locally and X-Ray
applies them in AWS, and the refusals of a file X-Ray would not take."""

import json

import pytest

from observability.sampling import MAX_NAME_CHARS, SamplingRuleError, load_rules, local_sampler

RULE = {
    "name": "reads",
    "description": "reads",
    "priority": 300,
    "http_method": "GET",
    "url_path": "*",
    "reservoir_size": 1,
    "fixed_rate": 0.05,
}


def _decisions(method: str, path: str, times: int) -> list[bool]:
    sampler = local_sampler()
    return [bool(sampler.should_trace({"method": method, "path": path})) for _ in range(times)]


@pytest.mark.parametrize("path", ["/health", "/health/ready"])
def test_probes_are_never_traced(path):
    assert _decisions("GET", path, 50) == [False] * 50


@pytest.mark.parametrize("method", ["POST", "PATCH", "PUT", "DELETE"])
def test_every_write_is_traced(method):
    assert _decisions(method, "/students/7", 50) == [True] * 50


def test_reads_are_one_a_second_then_a_share_of_the_rest():
    # Within one second: the reservoir's one, then 5 % of 2000 (100 expected; far outside 40..200 is a wrong rate)
    decisions = _decisions("GET", "/students/7", 2001)
    assert decisions[0] is True
    assert 40 <= sum(decisions[1:]) <= 200


def test_the_rules_keep_their_priority_order_and_room_for_the_stack_prefix():
    rules = load_rules()
    assert [rule.priority for rule in rules.rules] == sorted(rule.priority for rule in rules.rules)
    assert all(len(rule.name) <= MAX_NAME_CHARS for rule in rules.rules)


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        ({"name": "x" * (MAX_NAME_CHARS + 1)}, "characters at most"),
        ({"fixed_rate": 1.5}, "a rate from 0 to 1"),
        ({"reservoir_size": -1}, "a reservoir of 0 or more"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_a_rule_x_ray_would_refuse_is_refused_naming_it(tmp_path, change, refusal):
    path = tmp_path / "rules.json"
    path.write_text(json.dumps({"rules": [{**RULE, **change}], "default": {"reservoir_size": 1, "fixed_rate": 0.05}}))
    with pytest.raises(SamplingRuleError, match=refusal):
        load_rules(path)


def test_two_rules_of_one_priority_are_refused(tmp_path):
    path = tmp_path / "rules.json"
    path.write_text(
        json.dumps({"rules": [RULE, {**RULE, "name": "other"}], "default": {"reservoir_size": 1, "fixed_rate": 0.05}})
    )
    with pytest.raises(SamplingRuleError, match="share a priority"):
        load_rules(path)

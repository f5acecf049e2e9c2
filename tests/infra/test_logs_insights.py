"""The local Logs Insights evaluator: each command and function the saved queries use, with the semantics AWS
documents, and a clear refusal of anything else."""

import json
from datetime import UTC, datetime, timedelta

import pytest

from infra import logs_insights
from infra.logs_insights import QueryError, SavedQuery, load_saved_queries, main, read_lines, run

T0 = datetime(2026, 12, 7, 10, 0, 0, tzinfo=UTC)


def _powertools_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S,%f")[:-3] + "+0000"


def _request(seconds: float, door: str, route: str, status: int, duration_ms: float, **extra) -> dict:
    """A request line, with the fields the doors' request lines have."""
    return {
        "level": "INFO",
        "message": "request",
        "timestamp": _powertools_time(T0 + timedelta(seconds=seconds)),
        "service": "student-records",
        "correlation_id": f"id-{seconds:g}",
        "method": "GET",
        "route": route,
        "status": status,
        "duration_ms": duration_ms,
        "front_door": door,
        **extra,
    }


REQUESTS = [
    _request(0, "flask", "/students", 200, 12.5),
    _request(10, "flask", "/students", 200, 30.0),
    _request(20, "flask", "/students/{student_id}", 404, 4.0),
    _request(70, "lambda", "/students", 200, 250.0, cold_start=True),
    _request(80, "lambda", "/students", 503, 1500.0, cold_start=False),
    _request(90, "lambda", "/students/{student_id}", 401, 0.5, cold_start=False),
]


def _records(documents: list[dict]) -> list[dict]:
    return read_lines(json.dumps(document) for document in documents)


def _rows(query: str, documents: list[dict] = REQUESTS) -> list[dict]:
    result = run(query, _records(documents))
    return [dict(zip(result.columns, row, strict=True)) for row in result.cells()]


# ---- the captured lines ----------------------------------------------------------------------------------------


def test_only_json_objects_are_read_with_their_line_and_their_own_time():
    # Given a capture mixing JSON objects, other JSON, plain text and each kind of line time
    lines = [
        "[lambda-door] student-records-api behind the local API Gateway on http://127.0.0.1:3000",
        '["a", "list"]',
        "{not json",
        json.dumps({"message": "powertools", "timestamp": "2026-12-07 10:00:01,250+0000"}),
        json.dumps({"type": "platform.report", "time": "2026-12-07T10:00:02.500Z"}),
        json.dumps({"requestId": "r-1", "requestTime": "07/Dec/2026:10:00:03 +0000"}),
        json.dumps({"action": "BLOCK", "timestamp": 1796637604000}),
        json.dumps({"_aws": {"Timestamp": 1796637605000}, "Requests": 1}),
        json.dumps({"message": "no time of its own"}),
        '2026-12-07T10:00:06.000000+00:00 {"message": "as aws logs tail --format short prints it"}',
    ]
    # When read
    records = read_lines(lines)
    # Then only the objects are records, each with its object as @message and its time as @timestamp
    assert [record["@message"] for record in records] == [*lines[3:-1], lines[-1].split(" ", 1)[1]]
    times = [record["@timestamp"] for record in records]
    assert times[:5] == [
        T0 + timedelta(seconds=1.25),
        T0 + timedelta(seconds=2.5),
        T0 + timedelta(seconds=3),
        T0 + timedelta(seconds=4),
        T0 + timedelta(seconds=5),
    ]
    # And a line without a time takes the previous line's
    assert times[5] == times[4]


# ---- fields ----------------------------------------------------------------------------------------------------


def test_fields_picks_columns_in_order_with_aliases_nested_fields_and_coalesce():
    documents = [{"a": {"b": [{"c": "deep"}]}, "route": "/x", "odd-name": 1}, {"resourcePath": "/y", "odd-name": 2}]
    rows = _rows("fields a.b.0.c as deep, coalesce(route, resourcePath) as route_template, `odd-name`", documents)
    assert rows == [
        {"deep": "deep", "route_template": "/x", "odd-name": "1"},
        {"deep": "", "route_template": "/y", "odd-name": "2"},
    ]


def test_without_fields_or_stats_the_columns_are_timestamp_and_message():
    result = run("filter status = 404", _records(REQUESTS))
    assert result.columns == ["@timestamp", "@message"]
    assert result.cells() == [["2026-12-07 10:00:20.000", json.dumps(REQUESTS[2])]]


# ---- filter ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("status >= 500", ["id-80"]),
        ('status = "401"', ["id-90"]),  # values are loosely typed: text that reads as a number compares as one
        ('status != 200 and front_door = "flask"', ["id-20"]),
        ('front_door = "lambda" and status = 200 or status = 404', ["id-20", "id-70"]),  # and binds first
        ('front_door = "lambda" and (status = 200 or status = 404)', ["id-70"]),
        ('not front_door = "flask"', ["id-70", "id-80", "id-90"]),
        ('route like "{student_id}"', ["id-20", "id-90"]),
        ("route like /^\\/students$/ and duration_ms < 20", ["id-0"]),
        ("route =~ /student_id/", ["id-20", "id-90"]),
        ('route not like "{"', ["id-0", "id-10", "id-70", "id-80"]),
        ("status in [401, 404]", ["id-20", "id-90"]),
        ("status not in [200]", ["id-20", "id-80", "id-90"]),
        ("ispresent(cold_start)", ["id-70", "id-80", "id-90"]),
        ("cold_start = 1", ["id-70"]),  # JSON true is 1
        # A comparison with a missing field is false, and its negation true
        ("cold_start = 0", ["id-80", "id-90"]),
        ("not cold_start = 0", ["id-0", "id-10", "id-20", "id-70"]),
    ],
)
def test_filter(condition, expected):
    assert [row["correlation_id"] for row in _rows(f"filter {condition} | fields correlation_id")] == expected


# ---- stats -----------------------------------------------------------------------------------------------------


def test_stats_by_fields_names_columns_by_alias_or_text():
    rows = _rows(
        "stats count(*) as requests, sum(duration_ms), avg(duration_ms) as avg_ms, min(status), max(route), "
        "pct(duration_ms, 50) as p50 by front_door"
    )
    assert rows == [
        {
            "front_door": "flask",
            "requests": "3",
            "sum(duration_ms)": "46.5",
            "avg_ms": "15.5",
            "min(status)": "200",
            "max(route)": "/students/{student_id}",
            "p50": "12.5",
        },
        {
            "front_door": "lambda",
            "requests": "3",
            "sum(duration_ms)": "1750.5",
            "avg_ms": "583.5",
            "min(status)": "200",
            "max(route)": "/students/{student_id}",
            "p50": "250",
        },
    ]


def test_pct_is_the_nearest_rank():
    documents = [{"v": value} for value in range(1, 101)]
    [row] = _rows("stats pct(v, 50) as p50, pct(v, 99) as p99, pct(v, 99.5) as p995, pct(v, 100) as p100", documents)
    assert row == {"p50": "50", "p99": "99", "p995": "100", "p100": "100"}


def test_count_of_a_field_counts_lines_that_have_it_and_a_missing_group_is_a_group():
    rows = _rows("stats count(*) as lines, count(cold_start) as with_flag by cold_start | sort lines desc")
    assert rows == [
        {"cold_start": "", "lines": "3", "with_flag": "0"},
        {"cold_start": "0", "lines": "2", "with_flag": "2"},
        {"cold_start": "1", "lines": "1", "with_flag": "1"},
    ]


def test_stats_without_by_is_one_row_over_every_matching_line_and_none_when_none_match():
    assert _rows("stats count(*) as n, max(duration_ms) as slowest") == [{"n": "6", "slowest": "1500"}]
    assert _rows('filter front_door = "nowhere" | stats count(*) as n') == []


def test_bin_floors_the_line_time_to_its_period():
    rows = _rows("stats count(*) as n by bin(1m)")
    assert rows == [{"bin(1m)": "2026-12-07 10:00:00.000", "n": "3"}, {"bin(1m)": "2026-12-07 10:01:00.000", "n": "3"}]
    rows = _rows("fields bin(30s) as half | stats count(*) as n by half | sort half desc")
    assert [row["half"] for row in rows] == [
        "2026-12-07 10:01:30.000",
        "2026-12-07 10:01:00.000",
        "2026-12-07 10:00:00.000",
    ]


def test_a_second_stats_aggregates_the_rows_of_the_first():
    rows = _rows(
        "stats max(duration_ms) as slowest by front_door, route "
        "| stats count(*) as routes, sum(slowest) as total by front_door | sort front_door asc"
    )
    assert rows == [
        {"front_door": "flask", "routes": "2", "total": "34"},
        {"front_door": "lambda", "routes": "2", "total": "1500.5"},
    ]


# ---- sort and limit --------------------------------------------------------------------------------------------


def test_sort_follows_the_natural_order_aws_documents():
    # Given the values of the example of
    # https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/CWL_QuerySyntax-Sort.html
    documented = [
        "!:",
        "#",
        "*%04",
        "0#",
        "5A",
        "111A",
        "2345_",
        "@",
        "@_",
        "A",
        "A9876fghj",
        "a12345hfh",
        "0",
        "01",
        "1",
        "2",
        "3",
    ]
    documents = [{"v": value} for value in reversed(documented)]
    # When sorted ascending, Then in the page's order; descending, the reverse
    assert [row["v"] for row in _rows("fields v | sort v asc", documents)] == documented
    assert [row["v"] for row in _rows("fields v | sort v desc", documents)] == documented[::-1]


def test_missing_values_sort_last_either_way_and_later_keys_break_ties():
    documents = [{"k": 1, "v": "b"}, {"v": "x"}, {"k": 1, "v": "a"}, {"k": 2, "v": "c"}]
    assert [row["v"] for row in _rows("fields v | sort k asc, v asc", documents)] == ["a", "b", "c", "x"]
    assert [row["v"] for row in _rows("fields v | sort k desc, v desc", documents)] == ["c", "b", "a", "x"]


def test_limit_and_its_default_of_ten_thousand():
    assert len(_rows("fields status | limit 2")) == 2
    many = [{"n": number} for number in range(logs_insights.DEFAULT_LIMIT + 5)]
    assert len(run("fields n", _records(many)).rows) == logs_insights.DEFAULT_LIMIT


def test_comments_are_ignored():
    assert _rows("# the 404s\nfilter status = 404 # only\n| fields route") == [{"route": "/students/{student_id}"}]


# ---- refusals --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ('parse @message "* *" as a, b', "unsupported command: parse"),
        ("fields a | dedup a", "unsupported command: dedup"),
        ("fields a | display a", "unsupported command: display"),
        ("fields strlen(a)", "unsupported function: strlen()"),
        ("stats ispresent(a)", "ispresent() is not an aggregation"),
        ("fields a | sort a", "sort needs asc or desc"),
        ("stats count(*) by bin(1mo)", "unsupported bin() period: 1mo"),
        ("stats pct(a)", "pct() takes a field and a percentile"),
        ("filter a like /[/", "bad regular expression"),
        ("filter a = and", "cannot read the query from here (line 1, column 10"),
        ("filter", "Expected a condition or a value (line 1, column 7"),
        ("fields a b", "cannot read the query from here (line 1, column 10"),
        ("limit ten", "Expected a number of rows"),
    ],
)
def test_what_it_does_not_implement_is_refused_naming_it(query, message):
    with pytest.raises(QueryError) as refused:
        run(query, _records(REQUESTS))
    assert message in str(refused.value)


def test_an_aggregation_outside_stats_is_refused_when_run():
    with pytest.raises(QueryError, match=r"count\(\) aggregates: use it in stats"):
        run("filter count(a)", _records(REQUESTS))


# ---- saved queries and parameters --------------------------------------------------------------------------------


def _saved(tmp_path, name: str, **document) -> None:
    (tmp_path / f"{name}.yaml").write_text(
        json.dumps(
            {"name": name, "description": "A query for a test.", "log_groups": ["ApiFunctionLogGroup"], **document}
        )
    )


def test_a_saved_query_runs_with_parameter_values_or_their_defaults(tmp_path):
    # Given a saved query with two parameters, one with a default
    _saved(
        tmp_path,
        "by-door-and-status",
        query='filter front_door = "{{door}}" and status = {{status}} '
        "| fields correlation_id | sort correlation_id asc",
        parameters=[
            {"name": "door", "description": "lambda or flask"},
            {"name": "status", "description": "an HTTP status", "default": "200"},
        ],
    )
    [query] = load_saved_queries(tmp_path).values()
    records = _records(REQUESTS)
    # When run with and without the second value; Then the default fills in
    assert query.run(records, {"door": "flask"}).cells() == [["id-0"], ["id-10"]]
    assert query.run(records, {"door": "flask", "status": "404"}).cells() == [["id-20"]]
    # And a missing value or an unknown parameter is refused by name
    with pytest.raises(QueryError, match="needs a value for its parameter door"):
        query.run(records)
    with pytest.raises(QueryError, match="has no parameter route"):
        query.run(records, {"door": "flask", "route": "/x"})


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"query": 'filter a = "{{value}}"'}, "uses parameters ['value'], the file declares []"),
        ({"query": "parse @message '*' as a"}, "unsupported command: parse"),
        ({"query": "fields a", "log_groups": []}, "log_groups"),
        ({"query": "fields a", "owner": "someone"}, "owner"),
    ],
)
def test_a_saved_query_that_cannot_run_is_refused_naming_its_file(tmp_path, document, message):
    _saved(tmp_path, "broken", **document)
    with pytest.raises(QueryError) as refused:
        load_saved_queries(tmp_path)
    assert "queries/broken.yaml" in str(refused.value) and message in str(refused.value)


def test_a_saved_query_is_named_after_its_file(tmp_path):
    (tmp_path / "one-name.yaml").write_text(
        json.dumps(
            {"name": "another-name", "description": "d", "log_groups": ["ApiFunctionLogGroup"], "query": "fields a"}
        )
    )
    with pytest.raises(QueryError, match="is named 'another-name'"):
        load_saved_queries(tmp_path)


def test_the_deployed_query_string_starts_with_the_description_as_comments():
    query = SavedQuery(
        name="slow",
        description="The slow ones,\n  slowest first.",
        log_groups=["G"],
        query="fields duration_ms | sort duration_ms desc\n",
    )
    assert query.query_string == "# The slow ones, slowest first.\nfields duration_ms | sort duration_ms desc\n"
    assert run(query.query_string, _records(REQUESTS)).cells()[0] == ["1500"]


def test_a_query_definition_names_a_conditional_log_group_only_where_it_exists():
    # Given a query on a log group every stack has and on one that exists only with the EC2 door
    query = SavedQuery(
        name="both-doors",
        description="d",
        log_groups=["ApiFunctionLogGroup", "FlaskAppLogGroup"],
        parameters=[{"name": "door", "description": "a door", "default": "flask"}],
        query='filter front_door = "{{door}}" | fields route | sort route asc',
    )
    resources = {
        "ApiFunctionLogGroup": {"Type": "AWS::Logs::LogGroup"},
        "FlaskAppLogGroup": {"Type": "AWS::Logs::LogGroup", "Condition": "DeployFlaskDoor"},
    }
    # When rendered
    [(logical_id, definition)] = logs_insights.query_definitions({query.name: query}, resources).items()
    # Then the conditional group is named through Fn::If, and the parameter with its default
    assert logical_id == "BothDoorsQuery"
    assert definition["Properties"]["LogGroupNames"] == [
        {"Ref": "ApiFunctionLogGroup"},
        {"Fn::If": ["DeployFlaskDoor", {"Ref": "FlaskAppLogGroup"}, {"Ref": "AWS::NoValue"}]},
    ]
    assert definition["Properties"]["Parameters"] == [
        {"Name": "door", "Description": "a door", "DefaultValue": "flask"}
    ]
    # And a group the template does not declare is refused, naming the query
    with pytest.raises(QueryError, match=r"queries/both-doors\.yaml reads FlaskAppLogGroup"):
        logs_insights.query_definitions({query.name: query}, {"ApiFunctionLogGroup": resources["ApiFunctionLogGroup"]})


# ---- the command -------------------------------------------------------------------------------------------------


def test_the_command_prints_a_header_then_a_line_per_row(tmp_path, capsys):
    # Given a captured log (with lines that are not JSON)
    log = tmp_path / "captured.log"
    log.write_text("\n".join(["starting", *(json.dumps(document) for document in REQUESTS)]) + "\n")
    # When the saved query latency-by-route runs over it
    assert main(["latency-by-route", str(log)]) == 0
    # Then it prints a header and one aligned line per (door, route), slowest p99 first
    printed = capsys.readouterr()
    lines = printed.out.splitlines()
    assert lines[0].split() == ["front_door", "route", "requests", "p50_ms", "p90_ms", "p99_ms", "max_ms"]
    assert [line.split()[:3] for line in lines[1:]] == [
        ["lambda", "/students", "2"],
        ["flask", "/students", "2"],
        ["flask", "/students/{student_id}", "1"],
        ["lambda", "/students/{student_id}", "1"],
    ]
    assert "4 rows from 6 JSON lines" in printed.err


def test_the_command_takes_parameter_values_and_shows_missing_values_as_a_dash(tmp_path, capsys):
    log = tmp_path / "captured.log"
    log.write_text("\n".join(json.dumps(document) for document in REQUESTS))
    assert main(["request-by-correlation-id", str(log), "--param", "correlation_id=id-20"]) == 0
    header, row = capsys.readouterr().out.splitlines()
    assert header.split() == [
        "@timestamp",
        "front_door",
        "level",
        "message",
        "route_template",
        "status",
        "ms",
        "exception_type",
        "trace_id",
    ]
    assert row.split() == [
        "2026-12-07",
        "10:00:20.000",
        "flask",
        "INFO",
        "request",
        "/students/{student_id}",
        "404",
        "4",
        "-",
        "-",
    ]


def test_the_command_refuses_a_missing_parameter_and_an_unknown_query(tmp_path, capsys):
    log = tmp_path / "captured.log"
    log.write_text("{}\n")
    with pytest.raises(SystemExit):
        main(["request-by-correlation-id", str(log)])
    assert "needs a value for its parameter correlation_id" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["no-such-query", str(log)])
    assert "no saved query 'no-such-query'" in capsys.readouterr().err


def test_the_command_lists_the_saved_queries(capsys):
    assert main(["--list"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in load_saved_queries())
    assert "request-by-correlation-id (parameter: correlation_id)" in listed
